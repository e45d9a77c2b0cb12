"""The ``aegis`` command: serve the gateway, chat from a shell, list models."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from aegis.config import Settings
from aegis.config import load as load_settings
from aegis.errors import AegisError, ConfigError
from aegis.types import Message


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        result: int = args.func(args)
        return result
    except ConfigError as exc:
        print(f"aegis: {exc.message}", file=sys.stderr)
        return 2
    except AegisError as exc:
        print(f"aegis: {type(exc).__name__}: {exc.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="aegis", description="Privacy-first LLM gateway and router."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help)
        p.add_argument("--config", "-c", default=None,
                       help="YAML config (default: ./aegis.yaml, else the built-in default)")
        return p

    serve = command("serve", "Run the OpenAI-compatible HTTP gateway.")
    serve.add_argument("--host", default=None, help="bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default 4000)")
    serve.add_argument("--workers", type=int, default=None, help="worker processes")
    serve.set_defaults(func=_serve)

    chat = command("chat", "Send one prompt through Aegis (in-process) and print the answer.")
    chat.add_argument("prompt", help="the user message")
    chat.add_argument("--model", "-m", default="auto", help="model name, route, or 'auto'")
    chat.add_argument("--stream", action="store_true", help="print tokens as they arrive")
    chat.add_argument("--max-tokens", type=int, default=None)
    chat.add_argument("--system", default=None, help="a system prompt")
    chat.add_argument("--json", action="store_true", help="print the full result as JSON")
    chat.set_defaults(func=_chat)

    route = command("route", "Show where a prompt would be routed, without calling any model.")
    route.add_argument("prompt", help="the user message")
    route.add_argument("--model", "-m", default="auto", help="model name, route, or 'auto'")
    for name in ("data-class", "quality", "complexity", "task-type", "strategy", "workspace"):
        route.add_argument(f"--{name}", default=None)
    route.add_argument("--batch-size", type=int, default=None)
    route.add_argument("--explain", action="store_true",
                       help="show every candidate, score and exclusion")
    route.add_argument("--json", action="store_true", help="print the decision record as JSON")
    route.set_defaults(func=_route)

    stats = command("stats", "Per provider/model traffic, errors, latency and breaker states "
                             "of a running gateway.")
    stats.add_argument("--url", default=None,
                       help="gateway base URL (default: from the config's server section)")
    stats.add_argument("--json", action="store_true", help="print the raw JSON")
    stats.set_defaults(func=_stats)

    models = command("models", "List the models this configuration can serve.")
    models.add_argument("--json", action="store_true", help="print JSON instead of a table")
    models.set_defaults(func=_models)
    return parser


def _serve(args: argparse.Namespace) -> int:
    import uvicorn

    settings = load_settings(args.config)  # fails (exit 2) before anything binds
    host = args.host or settings.server.host
    port = settings.server.port if args.port is None else args.port
    workers = args.workers or settings.server.workers
    _banner(settings, host, port)
    kwargs: dict[str, Any] = dict(
        host=host, port=port, log_level="warning", access_log=False, lifespan="on",
        loop="uvloop" if _has("uvloop") else "asyncio",
        http="httptools" if _has("httptools") else "h11",
        # stop accepting, let in-flight requests finish up to the grace period, then flush
        timeout_graceful_shutdown=settings.resilience.config.shutdown_grace_s,
    )
    if workers > 1:
        if args.config:
            os.environ["AEGIS_CONFIG"] = os.path.abspath(args.config)
        uvicorn.run("aegis.gateway.app:create_app", factory=True, workers=workers, **kwargs)
    else:
        from aegis.gateway import create_app

        uvicorn.run(create_app(settings), **kwargs)  # type: ignore[arg-type]
    return 0


def _banner(settings: Settings, host: str, port: int) -> None:
    out = sys.stderr
    print(f"aegis: config {settings.source}", file=out)
    for name, p in settings.providers.items():
        models = [m.name for m in settings.catalog if m.provider == name]
        print(f"aegis: provider {name} ({p.kind}, {p.locality}): {len(models)} model(s)", file=out)
    for note in settings.notes:
        print(f"aegis: warning: {note}", file=out)
    print(f"aegis: listening on http://{host}:{port}/v1", file=out)


def _chat(args: argparse.Namespace) -> int:
    from aegis.client import Aegis

    async def run() -> int:
        messages: list[Message] = []
        if args.system:
            messages.append({"role": "system", "content": args.system})
        messages.append({"role": "user", "content": args.prompt})
        params = {} if args.max_tokens is None else {"max_tokens": args.max_tokens}
        async with Aegis.from_config(args.config) as gw:
            if args.stream:
                async with await gw.chat_stream(messages, model=args.model, **params) as s:
                    async for text in s.text():
                        print(text, end="", flush=True)
                    print()
                    result = s.result
            else:
                result = await gw.chat(messages, model=args.model, **params)
                if not args.json:
                    print(result.content or json.dumps(result.tool_calls))
        if args.json:
            print(json.dumps({
                "content": result.content, "provider": result.provider, "model": result.model,
                "route": result.route, "reason": result.reason,
                "usage": result.usage.to_openai(), "cost_usd": result.cost_usd,
                "latency_ms": round(result.latency_ms, 1), "request_id": result.request_id,
            }, indent=2))
        else:
            print(f"[{result.provider}/{result.model} · {result.usage.total_tokens} tokens · "
                  f"${result.cost_usd:.6f} · {result.latency_ms:.0f} ms]", file=sys.stderr)
        return 0

    return asyncio.run(run())


def _route(args: argparse.Namespace) -> int:
    from aegis.engine import Call, Engine
    from aegis.routing.explain import render
    from aegis.routing.metadata import task_from_kwargs
    from aegis.validation import chat_request

    engine = Engine(load_settings(args.config))
    task = task_from_kwargs(
        data_class=args.data_class, quality=args.quality, complexity=args.complexity,
        task_type=args.task_type, strategy=args.strategy, workspace=args.workspace,
        batch_size=args.batch_size)
    chat = engine.prepare(chat_request(
        {"model": args.model, "messages": [{"role": "user", "content": args.prompt}]}))
    try:
        record = dict(engine.route(chat, Call(task=task)).record)
        code = 0
    except AegisError as exc:
        if exc.decision is None:
            raise
        record, code = dict(exc.decision), 1
    print(json.dumps(record, indent=2) if args.json else render(record, explain=args.explain))
    return code


def _stats(args: argparse.Namespace) -> int:
    import httpx

    from aegis.resilience import format_table

    url = args.url
    if url is None:
        server = load_settings(args.config).server
        host = "127.0.0.1" if server.host in ("0.0.0.0", "::") else server.host
        url = f"http://{host}:{server.port}"
    headers = {}
    if master := os.environ.get("AEGIS_MASTER_KEY"):
        headers["authorization"] = f"Bearer {master}"
    try:
        resp = httpx.get(url.rstrip("/") + "/admin/stats", headers=headers, timeout=10)
    except httpx.HTTPError as exc:
        print(f"aegis: cannot reach the gateway at {url}: {exc}", file=sys.stderr)
        return 1
    if resp.status_code != 200:
        print(f"aegis: {url} answered {resp.status_code}: {resp.text}", file=sys.stderr)
        return 1
    body = resp.json()
    print(json.dumps(body, indent=2) if args.json
          else format_table(body["stats"], body["breakers"]))
    return 0


def _models(args: argparse.Namespace) -> int:
    settings = load_settings(args.config)
    rows = [m for m in settings.catalog if m.provider in settings.providers]
    if args.json:
        print(json.dumps([{
            "name": m.name, "provider": m.provider, "upstream": m.upstream, "kind": m.kind,
            "input_per_mtok": m.prices.input, "output_per_mtok": m.prices.output,
            "context_window": m.context_window, "capabilities": sorted(m.capabilities),
        } for m in rows], indent=2))
        return 0
    header = ("MODEL", "PROVIDER", "IN $/M", "OUT $/M", "CONTEXT", "CAPABILITIES")
    table = [header] + [
        (m.name, m.provider, f"{m.prices.input:g}", f"{m.prices.output:g}",
         f"{m.context_window:,}", ",".join(sorted(m.capabilities)))
        for m in rows
    ]
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())
    if not rows:
        print("(no models: configure a provider, see README)", file=sys.stderr)
    return 0


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


if __name__ == "__main__":
    raise SystemExit(main())
