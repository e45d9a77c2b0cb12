"""OpenAI-compatible services as data rows: they differ by base URL and key only.

Used by the built-in default config (a preset whose key variable is set becomes
a provider) and by ``kind: openai`` providers that name a ``preset``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Preset:
    name: str
    kind: str
    base_url: str
    key_env: str | None
    locality: str = "cloud"


PRESETS: tuple[Preset, ...] = (
    Preset("openai", "openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
    Preset("anthropic", "anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY"),
    Preset("dashscope", "openai",
           "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", "DASHSCOPE_API_KEY"),
    Preset("mistral", "openai", "https://api.mistral.ai/v1", "MISTRAL_API_KEY"),
    Preset("together", "openai", "https://api.together.xyz/v1", "TOGETHER_API_KEY"),
    Preset("groq", "openai", "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
    Preset("deepseek", "openai", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY"),
    Preset("openrouter", "openai", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY"),
    Preset("ollama", "ollama", "http://localhost:11434", None, "local"),
)

BY_NAME = {p.name: p for p in PRESETS}
