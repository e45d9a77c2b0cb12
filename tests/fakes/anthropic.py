"""A fake Anthropic Messages API: validates like the real one, answers deterministically.

Routes ``POST /v1/messages`` (JSON, or SSE framed ``event: <name>\\ndata: <json>\\n\\n``
with a ``ping``, as the real API streams) and ``GET /v1/models`` (paginated).

Answers, from the last user turn:
- it holds ``tool_result`` blocks -> text quoting the results (``end_turn``);
- tools are offered (and ``tool_choice`` is not ``none``) -> a short text block, then one
  ``tool_use`` block calling the first (or the forced) tool with ``tool_input``
  (``tool_use``);
- otherwise -> ``"echo: <last user text>"`` (``end_turn``), cut at ``max_tokens`` words
  (``max_tokens``) or at a stop sequence (``stop_sequence``).
A ``thinking`` request parameter adds a thinking block first. Usage counts words.
"""

from __future__ import annotations

import itertools
import re
from collections import deque
from dataclasses import dataclass
from typing import Any

import orjson

from tests.fakes.base import FakeUpstream, JSONReply, Recorded, Reply, StreamReply

API_KEY = "sk-ant-fake-0123456789"
VERSIONS = ("2023-01-01", "2023-06-01", "2026-10-21")
# From this version on the API rejects sampling parameters and accepts "system" turns.
V2026 = "2026-10-21"
MODELS = ("claude-haiku-4-5-20251001", "claude-opus-4-5-20251101", "claude-opus-4-6")
ALIASES = {"claude-haiku-4-5": "claude-haiku-4-5-20251001"}  # the API answers with the dated id
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}
_IMAGE_TYPES = ("image/jpeg", "image/png", "image/gif", "image/webp")
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_USER_BLOCKS = ("text", "image", "document", "tool_result", "search_result")
_ASSISTANT_BLOCKS = ("text", "tool_use", "thinking", "redacted_thinking")
_NOT_WORDS = frozenset({"type", "id", "role", "data", "media_type", "tool_use_id", "signature",
                        "url"})


class Invalid(Exception):
    """A request the real API would refuse with 400 ``invalid_request_error``."""


@dataclass
class StreamError:
    """Replace the stream after ``after`` events with an ``error`` event."""

    error_type: str = "overloaded_error"
    message: str = "Overloaded"
    after: int = 3
    times: int = 1


class FakeAnthropic(FakeUpstream):
    def __init__(
        self,
        api_key: str = API_KEY,
        *,
        models: tuple[str, ...] = MODELS,
        cache_read_input_tokens: int = 0,
        cache_creation_input_tokens: int = 0,
        tool_input: dict[str, Any] | None = None,
        tool_preamble: str = "Let me check.",
        strict_alternation: bool = True,
        max_page_size: int = 1000,
        chunk_size: int = 4,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.models = models
        self.cache_read_input_tokens = cache_read_input_tokens
        self.cache_creation_input_tokens = cache_creation_input_tokens
        self.tool_input = tool_input if tool_input is not None else {"city": "Paris", "days": 3}
        self.tool_preamble = tool_preamble
        # The live API now merges consecutive same-role turns; the fake refuses them by
        # default so an adapter that forgets to merge is caught.
        self.strict_alternation = strict_alternation
        self.max_page_size = max_page_size
        self.chunk_size = chunk_size
        self._ids = itertools.count(1)
        self._stream_errors: deque[StreamError] = deque()
        self.route("POST", "/v1/messages", self._messages)
        self.route("GET", "/v1/models", self._models)

    # -- test-facing API ----------------------------------------------------

    def fail_mid_stream(self, error: StreamError | None = None, **kwargs: Any) -> None:
        """Queue an ``event: error`` for the next streamed answer(s)."""
        self._stream_errors.append(error or StreamError(**kwargs))

    def reset(self) -> None:
        super().reset()
        self._stream_errors.clear()

    def error_reply(self, status: int, message: str) -> JSONReply:
        kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
        request_id = self._request_id()
        return JSONReply(_error_body(kind, message, request_id), status,
                         {"request-id": request_id})

    # -- routes -------------------------------------------------------------

    async def _messages(self, req: Recorded) -> Reply:
        if denied := self._check_auth(req):
            return denied
        version = req.headers.get("anthropic-version")
        if not version:
            return self.error_reply(400, "anthropic-version: header is required")
        if version not in VERSIONS:
            return self.error_reply(400, f"anthropic-version: unknown version {version!r}")
        try:
            body = orjson.loads(req.body)
            if not isinstance(body, dict):
                raise Invalid("request body must be a JSON object")
            _validate(body, version, strict_alternation=self.strict_alternation)
        except orjson.JSONDecodeError:
            return self.error_reply(400, "There was an issue with your request body: invalid JSON")
        except Invalid as exc:
            return self.error_reply(400, str(exc))
        if body["model"] not in self.models and body["model"] not in ALIASES:  # as the live API
            return self.error_reply(404, f"model: {body['model']}")
        message = self._answer(body)
        if body.get("stream"):
            return StreamReply(self._frames(message), "text/event-stream; charset=utf-8",
                               headers={"request-id": self._request_id()})
        return JSONReply(message, headers={"request-id": self._request_id()})

    async def _models(self, req: Recorded) -> Reply:
        if denied := self._check_auth(req):
            return denied
        query = dict(p.partition("=")[::2] for p in req.query.split("&") if p)
        limit = min(int(query.get("limit") or 20), self.max_page_size)
        start = 0
        if after := query.get("after_id"):
            start = self.models.index(after) + 1 if after in self.models else len(self.models)
        page = self.models[start:start + limit]
        rows = [{"type": "model", "id": m, "display_name": m, "lifecycle": "active",
                 "created_at": "2025-01-01T00:00:00Z"} for m in page]
        return JSONReply({
            "data": rows,
            "has_more": start + limit < len(self.models),
            "first_id": page[0] if page else None,
            "last_id": page[-1] if page else None,
        }, headers={"request-id": self._request_id()})

    def _check_auth(self, req: Recorded) -> JSONReply | None:
        # x-api-key is the classic header; SDKs for API version 2026-10-21 send a Bearer token.
        bearer = req.headers.get("authorization", "")
        key = req.headers.get("x-api-key") or (bearer[7:] if bearer.startswith("Bearer ") else "")
        if not key:
            return self.error_reply(401, "x-api-key header is required")
        if key != self.api_key:
            return self.error_reply(401, "invalid x-api-key")
        return None

    def _request_id(self) -> str:
        return f"req_fake{next(self._ids):06d}"

    # -- answers ------------------------------------------------------------

    def _answer(self, body: dict[str, Any]) -> dict[str, Any]:
        last = body["messages"][-1]
        blocks = _as_blocks(last["content"])
        results = [b for b in blocks if b.get("type") == "tool_result"]
        user_text = " ".join(b["text"] for b in blocks if b.get("type") == "text")
        images = sum(1 for b in blocks if b.get("type") == "image")
        choice = body.get("tool_choice") or {"type": "auto"}
        content: list[dict[str, Any]] = []
        if isinstance(body.get("thinking"), dict) and body["thinking"].get("type") == "enabled":
            content.append({"type": "thinking", "thinking": f"thinking about: {user_text}",
                            "signature": "c2lnbmF0dXJl"})
        stop_reason, stop_sequence = "end_turn", None
        if results:
            quoted = "; ".join(_result_text(r) for r in results)
            content.append({"type": "text", "text": f"tool said: {quoted}"})
        elif body.get("tools") and choice["type"] != "none":
            tool = next((t for t in body["tools"] if t["name"] == choice.get("name")),
                        body["tools"][0])
            if self.tool_preamble and choice["type"] == "auto":
                content.append({"type": "text", "text": self.tool_preamble})
            content.append({"type": "tool_use", "id": f"toolu_fake{next(self._ids):06d}",
                            "name": tool["name"], "input": self.tool_input})
            stop_reason = "tool_use"
        else:
            text = f"echo: {user_text}" + (f" [images: {images}]" if images else "")
            words = text.split(" ")
            if len(words) > body["max_tokens"]:
                text, stop_reason = " ".join(words[: body["max_tokens"]]), "max_tokens"
            for seq in body.get("stop_sequences") or ():
                if seq in text:
                    text, stop_reason, stop_sequence = text[: text.index(seq)], "stop_sequence", seq
            content.append({"type": "text", "text": text})
        return {
            "id": f"msg_fake{next(self._ids):06d}",
            "type": "message",
            "role": "assistant",
            "model": ALIASES.get(body["model"], body["model"]),
            "content": content,
            "stop_reason": stop_reason,
            "stop_sequence": stop_sequence,
            "usage": {
                "input_tokens": _count_words(body.get("system")) + _count_words(body["messages"]),
                "cache_creation_input_tokens": self.cache_creation_input_tokens,
                "cache_read_input_tokens": self.cache_read_input_tokens,
                "output_tokens": max(1, _count_words(content)),
            },
        }

    def _frames(self, message: dict[str, Any]) -> list[bytes]:
        """The event sequence the real API sends for ``message``."""
        usage = message["usage"]
        start = {**message, "content": [], "stop_reason": None, "stop_sequence": None,
                 "usage": {**usage, "output_tokens": 1}}
        events: list[tuple[str, dict[str, Any]]] = [
            ("message_start", {"type": "message_start", "message": start}),
        ]
        n = self.chunk_size
        for index, block in enumerate(message["content"]):
            kind = block["type"]
            empty, field, delta, whole = _STREAM_SHAPES[kind](block)
            events.append(("content_block_start", {"type": "content_block_start",
                                                   "index": index, "content_block": empty}))
            if index == 0:
                events.append(("ping", {"type": "ping"}))
            pieces = [whole[i:i + n] for i in range(0, len(whole), n)]
            if kind == "tool_use":
                pieces.insert(0, "")  # the real API opens tool input with an empty fragment
            for piece in pieces:
                events.append(("content_block_delta", {"type": "content_block_delta",
                                                       "index": index,
                                                       "delta": {"type": delta, field: piece}}))
            if kind == "thinking":
                signed = {"type": "signature_delta", "signature": block["signature"]}
                events.append(("content_block_delta", {"type": "content_block_delta",
                                                       "index": index, "delta": signed}))
            events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
        events.append(("message_delta", {
            "type": "message_delta",
            "delta": {"stop_reason": message["stop_reason"],
                      "stop_sequence": message["stop_sequence"]},
            "usage": {"output_tokens": usage["output_tokens"]},
        }))
        events.append(("message_stop", {"type": "message_stop"}))
        if self._stream_errors:
            err = self._stream_errors[0]
            err.times -= 1
            if err.times <= 0:
                self._stream_errors.popleft()
            error = _error_body(err.error_type, err.message, None)
            events = [*events[: err.after], ("error", error)]
        return [_sse(name, data) for name, data in events]


# block type -> (empty block for content_block_start, delta field, delta type, full value)
_STREAM_SHAPES: dict[str, Any] = {
    "text": lambda b: ({"type": "text", "text": ""}, "text", "text_delta", b["text"]),
    "thinking": lambda b: ({"type": "thinking", "thinking": "", "signature": ""}, "thinking",
                           "thinking_delta", b["thinking"]),
    # a tool called without arguments streams no JSON at all: only the empty opening fragment
    "tool_use": lambda b: ({"type": "tool_use", "id": b["id"], "name": b["name"], "input": {}},
                           "partial_json", "input_json_delta",
                           orjson.dumps(b["input"]).decode() if b["input"] else ""),
}


# -- validation ----------------------------------------------------------------


def _validate(body: dict[str, Any], version: str, *, strict_alternation: bool) -> None:
    for field in ("model", "max_tokens", "messages"):
        if field not in body:
            raise Invalid(f"{field}: Field required")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        raise Invalid("max_tokens: must be a positive integer")
    if version >= V2026:
        for name in ("temperature", "top_p", "top_k"):
            if name in body:
                raise Invalid(f"{name}: Extra inputs are not permitted")
    elif (t := body.get("temperature")) is not None and not 0 <= t <= 1:
        raise Invalid("temperature: Input should be less than or equal to 1")
    elif "temperature" in body and "top_p" in body:  # what the 4.5+ models answer
        raise Invalid("`temperature` and `top_p` cannot both be specified for this model. "
                      "Please use only one.")
    if any(not str(stop).strip() for stop in body.get("stop_sequences") or ()):
        raise Invalid("stop_sequences: each stop sequence must contain non-whitespace")
    system = body.get("system")
    if system is not None and not isinstance(system, str | list):
        raise Invalid("system: Input should be a valid string or list of text blocks")
    _validate_tools(body)
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise Invalid("messages: at least one message is required")
    turns = []
    for i, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if role == "system" and version >= V2026:
            continue
        if role == "system":
            raise Invalid(
                'messages: Unexpected role "system". The Messages API accepts a top-level '
                '`system` parameter, not "system" as an input message role.'
            )
        if role not in ("user", "assistant"):
            raise Invalid(f"messages.{i}.role: Input should be 'user' or 'assistant'")
        if "content" not in msg:
            raise Invalid(f"messages.{i}.content: Field required")
        _validate_blocks(i, role, _as_blocks(msg["content"]))
        turns.append((i, msg))
    if not turns:
        raise Invalid("messages: at least one message is required")
    if turns[0][1]["role"] != "user":
        raise Invalid('messages: first message must use the "user" role')
    for (_, prev), (i, msg) in itertools.pairwise(turns):
        if strict_alternation and prev["role"] == msg["role"]:
            raise Invalid(
                'messages: roles must alternate between "user" and "assistant", '
                f'but found multiple "{msg["role"]}" roles in a row'
            )
        _validate_tool_pairing(i, prev, msg)


def _validate_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools") or []
    for j, tool in enumerate(tools):
        if tool.get("type") not in (None, "custom"):
            continue  # server tools (web_search, ...) have their own shapes
        if not _TOOL_NAME.match(str(tool.get("name", ""))):
            raise Invalid(f"tools.{j}.name: String should match pattern '^[a-zA-Z0-9_-]{{1,128}}$'")
        if not isinstance(tool.get("input_schema"), dict):
            raise Invalid(f"tools.{j}.input_schema: Field required")
    choice = body.get("tool_choice")
    if choice is None:
        return
    if not isinstance(choice, dict) or choice.get("type") not in ("auto", "any", "tool", "none"):
        raise Invalid("tool_choice: Input tag does not match any of the expected tags: "
                      "'auto', 'any', 'tool', 'none'")
    if choice["type"] == "tool" and choice.get("name") not in [t.get("name") for t in tools]:
        raise Invalid(f"tool_choice: tool {choice.get('name')!r} not found in tools")


def _validate_blocks(i: int, role: str, blocks: list[dict[str, Any]]) -> None:
    allowed = _USER_BLOCKS if role == "user" else _ASSISTANT_BLOCKS
    for j, block in enumerate(blocks):
        where = f"messages.{i}.content.{j}"
        kind = block.get("type")
        if kind not in allowed:
            raise Invalid(f"{where}.type: Input tag {kind!r} does not match any of the "
                          f"expected tags for the {role} role")
        if kind == "text" and not block.get("text"):
            raise Invalid("messages: text content blocks must be non-empty")
        if kind == "image":
            source = block.get("source") or {}
            if source.get("type") == "base64":
                if source.get("media_type") not in _IMAGE_TYPES:
                    raise Invalid(f"{where}.source.base64.media_type: Input should be "
                                  "'image/jpeg', 'image/png', 'image/gif' or 'image/webp'")
                if not source.get("data"):
                    raise Invalid(f"{where}.source.base64.data: Field required")
            elif source.get("type") == "url":
                if not str(source.get("url", "")).startswith(("http://", "https://")):
                    raise Invalid(f"{where}.source.url.url: invalid URL")
            else:
                raise Invalid(f"{where}.source: Input tag does not match 'base64', 'url'")
        if kind == "tool_use" and not (block.get("id") and block.get("name")
                                       and isinstance(block.get("input"), dict)):
            raise Invalid(f"{where}: tool_use blocks need id, name and an object input")
        if kind == "tool_result" and not block.get("tool_use_id"):
            raise Invalid(f"{where}.tool_use_id: Field required")


def _validate_tool_pairing(i: int, prev: dict[str, Any], msg: dict[str, Any]) -> None:
    uses = _ids(prev, "tool_use") if prev["role"] == "assistant" else set()
    results = _ids(msg, "tool_result") if msg["role"] == "user" else set()
    if uses - results:
        raise Invalid(
            f"messages.{i}: `tool_use` ids were found without `tool_result` blocks immediately "
            f"after: {', '.join(sorted(uses - results))}. Each `tool_use` block must have a "
            "corresponding `tool_result` block in the next message."
        )
    if results - uses:
        raise Invalid(
            f"messages.{i}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
            f"{', '.join(sorted(results - uses))}. Each `tool_result` block must have a "
            "corresponding `tool_use` block in the previous message."
        )


def _ids(msg: dict[str, Any], kind: str) -> set[str]:
    key = "id" if kind == "tool_use" else "tool_use_id"
    return {b[key] for b in _as_blocks(msg["content"]) if b.get("type") == kind}


# -- helpers -------------------------------------------------------------------


def _as_blocks(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if not isinstance(content, list) or not all(isinstance(b, dict) for b in content):
        raise Invalid("content: Input should be a valid string or list of content blocks")
    return content


def _result_text(result: dict[str, Any]) -> str:
    content = result.get("content")
    if isinstance(content, str):
        return content
    return " ".join(b.get("text", "") for b in content or () if b.get("type") == "text")


def _count_words(value: Any) -> int:
    """A stand-in tokenizer: words in every string of a JSON value."""
    if isinstance(value, str):
        return len(value.split())
    if isinstance(value, dict):
        return sum(_count_words(v) for k, v in value.items() if k not in _NOT_WORDS)
    if isinstance(value, list):
        return sum(_count_words(v) for v in value)
    return 0


def _error_body(kind: str, message: str, request_id: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {"type": "error", "error": {"type": kind, "message": message}}
    if request_id:
        body["request_id"] = request_id
    return body


def _sse(event: str, data: dict[str, Any]) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"
