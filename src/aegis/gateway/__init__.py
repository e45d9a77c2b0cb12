"""The OpenAI-compatible HTTP gateway (raw ASGI, served by uvicorn)."""

from aegis.gateway.app import GatewayApp, create_app

__all__ = ["GatewayApp", "create_app"]
