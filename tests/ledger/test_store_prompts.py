"""``storage.store_prompts``: off by default; on, the serving attempt's row keeps what was
sent and what came back (JSON, secrets masked), through the real gateway and exports."""

from __future__ import annotations

import io
import json
from typing import Any

from aegis.ledger.store import read_rows, write_rows
from tests.conftest import Gateway, openai_config
from tests.fakes.openai import FakeOpenAI

SECRET = "sk-live-0123456789abcdefghij"
ROUTE = {"routes": {"chat": {"models": ["gpt-4o-mini", "qwen-plus"], "strategy": "ordered"}}}


def _rows(gateway: Gateway) -> list[Any]:
    gateway.engine.ledger.flush()
    return sorted(gateway.engine.store.recent(100), key=lambda r: r.started_at)


def test_no_text_is_stored_by_default(gateway: Gateway) -> None:
    gateway.openai().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "private words"}])
    (row,) = _rows(gateway)
    assert row.prompt is None and row.completion is None
    assert "private words" not in json.dumps(row.to_dict())


def test_turned_on_the_serving_attempt_keeps_prompt_and_answer(
        fake_openai: FakeOpenAI, make_gateway: Any) -> None:
    gateway = make_gateway(openai_config(fake_openai, storage={
        "url": "sqlite:///:memory:", "store_prompts": True}, **ROUTE))
    client = gateway.openai()
    fake_openai.fail(status=503, times=3)  # gpt-4o-mini fails (with retries); qwen-plus serves
    client.chat.completions.create(model="chat", messages=[
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": f"my key is {SECRET}, summarise"}])
    chunks = list(client.chat.completions.create(
        model="gpt-4o-mini", stream=True, messages=[{"role": "user", "content": "one two"}]))
    assert chunks

    rows = _rows(gateway)
    failed = [r for r in rows if r.status == "error"]
    served = [r for r in rows if r.status == "ok"]
    assert len(failed) == 3 and all(r.prompt is None and r.completion is None for r in failed)
    plain, streamed = served
    assert (plain.provider, plain.model, plain.streamed) == ("dashscope", "qwen-plus", False)
    assert json.loads(plain.prompt) == {"messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "my key is sk-***, summarise"}]}
    completion = json.loads(plain.completion)
    assert completion["role"] == "assistant"
    assert completion["content"] == "echo: my key is sk-***, summarise"
    assert streamed.streamed
    assert json.loads(streamed.prompt) == {"messages": [{"role": "user", "content": "one two"}]}
    assert json.loads(streamed.completion) == {"role": "assistant", "content": "echo: one two"}

    # both export formats carry them, and read back to the same rows
    for fmt in ("json", "csv"):
        out = io.StringIO()
        write_rows(fmt, served, out)
        assert read_rows(fmt, io.StringIO(out.getvalue())) == served, fmt
