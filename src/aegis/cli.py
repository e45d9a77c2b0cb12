"""The ``aegis`` command: serve the gateway, chat from a shell, list models."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from aegis.config import Settings
from aegis.config import load as load_settings
from aegis.errors import AegisError, ConfigError
from aegis.types import Message

if TYPE_CHECKING:
    import socket

    from aegis.ledger import LedgerStore


#: A shell's status for a process ended by SIGPIPE (128 + 13), what ``aegis ... | head``
#: gets, as other tools do, when the reader stops before the output ends
SIGPIPE_STATUS = 141


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; a reader that stops early (``| head``) ends it quietly."""
    try:
        try:
            return _run(argv)
        finally:
            sys.stdout.flush()  # output that fit the buffer meets the closed pipe here
    except BrokenPipeError:
        # Python would flush stdout again at exit and print the error: point it at
        # /dev/null first (the recipe in the signal module's documentation)
        with contextlib.suppress(OSError, ValueError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return SIGPIPE_STATUS


def _run(argv: Sequence[str] | None) -> int:
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
    chat.add_argument("--model", "-m", default=None,
                      help="model name, route, or 'auto' (default: defaults.model)")
    chat.add_argument("--stream", action="store_true", help="print tokens as they arrive")
    chat.add_argument("--max-tokens", type=int, default=None)
    chat.add_argument("--system", default=None, help="a system prompt")
    chat.add_argument("--json", action="store_true", help="print the full result as JSON")
    chat.set_defaults(func=_chat)

    route = command("route", "Show where a prompt would be routed, without calling any model.")
    route.add_argument("prompt", help="the user message")
    route.add_argument("--model", "-m", default=None,
                       help="model name, route, or 'auto' (default: defaults.model)")
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

    spend = command("spend", "Spend from the ledger, grouped and filtered; or export the rows.")
    spend.add_argument("action", nargs="?", choices=["export", "import"],
                       help="'export' writes every ledger row in the window to --output; "
                            "'import' adds the rows of FILE (a spill file the writer left "
                            "when the store failed, or an export) to the ledger")
    spend.add_argument("files", nargs="*", metavar="FILE", help="for 'import'")
    spend.add_argument("--by", default="provider",
                       choices=["provider", "model", "key", "team", "workspace", "day"])
    spend.add_argument("--period", default=None, help="e.g. 2026-11 or 2026-11-22")
    spend.add_argument("--since", default=None, help="ISO date/time (UTC)")
    spend.add_argument("--until", default=None, help="ISO date/time (UTC), exclusive")
    for name in ("provider", "model", "key", "team", "workspace"):
        spend.add_argument(f"--{name}", default=None, help=f"only this {name}")
    spend.add_argument("--format", default=None, choices=["table", "csv", "json"])
    spend.add_argument("--output", "-o", default=None, help="file for 'export'")
    spend.set_defaults(func=_spend)

    budgets = command("budgets", "Each budget: spent, reserved, limit, utilisation, projection.")
    budgets.add_argument("--format", default="table", choices=["table", "csv", "json"])
    budgets.set_defaults(func=_budgets)

    keys = command("keys", "Create, list and revoke gateway API keys.")
    keys.add_argument("action", choices=["create", "list", "revoke"])
    keys.add_argument("--name", default=None, help="key name (create) or name/id (revoke)")
    keys.add_argument("--team", default=None)
    keys.add_argument("--budget", type=float, default=None, help="the key's own budget in USD")
    keys.add_argument("--period", default=None,
                      choices=["daily", "weekly", "monthly", "total"])
    keys.add_argument("--models", default=None, help="comma-separated allow-list")
    keys.add_argument("--expires", default=None, help="e.g. 30d, 12h or 2026-12-31")
    keys.add_argument("--format", default="table", choices=["table", "csv", "json"])
    keys.set_defaults(func=_keys)

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
    kwargs: dict[str, Any] = dict(
        host=host, port=port, log_level="warning", access_log=False, lifespan="on",
        # Aegis reads no client address, so uvicorn's X-Forwarded-For rewriting is pure cost;
        # and answers do not advertise the server software
        proxy_headers=False, server_header=False,
        loop=_uvicorn_loop(event_loop(settings.server.loop)),
        http=_http_protocol(),
        # stop accepting, let in-flight requests finish up to the grace period, then flush
        timeout_graceful_shutdown=settings.resilience.config.shutdown_grace_s,
    )
    from aegis.gateway import create_app

    kwargs["log_config"] = None  # uvicorn's own logs go through Aegis's handler
    if workers > 1:
        from aegis.keys import KeyStore, MasterKey
        from aegis.ledger import open_store
        from aegis.observability.workers import clear_multiprocess_dir

        if ":memory:" in settings.raw.storage.url:
            raise ConfigError("storage.url: several workers need a shared file store "
                              "(sqlite:///aegis.db), not :memory:")
        store = open_store(settings.raw.storage.url)
        open_access = MasterKey.from_env() is None and not KeyStore(store).any_keys()
        store.close()
        _check_port(host, port)  # before the banner says it listens
        _banner(settings, host, port, open_access=open_access)
        if args.config:
            os.environ["AEGIS_CONFIG"] = os.path.abspath(args.config)
        os.environ["AEGIS_WORKERS"] = str(workers)
        # each worker builds its own app; every worker writes its metrics here, one scrape sums
        os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", tempfile.mkdtemp(prefix="aegis-prom-"))
        clear_multiprocess_dir()
        _run_workers(workers, host, port, kwargs)
        return 0
    app = create_app(settings)
    sock = _listener(host, port)
    _banner(settings, host, sock.getsockname()[1], open_access=app.auth.open())
    server = uvicorn.Server(uvicorn.Config(app, **kwargs))
    with contextlib.suppress(KeyboardInterrupt):  # as uvicorn.run: Ctrl+C is a normal stop
        server.run(sockets=[sock])
    return 0 if server.started else 3  # uvicorn's code for a failed start-up


def _run_workers(workers: int, host: str, port: int, kwargs: dict[str, Any]) -> None:
    """uvicorn's supervisor and workers; on Linux each worker listens on its own
    ``SO_REUSEPORT`` socket (see ``aegis.gateway.server``), elsewhere on a shared one."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from aegis.gateway.server import ReusePortListener, per_worker_listeners

    if not per_worker_listeners(port):
        uvicorn.run("aegis.gateway.app:create_app", factory=True, workers=workers, **kwargs)
        return
    config = uvicorn.Config("aegis.gateway.app:create_app", factory=True, workers=workers,
                            **kwargs)
    with contextlib.suppress(KeyboardInterrupt):  # as uvicorn.run: Ctrl+C is a normal stop
        Multiprocess(config, sockets=[ReusePortListener(host, port)]).run()  # type: ignore[list-item]


def _listener(host: str, port: int, *, reuse_port: bool = False) -> socket.socket:
    """A socket bound to ``host:port``, or a clear error (exit 2) if that port is taken.

    One worker serves on it (uvicorn is given the socket, see ``aegis.gateway.accept``);
    with several, ``_check_port`` only tries it."""
    from aegis.gateway.server import bind_listener

    try:
        return bind_listener(host, port, reuse_port=reuse_port)
    except OSError as exc:
        raise ConfigError(f"server: cannot listen on {host}:{port}: {exc}") from None


def _check_port(host: str, port: int) -> None:
    """Workers bind their own sockets (``_run_workers``): a port another program holds
    is reported here, once, rather than by every worker in a restart loop."""
    from aegis.gateway.server import per_worker_listeners

    if per_worker_listeners(port):
        _listener(host, port, reuse_port=True).close()


def _http_protocol() -> Any:
    """uvicorn's ``http=``: httptools with each answer's head sent with its body, else h11."""
    if not _has("httptools"):
        return "h11"
    from aegis.gateway.server import HeadWithBodyProtocol

    return HeadWithBodyProtocol


def event_loop(choice: str) -> str:
    """The event loop uvicorn runs (``server.loop``): ``auto`` is uvloop when installed.

    Measured side by side (issue #7 notes): uvloop gives 2-3 % more throughput and
    a 0.3-0.5 ms lower p99 at concurrency 1. uvloop on its own accepts one new
    connection per loop iteration, which under load left a burst of 128 new
    connections waiting up to 1.4 s; Aegis runs it with ``aegis.gateway.accept``,
    which accepts all of them at once (c=128 p99 0.9 s -> 60 ms).
    """
    if choice == "uvloop" and not _has("uvloop"):
        raise ConfigError("server.loop: uvloop is not installed (pip install uvloop)")
    if choice == "auto":
        return "uvloop" if _has("uvloop") else "asyncio"
    return choice


def _uvicorn_loop(name: str) -> str:
    """uvicorn's ``loop=``: uvloop as ``aegis.gateway.accept``'s loop, which accepts every
    waiting connection at once (uvloop itself accepts one per loop iteration)."""
    return "aegis.gateway.accept:new_event_loop" if name == "uvloop" else name


def _banner(settings: Settings, host: str, port: int, *, open_access: bool) -> None:
    out = sys.stderr
    print(f"aegis: config {settings.source}", file=out)
    for name, p in settings.providers.items():
        models = [m.name for m in settings.catalog if m.provider == name]
        print(f"aegis: provider {name} ({p.kind}, {p.locality}): {len(models)} model(s)", file=out)
    for note in settings.notes:
        print(f"aegis: warning: {note}", file=out)
    if open_access:
        where = "loopback only" if host in ("127.0.0.1", "localhost", "::1") else (
            f"WARNING: reachable on {host}")
        print(f"aegis: open access: no gateway keys and no AEGIS_MASTER_KEY ({where}); "
              "create keys with `aegis keys create`", file=out)
    print(f"aegis: listening on http://{host}:{port}/v1 "
          f"({event_loop(settings.server.loop)} event loop)", file=out)


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

    settings = load_settings(args.config)
    engine = Engine(settings)
    task = task_from_kwargs(
        data_class=args.data_class, quality=args.quality, complexity=args.complexity,
        task_type=args.task_type, strategy=args.strategy, workspace=args.workspace,
        batch_size=args.batch_size)
    chat = engine.prepare(chat_request(
        {"model": args.model or settings.defaults.model,
         "messages": [{"role": "user", "content": args.prompt}]}))
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


def _store(args: argparse.Namespace) -> LedgerStore:
    from aegis.ledger import open_store

    return open_store(load_settings(args.config).raw.storage.url)


def _spend(args: argparse.Namespace) -> int:
    from aegis.ledger import Filters
    from aegis.ledger.reports import format_spend, spend_report, window

    store = _store(args)
    try:
        if args.action == "export":
            fmt: Literal["csv", "json"] = "json" if args.format == "json" else "csv"
            if args.format == "table" or not args.output:
                print("aegis: spend export needs --format csv|json and --output FILE",
                      file=sys.stderr)
                return 2
            count = store.export(fmt, args.output, *window(args.period, args.since, args.until))
            print(f"exported {count} rows to {args.output}", file=sys.stderr)
            return 0
        if args.action == "import":
            return _import_rows(store, args.files)
        filters = Filters(provider=args.provider, model=args.model, key=args.key,
                          team=args.team, workspace=args.workspace)
        window_args: dict[str, Any] = dict(period=args.period, since=args.since,
                                           until=args.until, filters=filters)
        rows = spend_report(store, args.by, **window_args)
        total = spend_report(store, None, **window_args)  # distinct requests for TOTAL
        print(format_spend(rows, args.by, args.format or "table",
                           total=total[0] if total else None))
        return 0
    except ValueError as exc:
        print(f"aegis: {exc}", file=sys.stderr)
        return 2
    finally:
        store.close()


def _import_rows(store: LedgerStore, files: list[str]) -> int:
    """Rows from spill files or exports, each file in one transaction. Importing an
    export into the store it came from would count its rows twice: spill files hold
    only rows the store never took."""
    from aegis.ledger import read_rows

    if not files:
        print("aegis: spend import needs FILE (a .jsonl spill file, or a .csv/.json export)",
              file=sys.stderr)
        return 2
    for path in files:
        try:
            rows = read_rows("csv" if path.endswith(".csv") else "json", path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            print(f"aegis: {path}: not a ledger file ({exc})", file=sys.stderr)
            return 2
        count = store.insert(rows)
        print(f"imported {count} rows from {path}", file=sys.stderr)
    return 0


def _budgets(args: argparse.Namespace) -> int:
    from aegis.budget import BudgetManager, backend_for
    from aegis.budget.manager import BUDGET_COLUMNS
    from aegis.keys import KeyStore
    from aegis.ledger.reports import format_records

    settings = load_settings(args.config)
    store = _store(args)
    manager = BudgetManager(settings.budgets, backend_for(store))
    try:
        for budget in KeyStore(store).budgets():
            manager.register(budget)
        manager.restore()
        rows = [s.to_dict() for s in manager.status()]
        print(format_records(rows, BUDGET_COLUMNS, args.format))
    finally:
        manager.close()
        store.close()
    return 0


def _keys(args: argparse.Namespace) -> int:
    from aegis.keys import KeyStore, parse_expiry
    from aegis.ledger.reports import format_records

    store = _store(args)
    keys = KeyStore(store)
    try:
        if args.action == "create":
            models = [m.strip() for m in args.models.split(",")] if args.models else None
            expires = parse_expiry(args.expires) if args.expires else None
            key_id, secret = keys.create(args.name or "", team=args.team,
                                         budget_usd=args.budget, period=args.period,
                                         models=models, expires_at=expires)
            print(secret)
            print(f"created key {args.name} ({key_id}); the secret above is shown only once",
                  file=sys.stderr)
        elif args.action == "list":
            rows = [r.to_dict() for r in keys.list()]
            columns = ("id", "name", "team", "status", "models", "budget_usd", "period",
                       "created_at", "expires_at")
            print(format_records(rows, columns, args.format))
        else:
            if not args.name:
                print("aegis: keys revoke needs --name NAME_OR_ID", file=sys.stderr)
                return 2
            record = keys.revoke(args.name)
            print(f"revoked key {record.name} ({record.id})", file=sys.stderr)
    finally:
        store.close()
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
