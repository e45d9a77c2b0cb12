"""When to try the same candidate again, how long to wait, and when to move on.

Three separate questions, because their answers differ:

* ``should_retry`` -- the *same* candidate again? Only for transient upstream faults
  (connection refused/reset, 408, 429, 5xx, timeouts, broken responses), within the
  retry budget, and never once a stream's first byte reached the client.
* ``delay`` -- how long first? Exponential backoff with jitter, capped; a
  ``Retry-After`` is honoured up to ``retry_after_max_s``. ``None`` means "don't
  wait: move to the next candidate" (Retry-After too long, or the wait would pass
  the request's deadline).
* ``should_fallback`` -- another candidate? Yes for anything the provider (not the
  request) is to blame for, including errors retrying cannot fix: a spent quota
  (``insufficient_quota``), rejected credentials, a model the server does not have
  (an Ollama tag never pulled). No for request errors a different model would
  reject the same way (malformed request), content-filter refusals (a privacy
  gateway must not shop around a safety refusal), and anything that is not an
  upstream failure.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from aegis import errors
from aegis.resilience.config import Backoff, ResilienceConfig, ResilienceSettings

# Substrings of a 429's message/code that mean "out of money or quota", not "slow down":
# OpenAI ``insufficient_quota`` ("You exceeded your current quota ... billing details"),
# Anthropic spend limits (``enforced_spend_limit_reached``), credit-balance messages.
# Not "billing": OpenAI's ordinary rate-limit messages link to the billing page.
QUOTA_HINTS = ("insufficient_quota", "exceeded your current quota", "spend_limit",
               "spend limit", "spending limit", "credit balance")
_MAX_EXPONENT = 60


def quota_exhausted(error: BaseException) -> bool:
    """A 429 that retrying the same provider will not clear (billing, spend limit).

    Reads ``upstream_code`` when the adapter kept the provider's error code, else
    the message (``classify_http_error`` puts the provider's message there).
    """
    if not isinstance(error, errors.RateLimited):
        return False
    code = getattr(error, "upstream_code", None) or ""
    hint = f"{code} {error.message}".lower()
    return any(h in hint for h in QUOTA_HINTS)


def retryable(error: BaseException) -> bool:
    """Could the same request succeed on the same candidate a moment later?"""
    return (isinstance(error, errors.ProviderError) and error.retryable
            and not quota_exhausted(error))


class Deadline:
    """An absolute point on a monotonic clock that retries and fallback must not pass."""

    __slots__ = ("_clock", "at")

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.at = clock() + seconds

    def remaining(self) -> float:
        return max(0.0, self.at - self._clock())

    def expired(self) -> bool:
        return self._clock() >= self.at


class RetryPolicy:
    """Per provider (``retries`` may be overridden per provider); stateless per request."""

    def __init__(
        self,
        retries: int = 2,
        backoff: Backoff | None = None,
        retry_after_max_s: float = 20.0,
        deadline_s: float = 120.0,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.retries = retries
        self.backoff = backoff or Backoff()
        self.retry_after_max_s = retry_after_max_s
        self.deadline_s = deadline_s
        self._rng = rng or random.Random()
        self._clock = clock

    @classmethod
    def from_config(cls, cfg: ResilienceConfig, *, retries: int | None = None,
                    rng: random.Random | None = None,
                    clock: Callable[[], float] = time.monotonic) -> RetryPolicy:
        return cls(cfg.retries if retries is None else retries, cfg.backoff,
                   cfg.retry_after_max_s, cfg.deadline_s, rng=rng, clock=clock)

    @classmethod
    def for_provider(cls, settings: ResilienceSettings, provider: str, *,
                     rng: random.Random | None = None,
                     clock: Callable[[], float] = time.monotonic) -> RetryPolicy:
        return cls.from_config(settings.config, retries=settings.for_provider(provider).retries,
                               rng=rng, clock=clock)

    def deadline(self) -> Deadline:
        """Start a request's deadline (on the policy's clock)."""
        return Deadline(self.deadline_s, self._clock)

    def should_retry(self, error: BaseException, attempt_no: int, *,
                     streamed_started: bool = False) -> bool:
        """Retry the same candidate after attempt number ``attempt_no`` (1-based) failed?"""
        if streamed_started or attempt_no > self.retries:
            return False
        return retryable(error)

    def should_fallback(self, error: BaseException, *, streamed_started: bool = False) -> bool:
        """Try the next candidate after this error (once retries here are exhausted)?"""
        if streamed_started or not isinstance(error, errors.ProviderError):
            return False
        if isinstance(error, errors.ContextTooLong):
            return True  # a larger window may fit (the router's token count is an estimate)
        return not isinstance(error, errors.UpstreamBadRequest | errors.ContentFiltered)

    def backoff_s(self, attempt_no: int) -> float:
        """The jittered exponential backoff after attempt ``attempt_no`` (1-based)."""
        b = self.backoff
        exponent = min(max(attempt_no, 1) - 1, _MAX_EXPONENT)
        cap = min(b.max_s, b.base_s * 2.0 ** exponent)
        if b.jitter == "full":
            return self._rng.uniform(0.0, cap)
        if b.jitter == "equal":
            return cap / 2 + self._rng.uniform(0.0, cap / 2)
        return cap

    def delay(self, attempt_no: int, error: BaseException | None = None, *,
              deadline: Deadline | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None: move to the next candidate."""
        wait = self.backoff_s(attempt_no)
        retry_after = getattr(error, "retry_after", None)
        if isinstance(retry_after, int | float):
            if retry_after > self.retry_after_max_s:
                return None
            wait = max(wait, float(retry_after))
        if deadline is not None and wait >= deadline.remaining():
            return None
        return wait
