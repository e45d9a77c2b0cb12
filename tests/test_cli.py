"""The ``aegis`` command, run as a user would (a subprocess, a YAML file)."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from aegis.engine import Attempt
from aegis.ledger.sqlite import SqliteLedgerStore
from tests.conftest import openai_config
from tests.fakes.openai import FakeOpenAI
from tests.ledger.helpers import attempt
from tests.servers import aegis_serve, child_env


def aegis(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = child_env({k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")})
    return subprocess.run([sys.executable, "-m", "aegis.cli", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd, env=env)


@pytest.fixture
def config_file(tmp_path: Path, fake_openai: FakeOpenAI) -> Path:
    path = tmp_path / "aegis.yaml"
    path.write_text(yaml.safe_dump(openai_config(fake_openai)))
    return path


def test_help_everywhere():
    for args in ([], ["serve"], ["chat"], ["models"], ["route"]):
        out = aegis(*args, "--help")
        assert out.returncode == 0 and "usage: aegis" in out.stdout


def test_models_table_and_json(config_file: Path):
    out = aegis("models", "--config", str(config_file))
    assert out.returncode == 0
    lines = out.stdout.splitlines()
    assert lines[0].split() == ["MODEL", "PROVIDER", "IN", "$/M", "OUT", "$/M", "CONTEXT",
                                "CAPABILITIES"]
    row = next(line for line in lines if line.startswith("qwen-plus "))
    assert "dashscope" in row and "0.4" in row and "131,072" in row
    rows = json.loads(aegis("models", "--json", "--config", str(config_file)).stdout)
    assert any(r["name"] == "gpt-4o-mini" and r["provider"] == "openai" for r in rows)


def test_chat_prints_the_answer_and_who_served_it(config_file: Path):
    out = aegis("chat", "hello cli", "--model", "qwen-plus", "--config", str(config_file))
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "echo: hello cli"
    assert "dashscope/qwen-plus" in out.stderr
    out = aegis("chat", "hi", "--model", "gpt-4o-mini", "--json", "--config", str(config_file))
    result = json.loads(out.stdout)
    assert result["provider"] == "openai" and result["usage"]["total_tokens"] > 0


def test_chat_stream(config_file: Path):
    out = aegis("chat", "a b c", "--model", "gpt-4o-mini", "--stream",
                "--config", str(config_file))
    assert out.returncode == 0 and out.stdout.strip() == "echo: a b c"


def test_route_explains_without_calling(config_file: Path, fake_openai: FakeOpenAI):
    out = aegis("route", "my card is 4111 1111 1111 1111", "--model", "gpt-4o-mini",
                "--explain", "--config", str(config_file))
    assert out.returncode == 1  # refused
    assert "REFUSED" in out.stdout and "privacy" in out.stdout
    assert "4111" not in out.stdout
    out = aegis("route", "hello", "--strategy", "cost", "--explain", "--config",
                str(config_file))
    assert out.returncode == 0 and "candidates (in fallback order)" in out.stdout
    assert fake_openai.requests == []


def test_errors_exit_non_zero_with_a_message(config_file: Path, tmp_path: Path):
    out = aegis("chat", "x", "--model", "nope", "--config", str(config_file))
    assert out.returncode == 1 and "ModelNotFound" in out.stderr
    out = aegis("models", "--config", str(tmp_path / "missing.yaml"))
    assert out.returncode == 2 and "cannot read config file" in out.stderr


@pytest.mark.parametrize("storage", [{"url": "sqlite:///aegis.db"}, None],
                         ids=["relative-url", "no-storage-section"])
def test_the_store_sits_next_to_the_config_whatever_the_cwd(
    tmp_path: Path, fake_openai: FakeOpenAI, storage: dict[str, str] | None
):
    conf_dir, elsewhere, served_from = (tmp_path / d for d in ("conf", "elsewhere", "srv"))
    for d in (conf_dir, elsewhere, served_from):
        d.mkdir()
    config = openai_config(fake_openai)
    del config["storage"]
    if storage is not None:
        config["storage"] = storage
    config_path = conf_dir / "aegis.yaml"
    config_path.write_text(yaml.safe_dump(config))

    created = aegis("keys", "create", "--name", "zed", "-c", str(config_path), cwd=elsewhere)
    assert created.returncode == 0, created.stderr
    assert (conf_dir / "aegis.db").exists() and not (elsewhere / "aegis.db").exists()
    listed = aegis("keys", "list", "--format", "json", "-c", "../conf/aegis.yaml",
                   cwd=elsewhere)
    assert [k["name"] for k in json.loads(listed.stdout)] == ["zed"]
    in_place = aegis("keys", "list", "--format", "json", cwd=conf_dir)  # ./aegis.yaml
    assert [k["name"] for k in json.loads(in_place.stdout)] == ["zed"]

    url, proc = aegis_serve(config_path, cwd=served_from)
    try:
        hi = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
        assert httpx.post(url + "/v1/chat/completions", json=hi).status_code == 401
        secret = created.stdout.strip()
        ok = httpx.post(url + "/v1/chat/completions", json=hi,
                        headers={"authorization": f"Bearer {secret}"})
        assert ok.status_code == 200, ok.text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    assert not (served_from / "aegis.db").exists()


def ledger_config(tmp_path: Path, *attempts: Attempt) -> Path:
    """A config whose store holds these attempts (and no providers: nothing is served)."""
    store = SqliteLedgerStore(tmp_path / "aegis.db")
    store.insert(attempts)
    store.close()
    path = tmp_path / "aegis.yaml"
    path.write_text(yaml.safe_dump({"storage": {"url": "sqlite:///aegis.db"}}))
    return path


def test_spend_total_counts_a_fallback_request_once(tmp_path: Path):
    config = ledger_config(
        tmp_path,
        attempt(request_id="r1", provider="openai", status="error", cost_usd=0.0),
        attempt(request_id="r1", provider="dashscope", attempt=1, cost_usd=0.25),
        attempt(request_id="r2", provider="openai", cost_usd=0.5),
    )
    out = aegis("spend", "--by", "provider", "-c", str(config))
    assert out.returncode == 0, out.stderr
    header, _, *rows = out.stdout.splitlines()
    requests = header.split().index("requests")
    by_group = {row.split()[0]: row.split()[requests] for row in rows if row[:1].isalnum()}
    assert by_group == {"openai": "2", "dashscope": "1", "TOTAL": "2"}
    assert "once in TOTAL" in out.stdout  # why the rows add up to more
    day = aegis("spend", "--by", "day", "--format", "json", "-c", str(config))
    assert [d["requests"] for d in json.loads(day.stdout)] == [2]


def test_spill_files_and_exports_import_into_the_ledger(tmp_path: Path):
    """Rows the writer could not store (read-only or full disk) wait in a JSON-lines spill
    file; `aegis spend import` puts them in the ledger once it can take them."""
    from aegis.ledger import LedgerRow
    from aegis.ledger.writer import LedgerWriter

    config = ledger_config(tmp_path, attempt(request_id="kept", cost_usd=0.5))
    spilled = [LedgerRow.from_attempt(attempt(request_id=f"s{i}", cost_usd=0.25))
               for i in range(3)]
    writer = LedgerWriter(SqliteLedgerStore(":memory:"), spill_dir=tmp_path / "spill")
    writer._spill(spilled, OSError("disk full"))  # what a failing store leaves behind
    writer.close()
    (spill,) = (tmp_path / "spill").glob("aegis-ledger-spill-*.jsonl")
    out = aegis("spend", "import", str(spill), "-c", str(config))
    assert out.returncode == 0, out.stderr
    assert "imported 3 rows" in out.stderr
    other = tmp_path / "other"
    other.mkdir()
    exported = ledger_config(other, attempt(request_id="x1", cost_usd=1.0))
    assert aegis("spend", "export", "--format", "csv", "-o", str(other / "rows.csv"),
                 "-c", str(exported)).returncode == 0
    assert aegis("spend", "import", str(other / "rows.csv"), "-c", str(config)).returncode == 0
    store = SqliteLedgerStore(tmp_path / "aegis.db")
    rows = {r.request_id: r for r in store.recent(100)}
    store.close()
    assert set(rows) == {"kept", "s0", "s1", "s2", "x1"}
    assert rows["s0"] == spilled[0]
    total = json.loads(aegis("spend", "--by", "day", "--format", "json", "-c",
                             str(config)).stdout)
    assert [d["cost_usd"] for d in total] == [2.25]
    bad = aegis("spend", "import", str(config), "-c", str(config))  # YAML, not rows
    assert bad.returncode == 2 and "not a ledger file" in bad.stderr


def test_a_duplicate_key_name_names_the_key_it_clashes_with(tmp_path: Path):
    config = ledger_config(tmp_path)
    first = aegis("keys", "create", "--name", "alice", "-c", str(config))
    alice = json.loads(aegis("keys", "list", "--format", "json", "-c", str(config)).stdout)
    again = aegis("keys", "create", "--name", "alice", "-c", str(config))
    assert first.returncode == 0 and again.returncode == 2
    assert again.stderr.strip() == (
        f"aegis: a key named 'alice' already exists ({alice[0]['id']}); "
        "revoke it first or pick another name")


def test_keys_list_shows_allowed_models_as_people_write_them(tmp_path: Path):
    config = ledger_config(tmp_path)
    aegis("keys", "create", "--name", "alice", "--models", "gpt-4o-mini,qwen-plus",
          "-c", str(config))

    def listed(fmt: str) -> str:
        out = aegis("keys", "list", "--format", fmt, "-c", str(config))
        assert out.returncode == 0, out.stderr
        return out.stdout

    header, _, row = listed("table").strip().splitlines()
    assert row.split()[header.split().index("models")] == "gpt-4o-mini,qwen-plus"
    (record,) = csv.DictReader(io.StringIO(listed("csv")))
    assert record["models"] == "gpt-4o-mini,qwen-plus"
    assert json.loads(listed("json"))[0]["models"] == ["gpt-4o-mini", "qwen-plus"]


def test_a_reader_that_stops_early_ends_the_command_quietly(tmp_path: Path):
    """``aegis spend ... | head``: no BrokenPipeError traceback, SIGPIPE's status."""
    config = ledger_config(tmp_path, *(
        attempt(request_id=f"r{i}", key_id=f"key_{i:06d}", key_name=f"k{i}")
        for i in range(5000)))  # ~1 MB of JSON: far more than a pipe holds
    env = child_env({k: v for k, v in os.environ.items() if not k.endswith("_API_KEY")})
    proc = subprocess.Popen(
        [sys.executable, "-m", "aegis.cli", "spend", "--by", "key", "--format", "json",
         "-c", str(config)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    assert proc.stdout.read(100).startswith(b"[")
    proc.stdout.close()  # as `head` does once it has its lines
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) in (0, 141)
    assert stderr == ""
