"""The in-process API, for applications that embed Aegis instead of calling it over HTTP.

    async with Aegis.from_config("aegis.yaml") as gw:
        result = await gw.chat("Summarise this", data_class="pii")
        print(result.content, result.provider, result.model, result.cost_usd)

        async with gw.chat_stream([{"role": "user", "content": "hi"}]) as stream:
            async for text in stream.text():
                print(text, end="")
        print(stream.result.usage)

``SyncAegis`` wraps the same calls for scripts. Requests go through exactly the
path HTTP requests take (validation, routing, accounting), minus the sockets.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from aegis import validation
from aegis.config import Settings
from aegis.config import load as load_settings
from aegis.engine import Call, ChatStream, Engine, Recorder
from aegis.routing import Task
from aegis.routing.metadata import task_from_kwargs
from aegis.types import Chunk, Completion, Message, ToolCall, Usage

_TASK_FIELDS = frozenset(Task.__dataclass_fields__)


@dataclass(frozen=True, slots=True)
class ChatResult:
    """A finished answer and who served it."""

    completion: Completion  # the OpenAI ``chat.completion`` body
    request_id: str
    provider: str  # configured provider name, e.g. "dashscope"
    model: str  # catalog name of the model that answered
    route: str
    reason: str
    usage: Usage
    cost_usd: float
    latency_ms: float
    ttft_ms: float | None = None

    @property
    def content(self) -> str | None:
        return self.completion.content

    @property
    def tool_calls(self) -> list[ToolCall]:
        return self.completion.tool_calls

    @property
    def finish_reason(self) -> str | None:
        return self.completion.finish_reason


@dataclass(frozen=True, slots=True)
class EmbeddingResult:
    vectors: list[list[float]]
    request_id: str
    provider: str
    model: str
    usage: Usage


class StreamHandle:
    """An open stream: iterate chunks (or ``text()``), then read ``result``."""

    def __init__(self, stream: ChatStream) -> None:
        self._stream = stream
        self.provider = stream.served.provider
        self.model = stream.served.model
        self.request_id = stream.served.request_id
        self._result: ChatResult | None = None

    def __aiter__(self) -> AsyncIterator[Chunk]:
        return self._chunks()

    async def _chunks(self) -> AsyncIterator[Chunk]:
        async for chunk in self._stream:
            yield chunk
        self._settle()

    async def text(self) -> AsyncIterator[str]:
        async for chunk in self:
            if content := chunk.content:
                yield content

    @property
    def result(self) -> ChatResult:
        if self._result is None:
            raise RuntimeError("the stream has not finished yet")
        return self._result

    def _settle(self) -> None:
        s = self._stream
        assert s.usage is not None and s.cost_usd is not None
        self._result = ChatResult(
            s.completion(), s.served.request_id, s.served.provider, s.served.model,
            s.served.route, s.served.reason, s.usage, s.cost_usd,
            latency_ms=0.0 if s.latency_ms is None else s.latency_ms, ttft_ms=s.ttft_ms,
        )

    async def aclose(self) -> None:
        await self._stream.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def _settings(source: Settings | str | PathLike[str] | None) -> Settings:
    """Settings as given, or loaded from a config file path (None: the default lookup)."""
    if isinstance(source, Settings):
        return source
    if source is None or isinstance(source, str | PathLike):
        return load_settings(source)
    raise TypeError(f"expected Settings or a config file path, not {type(source).__name__}")


class Aegis:
    """``Aegis(settings)``, ``Aegis("aegis.yaml")`` or ``Aegis.from_config()``."""

    def __init__(self, settings: Settings | str | PathLike[str], *,
                 recorders: Sequence[Recorder] = ()) -> None:
        self.settings = _settings(settings)
        self.engine = Engine(self.settings, recorders=recorders)

    @classmethod
    def from_config(cls, path: str | Path | None = None, **kwargs: Any) -> Aegis:
        """Load ``path`` (default ``aegis.yaml`` if present, else the built-in default)."""
        return cls(load_settings(path), **kwargs)

    async def chat(
        self,
        messages: str | Sequence[Message],
        *,
        model: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        task: Task | None = None,
        **params: Any,
    ) -> ChatResult:
        """One answer. ``params`` are OpenAI parameters (``max_tokens``, ``temperature``,
        ``response_format``, …) and task metadata (``data_class``, ``quality``, …)."""
        request, task = self._request(messages, model, tools, task, params, stream=False)
        await self.engine.start()
        outcome = await self.engine.complete(request, Call(task=task))
        s = outcome.served
        return ChatResult(outcome.completion, s.request_id, s.provider, s.model, s.route,
                          s.reason, outcome.usage, outcome.cost_usd, outcome.latency_ms)

    async def chat_stream(
        self,
        messages: str | Sequence[Message],
        *,
        model: str | None = None,
        tools: Sequence[Mapping[str, Any]] | None = None,
        task: Task | None = None,
        **params: Any,
    ) -> StreamHandle:
        """Open a stream (routing and fallback happen before this returns)."""
        request, task = self._request(messages, model, tools, task, params, stream=True)
        await self.engine.start()
        return StreamHandle(await self.engine.stream(request, Call(task=task)))

    async def embed(
        self, inputs: str | Sequence[str], *, model: str, task: Task | None = None
    ) -> EmbeddingResult:
        body = {"model": model, "input": [inputs] if isinstance(inputs, str) else list(inputs)}
        request = validation.embedding_request(body)
        await self.engine.start()
        result, served = await self.engine.embed(request, Call(task=task or Task()))
        return EmbeddingResult(result.vectors, served.request_id, served.provider,
                               served.model, result.usage)

    def models(self) -> list[str]:
        return [m.name for m in self.settings.catalog if m.provider in self.settings.providers]

    async def aclose(self) -> None:
        await self.engine.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    def _request(
        self, messages: str | Sequence[Message], model: str | None,
        tools: Sequence[Mapping[str, Any]] | None, task: Task | None,
        params: dict[str, Any], *, stream: bool,
    ) -> tuple[Any, Task]:
        meta = {k: params.pop(k) for k in list(params) if k in _TASK_FIELDS}
        if task is None:
            task = task_from_kwargs(**meta)
        elif meta:
            raise TypeError("pass task metadata either as a Task or as keywords, not both")
        if isinstance(messages, str):
            messages = [{"role": "user", "content": messages}]
        body: dict[str, Any] = {"model": model or self.settings.defaults.model,
                                "messages": list(messages), **params}
        if tools is not None:
            body["tools"] = list(tools)
        body["stream"] = stream
        return validation.chat_request(body), task


class SyncAegis:
    """Blocking wrapper for scripts: runs an ``Aegis`` on a private event loop thread."""

    def __init__(self, settings: Settings | str | PathLike[str] | None = None, *,
                 config: str | Path | None = None, **kwargs: Any) -> None:
        aegis = Aegis(_settings(config if settings is None else settings), **kwargs)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="aegis-sync")
        self._thread.start()
        self._aegis = aegis

    @classmethod
    def from_config(cls, path: str | Path | None = None, **kwargs: Any) -> SyncAegis:
        """Load ``path`` (default ``aegis.yaml`` if present, else the built-in default)."""
        return cls(config=path, **kwargs)

    def _run(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result()

    def chat(self, messages: str | Sequence[Message], **kwargs: Any) -> ChatResult:
        result: ChatResult = self._run(self._aegis.chat(messages, **kwargs))
        return result

    def chat_stream(self, messages: str | Sequence[Message], **kwargs: Any) -> Iterator[str]:
        """Yields text deltas; the stream is closed if the caller stops early."""
        handle: StreamHandle = self._run(self._aegis.chat_stream(messages, **kwargs))
        chunks = handle.text()
        try:
            while True:
                try:
                    yield self._run(anext(chunks))
                except StopAsyncIteration:
                    return
        finally:
            self._run(handle.aclose())

    def embed(self, inputs: str | Sequence[str], *, model: str) -> EmbeddingResult:
        result: EmbeddingResult = self._run(self._aegis.embed(inputs, model=model))
        return result

    def models(self) -> list[str]:
        return self._aegis.models()

    def close(self) -> None:
        self._run(self._aegis.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        self._loop.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
