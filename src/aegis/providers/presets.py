"""OpenAI-compatible services as data rows: they differ by base URL and key only.

Used by the built-in default config (a preset whose key variable is set becomes
a provider) and by ``kind: openai`` providers that name a ``preset``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    kind: str
    base_url: str
    key_env: str | None
    locality: str = "cloud"
    # adapter options this service needs; a provider's own options override them
    options: Mapping[str, Any] = field(default_factory=dict)


PRESETS: tuple[Preset, ...] = (
    # o-series and GPT-5+ refuse `max_tokens`; every chat model takes the newer name
    Preset("openai", "openai", "https://api.openai.com/v1", "OPENAI_API_KEY",
           options={"max_tokens_field": "max_completion_tokens"}),
    Preset("anthropic", "anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY"),
    Preset("dashscope", "openai",
           "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "DASHSCOPE_API_KEY"),
    # Mistral refuses `stream_options` (422 extra_forbidden) and sends usage unasked
    Preset("mistral", "openai", "https://api.mistral.ai/v1", "MISTRAL_API_KEY",
           options={"stream_usage": False}),
    Preset("together", "openai", "https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    Preset("groq", "openai", "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    Preset("deepseek", "openai", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    Preset("openrouter", "openai", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    Preset("ollama", "ollama", "http://localhost:11434", None, "local"),
)

BY_NAME = {p.name: p for p in PRESETS}
