"""Provider kinds -> adapter classes: the one registration path.

Built-in adapters register through the same ``register`` call a plugin uses
(plugins via the ``aegis.providers`` entry-point group), so nothing outside this
table ever branches on a provider's kind.
"""

from __future__ import annotations

from importlib.metadata import entry_points

from aegis.errors import ConfigError
from aegis.http import HttpClient, build_client
from aegis.providers.base import Adapter, Provider

_BUILTINS = {
    "openai": "aegis.providers.openai:OpenAIAdapter",
    "anthropic": "aegis.providers.anthropic:AnthropicAdapter",
    "ollama": "aegis.providers.ollama:OllamaAdapter",
    "llamacpp": "aegis.providers.llamacpp:LlamaCppAdapter",
}


class Registry:
    def __init__(self) -> None:
        self._kinds: dict[str, type[Adapter] | str] = {}

    def register(self, kind: str, adapter: type[Adapter] | str) -> None:
        """``adapter`` may be a class or a lazy ``"module:Class"`` reference."""
        self._kinds[kind] = adapter

    @property
    def kinds(self) -> list[str]:
        return sorted(self._kinds)

    def adapter_class(self, kind: str) -> type[Adapter]:
        try:
            ref = self._kinds[kind]
        except KeyError:
            raise ConfigError(
                f"unknown provider kind {kind!r} (known: {', '.join(self.kinds)})"
            ) from None
        if isinstance(ref, str):
            module, _, name = ref.partition(":")
            cls: type[Adapter] = getattr(__import__(module, fromlist=[name]), name)
            self._kinds[kind] = ref = cls
        return ref

    def build(self, provider: Provider, client: HttpClient | None = None) -> Adapter:
        """The adapter for ``provider``, with its own pooled client unless one is given."""
        cls = self.adapter_class(provider.kind)
        if client is None and cls.needs_http:
            client = build_client(provider.base_url)
        return cls(provider, client)


def default_registry() -> Registry:
    registry = Registry()
    for kind, ref in _BUILTINS.items():
        registry.register(kind, ref)
    for ep in entry_points(group="aegis.providers"):
        registry.register(ep.name, ep.value)
    return registry
