"""Retry / fallback decisions over the whole error tree, backoff bounds, Retry-After, deadline."""

from __future__ import annotations

import random

import pytest

from aegis import errors
from aegis.resilience import Backoff, Deadline, RetryPolicy, parse_resilience, quota_exhausted
from aegis.resilience.config import build_settings

P = "openai"


class Clock:
    def __init__(self) -> None:
        self.now = 50.0

    def __call__(self) -> float:
        return self.now


def policy(**kw: object) -> RetryPolicy:
    return RetryPolicy(rng=random.Random(7), **kw)  # type: ignore[arg-type]


# (error, retry the same candidate?, fall back to another?)
TABLE: list[tuple[BaseException, bool, bool]] = [
    (errors.RateLimited("slow down", provider=P), True, True),
    (errors.RateLimited("slow down", provider=P, retry_after=3), True, True),
    (errors.UpstreamTimeout("read timeout", provider=P), True, True),
    (errors.UpstreamTimeout("HTTP 408", provider=P, upstream_status=408), True, True),
    (errors.UpstreamUnavailable("HTTP 503", provider=P, upstream_status=503), True, True),
    (errors.UpstreamUnavailable("connection refused", provider=P), True, True),
    (errors.InvalidUpstreamResponse("malformed JSON", provider=P), True, True),
    (errors.ProviderError("unknown upstream failure", provider=P), False, True),
    (errors.UpstreamAuthError("bad key", provider=P, upstream_status=401), False, True),
    (errors.ContextTooLong("too long", provider=P, upstream_status=400), False, True),
    (errors.UpstreamBadRequest("bad field", provider=P, upstream_status=400), False, False),
    (errors.UpstreamBadRequest("not found", provider=P, upstream_status=404), False, False),
    (errors.ContentFiltered("refused", provider=P, upstream_status=400), False, False),
    (errors.ModelUnavailable("not pulled", provider=P, upstream_status=404), False, True),
    (errors.InvalidRequest("malformed"), False, False),
    (errors.ModelNotFound("no model"), False, False),
    (errors.PayloadTooLarge("big"), False, False),
    (errors.AuthenticationRequired("who"), False, False),
    (errors.PermissionDenied("not from there"), False, False),
    (errors.PolicyRefusal("privacy", rule="privacy"), False, False),
    (errors.BudgetExceeded("spent", budget="team"), False, False),
    (errors.NoCandidateAvailable("none"), False, False),
    (errors.ConfigError("bad"), False, False),
    (RuntimeError("a bug"), False, False),
    (TimeoutError(), False, False),
]


@pytest.mark.parametrize(("error", "retry", "fallback"), TABLE,
                         ids=[f"{type(e).__name__}-{i}" for i, (e, _, _) in enumerate(TABLE)])
def test_decision_table(error: BaseException, retry: bool, fallback: bool) -> None:
    p = policy(retries=2)
    assert p.should_retry(error, 1) is retry
    assert p.should_fallback(error) is fallback


def test_table_covers_every_error_class() -> None:
    def all_subclasses(cls: type) -> set[type]:
        out = set()
        for sub in cls.__subclasses__():
            out |= {sub} | all_subclasses(sub)
        return out

    covered = {type(e) for e, _, _ in TABLE}
    missing = {c for c in all_subclasses(errors.AegisError) if c.__module__ == "aegis.errors"} - covered
    assert not missing, missing


@pytest.mark.parametrize("message", [
    "You exceeded your current quota, please check your plan and billing details.",
    "insufficient_quota",
    "This request would exceed your organization's enforced_spend_limit_reached",
    "You have reached your specified API usage spend limit",
])
def test_spent_quota_falls_back_but_never_retries(message: str) -> None:
    error = errors.RateLimited(message, provider=P, retry_after=1)
    p = policy()
    assert quota_exhausted(error)
    assert not p.should_retry(error, 1)
    assert p.should_fallback(error)


def test_quota_read_from_an_upstream_code_when_kept() -> None:
    error = errors.RateLimited("HTTP 429", provider=P)
    error.upstream_code = "insufficient_quota"  # type: ignore[attr-defined]
    assert quota_exhausted(error)


def test_ordinary_rate_limit_mentioning_billing_is_not_a_quota() -> None:
    error = errors.RateLimited(
        "Rate limit reached for requests. Add a payment method at "
        "https://platform.openai.com/account/billing to increase your limit.", provider=P)
    assert not quota_exhausted(error)
    assert policy().should_retry(error, 1)


def test_retry_budget() -> None:
    p = policy(retries=2)
    err = errors.UpstreamUnavailable("503", provider=P)
    assert [p.should_retry(err, n) for n in (1, 2, 3, 4)] == [True, True, False, False]
    assert not policy(retries=0).should_retry(err, 1)


def test_never_after_the_first_streamed_byte() -> None:
    p = policy()
    err = errors.UpstreamTimeout("idle", provider=P)
    assert not p.should_retry(err, 1, streamed_started=True)
    assert not p.should_fallback(err, streamed_started=True)


def test_full_jitter_stays_within_the_exponential_cap() -> None:
    p = policy(backoff=Backoff(base_s=0.25, max_s=8.0, jitter="full"))
    for attempt_no, cap in [(1, 0.25), (2, 0.5), (3, 1.0), (4, 2.0), (6, 8.0), (30, 8.0)]:
        samples = [p.backoff_s(attempt_no) for _ in range(500)]
        assert all(0.0 <= s <= cap for s in samples)
        assert max(samples) > cap * 0.9 and min(samples) < cap * 0.1  # it really jitters
        assert abs(sum(samples) / len(samples) - cap / 2) < cap * 0.1


def test_huge_attempt_numbers_do_not_overflow() -> None:
    p = policy(backoff=Backoff(0.25, 8.0, "none"))
    assert p.backoff_s(10_000) == 8.0


def test_equal_and_no_jitter() -> None:
    p = policy(backoff=Backoff(1.0, 10.0, "equal"))
    assert all(2.0 <= p.backoff_s(3) <= 4.0 for _ in range(200))
    p = policy(backoff=Backoff(1.0, 10.0, "none"))
    assert [p.backoff_s(n) for n in (1, 2, 3, 4, 5)] == [1.0, 2.0, 4.0, 8.0, 10.0]


def test_seeded_rng_is_deterministic() -> None:
    a = RetryPolicy(rng=random.Random(42))
    b = RetryPolicy(rng=random.Random(42))
    assert [a.delay(n) for n in range(1, 6)] == [b.delay(n) for n in range(1, 6)]


def test_retry_after_is_honoured_as_a_minimum() -> None:
    p = policy(backoff=Backoff(0.25, 8.0, "full"), retry_after_max_s=20)
    err = errors.RateLimited("slow", provider=P, retry_after=5.0)
    assert p.delay(1, err) == 5.0
    assert p.delay(1, errors.RateLimited("slow", provider=P, retry_after=20.0)) == 20.0
    assert (p.delay(1, errors.RateLimited("slow", provider=P, retry_after=0.0)) or 0) <= 0.25


def test_retry_after_over_the_ceiling_means_move_on() -> None:
    p = policy(retry_after_max_s=20)
    assert p.delay(1, errors.RateLimited("slow", provider=P, retry_after=20.5)) is None
    assert policy(retry_after_max_s=0).delay(1, errors.RateLimited("x", provider=P,
                                                                   retry_after=1)) is None


def test_no_retry_after_uses_backoff() -> None:
    p = policy(backoff=Backoff(0.25, 8.0, "none"))
    assert p.delay(2, errors.RateLimited("slow", provider=P)) == 0.5
    assert p.delay(3, errors.UpstreamUnavailable("503", provider=P)) == 1.0


def test_deadline_cuts_waits_that_would_pass_it() -> None:
    clock = Clock()
    p = RetryPolicy(backoff=Backoff(1.0, 8.0, "none"), deadline_s=3.0, clock=clock)
    deadline = p.deadline()
    assert deadline.remaining() == 3.0
    assert p.delay(1, deadline=deadline) == 1.0
    assert p.delay(2, deadline=deadline) == 2.0
    clock.now += 1.5
    assert p.delay(2, deadline=deadline) is None  # 2 s wait, 1.5 s left
    err = errors.RateLimited("slow", provider=P, retry_after=1.4)
    assert p.delay(1, err, deadline=deadline) == 1.4
    clock.now += 2
    assert deadline.expired() and deadline.remaining() == 0.0
    assert p.delay(1, deadline=deadline) is None


def test_deadline_on_its_own() -> None:
    clock = Clock()
    d = Deadline(10, clock)
    assert not d.expired() and d.at == 60.0
    clock.now = 60.0
    assert d.expired()


def test_built_from_config_and_per_provider_retries() -> None:
    cfg = parse_resilience({"retries": 4, "backoff": {"base_s": 1, "max_s": 2, "jitter": "none"},
                            "retry_after_max_s": 7, "deadline_s": 9})
    p = RetryPolicy.from_config(cfg)
    assert (p.retries, p.retry_after_max_s, p.deadline_s) == (4, 7, 9)
    assert p.backoff_s(5) == 2.0
    settings = build_settings({"retries": 4}, {"local": {"retries": 0}})
    assert RetryPolicy.for_provider(settings, "local").retries == 0
    assert RetryPolicy.for_provider(settings, "openai").retries == 4
