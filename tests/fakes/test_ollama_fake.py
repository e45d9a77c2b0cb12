"""The fake Ollama is faithful: driven with raw httpx (the official ``ollama`` client is
not installed), asserting the documented field names, status codes and NDJSON framing."""

from __future__ import annotations

import base64
import math
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import httpx
import orjson
import pytest

from tests.fakes.base import Fault
from tests.fakes.ollama import EMBED_DIM, FakeOllama

TOOLS = [{"type": "function", "function": {
    "name": "get_current_weather", "description": "Get the current weather",
    "parameters": {"type": "object", "properties": {"location": {"type": "string"}},
                   "required": ["location"]},
}}]
METRICS = {"total_duration", "load_duration", "prompt_eval_count", "prompt_eval_duration",
           "eval_count", "eval_duration"}


@pytest.fixture(scope="module")
def server() -> Iterator[FakeOllama]:
    with FakeOllama() as fake:
        yield fake  # type: ignore[misc]


@pytest.fixture
def fake(server: FakeOllama) -> FakeOllama:
    server.reset()
    return server


@pytest.fixture
def http(fake: FakeOllama) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=fake.base_url, timeout=10) as client:
        yield client


def chat(http: httpx.Client, **body: Any) -> httpx.Response:
    return http.post("/api/chat", json={"model": "llama3.2", **body})


def ndjson_lines(resp: httpx.Response) -> list[dict[str, Any]]:
    raw = resp.content
    assert raw.endswith(b"\n")
    lines = raw.split(b"\n")[:-1]
    assert all(line and not line.endswith(b"\r") for line in lines)
    return [orjson.loads(line) for line in lines]


def test_non_streamed_chat_is_one_documented_object(http: httpx.Client) -> None:
    resp = chat(http, messages=[{"role": "user", "content": "why is the sky blue?"}],
                stream=False)
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/json; charset=utf-8"
    data = resp.json()
    assert data["model"] == "llama3.2"
    assert data["message"] == {"role": "assistant", "content": "echo: why is the sky blue?"}
    assert data["done"] is True and data["done_reason"] == "stop"
    assert data.keys() >= METRICS
    assert data["prompt_eval_count"] == 5 and data["eval_count"] == 6
    assert datetime.fromisoformat(data["created_at"]).tzinfo is not None
    assert data["created_at"].endswith("Z")


def test_chat_streams_ndjson_when_stream_is_absent(http: httpx.Client) -> None:
    resp = chat(http, messages=[{"role": "user", "content": "hello there"}])
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "application/x-ndjson"
    lines = ndjson_lines(resp)
    *deltas, final = lines
    assert [d["done"] for d in deltas] == [False] * len(deltas)
    assert all(set(d) == {"model", "created_at", "message", "done"} for d in deltas)
    assert "".join(d["message"]["content"] for d in deltas) == "echo: hello there"
    assert final["done"] is True and final["done_reason"] == "stop"
    assert final["message"] == {"role": "assistant", "content": ""}
    assert final.keys() >= METRICS


def test_tool_call_has_object_arguments_and_streams_whole(http: httpx.Client) -> None:
    messages = [{"role": "user", "content": "weather in Paris?"}]
    data = chat(http, messages=messages, tools=TOOLS, stream=False).json()
    assert data["message"]["content"] == ""
    assert data["message"]["tool_calls"] == [{"function": {
        "name": "get_current_weather", "arguments": FakeOllama.TOOL_ARGUMENTS}}]
    assert data["done_reason"] == "stop"

    lines = ndjson_lines(chat(http, messages=messages, tools=TOOLS, stream=True))
    assert [line["done"] for line in lines] == [False, True]
    assert lines[0]["message"]["tool_calls"] == data["message"]["tool_calls"]
    assert lines[1]["done_reason"] == "stop"


def test_tool_result_with_tool_name_is_answered(http: httpx.Client) -> None:
    messages = [
        {"role": "user", "content": "weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"function": {"name": "get_current_weather", "arguments": {"location": "Paris"}}}]},
        {"role": "tool", "content": "22 degrees", "tool_name": "get_current_weather"},
    ]
    data = chat(http, messages=messages, tools=TOOLS, stream=False).json()
    assert data["message"]["content"] == "get_current_weather returned: 22 degrees"
    assert "tool_calls" not in data["message"]


def test_string_tool_arguments_are_rejected_like_go_would(http: httpx.Client) -> None:
    messages = [{"role": "assistant", "content": "", "tool_calls": [
        {"function": {"name": "f", "arguments": '{"a": 1}'}}]}]
    resp = chat(http, messages=messages, stream=False)
    assert resp.status_code == 400
    assert "cannot unmarshal string" in resp.json()["error"]


def test_images_are_base64_and_counted(http: httpx.Client) -> None:
    image = base64.b64encode(b"\x89PNG fake").decode()
    messages = [{"role": "user", "content": "what is this?", "images": [image, image]}]
    data = chat(http, model="llava", messages=messages, stream=False).json()
    assert data["message"]["content"] == "echo: what is this? [2 images]"

    messages[0]["images"] = ["data:image/png;base64," + image]
    resp = chat(http, model="llava", messages=messages, stream=False)
    assert resp.status_code == 400
    assert resp.json() == {"error": "illegal base64 data at input byte 0"}


def test_format_json_and_schema(http: httpx.Client) -> None:
    messages = [{"role": "user", "content": "describe"}]
    data = chat(http, messages=messages, format="json", stream=False).json()
    assert orjson.loads(data["message"]["content"]) == {"echo": "echo: describe"}
    schema = {"type": "object", "properties": {"age": {"type": "integer"},
                                                "available": {"type": "boolean"}}}
    data = chat(http, messages=messages, format=schema, stream=False).json()
    assert orjson.loads(data["message"]["content"]) == {"age": 2, "available": True}
    resp = chat(http, messages=messages, format="xml", stream=False)
    assert resp.status_code == 400


def test_num_predict_truncates_with_done_reason_length(http: httpx.Client) -> None:
    messages = [{"role": "user", "content": "one two three four"}]
    data = chat(http, messages=messages, options={"num_predict": 2}, stream=False).json()
    assert data["message"]["content"] == "echo: one "
    assert data["done_reason"] == "length" and data["eval_count"] == 2


def test_errors_use_the_real_bodies(http: httpx.Client) -> None:
    resp = http.post("/api/chat", json={"messages": []})
    assert (resp.status_code, resp.json()) == (400, {"error": "model is required"})
    resp = http.post("/api/chat", content=b"")
    assert (resp.status_code, resp.json()) == (400, {"error": "missing request body"})
    resp = chat(http, model="nope:7b", messages=[{"role": "user", "content": "hi"}])
    assert (resp.status_code, resp.json()) == (404, {"error": "model 'nope:7b' not found"})
    assert resp.headers["content-type"].startswith("application/json")
    resp = http.post("/api/embed", json={"model": "nope", "input": "x"})
    assert resp.status_code == 404
    assert resp.json() == {"error": 'model "nope" not found, try pulling it first'}


def test_empty_messages_only_load_the_model(http: httpx.Client) -> None:
    data = chat(http, messages=[]).json()
    assert data["done"] is True and data["done_reason"] == "load"


def test_mid_stream_error_is_a_line_and_status_stays_200(
    fake: FakeOllama, http: httpx.Client
) -> None:
    fake.fail_mid_stream("boom")
    resp = chat(http, messages=[{"role": "user", "content": "a b c d"}], stream=True)
    assert resp.status_code == 200
    lines = ndjson_lines(resp)
    assert lines[-1] == {"error": "boom"}
    assert not any(line.get("done") for line in lines)


def test_injected_fault_uses_ollama_error_body(fake: FakeOllama, http: httpx.Client) -> None:
    fake.fail(Fault(status=503))
    resp = chat(http, messages=[{"role": "user", "content": "hi"}], stream=False)
    assert (resp.status_code, resp.json()) == (503, {"error": "injected HTTP 503"})


def test_embed_single_and_list(http: httpx.Client) -> None:
    one = http.post("/api/embed", json={"model": "nomic-embed-text", "input": "why blue?"}).json()
    assert set(one) == {"model", "embeddings", "total_duration", "load_duration",
                        "prompt_eval_count"}
    assert len(one["embeddings"]) == 1 and len(one["embeddings"][0]) == EMBED_DIM
    assert math.isclose(sum(x * x for x in one["embeddings"][0]), 1.0)
    many = http.post("/api/embed", json={"model": "nomic-embed-text",
                                         "input": ["why blue?", "why green?"]}).json()
    assert many["embeddings"][0] == one["embeddings"][0]
    assert many["embeddings"][0] != many["embeddings"][1]
    assert many["prompt_eval_count"] == 4


def test_tags_and_version(fake: FakeOllama, http: httpx.Client) -> None:
    models = http.get("/api/tags").json()["models"]
    assert [m["name"] for m in models] == list(fake.models)
    assert all(m["model"] == m["name"] for m in models)
    assert {"modified_at", "size", "digest", "details"} <= models[0].keys()
    assert http.get("/api/version").json() == {"version": FakeOllama.VERSION}


def test_requests_are_recorded(fake: FakeOllama, http: httpx.Client) -> None:
    chat(http, messages=[{"role": "user", "content": "hi"}], stream=False)
    assert fake.bodies("/api/chat")[0]["messages"] == [{"role": "user", "content": "hi"}]
