"""The fake Anthropic API is faithful enough that the official SDK accepts it as the real one."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import anthropic
import httpx
import pytest

from tests.fakes.anthropic import API_KEY, MODELS, FakeAnthropic

MODEL = "claude-haiku-4-5"
WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                     "required": ["city"]},
}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeAnthropic]:
    with FakeAnthropic() as fake:
        yield fake


@pytest.fixture
def fake(server: FakeAnthropic) -> FakeAnthropic:
    server.reset()
    return server


@pytest.fixture
def client(fake: FakeAnthropic) -> Iterator[anthropic.Anthropic]:
    with anthropic.Anthropic(api_key=API_KEY, base_url=fake.base_url, max_retries=0) as sdk:
        yield sdk


def test_create_answers_like_the_api(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    message = client.messages.create(
        model=MODEL, max_tokens=64, system="be brief",
        messages=[{"role": "user", "content": "hello there"}],
    )
    assert message.type == "message" and message.role == "assistant"
    assert message.id.startswith("msg_")
    assert message.model == "claude-haiku-4-5-20251001"  # the alias resolved
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "echo: hello there"  # type: ignore[union-attr]
    assert message.stop_reason == "end_turn"
    assert message.usage.input_tokens == 4 and message.usage.output_tokens == 3
    assert message.usage.cache_read_input_tokens == 0
    sent = fake.requests[-1]
    assert sent.path == "/v1/messages" and sent.headers["anthropic-version"]
    assert sent.json["system"] == "be brief"


def test_stream_final_message_equals_create(client: anthropic.Anthropic) -> None:
    kwargs: dict[str, Any] = {
        "model": MODEL, "max_tokens": 64,
        "messages": [{"role": "user", "content": "tell me something long enough to split"}],
    }
    created = client.messages.create(**kwargs)
    with client.messages.stream(**kwargs) as stream:
        events = [event.type for event in stream]
        final = stream.get_final_message()
    assert events[0] == "message_start" and events[-1] == "message_stop"
    assert "content_block_delta" in events
    assert final.content[0].text == created.content[0].text  # type: ignore[union-attr]
    assert final.stop_reason == created.stop_reason
    assert final.usage.output_tokens == created.usage.output_tokens
    assert final.usage.input_tokens == created.usage.input_tokens


def test_stream_frames_are_named_events_with_ping(fake: FakeAnthropic) -> None:
    resp = httpx.post(
        fake.base_url + "/v1/messages",
        headers={"x-api-key": API_KEY, "anthropic-version": "2023-06-01"},
        json={"model": MODEL, "max_tokens": 10, "stream": True,
              "messages": [{"role": "user", "content": "hi"}]},
    )
    assert resp.headers["content-type"].startswith("text/event-stream")
    frames = resp.text.split("\n\n")
    assert frames[-1] == ""
    names = [f.split("\n")[0] for f in frames[:-1]]
    assert names[:3] == ["event: message_start", "event: content_block_start", "event: ping"]
    assert names[-2:] == ["event: message_delta", "event: message_stop"]
    assert all(f.split("\n")[1].startswith("data: {") for f in frames[:-1])


def test_tool_use_round_trip(client: anthropic.Anthropic, fake: FakeAnthropic) -> None:
    first = client.messages.create(
        model=MODEL, max_tokens=64, tools=[WEATHER],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "weather in Paris?"}],
    )
    assert first.stop_reason == "tool_use"
    use = first.content[-1]
    assert use.type == "tool_use" and use.name == "get_weather"
    assert use.input == {"city": "Paris", "days": 3}
    second = client.messages.create(
        model=MODEL, max_tokens=64, tools=[WEATHER],  # type: ignore[list-item]
        messages=[
            {"role": "user", "content": "weather in Paris?"},
            {"role": "assistant", "content": first.content},  # type: ignore[typeddict-item]
            {"role": "user", "content": [
                {"type": "tool_result", "tool_use_id": use.id, "content": "sunny, 21C"},
            ]},
        ],
    )
    assert second.stop_reason == "end_turn"
    assert second.content[0].text == "tool said: sunny, 21C"  # type: ignore[union-attr]


def test_streamed_tool_input_is_reassembled_by_the_sdk(client: anthropic.Anthropic) -> None:
    with client.messages.stream(
        model=MODEL, max_tokens=64, tools=[WEATHER],  # type: ignore[list-item]
        messages=[{"role": "user", "content": "weather?"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[-1].input == {"city": "Paris", "days": 3}  # type: ignore[union-attr]


def test_an_argument_less_tool_streams_no_input_json(fake: FakeAnthropic) -> None:
    fake.tool_input = {}
    try:
        with anthropic.Anthropic(api_key=API_KEY, base_url=fake.base_url) as sdk, \
                sdk.messages.stream(model=MODEL, max_tokens=64, tools=[WEATHER],  # type: ignore[list-item]
                                    messages=[{"role": "user", "content": "time?"}]) as stream:
            final = stream.get_final_message()
    finally:
        fake.tool_input = {"city": "Paris", "days": 3}
    assert final.content[-1].input == {}  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("status", "error_class", "error_type"),
    [
        (400, anthropic.BadRequestError, "invalid_request_error"),
        (403, anthropic.PermissionDeniedError, "permission_error"),
        (404, anthropic.NotFoundError, "not_found_error"),
        (413, anthropic.ContentTooLargeError, "request_too_large"),
        (429, anthropic.RateLimitError, "rate_limit_error"),
        (500, anthropic.InternalServerError, "api_error"),
        (529, anthropic.OverloadedError, "overloaded_error"),
    ],
)
def test_error_statuses_map_to_sdk_exceptions(
    client: anthropic.Anthropic, fake: FakeAnthropic, status: int,
    error_class: type[anthropic.APIStatusError], error_type: str,
) -> None:
    fake.fail(status=status, retry_after="7")
    with pytest.raises(error_class) as info:
        client.messages.create(model=MODEL, max_tokens=8,
                               messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == status
    assert info.value.type == error_type
    assert info.value.request_id and info.value.request_id.startswith("req_")
    assert info.value.response.headers["retry-after"] == "7"


def test_wrong_key_is_an_authentication_error(fake: FakeAnthropic) -> None:
    with anthropic.Anthropic(api_key="sk-ant-wrong", base_url=fake.base_url,
                             max_retries=0) as client, \
            pytest.raises(anthropic.AuthenticationError) as info:
        client.messages.create(model=MODEL, max_tokens=8,
                               messages=[{"role": "user", "content": "hi"}])
    assert info.value.type == "authentication_error"


def test_mid_stream_error_event_reaches_the_sdk(client: anthropic.Anthropic,
                                                 fake: FakeAnthropic) -> None:
    fake.fail_mid_stream(error_type="overloaded_error", message="Overloaded")
    with pytest.raises(anthropic.APIStatusError) as info:  # noqa: SIM117
        with client.messages.stream(model=MODEL, max_tokens=8,
                                    messages=[{"role": "user", "content": "hi"}]) as stream:
            stream.get_final_message()
    assert info.value.type == "overloaded_error"


def test_models_list_paginates() -> None:
    with FakeAnthropic(max_page_size=2) as small, \
            anthropic.Anthropic(api_key=API_KEY, base_url=small.base_url, max_retries=0) as client:
        assert [m.id for m in client.models.list(limit=2)] == list(MODELS)
        assert len(small.requests) == 2


# -- validation the real API performs (raw HTTP, since the SDK would refuse to send these) --


def _post(fake: FakeAnthropic, body: dict[str, Any], **headers: str) -> httpx.Response:
    sent = {"x-api-key": API_KEY, "anthropic-version": "2023-06-01", **headers}
    return httpx.post(fake.base_url + "/v1/messages", json=body,
                      headers={k: v for k, v in sent.items() if v})


def _ok_body(**overrides: Any) -> dict[str, Any]:
    return {"model": MODEL, "max_tokens": 8,
            "messages": [{"role": "user", "content": "hi"}], **overrides}


@pytest.mark.parametrize(
    ("body", "headers", "status", "needle"),
    [
        (_ok_body(), {"x-api-key": ""}, 401, "x-api-key header is required"),
        (_ok_body(), {"x-api-key": "nope"}, 401, "invalid x-api-key"),
        (_ok_body(), {"anthropic-version": ""}, 400, "anthropic-version"),
        ({"model": MODEL, "messages": [{"role": "user", "content": "hi"}]}, {}, 400,
         "max_tokens: Field required"),
        (_ok_body(messages=[{"role": "assistant", "content": "hi"}]), {}, 400,
         'first message must use the "user" role'),
        (_ok_body(messages=[{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]),
         {}, 400, "roles must alternate"),
        (_ok_body(messages=[{"role": "system", "content": "s"},
                            {"role": "user", "content": "hi"}]), {}, 400, 'Unexpected role "system"'),
        (_ok_body(messages=[{"role": "user", "content": [{"type": "text", "text": ""}]}]), {}, 400,
         "text content blocks must be non-empty"),
        (_ok_body(messages=[
            {"role": "user", "content": "q"},
            {"role": "assistant", "content": [
                {"type": "tool_use", "id": "toolu_1", "name": "f", "input": {}}]},
            {"role": "user", "content": "no result"},
        ]), {}, 400, "`tool_use` ids were found without `tool_result` blocks"),
        (_ok_body(temperature=0.5), {"anthropic-version": "2026-10-21"}, 400, "temperature"),
    ],
)
def test_rejects_what_the_api_rejects(
    fake: FakeAnthropic, body: dict[str, Any], headers: dict[str, str], status: int, needle: str,
) -> None:
    resp = _post(fake, body, **headers)
    assert resp.status_code == status
    data = resp.json()
    assert data["type"] == "error"
    assert data["error"]["type"] == ("authentication_error" if status == 401
                                     else "invalid_request_error")
    assert needle in data["error"]["message"]
    assert resp.headers["request-id"] == data["request_id"]


def test_bearer_auth_is_accepted(fake: FakeAnthropic) -> None:
    resp = _post(fake, _ok_body(), **{"x-api-key": "", "authorization": f"Bearer {API_KEY}"})
    assert resp.status_code == 200


def test_cache_tokens_are_reported() -> None:
    with FakeAnthropic(cache_read_input_tokens=100, cache_creation_input_tokens=7) as cached, \
            anthropic.Anthropic(api_key=API_KEY, base_url=cached.base_url, max_retries=0) as client:
        usage = client.messages.create(model=MODEL, max_tokens=8,
                                       messages=[{"role": "user", "content": "hi"}]).usage
    assert usage.cache_read_input_tokens == 100
    assert usage.cache_creation_input_tokens == 7


def test_an_unknown_model_is_the_apis_404(client: anthropic.Anthropic) -> None:
    with pytest.raises(anthropic.NotFoundError) as info:
        client.messages.create(model="claude-retired-2023", max_tokens=10,
                               messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 404
    body = info.value.body
    assert isinstance(body, dict) and body["type"] == "error"
    assert body["error"] == {"type": "not_found_error", "message": "model: claude-retired-2023"}


@pytest.mark.parametrize(("params", "message"), [
    ({"temperature": 0.5, "top_p": 0.9}, "cannot both be specified"),
    ({"stop_sequences": ["\n"]}, "each stop sequence must contain non-whitespace"),
])
def test_refuses_what_the_api_refuses(client: anthropic.Anthropic, params: dict[str, object],
                                      message: str) -> None:
    with pytest.raises(anthropic.BadRequestError, match=message):
        client.messages.create(model=MODEL, max_tokens=10, extra_body=params,
                               extra_headers={"anthropic-version": "2023-06-01"},  # sampling on
                               messages=[{"role": "user", "content": "hi"}])
