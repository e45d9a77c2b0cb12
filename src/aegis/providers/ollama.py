"""Ollama's native API (``/api/chat``, ``/api/embed``, ``/api/tags``).

Ollama also serves an OpenAI-compatible ``/v1`` (use ``kind: openai`` for that);
the native API is the one that exposes everything -- ``keep_alive``, ``num_ctx``,
exact token counts -- and it differs from OpenAI in ways this module absorbs:

- it *streams by default*, as NDJSON (one JSON object per line), so ``stream``
  is always sent explicitly;
- images are bare base64 strings in ``message.images`` (no URLs: Ollama cannot
  fetch one, and Aegis never fetches on a client's behalf);
- tool-call ``arguments`` are JSON *objects*, not JSON text, and a tool result
  names its tool (``tool_name``) instead of referencing a call id;
- sampling parameters live under ``options`` (``max_tokens`` is ``num_predict``);
- errors are ``{"error": "..."}``, also as a line inside a stream that fails
  after it started.

``base_url`` is the server root (``http://localhost:11434``, no ``/api``).
Provider options: ``keep_alive`` (e.g. ``"10m"``, ``-1``) and ``num_ctx``
(Ollama's context window, which otherwise defaults small and truncates silently).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import unquote_to_bytes

import orjson

from aegis import errors
from aegis.http import HttpResponse, iter_ndjson
from aegis.http.errors import TransportError
from aegis.providers.base import Adapter, Capabilities, classify_http_error
from aegis.types import (
    ChatRequest,
    Chunk,
    Completion,
    EmbeddingRequest,
    Embeddings,
    Message,
    Usage,
)

_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant",
          "tool": "tool"}
# OpenAI request parameters (found in ``ChatRequest.extra``) that Ollama takes as options.
_EXTRA_OPTIONS = ("seed", "frequency_penalty", "presence_penalty")


class OllamaAdapter(Adapter):
    kind = "ollama"
    capabilities = Capabilities(
        streaming=True, tools=True, vision=True, embeddings=True, json_mode=True,
        model_listing=True,
    )
    option_names = frozenset({"keep_alive", "num_ctx"})

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self.provider.api_key:  # a reverse proxy in front of Ollama, or ollama.com
            headers["authorization"] = f"Bearer {self.provider.api_key.reveal()}"
        headers.update(self.provider.headers)
        return headers

    # -- request mapping ----------------------------------------------------

    def build_body(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": self.map_messages(request.messages),
            "stream": stream,  # always explicit: Ollama streams when it is absent
        }
        # Ollama has no tool_choice; "none" is honoured by not offering the tools.
        if request.tools and request.tool_choice != "none":
            body["tools"] = list(request.tools)
        fmt = _format(request.response_format)
        if fmt is not None:
            body["format"] = fmt
        options: dict[str, Any] = {}
        if (num_ctx := self.provider.options.get("num_ctx")) is not None:
            options["num_ctx"] = num_ctx
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.top_p is not None:
            options["top_p"] = request.top_p
        if request.stop is not None:
            options["stop"] = list(request.stop)
        for name in _EXTRA_OPTIONS:
            if request.extra.get(name) is not None:
                options[name] = request.extra[name]
        if options:
            body["options"] = options
        if (keep_alive := self.provider.options.get("keep_alive")) is not None:
            body["keep_alive"] = keep_alive
        return body

    def map_messages(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        """OpenAI messages -> Ollama messages; ``InvalidRequest`` for what Ollama cannot take."""
        out: list[dict[str, Any]] = []
        call_names: dict[str, str] = {}  # tool_call_id -> function name, latest wins
        for i, message in enumerate(messages):
            role = _ROLES.get(str(message.get("role")))
            if role is None:
                raise errors.InvalidRequest(
                    f"messages[{i}]: unsupported role {message.get('role')!r}", param="messages"
                )
            text, images = _content(message.get("content"), i)
            mapped: dict[str, Any] = {"role": role, "content": text}
            if images:
                mapped["images"] = images
            if role == "assistant" and message.get("tool_calls"):
                calls = []
                for call in message["tool_calls"]:
                    fn = call.get("function") or {}
                    name = str(fn.get("name") or "")
                    if call.get("id"):
                        call_names[call["id"]] = name
                    calls.append({"function": {
                        "name": name, "arguments": _arguments(fn.get("arguments"), i),
                    }})
                mapped["tool_calls"] = calls
            if role == "tool":
                tool_name = call_names.get(str(message.get("tool_call_id") or ""))
                if tool_name or message.get("name"):
                    mapped["tool_name"] = tool_name or message.get("name")
            out.append(mapped)
        return out

    # -- chat ---------------------------------------------------------------

    async def complete(self, request: ChatRequest, model: str) -> Completion:
        payload = orjson.dumps(self.build_body(request, model, stream=False))
        resp = await self._post("/api/chat", payload, model)
        data = self.parse_json(await self._read(resp))
        if "error" in data:
            raise self._stream_error(data["error"])
        message = data.get("message")
        if not isinstance(message, dict) or not data.get("done", True):
            raise errors.InvalidUpstreamResponse(
                "response has no complete 'message'", provider=self.provider.name
            )
        ids = _Ids(request)
        calls = [ids.tool_call(n, call) for n, call in enumerate(message.get("tool_calls") or ())]
        text = str(message.get("content") or "")
        out: dict[str, Any] = {"role": "assistant", "content": text or (None if calls else "")}
        if calls:
            out["tool_calls"] = calls
        if message.get("thinking"):
            out["reasoning_content"] = message["thinking"]
        body = {
            "id": ids.completion,
            "object": "chat.completion",
            "created": _created(data.get("created_at")),
            "model": str(data.get("model") or model),
            "choices": [{"index": 0, "message": out,
                         "finish_reason": _finish_reason(data, bool(calls))}],
            "usage": _usage(data).to_openai(),
        }
        return Completion(body)

    async def stream(self, request: ChatRequest, model: str) -> AsyncIterator[Chunk]:
        payload = orjson.dumps(self.build_body(request, model, stream=True))
        headers = self._headers()
        headers["accept"] = "application/x-ndjson"
        resp = await self._post("/api/chat", payload, model, headers)
        ids = _Ids(request)
        head: dict[str, Any] | None = None  # id/object/created/model shared by every chunk
        n_calls = 0
        try:
            async for line in iter_ndjson(resp.aiter_bytes()):
                if not isinstance(line, dict):
                    raise errors.InvalidUpstreamResponse(
                        "stream line is not a JSON object", provider=self.provider.name
                    )
                if "error" in line:
                    raise self._stream_error(line["error"])
                if head is None:
                    head = {"id": ids.completion, "object": "chat.completion.chunk",
                            "created": _created(line.get("created_at")),
                            "model": str(line.get("model") or model)}
                    delta: dict[str, Any] = {"role": "assistant", "content": ""}
                else:
                    delta = {}
                message = line.get("message") or {}
                if message.get("content"):
                    delta["content"] = message["content"]
                if message.get("thinking"):
                    delta["reasoning_content"] = message["thinking"]
                calls = []
                for call in message.get("tool_calls") or ():
                    calls.append({"index": n_calls, **ids.tool_call(n_calls, call)})
                    n_calls += 1
                if calls:
                    delta["tool_calls"] = calls
                if delta:
                    yield self._chunk(head, [{"index": 0, "delta": delta, "finish_reason": None}])
                if line.get("done"):
                    reason = _finish_reason(line, n_calls > 0)
                    yield self._chunk(head, [{"index": 0, "delta": {}, "finish_reason": reason}])
                    yield self._chunk(head, [], usage=_usage(line).to_openai())
                    return
        except orjson.JSONDecodeError:
            raise errors.InvalidUpstreamResponse(
                "stream carried a malformed JSON line", provider=self.provider.name
            ) from None
        except TransportError as exc:
            raise self.transport_error(exc) from None
        finally:
            await resp.aclose()
        raise errors.InvalidUpstreamResponse(
            "stream ended before its 'done' line", provider=self.provider.name
        )

    @staticmethod
    def _chunk(
        head: dict[str, Any], choices: list[dict[str, Any]], usage: dict[str, Any] | None = None
    ) -> Chunk:
        data = {**head, "choices": choices}
        if usage is not None:
            data["usage"] = usage
        return Chunk(data)

    # -- embeddings and models ----------------------------------------------

    async def embed(self, request: EmbeddingRequest, model: str) -> Embeddings:
        body: dict[str, Any] = {"model": model, "input": list(request.input)}
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        if (keep_alive := self.provider.options.get("keep_alive")) is not None:
            body["keep_alive"] = keep_alive
        resp = await self._post("/api/embed", orjson.dumps(body), model)
        data = self.parse_json(await self._read(resp))
        try:
            vectors = [[float(x) for x in row] for row in data["embeddings"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise errors.InvalidUpstreamResponse(
                f"malformed embeddings response ({exc})", provider=self.provider.name
            ) from None
        if len(vectors) != len(request.input):
            raise errors.InvalidUpstreamResponse(
                f"asked for {len(request.input)} embeddings, got {len(vectors)}",
                provider=self.provider.name,
            )
        return Embeddings(
            vectors=vectors,
            model=str(data.get("model") or model),
            usage=Usage(prompt_tokens=int(data.get("prompt_eval_count") or 0)),
        )

    async def list_models(self) -> list[str]:
        resp = await self._send("/api/tags", b"", self._headers(), method="GET")
        data = self.parse_json(await self._read(resp))
        rows = data.get("models") or ()
        return [str(row.get("name") or row["model"]) for row in rows
                if isinstance(row, dict) and (row.get("name") or row.get("model"))]

    # -- errors -------------------------------------------------------------

    async def _post(
        self, path: str, payload: bytes, model: str, headers: Mapping[str, str] | None = None
    ) -> HttpResponse:
        """``_send``, turning Ollama's "model not found" 404 into ``ModelUnavailable`` (the
        next candidate may have the model) with a message that says what to do."""
        try:
            return await self._send(path, payload, headers or self._headers())
        except errors.ModelUnavailable:
            raise errors.ModelUnavailable(
                f"model {model!r} is not available on this Ollama server"
                f" (pull it with `ollama pull {model}`)",
                provider=self.provider.name, upstream_status=404, param="model",
            ) from None

    def error_details(self, payload: bytes) -> tuple[str, str]:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return payload[:200].decode(errors="replace").strip(), ""
        if isinstance(data, dict) and isinstance(data.get("error"), str):
            return data["error"], ""
        return "", ""

    def _stream_error(self, err: Any) -> errors.ProviderError:
        """An ``{"error": ...}`` line: the HTTP status already said 200, so treat it as a 500."""
        message = err if isinstance(err, str) else orjson.dumps(err).decode()
        return classify_http_error(self.provider.name, 500, {}, message or "stream error", "")


class _Ids:
    """Ids for one answer. Tool-call ids are derived from the turn and the call, so a
    streamed and a non-streamed answer agree and ids do not repeat across turns."""

    def __init__(self, request: ChatRequest) -> None:
        self.completion = f"chatcmpl-{uuid.uuid4().hex[:24]}"
        self._turn = len(request.messages)

    def tool_call(self, n: int, call: Mapping[str, Any]) -> dict[str, Any]:
        fn = call.get("function") or {}
        name = str(fn.get("name") or "")
        args = fn.get("arguments")
        # Ollama sends an object; tolerate JSON text, which some models' parsers emit.
        arguments = args if isinstance(args, str) else orjson.dumps(args or {}).decode()
        call_id = call.get("id")  # recent Ollama versions assign one
        if not call_id:
            digest = hashlib.sha256(f"{self._turn}\0{n}\0{name}\0{arguments}".encode())
            call_id = f"call_{n}_{digest.hexdigest()[:12]}"
        return {"id": str(call_id), "type": "function",
                "function": {"name": name, "arguments": arguments}}


def _content(content: Any, index: int) -> tuple[str, list[str]]:
    """(text, base64 images) from an OpenAI message content."""
    if content is None:
        return "", []
    if isinstance(content, str):
        return content, []
    texts: list[str] = []
    images: list[str] = []
    for part in _parts(content, index):
        kind = part.get("type")
        if kind == "text":
            texts.append(str(part.get("text") or ""))
        elif kind == "image_url":
            url = (part.get("image_url") or {}).get("url") or ""
            images.append(_image(str(url), index))
        else:
            raise errors.InvalidRequest(
                f"messages[{index}]: content part type {kind!r} is not supported by Ollama",
                param="messages",
            )
    return "\n".join(texts), images


def _parts(content: Any, index: int) -> Iterable[Mapping[str, Any]]:
    if not isinstance(content, list) or not all(isinstance(p, Mapping) for p in content):
        raise errors.InvalidRequest(
            f"messages[{index}]: content must be a string or a list of parts", param="messages"
        )
    return content


def _image(url: str, index: int) -> str:
    """The base64 payload of a ``data:`` URL; any other URL is refused."""
    if not url.startswith("data:"):
        scheme = url.split(":", 1)[0] if ":" in url else "?"
        raise errors.InvalidRequest(
            f"messages[{index}]: image URLs ({scheme}:) are not supported by Ollama; "
            "send the image inline as a base64 data: URL (Aegis does not fetch URLs)",
            param="messages",
        )
    header, sep, data = url[5:].partition(",")
    if not sep:
        raise errors.InvalidRequest(f"messages[{index}]: malformed data: URL", param="messages")
    if not header.endswith(";base64"):  # percent-encoded bytes
        return base64.b64encode(unquote_to_bytes(data)).decode()
    data = "".join(data.split())
    try:
        base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise errors.InvalidRequest(
            f"messages[{index}]: image data: URL is not valid base64", param="messages"
        ) from None
    return data


def _arguments(arguments: Any, index: int) -> dict[str, Any]:
    """OpenAI's JSON-text tool arguments as the object Ollama requires."""
    if isinstance(arguments, dict):
        return arguments
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}
    try:
        parsed = orjson.loads(arguments)
    except (orjson.JSONDecodeError, TypeError):
        parsed = None
    if not isinstance(parsed, dict):
        raise errors.InvalidRequest(
            f"messages[{index}]: tool call arguments must be a JSON object", param="messages"
        )
    return parsed


def _format(response_format: Mapping[str, Any] | None) -> Any:
    if not response_format:
        return None
    kind = response_format.get("type")
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = (response_format.get("json_schema") or {}).get("schema")
        return schema if isinstance(schema, dict) and schema else "json"
    return None


def _finish_reason(data: Mapping[str, Any], has_tool_calls: bool) -> str:
    if has_tool_calls:
        return "tool_calls"
    return "length" if data.get("done_reason") == "length" else "stop"


def _usage(data: Mapping[str, Any]) -> Usage:
    """``prompt_eval_cached_count`` (newer servers: the prompt prefix reused from the KV
    cache) is part of ``prompt_eval_count``, as cached tokens are of OpenAI's prompt tokens."""
    return Usage(
        prompt_tokens=int(data.get("prompt_eval_count") or 0),
        completion_tokens=int(data.get("eval_count") or 0),
        cached_tokens=int(data.get("prompt_eval_cached_count") or 0),
    )


def _created(created_at: Any) -> int:
    """Unix seconds from Ollama's RFC 3339 ``created_at`` (nanosecond precision)."""
    if isinstance(created_at, str):
        try:
            return int(datetime.fromisoformat(created_at).timestamp())
        except ValueError:
            pass
    return int(time.time())
