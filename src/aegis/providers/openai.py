"""Any OpenAI-compatible chat-completions API (OpenAI, DashScope, Together, Mistral,
Groq, DeepSeek, OpenRouter, vLLM, llama.cpp server, Ollama's ``/v1``).

These services differ only by data -- base URL, key, extra headers and two
options -- so this one adapter serves them all:

- ``max_tokens_field``: ``max_tokens`` (default) or ``max_completion_tokens``.
- ``stream_usage``: ask for the final usage chunk (``stream_options.include_usage``);
  on by default, off for servers that reject the option.

Bodies are forwarded close to verbatim, and upstream bytes are passed on
without re-encoding where nothing changed.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from typing import Any

import orjson

from aegis import errors
from aegis.http import iter_sse
from aegis.http.errors import TransportError
from aegis.providers.base import Adapter, Capabilities, classify_http_error
from aegis.types import ChatRequest, Chunk, Completion, EmbeddingRequest, Embeddings, Usage


class OpenAIAdapter(Adapter):
    kind = "openai"
    capabilities = Capabilities(
        streaming=True, tools=True, vision=True, embeddings=True, json_mode=True,
        model_listing=True,
    )
    option_names = frozenset({"max_tokens_field", "stream_usage"})

    def _headers(self) -> dict[str, str]:
        """The headers of a JSON exchange, the caller's to change: a copy of ones built
        once (the provider is frozen configuration; measured 0.45 µs -> 0.15 µs)."""
        return self._json_headers.copy()

    @functools.cached_property
    def _json_headers(self) -> dict[str, str]:
        """Never handed out (``_headers`` copies it), so never changed."""
        headers = {"content-type": "application/json", "accept": "application/json"}
        if self.provider.api_key:
            headers["authorization"] = f"Bearer {self.provider.api_key.reveal()}"
        headers.update(self.provider.headers)
        return headers

    def build_body(self, request: ChatRequest, model: str, *, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = dict(request.extra)
        body["model"] = model
        body["messages"] = request.messages
        if request.max_tokens is not None:
            body[self.provider.options.get("max_tokens_field", "max_tokens")] = request.max_tokens
        if request.temperature is not None:  # (a loop of getattr cost 0.2 µs more)
            body["temperature"] = request.temperature
        if request.top_p is not None:
            body["top_p"] = request.top_p
        if request.tool_choice is not None:
            body["tool_choice"] = request.tool_choice
        if request.response_format is not None:
            body["response_format"] = request.response_format
        if request.stop is not None:
            body["stop"] = list(request.stop)
        if request.tools:
            body["tools"] = request.tools
        if stream:
            body["stream"] = True
            if self.provider.options.get("stream_usage", True):
                body["stream_options"] = {"include_usage": True}
        return body

    async def complete(self, request: ChatRequest, model: str) -> Completion:
        payload = orjson.dumps(self.build_body(request, model, stream=False))
        resp = await self._send("/chat/completions", payload, self._headers())
        raw = await self._read(resp)
        body = self.parse_json(raw)
        if "choices" not in body:
            raise errors.InvalidUpstreamResponse(
                "response has no 'choices'", provider=self.provider.name
            )
        return Completion(body, raw)

    async def stream(self, request: ChatRequest, model: str) -> AsyncIterator[Chunk]:
        payload = orjson.dumps(self.build_body(request, model, stream=True))
        headers = self._headers()
        headers["accept"] = "text/event-stream"
        resp = await self._send("/chat/completions", payload, headers)
        finished = False
        try:
            async for event in iter_sse(resp.aiter_bytes()):
                if event.data == b"[DONE]":
                    return
                data = self.parse_json(event.data)
                if "error" in data:
                    raise self._stream_error(data["error"])
                for choice in data.get("choices") or ():
                    if choice.get("finish_reason"):
                        finished = True
                yield Chunk(data, event.data)
        except TransportError as exc:
            raise self.transport_error(exc) from None
        finally:
            await resp.aclose()
        if not finished:  # the body ended before [DONE] or a finish_reason
            raise errors.InvalidUpstreamResponse(
                "stream ended before it finished", provider=self.provider.name
            )

    async def embed(self, request: EmbeddingRequest, model: str) -> Embeddings:
        body: dict[str, Any] = dict(request.extra)
        body.update(model=model, input=list(request.input))
        if request.dimensions is not None:
            body["dimensions"] = request.dimensions
        resp = await self._send("/embeddings", orjson.dumps(body), self._headers())
        data = self.parse_json(await self._read(resp))
        try:
            rows = sorted(data["data"], key=lambda row: row.get("index", 0))
            vectors = [list(row["embedding"]) for row in rows]
        except (KeyError, TypeError) as exc:
            raise errors.InvalidUpstreamResponse(
                f"malformed embeddings response ({exc})", provider=self.provider.name
            ) from None
        usage = data.get("usage") or {}
        return Embeddings(
            vectors=vectors,
            model=str(data.get("model") or model),
            usage=Usage(prompt_tokens=int(usage.get("prompt_tokens") or 0)),
        )

    async def list_models(self) -> list[str]:
        headers = self._headers()
        resp = await self._send("/models", b"", headers, method="GET")
        data = self.parse_json(await self._read(resp))
        return [str(row["id"]) for row in data.get("data") or () if "id" in row]

    # -- errors -------------------------------------------------------------

    def error_details(self, payload: bytes) -> tuple[str, str]:
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return payload[:200].decode(errors="replace").strip(), ""
        if not isinstance(data, dict):
            return "", ""
        err = data.get("error", data)
        if isinstance(err, str):
            return err, ""
        if not isinstance(err, dict):
            return "", ""
        message = err.get("message") or err.get("detail") or data.get("message") or ""
        code = err.get("code") or err.get("type") or data.get("code") or ""
        if not isinstance(message, str):  # Mistral's 422: {"detail": [...]} as the message
            message = orjson.dumps(message).decode()
        return message, str(code)

    def _stream_error(self, err: Any) -> errors.ProviderError:
        message, code = self.error_details(orjson.dumps({"error": err}))
        status = 500
        if isinstance(err, dict) and isinstance(err.get("code"), int):
            status = err["code"]
        elif "rate" in code:
            status = 429
        return classify_http_error(self.provider.name, status, {}, message or "stream error", code)
