"""Anthropic's native Messages API (``POST /v1/messages``).

The canonical OpenAI-shaped request is rewritten into a Messages body (top-level
``system``, alternating user/assistant turns of content blocks, ``tool_use`` /
``tool_result`` blocks) and the answer, streamed or not, is rewritten back into
OpenAI ``chat.completion`` / ``chat.completion.chunk`` objects. Options:

- ``anthropic_version``: the ``anthropic-version`` header (default ``2023-06-01``).
- ``default_max_tokens``: Anthropic requires ``max_tokens``; used when the
  client sent none (default 4096).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any
from urllib.parse import quote

import orjson

from aegis import errors
from aegis.http import iter_sse
from aegis.http.errors import TransportError
from aegis.providers.base import Adapter, Capabilities, classify_http_error
from aegis.types import ChatRequest, Chunk, Completion, Message, Usage

DEFAULT_VERSION = "2023-06-01"
# API version 2026-10-21 rejects temperature / top_p / top_k outright (400).
_NO_SAMPLING_FROM = "2026-10-21"
_PASSTHROUGH = ("top_k", "metadata", "thinking")  # Anthropic-native knobs a client may send

_FINISH = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
# Anthropic error ``type`` -> the HTTP status it accompanies (for errors inside a stream).
_ERROR_STATUS = {
    "invalid_request_error": 400,
    "authentication_error": 401,
    "billing_error": 402,
    "permission_error": 403,
    "not_found_error": 404,
    "request_too_large": 413,
    "rate_limit_error": 429,
    "api_error": 500,
    "timeout_error": 504,
    "overloaded_error": 529,
}


class AnthropicAdapter(Adapter):
    kind = "anthropic"
    capabilities = Capabilities(
        streaming=True, tools=True, vision=True, embeddings=False, json_mode=False,
        model_listing=True,
    )
    option_names = frozenset({"anthropic_version", "default_max_tokens"})

    @property
    def version(self) -> str:
        return str(self.provider.options.get("anthropic_version", DEFAULT_VERSION))

    def _headers(self) -> dict[str, str]:
        headers = {
            "content-type": "application/json",
            "accept": "application/json",
            "anthropic-version": self.version,
        }
        if self.provider.api_key:
            headers["x-api-key"] = self.provider.api_key.reveal()
        headers.update(self.provider.headers)
        return headers

    # -- request mapping ------------------------------------------------------

    def build_body(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        system, turns = _map_messages(request.messages)
        max_tokens = request.max_tokens
        if max_tokens is None:
            max_tokens = request.extra.get("max_completion_tokens")
        if max_tokens is None:
            max_tokens = self.provider.options.get("default_max_tokens", 4096)
        body: dict[str, Any] = {"model": model, "max_tokens": int(max_tokens), "messages": turns}
        if system:
            body["system"] = system
        if self.version < _NO_SAMPLING_FROM:
            if request.temperature is not None:  # OpenAI allows 0..2, Anthropic 0..1
                body["temperature"] = min(max(float(request.temperature), 0.0), 1.0)
            # Newer models refuse temperature and top_p together ("cannot both be
            # specified"): temperature wins; top_p=1, a no-op some clients always send, and
            # a top_p beside a temperature are dropped.
            if request.top_p is not None and request.top_p < 1 and "temperature" not in body:
                body["top_p"] = request.top_p
        # the API refuses whitespace-only stop sequences (OpenAI clients often send "\n"):
        # they cannot be honoured there, so they are left out rather than fail the call
        if request.stop and (stops := [s for s in request.stop if s.strip()]):
            body["stop_sequences"] = stops
        if request.tools:
            body["tools"] = [_map_tool(t, i) for i, t in enumerate(request.tools)]
            choice = _map_tool_choice(request.tool_choice)
            if request.extra.get("parallel_tool_calls") is False:
                choice = choice or {"type": "auto"}
                if choice["type"] != "none":
                    choice["disable_parallel_tool_use"] = True
            if choice is not None:
                body["tool_choice"] = choice
        for name in _PASSTHROUGH:
            if name in request.extra and (name != "top_k" or self.version < _NO_SAMPLING_FROM):
                body[name] = request.extra[name]
        if "metadata" not in body and isinstance(request.extra.get("user"), str):
            body["metadata"] = {"user_id": request.extra["user"]}
        if stream:
            body["stream"] = True
        return body

    # -- calls ----------------------------------------------------------------

    async def complete(self, request: ChatRequest, model: str) -> Completion:
        payload = orjson.dumps(self.build_body(request, model, stream=False))
        resp = await self._send("/v1/messages", payload, self._headers())
        data = self.parse_json(await self._read(resp))
        if data.get("type") == "error":
            raise self._body_error(data)
        try:
            return self._completion(data, model)
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise errors.InvalidUpstreamResponse(
                f"malformed message ({type(exc).__name__})", provider=self.provider.name
            ) from None

    async def stream(self, request: ChatRequest, model: str) -> AsyncIterator[Chunk]:
        payload = orjson.dumps(self.build_body(request, model, stream=True))
        headers = self._headers()
        headers["accept"] = "text/event-stream"
        resp = await self._send("/v1/messages", payload, headers)
        state = _StreamState(model)
        try:
            async for event in iter_sse(resp.aiter_bytes()):
                data = self.parse_json(event.data)
                kind = str(data.get("type") or event.event)
                if kind == "error":
                    raise self._body_error(data)
                try:
                    chunks = list(state.feed(kind, data))
                except (KeyError, TypeError, ValueError, AttributeError) as exc:
                    raise errors.InvalidUpstreamResponse(
                        f"malformed {kind} event ({type(exc).__name__})",
                        provider=self.provider.name,
                    ) from None
                for chunk in chunks:
                    yield chunk
                if state.stopped:
                    return
        except TransportError as exc:
            raise self.transport_error(exc) from None
        finally:
            await resp.aclose()
        raise errors.InvalidUpstreamResponse(
            "stream ended before message_stop", provider=self.provider.name
        )

    async def list_models(self) -> list[str]:
        ids: list[str] = []
        after: str | None = None
        for _ in range(100):  # pages of up to 1000; a bound, not a real limit
            path = "/v1/models?limit=1000" + (f"&after_id={quote(after)}" if after else "")
            resp = await self._send(path, b"", self._headers(), method="GET")
            data = self.parse_json(await self._read(resp))
            ids += [str(row["id"]) for row in data.get("data") or () if "id" in row]
            after = data.get("last_id")
            if not data.get("has_more") or not after:
                break
        return ids

    # -- response mapping -------------------------------------------------------

    def _completion(self, data: Mapping[str, Any], model: str) -> Completion:
        texts: list[str] = []
        reasoning: list[str] = []
        calls: list[dict[str, Any]] = []
        for block in data["content"]:
            kind = block.get("type")
            if kind == "text":
                texts.append(block["text"])
            elif kind == "thinking":
                reasoning.append(block.get("thinking") or "")
            elif kind == "tool_use":
                calls.append(_tool_call(block["id"], block["name"], block.get("input") or {}))
        message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
        if calls:
            message["tool_calls"] = calls
        if reasoning:
            message["reasoning_content"] = "".join(reasoning)
        body = {
            "id": str(data.get("id") or "msg-aegis"),
            "object": "chat.completion",
            "created": int(time.time()),
            "model": str(data.get("model") or model),
            "choices": [{
                "index": 0, "message": message,
                "finish_reason": _finish(data.get("stop_reason")),
            }],
            "usage": _usage(data.get("usage") or {}).to_openai(),
        }
        return Completion(body)

    # -- errors -------------------------------------------------------------

    def error_details(self, payload: bytes) -> tuple[str, str]:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return payload[:200].decode(errors="replace").strip(), ""
        return _error_fields(data)

    def _body_error(self, data: Mapping[str, Any]) -> errors.ProviderError:
        """An error delivered in a 200 body (an ``error`` stream event): its ``type`` stands in
        for the HTTP status it would have had (``overloaded_error`` -> 529, ...)."""
        message, code = _error_fields(data)
        status = _ERROR_STATUS.get(code, 500)
        return classify_http_error(
            self.provider.name, status, {}, message or f"upstream error ({code or 'unknown'})", code
        )


# -- request helpers ----------------------------------------------------------


def _map_messages(messages: Sequence[Message]) -> tuple[str, list[dict[str, Any]]]:
    """(system text, alternating turns): system/developer lifted out, same-role runs merged."""
    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for i, msg in enumerate(messages):
        role = msg.get("role")
        where = f"messages[{i}]"
        if role in ("system", "developer"):
            text = "".join(b["text"] for b in _blocks(msg.get("content"), where))
            if text:
                system.append(text)
            continue
        if role == "tool":
            blocks = [_tool_result(msg, where)]
            role = "user"
        elif role == "user":
            blocks = _blocks(msg.get("content"), where)
        elif role == "assistant":
            blocks = _blocks(msg.get("content"), where) + _tool_uses(msg, where)
        else:
            raise errors.InvalidRequest(f"unsupported role {role!r}", param=f"{where}.role")
        if not blocks:
            continue
        if turns and turns[-1]["role"] == role:
            turns[-1]["content"].extend(blocks)
        else:
            turns.append({"role": role, "content": blocks})
    return "\n\n".join(system), turns


def _blocks(content: Any, where: str) -> list[dict[str, Any]]:
    """OpenAI content (string or parts) -> Anthropic blocks; empty text is dropped (Anthropic
    rejects empty text blocks)."""
    if content is None:
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list):
        raise errors.InvalidRequest("content must be a string or a list", param=f"{where}.content")
    out: list[dict[str, Any]] = []
    for j, part in enumerate(content):
        param = f"{where}.content[{j}]"
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            if part.get("text"):
                out.append({"type": "text", "text": str(part["text"])})
        elif kind == "image_url":
            out.append(_image(part.get("image_url"), param))
        else:
            raise errors.InvalidRequest(f"unsupported content part {kind!r}", param=param)
    return out


def _image(image_url: Any, param: str) -> dict[str, Any]:
    url = image_url.get("url") if isinstance(image_url, Mapping) else image_url
    if not isinstance(url, str):
        raise errors.InvalidRequest("image_url.url is required", param=param)
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if not sep or encoding != "base64" or not media_type:
            raise errors.InvalidRequest("image data URLs must be base64-encoded", param=param)
        source = {"type": "base64", "media_type": media_type, "data": data}
    elif url.startswith(("https://", "http://")):
        source = {"type": "url", "url": url}
    else:
        raise errors.InvalidRequest("image_url must be a data: or http(s) URL", param=param)
    return {"type": "image", "source": source}


def _tool_uses(msg: Message, where: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for j, call in enumerate(msg.get("tool_calls") or ()):
        param = f"{where}.tool_calls[{j}].function.arguments"
        fn = call.get("function") or {}
        try:
            args = orjson.loads(fn.get("arguments") or "{}")
        except orjson.JSONDecodeError:
            raise errors.InvalidRequest("tool call arguments are not valid JSON",
                                        param=param) from None
        if not isinstance(args, dict):
            raise errors.InvalidRequest("tool call arguments must be a JSON object", param=param)
        out.append({"type": "tool_use", "id": call.get("id"), "name": fn.get("name"),
                    "input": args})
    return out


def _tool_result(msg: Message, where: str) -> dict[str, Any]:
    call_id = msg.get("tool_call_id")
    if not call_id:
        raise errors.InvalidRequest("tool messages need a tool_call_id",
                                    param=f"{where}.tool_call_id")
    content = msg.get("content")
    result: dict[str, Any] = {"type": "tool_result", "tool_use_id": call_id}
    if isinstance(content, str):
        result["content"] = content
    elif content:
        result["content"] = _blocks(content, where)
    return result


def _map_tool(tool: Any, i: int) -> dict[str, Any]:
    fn = tool.get("function") if tool.get("type") == "function" else None
    if not isinstance(fn, Mapping) or not fn.get("name"):
        raise errors.InvalidRequest("only function tools with a name are supported",
                                    param=f"tools[{i}]")
    out: dict[str, Any] = {"name": fn["name"]}
    if fn.get("description"):
        out["description"] = fn["description"]
    out["input_schema"] = fn.get("parameters") or {"type": "object", "properties": {}}
    return out


def _map_tool_choice(choice: Any) -> dict[str, Any] | None:
    if choice is None:
        return None
    if choice in ("auto", "none"):
        return {"type": choice}
    if choice == "required":
        return {"type": "any"}
    if isinstance(choice, Mapping) and choice.get("type") == "function":
        name = (choice.get("function") or {}).get("name")
        if name:
            return {"type": "tool", "name": name}
    raise errors.InvalidRequest(f"unsupported tool_choice {choice!r}", param="tool_choice")


# -- response helpers -----------------------------------------------------------


def _error_fields(data: Any) -> tuple[str, str]:
    """(message, type) from ``{"type": "error", "error": {"type": ..., "message": ...}}``."""
    err = data.get("error") if isinstance(data, dict) else None
    if not isinstance(err, dict):
        return "", ""
    return str(err.get("message") or ""), str(err.get("type") or "")


def _finish(stop_reason: Any) -> str:
    return _FINISH.get(str(stop_reason), "stop")


def _tool_call(call_id: str, name: str, args: Any) -> dict[str, Any]:
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": orjson.dumps(args).decode()}}


def _usage(u: Mapping[str, Any]) -> Usage:
    """Anthropic's ``input_tokens`` excludes cache reads and writes; OpenAI's prompt count
    includes both."""
    cache_read = int(u.get("cache_read_input_tokens") or 0)
    cache_write = int(u.get("cache_creation_input_tokens") or 0)
    return Usage(
        prompt_tokens=int(u.get("input_tokens") or 0) + cache_read + cache_write,
        completion_tokens=int(u.get("output_tokens") or 0),
        cached_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


class _StreamState:
    """Folds Messages stream events into OpenAI chunks, one event at a time."""

    def __init__(self, model: str) -> None:
        self.id = ""
        self.model = model
        self.created = int(time.time())
        self.usage: dict[str, Any] = {}
        self.tools: dict[int, int] = {}  # content block index -> tool_calls index
        self.with_input: set[int] = set()  # tool blocks that streamed any input JSON
        self.started = False
        self.finished = False
        self.stopped = False

    def chunk(self, delta: dict[str, Any], finish: str | None = None) -> Chunk:
        return Chunk({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created,
            "model": self.model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        })

    def feed(self, kind: str, data: Mapping[str, Any]) -> Iterator[Chunk]:
        if kind == "message_start":
            message = data["message"]
            self.id = str(message.get("id") or "msg-aegis")
            self.model = str(message.get("model") or self.model)
            self.usage = dict(message.get("usage") or {})
            self.started = True
            yield self.chunk({"role": "assistant", "content": ""})
            return
        if kind == "ping" or not kind.startswith(("content_block_", "message_")):
            return  # new event types may appear; the API docs say to ignore them
        if not self.started:
            raise ValueError(f"{kind} before message_start")
        if kind == "content_block_start":
            yield from self._block_start(int(data["index"]), data["content_block"])
        elif kind == "content_block_delta":
            yield from self._block_delta(int(data["index"]), data["delta"])
        elif kind == "content_block_stop":
            index = int(data["index"])
            if index in self.tools and index not in self.with_input:
                # a tool called without arguments streams no input JSON at all (or ""):
                # OpenAI clients parse `arguments`, and "" is not JSON
                yield self.chunk({"tool_calls": [
                    {"index": self.tools[index], "function": {"arguments": "{}"}}]})
        elif kind == "message_delta":
            # usage here is cumulative: overwrite, keeping message_start values it omits
            self.usage.update({k: v for k, v in (data.get("usage") or {}).items()
                               if v is not None})
            reason = (data.get("delta") or {}).get("stop_reason")
            if reason and not self.finished:
                self.finished = True
                yield self.chunk({}, _finish(reason))
        elif kind == "message_stop":
            if not self.finished:
                self.finished = True
                yield self.chunk({}, "stop")
            self.stopped = True
            yield Chunk({
                "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "choices": [], "usage": _usage(self.usage).to_openai(),
            })

    def _block_start(self, index: int, block: Mapping[str, Any]) -> Iterator[Chunk]:
        kind = block.get("type")
        if kind == "tool_use":
            slot = self.tools[index] = len(self.tools)
            yield self.chunk({"tool_calls": [{
                "index": slot, "id": block["id"], "type": "function",
                "function": {"name": block["name"], "arguments": ""},
            }]})
        elif kind == "text" and block.get("text"):
            yield self.chunk({"content": block["text"]})
        elif kind == "thinking" and block.get("thinking"):
            yield self.chunk({"reasoning_content": block["thinking"]})

    def _block_delta(self, index: int, delta: Mapping[str, Any]) -> Iterator[Chunk]:
        kind = delta.get("type")
        if kind == "text_delta" and delta["text"]:
            yield self.chunk({"content": delta["text"]})
        elif kind == "thinking_delta" and delta["thinking"]:
            yield self.chunk({"reasoning_content": delta["thinking"]})
        elif kind == "input_json_delta" and delta["partial_json"] and index in self.tools:
            self.with_input.add(index)
            yield self.chunk({"tool_calls": [
                {"index": self.tools[index], "function": {"arguments": delta["partial_json"]}}
            ]})
