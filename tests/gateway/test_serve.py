"""`aegis serve` as a user runs it: a real process, the event loop it is configured with."""

from __future__ import annotations

import signal
from pathlib import Path

import openai
import pytest
import yaml

from tests.fakes.openai import FakeOpenAI
from tests.servers import aegis_serve


@pytest.mark.parametrize("loop", [None, "asyncio", "uvloop"])
def test_serves_on_the_configured_event_loop(tmp_path: Path, loop: str | None) -> None:
    fake = FakeOpenAI().start()
    server = {"loop": loop} if loop else {}
    config = tmp_path / "aegis.yaml"
    config.write_text(yaml.safe_dump({
        "server": server,
        "storage": {"url": f"sqlite:///{tmp_path / 'aegis.db'}"},
        "providers": {"cloud": {"kind": "openai", "base_url": fake.base_url,
                                "api_key": "sk-test-openai"}},
        "models": [{"name": "cloud-chat", "provider": "cloud", "model": "gpt-4o-mini",
                    "input_per_mtok": 0.15, "output_per_mtok": 0.6,
                    "context_window": 128000, "max_output": 4096}],
    }))
    url, proc = aegis_serve(config)
    try:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0)
        reply = client.chat.completions.with_raw_response.create(
            model="cloud-chat", messages=[{"role": "user", "content": "hello"}])
        assert reply.headers["x-aegis-provider"] == "cloud"
        assert reply.headers["content-length"] == str(len(reply.content))
        assert "server" not in reply.headers  # the server software is not advertised
        assert reply.parse().choices[0].message.content
        chunks = list(client.chat.completions.create(
            model="cloud-chat", messages=[{"role": "user", "content": "hello"}], stream=True))
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finally:
        proc.send_signal(signal.SIGTERM)
        out = proc.communicate(timeout=30)[0].decode()
        fake.stop()
    assert proc.returncode in (0, -signal.SIGTERM)  # uvicorn re-raises the signal it handled
    assert f"({loop or 'uvloop'} event loop)" in out  # auto: uvloop, installed here


def test_an_unknown_event_loop_is_a_config_error(tmp_path: Path) -> None:
    from aegis.config import from_dict
    from aegis.errors import ConfigError

    with pytest.raises(ConfigError, match=r"server\.loop"):
        from_dict({"server": {"loop": "trio"}}, env={})
