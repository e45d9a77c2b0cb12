"""Bad query parameters and the gateway's own bugs: OpenAI-shaped errors, never a traceback.

A client must always get ``{"error": {"message", "type", "code"}}`` JSON: a 400 naming
the parameter it got wrong, or -- when something inside the gateway breaks -- a 500
that says so without the exception's text, while the traceback goes to the log.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest

from aegis.config import from_dict
from aegis.engine import Engine
from aegis.gateway import GatewayApp
from aegis.providers.base import Adapter, Capabilities
from aegis.types import ChatRequest, Chunk, Completion
from tests.conftest import MEMORY_STORE, Gateway
from tests.fakes.openai import FakeOpenAI
from tests.observability.helpers import wait_for
from tests.servers import ServerThread

HI = [{"role": "user", "content": "hi"}]
DETAIL = "adapter bug: the secret detail sk-internal-0123456789"


def assert_openai_error(resp: httpx.Response, status: int) -> dict[str, object]:
    assert resp.status_code == status
    assert resp.headers["content-type"] == "application/json"
    error = resp.json()["error"]
    assert isinstance(error, dict) and {"message", "type", "code"} <= set(error)
    return error


@pytest.mark.parametrize("limit", ["%C2%B2", "%D9%A3", "%EF%BC%95", "abc", "-1", "0", "1.5",
                                   "10001", "%20%2042"])
def test_bad_limit_is_a_400_naming_the_parameter(gateway: Gateway, limit: str) -> None:
    resp = httpx.get(f"{gateway.url}/admin/requests?limit={limit}")
    error = assert_openai_error(resp, 400)
    assert error["param"] == "limit" and "limit" in str(error["message"])
    assert error["type"] == "invalid_request_error"


def test_good_limit_still_answers(gateway: Gateway) -> None:
    gateway.openai().chat.completions.create(model="gpt-4o-mini", messages=HI)
    gateway.openai().chat.completions.create(model="gpt-4o-mini", messages=HI)
    gateway.engine.ledger.flush()
    resp = httpx.get(gateway.url + "/admin/requests", params={"limit": "1"})
    assert resp.status_code == 200 and len(resp.json()["data"]) == 1


# -- the gateway's own bugs ------------------------------------------------------------------


class BuggyAdapter(Adapter):
    """An adapter with bugs: not an upstream failure, an exception Aegis never meant."""

    kind = "buggy"
    capabilities = Capabilities()
    needs_http = False

    async def complete(self, request: ChatRequest, model: str) -> Completion:
        raise KeyError(DETAIL)

    async def stream(self, request: ChatRequest, model: str) -> AsyncIterator[Chunk]:
        if "late" not in str(request.messages[-1].get("content")):
            raise ZeroDivisionError(DETAIL)  # before the first chunk: no stream yet
        yield Chunk({"id": "c1", "object": "chat.completion.chunk", "created": 0,
                     "model": model, "choices": [{"index": 0, "delta": {"content": "par"},
                                                  "finish_reason": None}]})
        raise ZeroDivisionError(DETAIL)  # after it: the stream has started


@pytest.fixture
def buggy() -> Iterator[str]:
    settings = from_dict({
        "storage": {"url": MEMORY_STORE},
        "resilience": {"retries": 0},
        "providers": {"up": {"kind": "openai", "base_url": "http://127.0.0.1:9/v1"}},
        "models": [{"name": "chat-model", "provider": "up", "input_per_mtok": 1,
                    "output_per_mtok": 2, "context_window": 8000, "max_output": 100}],
    }, env={})
    provider = settings.providers["up"]
    engine = Engine(settings, adapters={"up": BuggyAdapter(provider, None)})
    server = ServerThread(GatewayApp(engine), lifespan="on").start()
    yield server.url
    server.stop()


def assert_internal_error(resp: httpx.Response) -> str:
    error = assert_openai_error(resp, 500)
    assert (error["type"], error["code"]) == ("server_error", "internal_error")
    request_id = resp.headers["x-aegis-request-id"]
    assert request_id in str(error["message"])  # what to quote when reporting it
    for leaked in (DETAIL, "sk-internal", "Traceback", "KeyError", "ZeroDivisionError"):
        assert leaked not in resp.text
    return request_id


def test_a_bug_is_a_json_500_and_a_logged_traceback(
        buggy: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="aegis.gateway"):
        resp = httpx.post(buggy + "/v1/chat/completions",
                          json={"model": "chat-model", "messages": HI})
    request_id = assert_internal_error(resp)
    (record,) = [r for r in caplog.records if r.name == "aegis.gateway"]
    assert request_id in record.getMessage()
    assert record.exc_info is not None and record.exc_info[0] is KeyError


def test_a_bug_reaches_the_openai_sdk_as_an_internal_server_error(buggy: str) -> None:
    client = openai.OpenAI(base_url=buggy + "/v1", api_key="unused", max_retries=0)
    with pytest.raises(openai.InternalServerError) as info:
        client.chat.completions.create(model="chat-model", messages=HI)
    assert info.value.status_code == 500
    assert info.value.body["type"] == "server_error"  # type: ignore[index]
    assert DETAIL not in info.value.response.text


def test_a_bug_before_a_stream_starts_is_a_json_500(buggy: str) -> None:
    resp = httpx.post(buggy + "/v1/chat/completions",
                      json={"model": "chat-model", "messages": HI, "stream": True})
    assert_internal_error(resp)


def test_a_bug_inside_a_stream_ends_it_with_an_error_event(
        buggy: str, caplog: pytest.LogCaptureFixture) -> None:
    late = [{"role": "user", "content": "fail late"}]
    with caplog.at_level(logging.ERROR, logger="aegis.gateway"), httpx.stream(
            "POST", buggy + "/v1/chat/completions",
            json={"model": "chat-model", "messages": late, "stream": True}) as resp:
        assert resp.status_code == 200
        body = resp.read().decode()
    assert '"content":"par"' in body
    assert '"type":"server_error"' in body and '"code":"internal_error"' in body
    assert DETAIL not in body and "Traceback" not in body
    # logged as the handler unwinds, which may be just after the client read the end
    wait_for(lambda: any(r.name == "aegis.gateway" and r.exc_info for r in caplog.records))


def test_a_wrong_method_is_a_405_with_allow_and_head_answers_like_get(gateway: Gateway) -> None:
    wrong = httpx.post(gateway.url + "/health/live")
    assert assert_openai_error(wrong, 405)["code"] == "method_not_allowed"
    assert wrong.headers["allow"] == "GET, HEAD"
    assert httpx.get(gateway.url + "/v1/chat/completions").headers["allow"] == "POST"
    get = httpx.get(gateway.url + "/health/live")
    head = httpx.head(gateway.url + "/health/live")
    assert (get.status_code, head.status_code) == (200, 200)
    assert head.content == b"" and get.content
    assert head.headers["content-type"] == get.headers["content-type"]
    assert head.headers["content-length"] == get.headers["content-length"]


def test_an_upstream_failure_names_the_candidate_tried_last(
        gateway: Gateway, fake_openai: FakeOpenAI) -> None:
    fake_openai.fail(status=503, times=3)  # a try and its two retries
    failed = httpx.post(gateway.url + "/v1/chat/completions",
                        json={"model": "gpt-4o-mini", "messages": HI})
    assert_openai_error(failed, 502)
    assert (failed.headers["x-aegis-provider"], failed.headers["x-aegis-model"],
            failed.headers["x-aegis-route"]) == ("openai", "gpt-4o-mini", "pinned")
    assert failed.headers["x-aegis-request-id"].startswith("req_")
    refused = httpx.post(gateway.url + "/v1/chat/completions",
                         json={"model": "nope", "messages": HI})
    assert refused.status_code == 404 and "x-aegis-provider" not in refused.headers


def test_a_503_that_says_when_to_come_back_is_retried_then(
        gateway: Gateway, fake_openai: FakeOpenAI) -> None:
    """Retry-After is honoured on a 503 as on a 429 (the config's backoff here is 10-20 ms,
    so only the header can make the retry wait a second)."""
    import time

    from tests.fakes.base import Fault

    fake_openai.fail(Fault(status=503, retry_after="1"))
    started = time.monotonic()
    resp = httpx.post(gateway.url + "/v1/chat/completions",
                      json={"model": "gpt-4o-mini", "messages": HI}, timeout=30)
    assert resp.status_code == 200
    assert time.monotonic() - started >= 0.95
    assert len(fake_openai.bodies("/v1/chat/completions")) == 2


def test_a_client_that_leaves_before_the_first_chunk_stops_the_retries(
        fake_openai: FakeOpenAI, make_gateway: Any) -> None:
    """Each try times out (0.4 s) and would be retried twice; the client gives up after
    0.3 s, so the gateway must stop at the one upstream call already made."""
    import time

    from tests.conftest import openai_config
    from tests.fakes.base import Fault

    config = openai_config(fake_openai)
    config["providers"]["openai"]["timeout_s"] = 0.4
    gateway = make_gateway(config)
    fake_openai.fail(Fault(hang_before_headers=1.0, times=3))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(gateway.url + "/v1/chat/completions", timeout=0.3, json={
            "model": "gpt-4o-mini", "messages": HI, "stream": True})
    time.sleep(1.5)  # long enough for two more tries, had they been made
    assert len(fake_openai.bodies("/v1/chat/completions")) == 1
    gateway.engine.ledger.flush()
    [row] = gateway.engine.store.recent(10)
    assert (row.status, row.error_kind) == ("cancelled", "cancelled")
