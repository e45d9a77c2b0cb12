"""The canonical request / response / stream model.

The OpenAI chat-completions shape is the lingua franca: messages, tools and
content parts are kept as the OpenAI-shaped mappings clients send (typed here
with ``TypedDict`` so the checker sees them, at no run-time cost), and every
adapter produces OpenAI-shaped ``chat.completion`` bodies and
``chat.completion.chunk`` objects. The frozen wrappers below add the typed
accessors the rest of Aegis reads (usage, finish reason, tool calls).

A streamed answer and a non-streamed one are summarised by the same
``CompletionBuilder``, so usage and cost are computed the same way for both.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple, NotRequired, TypedDict

import orjson

Role = Literal["system", "developer", "user", "assistant", "tool"]


class ImageURL(TypedDict):
    url: str
    detail: NotRequired[str]


class ContentPart(TypedDict, total=False):
    type: str  # "text" | "image_url"
    text: str
    image_url: ImageURL


class FunctionCall(TypedDict):
    name: str
    arguments: str  # JSON text, as OpenAI sends it


class ToolCall(TypedDict):
    id: str
    type: Literal["function"]
    function: FunctionCall


class Message(TypedDict, total=False):
    role: Role
    content: str | list[ContentPart] | None
    name: str
    tool_calls: list[ToolCall]
    tool_call_id: str


class FunctionDef(TypedDict, total=False):
    name: str
    description: str
    parameters: dict[str, Any]


class Tool(TypedDict):
    type: Literal["function"]
    function: FunctionDef


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts. ``prompt_tokens`` includes cached reads and cache writes."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @classmethod
    def from_openai(cls, usage: Mapping[str, Any] | None) -> Usage | None:
        if not usage:
            return None
        details = usage.get("prompt_tokens_details")
        if not details:  # the usual answer: no cache counts (skips two look-ups)
            return cls(int(usage.get("prompt_tokens") or 0),
                       int(usage.get("completion_tokens") or 0))
        return cls(
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
            cached_tokens=int(details.get("cached_tokens") or 0),
            cache_write_tokens=int(details.get("cache_write_tokens") or 0),
        )

    def to_openai(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
        }
        if self.cached_tokens or self.cache_write_tokens:
            details: dict[str, int] = {"cached_tokens": self.cached_tokens}
            if self.cache_write_tokens:
                details["cache_write_tokens"] = self.cache_write_tokens
            out["prompt_tokens_details"] = details
        return out


@dataclass(frozen=True, slots=True)
class ChatRequest:
    """A validated chat request, independent of where it came from (HTTP or Python)."""

    model: str
    messages: Sequence[Message]
    stream: bool = False
    include_usage: bool = False  # the client asked for a final usage chunk
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] | None = None
    tools: Sequence[Tool] | None = None
    tool_choice: Any = None
    response_format: Mapping[str, Any] | None = None
    # Other OpenAI parameters (seed, user, logprobs, ...): forwarded verbatim to
    # OpenAI-compatible upstreams, ignored by adapters that have no equivalent.
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def json_mode(self) -> bool:
        fmt = self.response_format
        return fmt is not None and fmt.get("type") in ("json_object", "json_schema")

    @property
    def has_images(self) -> bool:
        for m in self.messages:
            content = m.get("content")
            if isinstance(content, list):
                for part in content:
                    if part.get("type") == "image_url":
                        return True
        return False


@dataclass(frozen=True, slots=True)
class EmbeddingRequest:
    model: str
    input: Sequence[str]
    dimensions: int | None = None
    encoding: Literal["float", "base64"] = "float"  # how the *client* wants vectors back
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Embeddings:
    vectors: list[list[float]]
    model: str
    usage: Usage


@dataclass(frozen=True, slots=True)
class Completion:
    """A non-streamed answer: an OpenAI ``chat.completion`` body.

    ``raw`` is the upstream's own encoding of ``body`` when the adapter did not
    change it, so the gateway can forward it without re-encoding.
    """

    body: dict[str, Any]
    raw: bytes | None = None

    @property
    def model(self) -> str:
        return str(self.body.get("model", ""))

    @property
    def usage(self) -> Usage | None:
        return Usage.from_openai(self.body.get("usage"))

    @property
    def message(self) -> dict[str, Any]:
        choices = self.body.get("choices") or [{}]
        return dict(choices[0].get("message") or {})

    @property
    def content(self) -> str | None:
        content = self.message.get("content")
        return content if isinstance(content, str) else None

    @property
    def tool_calls(self) -> list[ToolCall]:
        return list(self.message.get("tool_calls") or [])

    @property
    def finish_reason(self) -> str | None:
        choices = self.body.get("choices") or [{}]
        reason = choices[0].get("finish_reason")
        return str(reason) if reason is not None else None

    def encoded(self) -> bytes:
        return self.raw if self.raw is not None else orjson.dumps(self.body)


class Chunk(NamedTuple):
    """One ``chat.completion.chunk``; ``raw`` as for :class:`Completion`.

    A NamedTuple, not a frozen dataclass: one is made per streamed token or so, and
    the dataclass's ``__init__`` costs several times more.
    """

    data: dict[str, Any]
    raw: bytes | None = None

    @property
    def usage(self) -> Usage | None:
        return Usage.from_openai(self.data.get("usage"))

    @property
    def delta(self) -> dict[str, Any]:
        choices = self.data.get("choices") or ()
        return dict(choices[0].get("delta") or {}) if choices else {}

    @property
    def content(self) -> str | None:
        content = self.delta.get("content")
        return content if isinstance(content, str) else None

    @property
    def finish_reason(self) -> str | None:
        choices = self.data.get("choices") or ()
        reason = choices[0].get("finish_reason") if choices else None
        return str(reason) if reason is not None else None

    def encoded(self) -> bytes:
        return self.raw if self.raw is not None else orjson.dumps(self.data)


class CompletionBuilder:
    """Folds stream chunks into the ``chat.completion`` body a non-streamed call returns.

    Used for ledger accounting of streams and for ``Aegis.chat`` when only a
    stream is available (the embedded model), so both paths agree.
    """

    def __init__(self) -> None:
        self.id: str | None = None
        self.model: str | None = None
        self.created: int | None = None
        self.content: list[str] = []
        self.reasoning: list[str] = []
        self.tool_calls: dict[int, dict[str, Any]] = {}
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self.role = "assistant"

    def add(self, chunk: Chunk) -> None:
        data = chunk.data
        if not self.id:  # the first chunk's, unless it had none
            self.id = data.get("id")
        if not self.model:
            self.model = data.get("model")
        if not self.created:
            self.created = data.get("created")
        if usage := data.get("usage"):  # ``chunk.usage``, without a call for most chunks
            self.usage = Usage.from_openai(usage)
        choices = data.get("choices") or ()
        if not choices:
            return
        choice = choices[0]
        delta = choice.get("delta") or {}
        if text := delta.get("content"):
            self.content.append(text)
        if text := delta.get("reasoning_content"):
            self.reasoning.append(text)
        for call in delta.get("tool_calls") or ():
            slot = self.tool_calls.setdefault(
                int(call.get("index", 0)),
                {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
            )
            if call.get("id"):
                slot["id"] = call["id"]
            fn = call.get("function") or {}
            if fn.get("name"):
                slot["function"]["name"] += fn["name"]
            if fn.get("arguments"):
                slot["function"]["arguments"] += fn["arguments"]
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]

    @property
    def text(self) -> str:
        return "".join(self.content)

    def build(self) -> Completion:
        message: dict[str, Any] = {"role": self.role, "content": self.text or None}
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[i] for i in sorted(self.tool_calls)]
        if self.reasoning:
            message["reasoning_content"] = "".join(self.reasoning)
        body: dict[str, Any] = {
            "id": self.id or "chatcmpl-aegis",
            "object": "chat.completion",
            "created": self.created or int(time.time()),
            "model": self.model or "",
            "choices": [
                {"index": 0, "message": message, "finish_reason": self.finish_reason or "stop"}
            ],
        }
        if self.usage is not None:
            body["usage"] = self.usage.to_openai()
        return Completion(body)
