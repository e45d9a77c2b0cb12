"""The request path's fast paths, pinned to the slower mechanisms they replace.

* Metrics: Aegis's own values (one process) expose exactly what prometheus_client's
  metrics expose for the same calls, in text and OpenMetrics, and what multi-process
  mode merges from its files.
* Logs: ``RequestSummary.fields`` (redacting text fields only, remembering clean
  strings) equals the field-by-field redaction it replaced, and the request line
  written directly equals the logging one for lines holding secrets anywhere; the
  direct line's shortcuts (rounding, the duration's digits, request ids left alone,
  the message head masked alone and remembered) equal what they replace.
"""

from __future__ import annotations

import io
import itertools
import json
import logging
import math
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import orjson
import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from aegis.engine import new_request_id
from aegis.observability import Metrics
from aegis.observability.logs import (
    _SHORTEST,
    _STATUSES,
    BatchingStreamHandler,
    CleanText,
    JsonFormatter,
    RequestLog,
    RequestSummary,
    _plain_id,
    configure_logging,
    redact,
    redact_text,
)
from aegis.records import Caller
from aegis.types import Usage
from tests.observability.helpers import attempt

ROOT = Path(__file__).resolve().parents[2]
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def exercise(m: Metrics) -> None:
    """Every ``Metrics`` entry point, with odd values and failures among them."""
    m.breaker_state("openai", "gpt-4o-mini", "closed")
    for i in range(3):
        m.request_started()
        m.record(attempt(ttft_ms=80.0 + i, streamed=True, latency_ms=120.0 * (i + 1)))
        m.request_finished(0.2 * (i + 1), 0.1 * (i + 1), "ok", provider="openai")
    m.request_started()
    m.record(attempt(status="error", error_kind="timeout", usage=Usage(), cost_usd=0.0))
    m.record(attempt(status="ok", retry=1, caller=Caller(key_name="other-bot", team=None)))
    m.record(attempt(status="cancelled", error_kind="client_disconnected", latency_ms=5.0))
    m.record(attempt(provider="rogue", model="x-7b", route="route:made-up", status="weird",
                     error_kind="novel", latency_ms=math.nan))
    m.record(attempt(usage=Usage(prompt_tokens=3, completion_tokens=-1)))  # raises midway
    m.record(attempt(cost_usd=-0.5))  # raises at the cost, after everything else
    m.record(SimpleNamespace())  # type: ignore[arg-type]
    m.request_finished(700.0, 0.5, "error", provider="openai", code=502)
    m.request_started()
    m.request_finished(0.01, None, "refused", code=403)
    m.request_started()
    m.request_finished(0.0, 0.0, "odd", endpoint="/v1/odd", provider="rogue", code=418)
    m.request_started()  # still in flight
    m.request_finished(math.inf, None, "ok", endpoint="embeddings", provider=None)
    for name in ("a", "b", "c"):
        m.record(attempt(caller=Caller(key_name=name, team=name)))
    m.refusal("privacy")
    m.refusal("allow_list:key")
    m.detection("pii")
    m.detection("not-a-class")
    m.fallback("openai", "gpt-4o-mini")
    m.retry("openai", "gpt-4o-mini")
    m.budget_alert("monthly", 0.8, 80.0, 100.0)
    m.budget_alert("monthly", 1.0)
    m.budget_states([SimpleNamespace(budget=SimpleNamespace(name="team-ml", limit_usd=0.0),
                                     spent_usd=10.0)])
    m.breaker_state("openai", "gpt-4o-mini", "open")
    m.breaker_state("openai", "*", "half_open")
    m.request_started()


def metrics(own_values: bool | None) -> Metrics:
    return Metrics(providers={"openai", "dashscope"}, models={"gpt-4o-mini", "qwen-plus"},
                   routes={"pinned", "route:smart"}, max_dynamic=2, own_values=own_values)


@pytest.fixture
def fixed_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """``_created`` samples hold creation times: make them equal on both sides."""
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.25)


@pytest.fixture(params=[True, False], ids=["created", "no-created"])
def created_series(request: pytest.FixtureRequest) -> Iterator[None]:
    if not request.param:
        prometheus_client.disable_created_metrics()
    yield
    prometheus_client.enable_created_metrics()


@pytest.mark.usefixtures("fixed_clock", "created_series")
@pytest.mark.parametrize("accept", [None, OPENMETRICS])
def test_own_values_expose_what_prometheus_client_would(
    accept: str | None, caplog: pytest.LogCaptureFixture,
) -> None:
    own, reference = metrics(None), metrics(False)
    assert own.exposition()[0] == reference.exposition()[0]  # nothing recorded yet
    for m in (own, reference):
        exercise(m)
    assert caplog.text.count("recording an attempt failed") == 6  # 3 failures on each side
    body, content_type = own.exposition(accept)
    assert (body, content_type) == reference.exposition(accept)
    assert b'aegis_requests_total{error_kind="timeout"' in body
    assert b"aegis_request_duration_seconds_bucket" in body


def test_own_values_are_the_default_in_one_process() -> None:
    m = Metrics()
    assert type(m.requests).__name__ == "_Family"
    assert type(Metrics(own_values=False).requests) is prometheus_client.Counter


def test_own_values_lose_no_update_across_threads() -> None:
    m = metrics(None)
    a = attempt(ttft_ms=50.0)

    def work() -> None:
        for _ in range(2000):
            m.request_started()
            m.record(a)
            m.request_finished(0.3, 0.25, "ok", provider="openai")
            m.breaker_state("openai", "gpt-4o-mini", "closed")

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    while any(t.is_alive() for t in threads):
        m.exposition()  # scrapes copy under the same lock, meanwhile
    key = {"provider": "openai", "model": "gpt-4o-mini"}
    assert m.registry.get_sample_value("aegis_requests_total", {
        **key, "route": "pinned", "status": "ok", "error_kind": "none"}) == 8000
    assert m.registry.get_sample_value("aegis_tokens_total", {
        **key, "direction": "prompt"}) == 80000
    assert m.registry.get_sample_value("aegis_time_to_first_token_seconds_count", key) == 8000
    assert m.registry.get_sample_value("aegis_inflight_requests", {}) == 0


MULTIPROCESS = """
import sys
from aegis.observability import Metrics
from tests.observability.test_fast_paths import exercise, metrics

if sys.argv[1] == "scrape":
    sys.stdout.write(Metrics().exposition()[0].decode())
elif sys.argv[1] == "own":
    try:
        metrics(True)
    except ValueError as exc:
        sys.stdout.write(str(exc))
else:
    m = metrics(None)
    # per-request families counted in own values, written to the files every sync (and
    # at exit)
    assert type(m.requests).__name__ == "_Family" and m.sync_interval_s > 0
    assert type(m.circuit_state).__name__ == "Gauge"  # event families: written at once
    exercise(m)
    m.sync()
    print("ready", flush=True)
    sys.stdin.read()  # a live worker while the test scrapes (a dead one's gauges go)
"""


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for f in text_string_to_metric_families(text) for s in f.samples
            if not s.name.endswith("_created")}


def test_multiprocess_mode_merges_what_one_process_exposes(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def run(arg: str) -> str:
        done = subprocess.run([sys.executable, "-c", MULTIPROCESS, arg], env=env, cwd=ROOT,
                              capture_output=True, text=True, timeout=60, check=False)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert "multi-process mode needs" in run("own")
    worker = subprocess.Popen([sys.executable, "-c", MULTIPROCESS, "worker"], env=env,
                              cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout is not None and worker.stdout.readline() == "ready\n"
        merged = _samples(run("scrape"))
    finally:
        assert worker.stdin is not None
        worker.stdin.close()
        assert worker.wait(60) == 0
    single = metrics(None)
    exercise(single)
    expected = _samples(single.exposition()[0].decode())
    assert set(merged) == set(expected)
    for key, value in expected.items():
        assert merged[key] == pytest.approx(value, nan_ok=True), key


# -- logs -------------------------------------------------------------------------------------

SECRET = "sk-proj-Abc123Def456Ghi789Jkl012"


def old_fields(s: RequestSummary) -> dict[str, Any]:
    """``RequestSummary.fields`` before the fast path: build, then redact every string."""
    c = s.caller
    overhead = max(0.0, s.duration_s - s.upstream_s) if s.attempts else None
    fields = {
        "request_id": s.request_id or None, "method": s.method, "path": s.path,
        "http_status": s.http_status, "status": s.status,
        "key_name": c.key_name, "key_id": c.key_id, "team": c.team,
        "workspace": s.workspace, "model_requested": s.model_requested,
        "route": s.route, "reason": s.reason, "provider": s.provider,
        "model": s.model, "upstream_model": s.upstream_model or None,
        "data_class": s.data_class, "findings": list(s.findings),
        "attempts": s.attempts, "fallbacks": s.fallbacks, "retries": s.retries,
        "streamed": s.streamed, "prompt_tokens": s.prompt_tokens,
        "completion_tokens": s.completion_tokens, "cached_tokens": s.cached_tokens,
        "cost_usd": round(s.cost_usd, 9), "latency_ms": round(s.duration_s * 1000, 3),
        "upstream_ms": round(s.upstream_s * 1000, 3) if s.attempts else None,
        "overhead_ms": round(overhead * 1000, 3) if overhead is not None else None,
        "ttft_ms": round(s.ttft_ms, 3) if s.ttft_ms is not None else None,
        "error_kind": s.error_kind, "refusal_rule": s.refusal_rule,
    }
    for name, value in fields.items():
        if type(value) is str and len(value) >= _SHORTEST:
            fields[name] = redact(value)
    return fields


TEXT_FIELDS = ("request_id", "method", "path", "workspace", "model_requested", "route",
               "reason", "provider", "model", "upstream_model", "data_class", "error_kind",
               "refusal_rule")


def summaries() -> list[RequestSummary]:
    """Plain ones, and one with a secret-shaped value in each text field in turn."""
    def plain(**overrides: Any) -> RequestSummary:
        s = RequestSummary(method="POST", path="/v1/chat/completions", endpoint="chat",
                           model_requested="auto", route="rule:default-local",
                           reason="complexity=low -> local_first", data_class="public")
        s.add(attempt(ttft_ms=12.3456, upstream_model="gpt-4o-mini-2024-07-18"))
        for name, value in overrides.items():
            setattr(s, name, value)
        s.finish(0.0123456, 200)
        return s

    out = [plain(), plain(), RequestSummary(), plain(http_status=None, attempts=0)]
    out += [plain(**{name: f"x api_key={SECRET}"}) for name in TEXT_FIELDS]
    out += [plain(caller=Caller(key_id=f"Bearer {SECRET}", key_name=SECRET,
                                team="password: hunter22")),
            plain(path="/v1/chat/completions?key=sk-abcdefghijklmnop", method="sk-abcdefghij")]
    return out


def test_fields_redact_exactly_as_before() -> None:
    clean = CleanText(size=4)
    for _ in range(3):  # the cache fills, is reset, and answers from memory
        for s in summaries():
            expected = old_fields(s)
            for fields in (s.fields(), s.fields(redact_text), s.fields(clean.text)):
                assert fields == expected
                assert list(fields) == list(expected)
                assert orjson.dumps(fields) == orjson.dumps(expected)
    assert SECRET not in json.dumps([s.fields(clean.text) for s in summaries()])


def test_clean_text_remembers_only_clean_strings() -> None:
    clean = CleanText(size=3)
    assert clean.text(f"key {SECRET}") == "key sk-***"
    assert clean.text("/v1/chat/completions") == "/v1/chat/completions"
    assert clean.text(None) is None and clean.text(42) == 42 and clean.text("short") == "short"
    assert clean._clean == {"/v1/chat/completions"}
    for value in ("gpt-4o-mini-a", "gpt-4o-mini-b", "gpt-4o-mini-c"):
        clean.text(value)
    assert len(clean._clean) <= 3


def only_handler(handler: logging.Handler) -> BatchingStreamHandler:
    """``handler`` alone on the root logger (pytest adds its own), so the request line
    takes the direct path; ``restore_root`` puts the others back."""
    assert isinstance(handler, BatchingStreamHandler)
    logging.getLogger().handlers[:] = [handler]
    assert handler.json_sink_for(logging.getLogger("aegis.events"), logging.INFO)
    return handler


@pytest.mark.usefixtures("restore_root")
def test_direct_request_lines_equal_the_logging_ones_byte_for_byte(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.123)
    texts = []
    for direct in (False, True):
        stream = io.StringIO()
        handler = only_handler(configure_logging("json", "INFO", stream=stream,
                                                 flush_interval_s=60))
        log = RequestLog(handler=handler if direct else None)
        for s in summaries() * 2:
            log.request(s)
        handler.flush()
        texts.append(stream.getvalue())
    assert texts[0] == texts[1]
    assert SECRET not in texts[1] and "hunter22" not in texts[1]
    assert len(texts[1].splitlines()) == 2 * len(summaries())


def test_encode_falls_back_for_keys_that_are_not_strings() -> None:
    out = {"ts": "t", "nested": {1: "a", None: 2.5}, "obj": Path("/tmp/x")}
    assert JsonFormatter.encode(out) == orjson.dumps(
        out, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    plain = {"a": 1, "b": [1.5, None, "x"], "c": {"d": True}}
    assert JsonFormatter.encode(plain) == orjson.dumps(
        plain, default=str, option=orjson.OPT_NON_STR_KEYS).decode()


# -- the request line's shortcuts -------------------------------------------------------------


def test_plain_request_ids_are_ones_redaction_leaves_alone() -> None:
    for _ in range(2000):
        request_id = new_request_id()
        assert _plain_id(request_id) and redact(request_id) == request_id
    for text in ("req_" + "a" * 8, "req_sk_abcdefghijk", "req_api_key_abcdefgh",
                 "req_AKIA0123456789ABCDEF", "req_gsk_abcdefghijklmn"):
        assert _plain_id(text) and redact(text) == text  # no word boundary inside
    for text in ("req_sk-abcdefghijkl", "gsk_abcdefghijklmn", "req_x\u0301gsk_abcdefghij",
                 "req_ key=abcdefghij", "Bearer abcdefghij"):
        assert not _plain_id(text), text


def _heads() -> list[str]:
    """Message heads as ``RequestSummary.message_head`` makes them, awkward ends included."""
    parts = ["POST", "/v1/chat/completions", "Bearer", "bearer", "api_key", "token", "key:",
             "secret=", "sk-", "sk-abcdefghijk", "x-api-key", f"Bearer {SECRET}", "AKIA",
             "AIza" + "b" * 24, '"', "=", ":", "password :", "-"]
    out = []
    for method, path, served in itertools.product(parts[:8], parts, ["", " openai/" + "m"]):
        for code in ("200", "-", "2000000"):
            for status in sorted(_STATUSES):
                out.append(f"{method} {path} {code}{served} {status}")
    return out


def test_masking_the_message_head_alone_masks_the_same() -> None:
    tails = [f" {ms:.1f}ms" for ms in (0.0, 0.04, 12.35, 999999.95, 1e12)]
    tails += [" nanms", " infms", " -0.0ms", " -12.5ms"]
    for head in _heads():
        for tail in tails:
            assert redact(head + tail) == redact(head) + tail, head + tail


def request_summaries() -> list[RequestSummary]:
    """``summaries()`` and more: odd statuses (the message is then masked whole), durations
    at rounding ties, 5xx (a WARNING), unhashable text, secrets in the message's parts."""
    out = summaries()
    for status in ("Bearer", "api_key", "weird status", "ok"):
        s = summaries()[0]
        s.status = status
        s.method = "Bearer"
        out.append(s)
    for duration in (0.00005, 0.01235, 1.0, 0.0, 4.2949672955e5):
        s = summaries()[0]
        s.duration_s = duration
        out.append(s)
    for code in (500, 503, None):
        s = summaries()[0]
        s.finish(0.02, code)
        out.append(s)
    s = summaries()[0]
    s.workspace = ["not", "text"]  # type: ignore[assignment]
    out.append(s)
    s = summaries()[0]
    s.provider, s.model = f"key={SECRET}", "Bearer"
    out.append(s)
    s = summaries()[0]
    s.request_id = f"req {SECRET}"
    out.append(s)
    return out


@pytest.mark.usefixtures("restore_root")
def test_request_lines_from_remembered_frames_equal_the_logging_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.9996)
    texts, logs = [], []
    for direct in (False, True):
        stream = io.StringIO()
        handler = only_handler(configure_logging("json", "INFO", stream=stream,
                                                 flush_interval_s=60))
        log = RequestLog(handler=handler if direct else None)
        for s in request_summaries() * 3:  # remembered heads answer the second and third
            log.request(s)
        handler.flush()
        texts.append(stream.getvalue())
        logs.append(log)
    assert texts[0] == texts[1]
    assert len(texts[1].splitlines()) == 3 * len(request_summaries())
    assert SECRET not in texts[1] and "hunter22" not in texts[1]
    remembered = repr(logs[1]._known) + repr(logs[1]._clean._clean)
    assert logs[1]._known and SECRET not in remembered and "hunter22" not in remembered


@pytest.mark.usefixtures("restore_root")
def test_a_json_formatter_subclass_formats_request_lines_itself() -> None:
    class Tagged(JsonFormatter):
        def format(self, record: logging.LogRecord) -> str:
            return "tagged " + super().format(record)

    stream = io.StringIO()
    handler = only_handler(configure_logging("json", "INFO", stream=stream,
                                             flush_interval_s=60))
    handler.setFormatter(Tagged())
    RequestLog(handler=handler).request(summaries()[0])
    handler.flush()
    assert stream.getvalue().startswith("tagged {")
