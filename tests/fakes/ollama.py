"""A fake Ollama server speaking the native API as the real one frames it.

Wire facts it reproduces (from ollama/ollama ``server/routes.go``, ``api/types.go``
and ``docs/api.md``):

- ``/api/chat`` *streams unless* ``"stream": false``: NDJSON lines
  (``json + "\\n"``, ``content-type: application/x-ndjson``), each
  ``{"model", "created_at", "message": {"role", "content"}, "done": false}``,
  then a ``done: true`` line carrying ``done_reason`` and the metrics
  (``total_duration``, ``load_duration``, ``prompt_eval_count``,
  ``prompt_eval_duration``, ``eval_count``, ``eval_duration``). Tool calls arrive
  whole, in a ``done: false`` line with empty content; the ``done`` line then says
  ``done_reason: "stop"``. Non-streamed replies are one such object with
  ``content-type: application/json; charset=utf-8``.
- Errors are ``{"error": "..."}``: 400 ``model is required`` / ``missing request
  body``, 404 ``model 'x' not found`` on ``/api/chat`` (``model "x" not found, try
  pulling it first`` from ``/api/embed``, which goes through the scheduler), and
  mid-stream an ``{"error": ...}`` line with the status left at 200.
- Go's decoder rejects what the real server rejects: non-base64 ``images`` and
  tool-call ``arguments`` that are not JSON objects (OpenAI's JSON *text*).

Answers are deterministic: ``echo: <last user text>`` (plus ``[N image(s)]``),
one call to the first tool with ``TOOL_ARGUMENTS`` when tools are offered and the
last message is not a tool result, ``<tool_name> returned: <content>`` after a
tool result, a JSON object for ``format``. Token counts are word counts.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
import re
from datetime import UTC, datetime
from typing import Any

import orjson

from tests.fakes.base import FakeUpstream, JSONReply, Recorded, Reply, StreamReply

JSON_UTF8 = {"content-type": "application/json; charset=utf-8"}
NDJSON = "application/x-ndjson"
EMBED_DIM = 8


def _now() -> str:
    """RFC 3339 with nanoseconds and a ``Z``, as Go's ``time.Time`` marshals UTC."""
    now = datetime.now(UTC)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}123Z"


def _words(text: str) -> int:
    return len(text.split())


def _bad(message: str, status: int = 400) -> JSONReply:
    return JSONReply({"error": message}, status=status, headers=dict(JSON_UTF8))


class FakeOllama(FakeUpstream):
    TOOL_ARGUMENTS: dict[str, Any] = {"location": "Paris", "unit": "celsius"}
    VERSION = "0.12.6"

    MODELS = ("llama3.2:latest", "llava:latest", "nomic-embed-text:latest")

    def __init__(self, models: tuple[str, ...] = MODELS) -> None:
        super().__init__()
        self.models = list(models)
        self._stream_errors: list[str] = []
        self.route("POST", "/api/chat", self._chat)
        self.route("POST", "/api/embed", self._embed)
        self.route("GET", "/api/tags", self._tags)
        self.route("GET", "/api/version", self._version)

    def error_reply(self, status: int, message: str) -> JSONReply:
        return _bad(message, status)

    def fail_mid_stream(
        self, message: str = "an error was encountered while running the model"
    ) -> None:
        """The next streamed chat sends two lines, then ``{"error": message}``; status stays 200."""
        self._stream_errors.append(message)

    # -- helpers --------------------------------------------------------------

    def _known(self, name: str) -> bool:
        full = name if ":" in name.rsplit("/", 1)[-1] else f"{name}:latest"
        return full in self.models

    @staticmethod
    def _body(req: Recorded) -> tuple[dict[str, Any] | None, JSONReply | None]:
        if not req.body.strip():
            return None, _bad("missing request body")
        try:
            body = orjson.loads(req.body)
        except orjson.JSONDecodeError as exc:
            return None, _bad(f"invalid character in JSON: {exc}")
        if not isinstance(body, dict):
            return None, _bad("json: cannot unmarshal array into Go value of type api.ChatRequest")
        return body, None

    @staticmethod
    def _validate_messages(messages: Any) -> str | None:
        if messages is None:
            return None
        if not isinstance(messages, list):
            return "json: cannot unmarshal into Go struct field ChatRequest.messages"
        for m in messages:
            if not isinstance(m, dict):
                return "json: cannot unmarshal into Go struct field ChatRequest.messages"
            if not isinstance(m.get("content", ""), str):
                return ("json: cannot unmarshal array into Go struct field "
                        "Message.messages.content of type string")
            for image in m.get("images") or ():
                try:
                    base64.b64decode(image, validate=True)
                except (binascii.Error, ValueError, TypeError):
                    return "illegal base64 data at input byte 0"
            for call in m.get("tool_calls") or ():
                args = (call.get("function") or {}).get("arguments")
                if args is not None and not isinstance(args, dict):
                    return ("json: cannot unmarshal string into Go struct field "
                            "ToolCallFunction.messages.tool_calls.function.arguments "
                            "of type api.ToolCallFunctionArguments")
        return None

    # -- /api/chat ------------------------------------------------------------

    async def _chat(self, req: Recorded) -> Reply:
        body, error = self._body(req)
        if error is not None or body is None:
            return error or _bad("missing request body")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return _bad("model is required")
        if (problem := self._validate_messages(body.get("messages"))) is not None:
            return _bad(problem)
        fmt = body.get("format")
        if fmt not in (None, "", "json") and not isinstance(fmt, dict):
            return _bad('invalid format: expected "json" or a valid JSON schema')
        if not self._known(model):
            return _bad(f"model '{model}' not found", 404)

        messages: list[dict[str, Any]] = body.get("messages") or []
        if not messages:  # an empty chat only loads the model, answered as one object
            return JSONReply({"model": model, "created_at": _now(),
                              "message": {"role": "assistant", "content": ""},
                              "done_reason": "load", "done": True}, headers=dict(JSON_UTF8))
        options: dict[str, Any] = body.get("options") or {}
        content, tool_calls, done_reason = self._answer(messages, body.get("tools"), fmt, options)
        prompt_tokens = sum(_words(m.get("content") or "") for m in messages)
        eval_count = _words(content) + sum(
            _words(orjson.dumps(c["function"]["arguments"]).decode()) for c in tool_calls
        )
        final = {
            "model": model, "created_at": _now(),
            "message": {"role": "assistant", "content": ""},
            "done_reason": done_reason, "done": True,
            "total_duration": 5_191_566_416, "load_duration": 2_154_458,
            "prompt_eval_count": prompt_tokens, "prompt_eval_duration": 383_809_000,
            "eval_count": eval_count, "eval_duration": 4_799_921_000,
        }

        if body.get("stream", True) is False:
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if tool_calls:
                message["tool_calls"] = tool_calls
            return JSONReply({**final, "message": message}, headers=dict(JSON_UTF8))

        lines: list[dict[str, Any]] = [
            {"model": model, "created_at": _now(),
             "message": {"role": "assistant", "content": piece}, "done": False}
            for piece in re.findall(r"\S+\s*", content)
        ]
        if tool_calls:
            lines.append({"model": model, "created_at": _now(),
                          "message": {"role": "assistant", "content": "",
                                      "tool_calls": tool_calls},
                          "done": False})
        lines.append(final)
        if self._stream_errors:
            lines = [*lines[:-1][:2], {"error": self._stream_errors.pop(0)}]
        frames = [orjson.dumps(line) + b"\n" for line in lines]
        return StreamReply(frames, content_type=NDJSON)

    def _answer(
        self, messages: list[dict[str, Any]], tools: Any, fmt: Any, options: dict[str, Any]
    ) -> tuple[str, list[dict[str, Any]], str]:
        """(content, tool_calls, done_reason) for a conversation."""
        last = messages[-1]
        if tools and last.get("role") != "tool":
            fn = (tools[0].get("function") or {}).get("name") or "tool"
            return "", [{"function": {"name": fn, "arguments": dict(self.TOOL_ARGUMENTS)}}], "stop"
        if last.get("role") == "tool":
            text = f"{last.get('tool_name') or 'the tool'} returned: {last.get('content') or ''}"
        else:
            users = [m for m in messages if m.get("role") == "user"]
            user = users[-1] if users else last
            text = f"echo: {user.get('content') or ''}"
            if n := len(user.get("images") or ()):
                text += f" [{n} image{'s' if n > 1 else ''}]"
        if fmt == "json":
            return orjson.dumps({"echo": text}).decode(), [], "stop"
        if isinstance(fmt, dict):
            return orjson.dumps(_fill_schema(fmt, text)).decode(), [], "stop"
        for stop in options.get("stop") or ():
            if stop and stop in text:
                text = text[: text.index(stop)]
        limit = options.get("num_predict")
        if isinstance(limit, int) and 0 <= limit < _words(text):
            return "".join(re.findall(r"\S+\s*", text)[:limit]), [], "length"
        return text, [], "stop"

    # -- /api/embed, /api/tags, /api/version -------------------------------------

    async def _embed(self, req: Recorded) -> Reply:
        body, error = self._body(req)
        if error is not None or body is None:
            return error or _bad("missing request body")
        model = body.get("model")
        if not isinstance(model, str) or not model:
            return _bad("model is required")
        if not self._known(model):
            return _bad(f'model "{model}" not found, try pulling it first', 404)
        raw = body.get("input")
        if isinstance(raw, str):
            inputs = [raw] if raw else []
        elif isinstance(raw, list) and all(isinstance(x, str) for x in raw):
            inputs = raw
        elif raw is None:
            inputs = []
        else:
            return _bad("invalid input type")
        reply = {
            "model": model,
            "embeddings": [_embedding(text, body.get("dimensions")) for text in inputs],
            "total_duration": 14_143_917, "load_duration": 1_019_500,
            "prompt_eval_count": sum(_words(t) for t in inputs),
        }
        return JSONReply(reply, headers=dict(JSON_UTF8))

    async def _tags(self, req: Recorded) -> Reply:
        rows = [{
            "name": name, "model": name,
            "modified_at": "2025-01-15T10:00:00.123456789Z",
            "size": 2_019_393_189,
            "digest": hashlib.sha256(name.encode()).hexdigest(),
            "details": {"parent_model": "", "format": "gguf", "family": "llama",
                        "families": ["llama"], "parameter_size": "3.2B",
                        "quantization_level": "Q4_K_M"},
        } for name in self.models]
        return JSONReply({"models": rows}, headers=dict(JSON_UTF8))

    async def _version(self, req: Recorded) -> Reply:
        return JSONReply({"version": self.VERSION}, headers=dict(JSON_UTF8))


def _embedding(text: str, dimensions: Any) -> list[float]:
    """A unit vector from a hash of the text (the real server L2-normalises too)."""
    dim = dimensions if isinstance(dimensions, int) and 0 < dimensions <= EMBED_DIM else EMBED_DIM
    digest = hashlib.sha256(text.encode()).digest()
    raw = [(b - 127.5) / 127.5 for b in digest[:dim]]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


def _fill_schema(schema: dict[str, Any], text: str) -> Any:
    """A value matching a (simple) JSON schema, so structured output parses."""
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties") or {}
        return {k: _fill_schema(v if isinstance(v, dict) else {}, text) for k, v in props.items()}
    if kind == "array":
        return [_fill_schema(schema.get("items") or {}, text)]
    if kind == "integer":
        return _words(text)
    if kind == "number":
        return float(_words(text))
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return text
