"""Formats, the redaction guard, and the request summary behind the ``request`` event."""

from __future__ import annotations

import io
import json
import logging
import time

import pytest

from aegis.observability.logs import (
    RequestLog,
    RequestSummary,
    configure_logging,
    redact,
)
from aegis.records import Caller
from aegis.types import Usage
from tests.observability.helpers import attempt

SECRETS = {
    "openai": "sk-proj-Abc123Def456Ghi789Jkl012",
    "anthropic": "sk-ant-api03-AbcDef123456_GhiJkl-789",
    "gateway": "sk-aegis-0123456789abZZZZyyyyXXXXwwww",
    "bearer": "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl",
    "groq": "gsk_ABCDEFGHIJKLMNOPQRSTUVWXYZ012345",
    "google": "AIzaSyA1234567890abcdefghijklmnopqrs",
    "field": "Zq8wX2vB7nM4kL9pR3tY6uI1oE5aS0dF",
}


class Stream(io.StringIO):
    def __init__(self, tty: bool) -> None:
        super().__init__()
        self.tty = tty

    def isatty(self) -> bool:
        return self.tty


@pytest.mark.usefixtures("restore_root")
def test_json_lines_when_not_a_tty() -> None:
    stream = Stream(tty=False)
    configure_logging("auto", "INFO", stream=stream)
    logging.getLogger("aegis.test").info("hello %s", "world",
                                         extra={"event": "demo", "n": 3, "tags": ("a", "b")})
    logging.getLogger("aegis.test").debug("below the level")
    (line,) = stream.getvalue().splitlines()
    row = json.loads(line)
    assert row["event"] == "demo" and row["level"] == "info" and row["logger"] == "aegis.test"
    assert row["message"] == "hello world" and row["n"] == 3 and row["tags"] == ["a", "b"]
    assert row["ts"].endswith("Z") and "T" in row["ts"]


@pytest.mark.usefixtures("restore_root")
def test_console_format_on_a_tty() -> None:
    stream = Stream(tty=True)
    configure_logging("auto", "INFO", stream=stream)
    logging.getLogger("aegis.test").warning("slow upstream",
                                            extra={"event": "demo", "latency_ms": 1234.5678})
    line = stream.getvalue().strip()
    assert "WARNING" in line and "demo  slow upstream" in line
    assert "latency_ms=1234.57" in line and not line.startswith("{")


@pytest.mark.usefixtures("restore_root")
def test_configure_twice_keeps_one_handler() -> None:
    first = configure_logging("json", stream=io.StringIO())
    second = configure_logging("console", "WARNING", stream=io.StringIO())
    root = logging.getLogger()
    assert second in root.handlers and first not in root.handlers
    assert root.level == logging.WARNING
    with pytest.raises(ValueError, match="auto, json or console"):
        configure_logging("xml", stream=io.StringIO())  # type: ignore[arg-type]


@pytest.mark.usefixtures("restore_root")
@pytest.mark.parametrize("fmt", ["json", "console"])
def test_redaction_guard_masks_keys_everywhere(fmt: str) -> None:
    stream = io.StringIO()
    configure_logging(fmt, "DEBUG", stream=stream)  # type: ignore[arg-type]
    log = logging.getLogger("aegis.test")
    log.info("calling with %s", SECRETS["openai"])
    log.info(f"anthropic key {SECRETS['anthropic']} and gateway key {SECRETS['gateway']}")
    log.info("header", extra={"headers": {"Authorization": f"Bearer {SECRETS['bearer']}",
                                          "x-api-key": SECRETS["field"]},
                              "api_key": SECRETS["field"], "keys": [SECRETS["groq"]]})
    log.warning("config: api_key=%s google=%s", SECRETS["field"], SECRETS["google"])
    try:
        raise RuntimeError(f"upstream rejected {SECRETS['openai']}")
    except RuntimeError:
        log.exception("failed")
    text = stream.getvalue()
    for name, secret in SECRETS.items():
        assert secret not in text, name
    assert "sk-proj***" not in text and "sk-***" in text and "Bearer ***" in text
    assert "RuntimeError: upstream rejected sk-***" in text


def test_redact_leaves_ordinary_text_alone() -> None:
    text = ("task-force risk-based desk-top 1234 tokens, model=gpt-4o-mini, "
            "route=rule:sk-fast key_name=ci-bot")
    assert redact(text) == text
    assert redact("password: hunter22") == "password: ***"
    assert redact('{"api_key": "abcdef123456"}') == '{"api_key": "***"}'


def test_summary_folds_attempts_and_spots_retries_and_fallbacks() -> None:
    s = RequestSummary(method="POST", path="/v1/chat/completions", endpoint="chat")
    assert s.add(attempt(status="error", error_kind="unavailable", usage=Usage(),
                         cost_usd=0.0)) is None
    assert s.add(attempt(status="error", error_kind="unavailable", usage=Usage(), cost_usd=0.0,
                         retry=1)) == "retry"
    assert s.add(attempt(provider="dashscope", model="qwen-plus", attempt=1,
                         latency_ms=100.0)) == "fallback"
    s.finish(0.9, 200)
    fields = s.fields()
    assert (fields["status"], fields["provider"], fields["model"]) == (
        "ok", "dashscope", "qwen-plus")
    assert (fields["attempts"], fields["retries"], fields["fallbacks"]) == (3, 1, 1)
    assert fields["upstream_ms"] == pytest.approx(600.0)
    assert fields["overhead_ms"] == pytest.approx(300.0)
    assert fields["key_name"] == "ci-bot" and fields["team"] == "ml"
    assert "caller" not in fields and "last" not in fields


@pytest.mark.parametrize(("http_status", "last", "rule", "expected"), [
    (200, "ok", None, "ok"),
    (502, "error", None, "error"),
    (200, "error", None, "error"),  # the stream broke after the headers went out
    (200, "cancelled", None, "cancelled"),
    (None, None, None, "cancelled"),  # the client left before any answer
    (403, None, "privacy", "refused"),
])
def test_summary_status(http_status: int | None, last: str | None, rule: str | None,
                        expected: str) -> None:
    s = RequestSummary(refusal_rule=rule)
    if last is not None:
        s.add(attempt(status=last))
    s.finish(0.1, http_status)
    assert s.status == expected
    assert s.code == (http_status if http_status is not None else 499)


def test_request_log_events() -> None:
    stream = io.StringIO()
    logger = logging.getLogger("aegis.test.events")
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(event)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        events = RequestLog(logger)
        events.record(attempt())  # a successful attempt is not an event of its own
        events.record(attempt(status="error", error_kind="timeout"))
        s = RequestSummary(method="POST", path="/v1/chat/completions",
                           caller=Caller(key_name="ci-bot"))
        s.finish(0.01, 503)
        events.request(s)
    finally:
        logger.removeHandler(handler)
    lines = stream.getvalue().splitlines()
    assert lines == [
        "WARNING upstream_error openai/gpt-4o-mini attempt 0 failed: timeout",
        "WARNING request POST /v1/chat/completions 503 error 10.0ms",
    ]


def _summary() -> RequestSummary:
    s = RequestSummary(method="POST", path="/v1/chat/completions?key=sk-abcdefghijklmnop",
                       request_id="req_1", caller=Caller(key_name="ci-bot", team="qa"),
                       model_requested="sk-proj-Abc123Def456Ghi789Jkl012", provider="openai",
                       model="gpt-4o-mini", route="rule:default", reason="complexity=low")
    s.finish(0.0042, 200)
    return s


def test_batched_lines_wait_for_the_interval_and_warnings_do_not(restore_root: None) -> None:
    stream = io.StringIO()
    handler = configure_logging("json", "INFO", stream=stream, flush_interval_s=0.2)
    log = logging.getLogger("aegis.test.batched")
    log.info("first")
    log.info("second")
    assert stream.getvalue() == ""  # held for at most the interval
    log.warning("trouble")  # written at once, behind the lines queued before it
    assert [json.loads(x)["message"] for x in stream.getvalue().splitlines()] == [
        "first", "second", "trouble"]
    log.info("later")
    deadline = time.monotonic() + 5
    while "later" not in stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.02)  # the flusher thread writes it within the interval
    assert json.loads(stream.getvalue().splitlines()[-1])["message"] == "later"
    log.info("at exit")
    handler.close()  # logging.shutdown() does this at exit
    assert json.loads(stream.getvalue().splitlines()[-1])["message"] == "at exit"


def test_batched_lines_are_written_once_64_kib_are_waiting(restore_root: None) -> None:
    stream = io.StringIO()
    configure_logging("json", "INFO", stream=stream, flush_interval_s=60)
    log = logging.getLogger("aegis.test.batched")
    for i in range(2000):
        log.info("line %d %s", i, "x" * 40)
    lines = stream.getvalue().splitlines()
    assert 64 * 1024 <= len(stream.getvalue()) < 2000 * 200  # some written, not held for 60 s
    assert [json.loads(x)["message"].split()[1] for x in lines] == [
        str(i) for i in range(len(lines))]


def test_request_line_written_directly_equals_the_logging_one(restore_root: None) -> None:
    """The direct path (no LogRecord) writes what the logging path writes, redacted too."""
    lines = []
    for direct in (False, True):
        stream = io.StringIO()
        handler = configure_logging("json", "INFO", stream=stream, flush_interval_s=60)
        RequestLog(handler=handler if direct else None).request(_summary())
        handler.flush()
        lines.append(json.loads(stream.getvalue()))
    for line in lines:
        line.pop("ts")
    assert lines[0] == lines[1]
    assert list(lines[0]) == list(lines[1])  # same field order
    text = json.dumps(lines[1])
    assert "sk-abcdefghijklmnop" not in text and SECRETS["openai"] not in text
    assert lines[1]["event"] == "request" and lines[1]["key_name"] == "ci-bot"


def test_request_line_takes_the_logging_path_when_anything_else_listens(
    restore_root: None,
) -> None:
    stream, other = io.StringIO(), io.StringIO()
    handler = configure_logging("json", "INFO", stream=stream, flush_interval_s=60)
    events = logging.getLogger("aegis.events")
    extra = logging.StreamHandler(other)
    extra.setFormatter(logging.Formatter("%(event)s %(key_name)s"))
    events.addHandler(extra)
    try:
        RequestLog(events, handler=handler).request(_summary())
    finally:
        events.removeHandler(extra)
    handler.flush()
    assert other.getvalue() == "request ci-bot\n"  # the added handler saw the record
    assert json.loads(stream.getvalue())["event"] == "request"


def test_reconfiguring_writes_what_the_old_handler_held(restore_root: None) -> None:
    first = io.StringIO()
    configure_logging("json", "INFO", stream=first, flush_interval_s=60)
    logging.getLogger("aegis.test.batched").info("held")
    configure_logging("json", "INFO", stream=io.StringIO(), flush_interval_s=60)
    assert json.loads(first.getvalue())["message"] == "held"
