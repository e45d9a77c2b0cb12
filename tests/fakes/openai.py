"""A fake OpenAI-compatible API (what OpenAI, DashScope, Together, vLLM... speak).

Wire format per the OpenAI API reference: ``chat.completion`` bodies,
``chat.completion.chunk`` SSE events ending in ``data: [DONE]``, a usage-only
final chunk (``choices: []``) when ``stream_options.include_usage`` is set, and
error bodies ``{"error": {"message", "type", "param", "code"}}``.

Deterministic: the answer echoes the last user text; when tools are offered and
the last message is not a tool result, it calls the first tool instead.
"""

from __future__ import annotations

import hashlib
import time
from typing import Any

import orjson

from tests.fakes.base import FakeUpstream, JSONReply, Recorded, Reply, StreamReply

# reasoning models (o-series, GPT-5 and later) refuse `max_tokens` on chat completions
_NEW_TOKEN_FIELD = ("o1", "o3", "o4", "gpt-5", "gpt-6")
_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", None),
}


def _words(text: str) -> int:
    return max(1, len(text.split()))


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if p.get("type") == "text")
    return ""


class FakeOpenAI(FakeUpstream):
    def __init__(
        self,
        *,
        api_key: str | None = "sk-test-openai",
        models: tuple[str, ...] = ("gpt-4o-mini", "gpt-4o", "qwen-plus", "text-embedding-3-small"),
        cached_tokens: int = 0,
        context_window: int = 128_000,
    ) -> None:
        super().__init__()
        self.api_key = api_key
        self.models = models
        self.cached_tokens = cached_tokens
        self.context_window = context_window
        # Together / Mistral style: usage rides on the finish chunk, asked for or not, and
        # no separate usage chunk follows
        self.usage_on_finish = False
        self.chunk_delay = 0.0
        self._stream_errors: list[dict[str, Any]] = []
        self.route("POST", "/v1/chat/completions", self._chat)
        self.route("POST", "/v1/embeddings", self._embeddings)
        self.route("GET", "/v1/models", self._models)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def fail_mid_stream(self, message: str = "The server had an error while processing your "
                        "request.", *, after: int = 2) -> None:
        """The next streamed chat sends ``after`` events, then an ``{"error": ...}`` event
        (what OpenAI sends when a stream fails after it started); the status stays 200."""
        self._stream_errors.append({"after": after, "error": {
            "message": message, "type": "server_error", "param": None, "code": None}})

    def reset(self) -> None:
        super().reset()
        self._stream_errors.clear()
        self.usage_on_finish = False

    def error_reply(self, status: int, message: str) -> JSONReply:
        kind, code = _ERROR_TYPES.get(status, ("server_error", None))
        return JSONReply(
            {"error": {"message": message, "type": kind, "param": None, "code": code}}, status
        )

    def _auth(self, req: Recorded) -> JSONReply | None:
        if self.api_key is None:
            return None
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            # OpenAI echoes a masked key; we only say it is wrong.
            return self.error_reply(401, "Incorrect API key provided.")
        return None

    async def _chat(self, req: Recorded) -> Reply:
        if (denied := self._auth(req)) is not None:
            return denied
        body = req.json
        if not isinstance(body, dict) or "messages" not in body or "model" not in body:
            return self.error_reply(400, "you must provide a model and messages")
        model = body["model"]
        if model not in self.models:
            return self.error_reply(404, f"The model `{model}` does not exist")
        if "max_tokens" in body and model.startswith(_NEW_TOKEN_FIELD):  # as the live API
            return JSONReply({"error": {
                "message": "Unsupported parameter: 'max_tokens' is not supported with this "
                           "model. Use 'max_completion_tokens' instead.",
                "type": "invalid_request_error", "param": "max_tokens",
                "code": "unsupported_parameter"}}, 400)
        messages = body["messages"]
        prompt_tokens = sum(_words(_text_of(m.get("content"))) + 3 for m in messages)
        if prompt_tokens > self.context_window:
            return JSONReply({"error": {
                "message": f"This model's maximum context length is {self.context_window} tokens.",
                "type": "invalid_request_error", "param": "messages",
                "code": "context_length_exceeded"}}, 400)
        message, finish = self._answer(body)
        completion_tokens = _words(message.get("content") or "") + (
            8 * len(message.get("tool_calls") or ())
        )
        if limit := body.get("max_tokens") or body.get("max_completion_tokens"):
            completion_tokens = min(completion_tokens, int(limit))
        usage: dict[str, Any] = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": min(self.cached_tokens, prompt_tokens)},
        }
        ident = "chatcmpl-" + hashlib.sha1(req.body).hexdigest()[:24]
        created = int(time.time())
        if body.get("stream"):
            return self._stream(ident, created, model, message, finish, usage, body)
        return JSONReply({
            "id": ident, "object": "chat.completion", "created": created, "model": model,
            "choices": [{"index": 0, "message": message, "logprobs": None,
                         "finish_reason": finish}],
            "usage": usage, "system_fingerprint": "fp_fake",
        }, headers={"x-request-id": "req_" + ident[-12:]})

    def _answer(self, body: dict[str, Any]) -> tuple[dict[str, Any], str]:
        messages = body["messages"]
        last = messages[-1]
        tools = body.get("tools") or []
        if tools and last.get("role") != "tool" and body.get("tool_choice") != "none":
            fn = tools[0]["function"]["name"]
            call = {"id": "call_fake_1", "type": "function",
                    "function": {"name": fn, "arguments": '{"city":"Paris"}'}}
            return {"role": "assistant", "content": None, "tool_calls": [call],
                    "refusal": None}, "tool_calls"
        if last.get("role") == "tool":
            text = f"tool said: {_text_of(last.get('content'))}"
        else:
            user = [m for m in messages if m.get("role") == "user"]
            content = user[-1].get("content") if user else ""
            text = "echo: " + _text_of(content)
            if isinstance(content, list):
                images = sum(1 for p in content if p.get("type") == "image_url")
                if images:
                    text += f" [{images} image(s)]"
        if (body.get("response_format") or {}).get("type") == "json_object":
            text = orjson.dumps({"answer": text}).decode()
        finish = "stop"
        if limit := body.get("max_tokens") or body.get("max_completion_tokens"):
            words = text.split()
            if len(words) > int(limit):
                text, finish = " ".join(words[: int(limit)]), "length"
        return {"role": "assistant", "content": text, "refusal": None}, finish

    def _stream(
        self, ident: str, created: int, model: str, message: dict[str, Any], finish: str,
        usage: dict[str, Any], body: dict[str, Any],
    ) -> StreamReply:
        def chunk(delta: dict[str, Any], reason: str | None = None) -> bytes:
            data = {"id": ident, "object": "chat.completion.chunk", "created": created,
                    "model": model, "system_fingerprint": "fp_fake",
                    "choices": [{"index": 0, "delta": delta, "logprobs": None,
                                 "finish_reason": reason}]}
            if (body.get("stream_options") or {}).get("include_usage"):
                data["usage"] = None
            return b"data: " + orjson.dumps(data) + b"\n\n"

        frames = [chunk({"role": "assistant", "content": "", "refusal": None})]
        if message.get("tool_calls"):
            call = message["tool_calls"][0]
            frames.append(chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                                 "function": {"name": call["function"]["name"],
                                                              "arguments": ""}}]}))
            args = call["function"]["arguments"]
            for i in range(0, len(args), 5):
                frames.append(chunk({"tool_calls": [{"index": 0,
                                                     "function": {"arguments": args[i:i + 5]}}]}))
        else:
            words = (message.get("content") or "").split(" ")
            for i, word in enumerate(words):
                frames.append(chunk({"content": word if i == 0 else " " + word}))
        frames.append(chunk({}, finish))
        if self.usage_on_finish:
            data = orjson.loads(frames[-1][6:])
            data["usage"] = usage
            frames[-1] = b"data: " + orjson.dumps(data) + b"\n\n"
        elif (body.get("stream_options") or {}).get("include_usage"):
            data = {"id": ident, "object": "chat.completion.chunk", "created": created,
                    "model": model, "system_fingerprint": "fp_fake", "choices": [],
                    "usage": usage}
            frames.append(b"data: " + orjson.dumps(data) + b"\n\n")
        frames.append(b"data: [DONE]\n\n")
        if self._stream_errors:
            failure = self._stream_errors.pop(0)
            error = {"error": failure["error"]}
            frames = [*frames[:failure["after"]], b"data: " + orjson.dumps(error) + b"\n\n"]
        return StreamReply(frames, delay=self.chunk_delay)

    async def _embeddings(self, req: Recorded) -> Reply:
        if (denied := self._auth(req)) is not None:
            return denied
        body = req.json
        inputs = body.get("input")
        if isinstance(inputs, str):
            inputs = [inputs]
        if not isinstance(inputs, list) or not inputs:
            return self.error_reply(400, "'input' must be a string or a non-empty array")
        model = body.get("model")
        if model not in self.models:
            return self.error_reply(404, f"The model `{model}` does not exist")
        dims = int(body.get("dimensions") or 8)
        data = [{"object": "embedding", "index": i, "embedding": _vector(text, dims)}
                for i, text in enumerate(inputs)]
        tokens = sum(_words(t) for t in inputs)
        return JSONReply({"object": "list", "data": data, "model": model,
                          "usage": {"prompt_tokens": tokens, "total_tokens": tokens}})

    async def _models(self, req: Recorded) -> Reply:
        if (denied := self._auth(req)) is not None:
            return denied
        return JSONReply({"object": "list", "data": [
            {"id": m, "object": "model", "created": 1700000000, "owned_by": "fake"}
            for m in self.models]})


def _vector(text: str, dims: int) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [round((digest[i % len(digest)] - 128) / 128, 6) for i in range(dims)]
