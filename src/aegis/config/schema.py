"""The YAML schema users write, validated with pydantic at the edge.

Errors are reported as ``key.path: what was expected``; ``aegis.config.load``
turns them into one ``ConfigError`` before anything binds a port.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerConfig(_Strict):
    host: str = "127.0.0.1"
    port: int = Field(4000, ge=0, le=65535)
    max_body_mb: float = Field(32.0, gt=0)
    workers: int = Field(1, ge=1)
    # the server's event loop (auto: uvloop when installed); the trade-off: aegis.cli.event_loop
    loop: Literal["auto", "asyncio", "uvloop"] = "auto"


class ProviderConfig(BaseModel):
    """Common fields; any other key is a kind-specific option checked against the adapter."""

    model_config = ConfigDict(extra="allow", frozen=True)

    kind: str | None = None
    preset: str | None = None
    base_url: str | None = None
    api_key: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    locality: Literal["local", "cloud"] | None = None
    trusted_for: list[Literal["public", "internal", "confidential", "pii", "phi"]] = Field(
        default_factory=list
    )
    timeout_s: float = Field(120.0, gt=0)
    connect_timeout_s: float = Field(10.0, gt=0)
    total_timeout_s: float = Field(600.0, gt=0)
    enabled: bool = True

    @field_validator("base_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return value
        if not value.startswith(("http://", "https://")) or len(value) < 10:
            raise ValueError("not a URL (expected http://… or https://…)")
        return value.rstrip("/")


class ModelConfig(BaseModel):
    """A servable model; fields beyond ``name``/``provider`` override the catalog."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(min_length=1)
    provider: str | None = None


class LoggingConfig(_Strict):
    format: Literal["auto", "json", "console"] = "auto"  # auto: console on a TTY, else JSON
    level: Literal["debug", "info", "warning", "error", "DEBUG", "INFO", "WARNING", "ERROR"] = (
        "info")
    # INFO lines (one per request) are written in batches at most this far apart;
    # warnings and errors at once. 0 writes every line as it is logged.
    flush_ms: int = Field(100, ge=0, le=10_000)


class MetricsConfig(_Strict):
    enabled: bool = True
    path: str = "/metrics"


class TracingConfig(_Strict):
    enabled: bool = False
    exporter: Literal["otlp", "console", "global"] = "otlp"
    service_name: str = "aegis-gateway"


class StorageConfig(_Strict):
    url: str = "sqlite:///aegis.db"
    store_prompts: bool = False  # prompt/completion text is never stored unless turned on


class DefaultsConfig(_Strict):
    model: str = "auto"
    max_tokens: int = Field(1024, ge=1)  # cap applied when a client sets none
    # The tokenizer tables (~45 MB) are needed only when an upstream reports no usage
    # (or a client leaves mid-stream); preloading trades that memory for no first-use pause.
    preload_tokenizer: bool = False


class AegisConfig(_Strict):
    server: ServerConfig = Field(default_factory=lambda: ServerConfig())
    providers: dict[str, ProviderConfig] = Field(default_factory=dict)
    models: list[ModelConfig] = Field(default_factory=list)
    defaults: DefaultsConfig = Field(default_factory=lambda: DefaultsConfig())
    # Sections later issues own are accepted as free-form until their schema lands.
    routing: dict[str, Any] = Field(default_factory=dict)
    routes: dict[str, Any] = Field(default_factory=dict)
    rules: list[Any] = Field(default_factory=list)
    storage: StorageConfig = Field(default_factory=lambda: StorageConfig())
    budgets: list[Any] = Field(default_factory=list)
    resilience: dict[str, Any] = Field(default_factory=dict)
    logging: LoggingConfig = Field(default_factory=lambda: LoggingConfig())
    metrics: MetricsConfig = Field(default_factory=lambda: MetricsConfig())
    tracing: TracingConfig = Field(default_factory=lambda: TracingConfig())
