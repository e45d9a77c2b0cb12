"""Aegis: a privacy-first LLM gateway and router.

In-process use::

    from aegis import Aegis
    async with Aegis.from_config() as gw:
        result = await gw.chat("hello")

Over HTTP: ``aegis serve`` and point any OpenAI SDK at ``http://127.0.0.1:4000/v1``.
"""

from aegis.client import Aegis, ChatResult, EmbeddingResult, StreamHandle, SyncAegis
from aegis.config import Settings, load
from aegis.errors import AegisError
from aegis.routing import Task
from aegis.types import ChatRequest, Chunk, Completion, Usage

__version__ = "0.1.0"

__all__ = [
    "Aegis",
    "AegisError",
    "ChatRequest",
    "ChatResult",
    "Chunk",
    "Completion",
    "EmbeddingResult",
    "Settings",
    "StreamHandle",
    "SyncAegis",
    "Task",
    "Usage",
    "load",
]
