"""The systems under test, each its own process on its own loopback port, and /proc sampling.

- ``direct``: the client talks to the mock upstream itself (resources are the mock's).
- ``aegis-full``: ``aegis serve`` with bench/configs/aegis-full.yaml (routing over the
  shipped catalog with ``model: auto``, privacy scan, budgets + SQLite ledger, metrics).
  Config sections this build of Aegis rejects are dropped, and the report says so.
- ``aegis-full-w2``: the same config under ``aegis serve --workers 2`` (two uvicorn
  worker processes leasing budget headroom from the SQLite file, this system's own copy).
- ``aegis-minimal``: bench/configs/aegis-minimal.yaml (one provider, one model).
- ``litellm``: the LiteLLM proxy, pinned, installed by the benchmark into
  bench/.litellm-venv (never a project dependency); 1 process, no database.
- ``direct-aiohttp``, ``aegis-full-aiohttp``: the direct path and aegis-full against a
  second upstream, the same mock as a plain aiohttp app (the kind issue 7 measured its
  direct path on), run from bench/.tools-venv; only in the chat-c32-aiohttp scenario.

A system that cannot be installed or started is kept, with ``status="failed"`` and
the reason, so the report shows it instead of silently dropping it.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
CONFIGS = HERE / "configs"
VENV_BIN = Path(sys.executable).parent
LITELLM_VERSION = "1.106.2"  # newer releases need certifi>=2026.10.19, absent from the mirror
LITELLM_VENV = HERE / ".litellm-venv"
TOOLS_VENV = HERE / ".tools-venv"  # py-spy, and aiohttp for the reference mock
AIOHTTP = ("aiohttp==3.14.5", "orjson==3.11.5")
PAGE = os.sysconf("SC_PAGE_SIZE")
TICK = os.sysconf("SC_CLK_TCK")
# Sections the full config may lose (with a note) if this Aegis build rejects them.
OPTIONAL_SECTIONS = {"storage", "budgets", "metrics", "observability", "logging", "resilience",
                     "keys", "auth", "tracing"}
SMALL_BODY = {"messages": [{"role": "user", "content": "Say hello."}], "max_tokens": 16}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- /proc sampling -----------------------------------------------------------------


def _stat(pid: int) -> tuple[int, float, float] | None:
    """(ppid, own cpu seconds, reaped children's cpu seconds) of one process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            raw = f.read()
    except OSError:
        return None
    fields = raw[raw.rindex(b")") + 2:].split()
    ppid = int(fields[1])
    own = (int(fields[11]) + int(fields[12])) / TICK
    reaped = (int(fields[13]) + int(fields[14])) / TICK
    return ppid, own, reaped


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE
    except OSError:
        return 0


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            st = _stat(int(entry))
            if st is not None:
                children.setdefault(st[0], []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, ()))
    return out


class ProcTree:
    """CPU seconds and RSS of a process and its descendants (children list cached).

    Descendants cover ``--workers N``: uvicorn's supervisor spawns the workers (and
    multiprocessing's resource tracker) as its children, so they are summed too.
    """

    def __init__(self, root: int) -> None:
        self.root = root
        self.pids = tree_pids(root)
        self.refreshed = time.monotonic()

    def refresh(self) -> None:
        self.pids = tree_pids(self.root)
        self.refreshed = time.monotonic()

    def cpu_seconds(self) -> float:
        self.refresh()
        total = 0.0
        for pid in self.pids:
            st = _stat(pid)
            if st is not None:
                total += st[1] + (st[2] if pid == self.root else 0.0)
        return total

    def rss_bytes(self) -> int:
        if time.monotonic() - self.refreshed > 1.0:
            self.refresh()
        return sum(_rss(pid) for pid in self.pids)


class RssSampler:
    """A thread sampling the RSS of the watched trees every ``interval`` seconds."""

    def __init__(self, interval: float = 0.05) -> None:
        self.interval = interval
        self.watch: dict[str, ProcTree] = {}
        self.peaks: dict[str, int] = {}
        self.lock = threading.Lock()
        self.stop_event = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def start(self) -> RssSampler:
        self.thread.start()
        return self

    def set(self, watch: dict[str, ProcTree]) -> None:
        """Watch these trees from now on, with fresh peaks; returns nothing."""
        with self.lock:
            self.watch = dict(watch)
            self.peaks = {name: tree.rss_bytes() for name, tree in watch.items()}

    def take(self) -> dict[str, int]:
        """Peaks since the last ``set``/``take``, and stop watching."""
        with self.lock:
            peaks, self.watch, self.peaks = self.peaks, {}, {}
        return peaks

    def _run(self) -> None:
        while not self.stop_event.wait(self.interval):
            with self.lock:
                for name, tree in self.watch.items():
                    rss = tree.rss_bytes()
                    if rss > self.peaks.get(name, 0):
                        self.peaks[name] = rss

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(2)


def machine_busy_seconds() -> float:
    """CPU seconds all processes spent running (user + nice + system), from /proc/stat.

    irq/softirq time is left out: loopback networking is accounted there (a quarter
    of the machine at 80k req/s), is not charged to any process, and is ours.
    """
    with open("/proc/stat") as f:
        parts = [int(x) for x in f.readline().split()[1:]]
    return (parts[0] + parts[1] + parts[2]) / TICK


# -- HTTP checks -------------------------------------------------------------------


def http_call(port: int, method: str, path: str, body: dict[str, Any] | None = None,
              timeout: float = 10.0) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        headers = {"content-type": "application/json", "authorization": "Bearer sk-bench"}
        conn.request(method, path, body=payload, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def wait_ready(port: int, path: str, proc: subprocess.Popen[Any] | None,
               timeout: float) -> str | None:
    """None once ``GET path`` answers 200, else why not."""
    deadline = time.monotonic() + timeout
    last = "no answer"
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return f"exited with status {proc.returncode} before becoming ready"
        try:
            status, _, _ = http_call(port, "GET", path, timeout=2)
            if status == 200:
                return None
            last = f"GET {path} -> {status}"
        except OSError as exc:
            last = str(exc)
        time.sleep(0.2)
    return f"not ready after {timeout:.0f} s ({last})"


# -- systems -----------------------------------------------------------------------


@dataclass
class System:
    name: str
    description: str
    model: str = "gpt-4o-mini"  # what the client asks for
    workers: int = 1  # server processes answering requests (> 1: only some scenarios)
    mock: Mock | None = None  # its upstream (None: it could not be started)
    port: int = 0
    status: str = "pending"  # ok | failed | skipped
    reason: str = ""
    version: str = ""
    proc: subprocess.Popen[Any] | None = None
    log_path: Path | None = None
    notes: list[str] = field(default_factory=list)
    features: dict[str, str] = field(default_factory=dict)
    started_s: float | None = None  # start-up time to ready
    tree: ProcTree | None = None

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"

    def fail(self, reason: str) -> None:
        self.status, self.reason = "failed", reason
        tail = self.log_tail()
        if tail:
            self.notes.append("log tail: " + tail)
        self.stop()

    def log_tail(self, chars: int = 600) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").strip()
        return text[-chars:].replace("\n", " | ")

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)

    def summary(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "status": self.status,
                "reason": self.reason, "version": self.version, "model": self.model,
                "workers": self.workers, "startup_s": self.started_s,
                "features": self.features, "notes": self.notes}


def _launch(system: System, cmd: list[str], env: dict[str, str], run_dir: Path,
            health_path: str, timeout_s: float) -> System:
    """Start a system's process and wait until its health endpoint answers."""
    t0 = time.monotonic()
    system.proc = _spawn(cmd, system.log_path, env=env, cwd=run_dir)
    problem = wait_ready(system.port, health_path, system.proc, timeout_s)
    if problem:
        system.fail(problem)
        return system
    system.started_s = round(time.monotonic() - t0, 2)
    system.status = "ok"
    system.tree = ProcTree(system.proc.pid)
    return system


def _spawn(cmd: list[str], log_path: Path, env: dict[str, str] | None = None,
           cwd: Path | None = None) -> subprocess.Popen[Any]:
    log = open(log_path, "wb")  # noqa: SIM115 - handed to the child
    try:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                start_new_session=True)
    finally:
        log.close()


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "AEGIS_CONFIG") and not k.endswith("_API_KEY")}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    env.update(extra)
    return env


def tools_venv(requirements: tuple[str, ...], check: list[str], install: bool) -> str | None:
    """Make ``check`` (a command run from bench/.tools-venv/bin) succeed, installing
    ``requirements`` there first if needed: None when ready, else why not."""
    bin_dir = TOOLS_VENV / "bin"

    def ready() -> bool:
        try:
            return subprocess.run([str(bin_dir / check[0]), *check[1:]], capture_output=True,
                                  timeout=60, check=False).returncode == 0
        except OSError:
            return False

    if ready():
        return None
    if not install:
        return f"{', '.join(requirements)} not installed in bench/.tools-venv (--no-install)"
    try:
        if not (bin_dir / "python").exists():
            subprocess.run(["python3", "-m", "venv", str(TOOLS_VENV)], check=True,
                           capture_output=True, timeout=120)
        proc = subprocess.run([str(bin_dir / "python"), "-m", "pip", "install", "-q",
                               *requirements], capture_output=True, text=True, timeout=600,
                              check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"installing {', '.join(requirements)} failed: {exc}"
    if proc.returncode != 0 or not ready():
        return f"installing {', '.join(requirements)} failed: " + proc.stderr[-300:]
    return None


class Mock:
    """A fake upstream (bench/mock_upstream.py), one process for the whole run.

    ``impl="aiohttp"`` runs the aiohttp variant from bench/.tools-venv (installed on
    first use), so aiohttp never becomes a project dependency.
    """

    def __init__(self, run_dir: Path, chunks: int, delay_ms: float, impl: str = "raw",
                 install: bool = True) -> None:
        self.impl = impl
        python = sys.executable
        if impl == "aiohttp":
            problem = tools_venv(AIOHTTP, ["python", "-c", "import aiohttp, orjson"], install)
            if problem:
                raise RuntimeError(f"aiohttp mock upstream: {problem}")
            python = str(TOOLS_VENV / "bin" / "python")
        self.port = free_port()
        self.log_path = run_dir / ("mock.log" if impl == "raw" else f"mock-{impl}.log")
        self.proc = _spawn([python, str(HERE / "mock_upstream.py"), "--port", str(self.port),
                            "--chunks", str(chunks), "--delay-ms", str(delay_ms), "--impl",
                            impl], self.log_path, env=_env())
        problem = wait_ready(self.port, "/health", self.proc, 15)
        if problem:
            self.stop()
            raise RuntimeError(f"{impl} mock upstream: {problem}")
        self.tree = ProcTree(self.proc.pid)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()


def direct(mock: Mock, name: str = "direct") -> System:
    system = System(name, f"client -> mock upstream ({mock.impl}; no gateway)", mock=mock)
    system.port, system.proc, system.status = mock.port, None, "ok"
    system.tree = mock.tree
    system.notes.append("resources are the mock upstream's own")
    return system


# -- Aegis ---------------------------------------------------------------------------


def effective_aegis_config(template: Path, env: dict[str, str], out: Path
                           ) -> tuple[Path, list[str]]:
    """Copy the template, dropping top-level sections this Aegis build rejects.

    Validation is what ``aegis serve`` itself runs (``aegis.config.load``), so the
    benchmark follows the schema as other work lands instead of guessing it.
    """
    notes: list[str] = []
    data = yaml.safe_load(template.read_text()) or {}
    for _ in range(len(data) + 1):
        out.write_text(yaml.safe_dump(data, sort_keys=False))
        problem = _validate_aegis(out, env)
        if problem is None:
            return out, notes
        named = {m.group(1) for m in re.finditer(r"^\s*([A-Za-z_]+)\b[^\n:]*:", problem,
                                                 re.MULTILINE)}
        bad = sorted(named & set(data) & OPTIONAL_SECTIONS)
        if not bad:
            raise RuntimeError(problem if problem.startswith("Aegis failed")
                               else f"config rejected: {problem}")
        for key in bad:
            detail = " ".join(ln.strip() for ln in problem.splitlines()
                              if ln.strip().startswith(key))
            notes.append(f"config section `{key}` rejected by this Aegis build, ran without "
                         f"it ({detail[:200]})")
            data.pop(key)
    raise RuntimeError("config could not be made acceptable")


def _validate_aegis(path: Path, env: dict[str, str]) -> str | None:
    code = ("import sys\nfrom aegis.config import load\nfrom aegis.errors import ConfigError\n"
            "try:\n    load(sys.argv[1])\nexcept ConfigError as e:\n"
            "    print(e.message); sys.exit(2)\n")
    proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                          text=True, env=env, timeout=60, check=False)
    if proc.returncode == 0:
        return None
    text = (proc.stdout + proc.stderr).strip()
    if "Traceback" in text:  # Aegis itself failed to import: keep the error, not the stack
        text = "Aegis failed to import: " + " | ".join(text.splitlines()[-2:])
    return text or f"exit {proc.returncode}"


def aegis(name: str, config: str, model: str, mock: Mock, run_dir: Path,
          description: str, workers: int = 1) -> System:
    """``aegis serve`` with ``configs/<config>``; ``workers > 1`` adds ``--workers N``."""
    system = System(name, description, model=model, workers=workers, mock=mock)
    system.port = free_port()
    system.log_path = run_dir / f"{name}.log"
    env = _env(BENCH_UPSTREAM=mock.base_url, BENCH_RUN_DIR=str(run_dir))
    if workers > 1:  # the workers' metric files, in the scratch dir (wiped) not /tmp
        env["PROMETHEUS_MULTIPROC_DIR"] = str(run_dir / f"{name}-prometheus")
    try:
        import importlib.metadata

        system.version = "aegis-gateway " + importlib.metadata.version("aegis-gateway")
    except Exception:
        system.version = "aegis (version unknown)"
    try:
        cfg, notes = effective_aegis_config(CONFIGS / config, env, run_dir / f"{name}.yaml")
    except Exception as exc:
        system.fail(f"config: {exc}")
        return system
    system.notes.extend(notes)
    own = _own_ledger(cfg, name)
    if own:
        system.notes.append(own)
    aegis_bin = VENV_BIN / "aegis"
    cmd = [str(aegis_bin), "serve", "--config", str(cfg), "--port", str(system.port)]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    if not aegis_bin.exists():
        cmd = [sys.executable, "-m", "aegis.cli", *cmd[1:]]
    _launch(system, cmd, env, run_dir, "/health/live", 60)
    if workers > 1 and system.tree is not None:
        system.notes.append(f"--workers {workers}: {len(system.tree.pids)} processes in the "
                            "tree (supervisor, workers, multiprocessing resource tracker); "
                            "RSS and CPU are summed over all of them")
    return system


def _own_ledger(cfg: Path, name: str) -> str | None:
    """Give this system its own SQLite file under the run dir; a note if that changed it.

    Two systems on one config (aegis-full, aegis-full-w2) would otherwise share one
    ledger and budget state, and each's ledger check would count the other's rows.
    """
    data = yaml.safe_load(cfg.read_text()) or {}
    storage = data.get("storage")
    prefix = "sqlite:///${BENCH_RUN_DIR}/"
    if not isinstance(storage, dict) or not str(storage.get("url", "")).startswith(prefix):
        return None
    url = f"{prefix}{name}.db"
    if storage["url"] == url:
        return None
    old, storage["url"] = storage["url"], url
    cfg.write_text(yaml.safe_dump(data, sort_keys=False))
    return f"storage.url {url} (own file instead of {old.removeprefix(prefix)})"


def aegis_features(system: System, run_dir: Path) -> None:
    """What an Aegis configuration actually exercised, observed from outside after the run."""
    if system.proc is None:
        return
    cfg_path = run_dir / f"{system.name}.yaml"
    cfg = (yaml.safe_load(cfg_path.read_text()) if cfg_path.exists() else None) or {}
    metrics_path = str((cfg.get("metrics") or {}).get("path", "/metrics"))
    if system.ok:
        try:
            status, _, body = http_call(system.port, "GET", metrics_path, timeout=5)
            system.features["metrics"] = (
                f"GET {metrics_path} -> 200 ({body.count(b'aegis_')} aegis_ lines)"
                if status == 200 else f"GET {metrics_path} -> {status}")
        except OSError as exc:
            system.features["metrics"] = f"GET {metrics_path} failed: {exc}"
    url = str((cfg.get("storage") or {}).get("url", "sqlite:///aegis.db"))
    url = url.replace("${BENCH_RUN_DIR}", str(run_dir))
    where = url.removeprefix("sqlite:///")
    db = Path(where) if where.startswith("/") else run_dir / where
    if not url.startswith("sqlite:///") or where == ":memory:":
        system.features["ledger"] = f"storage {url} (not inspected)"
    elif not db.exists():
        system.features["ledger"] = f"no ledger file at {db.name} (storage.url {url})"
    else:
        import sqlite3

        try:
            with contextlib.closing(sqlite3.connect(f"file:{db}?mode=ro", uri=True)) as conn:
                tables = [r[0] for r in conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table'")]
                counts = {t: conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0]
                          for t in tables if not t.startswith("sqlite_")}
            system.features["ledger"] = f"{db.name}: rows per table {counts}"
        except sqlite3.Error as exc:
            system.features["ledger"] = f"{db.name}: unreadable ({exc})"
    if system.log_path is not None and system.log_path.exists():
        lines = 0
        with open(system.log_path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                lines += block.count(b'"http_status"')
        size = system.log_path.stat().st_size / 1e6
        system.features["request log"] = (f"{lines} JSON request lines on stderr "
                                          f"({size:.0f} MB)" if lines else
                                          f"no per-request log lines ({size:.1f} MB of log)")


def aegis_banner(system: System) -> None:
    """Start-up remarks Aegis printed (providers, warnings) into the notes."""
    if system.log_path and system.log_path.exists():
        for line in system.log_path.read_text(errors="replace").splitlines()[:12]:
            if line.startswith("aegis: ") and ("warning" in line or "provider" in line):
                system.notes.append(line.removeprefix("aegis: "))


# -- LiteLLM -------------------------------------------------------------------------


def ensure_litellm(install: bool) -> tuple[Path | None, str]:
    """The pinned LiteLLM proxy in its own venv: (litellm executable, version or failure)."""
    exe = LITELLM_VENV / "bin" / "litellm"
    py = LITELLM_VENV / "bin" / "python"

    def installed() -> str | None:
        if not py.exists():
            return None
        proc = subprocess.run([str(py), "-c", "import importlib.metadata as m; "
                               "print(m.version('litellm'))"], capture_output=True, text=True,
                              check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    version = installed()
    if version == LITELLM_VERSION and exe.exists():
        return exe, version
    if not install:
        return None, f"LiteLLM {LITELLM_VERSION} not installed in {LITELLM_VENV} (--no-install)"
    base = shutil.which("python3") or sys.executable
    print(f"bench: installing litellm[proxy]=={LITELLM_VERSION} into {LITELLM_VENV} "
          "(once, ~1 min)", flush=True)
    try:
        if not py.exists():
            subprocess.run([base, "-m", "venv", str(LITELLM_VENV)], check=True, timeout=120,
                           capture_output=True)
        proc = subprocess.run([str(py), "-m", "pip", "install", "-q",
                               f"litellm[proxy]=={LITELLM_VERSION}"], capture_output=True,
                              text=True, timeout=900, check=False)
    except (OSError, subprocess.SubprocessError) as exc:
        return None, f"install failed: {exc}"
    if proc.returncode != 0:
        err = [ln for ln in proc.stderr.splitlines() if not ln.startswith("WARNING: Location")]
        return None, "pip install failed: " + " ".join(err)[-400:]
    version = installed()
    if version is None or not exe.exists():
        return None, "installed, but the litellm executable is missing"
    return exe, version


def litellm(mock: Mock, run_dir: Path, install: bool) -> System:
    system = System("litellm", "LiteLLM proxy, 1 process, no database", mock=mock)
    exe, version = ensure_litellm(install)
    if exe is None:
        system.version = f"litellm {LITELLM_VERSION}"
        system.fail(version)
        return system
    system.version = f"litellm {version}"
    system.port = free_port()
    system.log_path = run_dir / "litellm.log"
    env = _env(BENCH_UPSTREAM=mock.base_url, LITELLM_LOCAL_MODEL_COST_MAP="True",
               LITELLM_TELEMETRY="False", LITELLM_LOG="ERROR", DISABLE_ADMIN_UI="True",
               # no master key, as a first local run would have it (1.106 refuses to start
               # without one unless told this is deliberate)
               LITELLM_DANGEROUSLY_PERMIT_WEAK_OR_UNSET_MASTER_KEY="true",
               LITELLM_MODE="PRODUCTION")
    cmd = [str(exe), "--config", str(CONFIGS / "litellm.yaml"), "--host", "127.0.0.1",
           "--port", str(system.port), "--num_workers", "1", "--telemetry", "False"]
    return _launch(system, cmd, env, run_dir, "/health/liveliness", 120)


# -- functional check ---------------------------------------------------------------


def check(system: System) -> None:
    """One non-streamed and one streamed request must work before any load is applied."""
    if not system.ok:
        return
    body = dict(SMALL_BODY, model=system.model)
    try:
        status, headers, raw = http_call(system.port, "POST", "/v1/chat/completions", body,
                                         timeout=30)
        if status != 200:
            system.fail(f"check request -> HTTP {status}: {raw[:200]!r}")
            return
        content = json.loads(raw)["choices"][0]["message"]["content"]
        if not content:
            system.fail("check request: empty content")
            return
        if "x-aegis-model" in headers:
            system.features["routing"] = (
                f"model={system.model} -> {headers.get('x-aegis-provider')}/"
                f"{headers['x-aegis-model']} via {headers.get('x-aegis-route')} "
                f"({headers.get('x-aegis-route-reason')})")
        stream = dict(body, stream=True, stream_options={"include_usage": True})
        status, _, raw = http_call(system.port, "POST", "/v1/chat/completions", stream,
                                   timeout=30)
        if status != 200 or not raw.rstrip().endswith(b"data: [DONE]"):
            system.fail(f"check stream -> HTTP {status}: {raw[-200:]!r}")
            return
        events = raw.count(b"data: ")
        has_usage = b'"usage":{' in raw.replace(b" ", b"")
        system.notes.append(f"check: stream of {events} SSE events, usage chunk "
                            f"{'present' if has_usage else 'absent'}")
    except (OSError, ValueError, KeyError, IndexError) as exc:
        system.fail(f"check failed: {exc}")
