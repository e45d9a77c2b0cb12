"""The in-process API (``Aegis``, ``SyncAegis``) against a fake upstream on loopback."""

from __future__ import annotations

import pytest

from aegis import Aegis, SyncAegis
from aegis.config import from_dict
from aegis.errors import InvalidRequest, ModelNotFound, PolicyRefusal
from tests.conftest import openai_config
from tests.fakes.openai import FakeOpenAI


@pytest.fixture
def settings(fake_openai: FakeOpenAI):
    return from_dict(openai_config(fake_openai), env={})


async def test_chat_returns_content_and_who_served_it(settings, fake_openai):
    async with Aegis(settings) as gw:
        result = await gw.chat("hello in-process", model="qwen-plus", max_tokens=50)
    assert result.content == "echo: hello in-process"
    assert (result.provider, result.model) == ("dashscope", "qwen-plus")
    assert result.usage.prompt_tokens > 0 and result.cost_usd > 0
    assert result.latency_ms > 0 and result.request_id.startswith("req_")
    assert fake_openai.bodies()[-1]["max_tokens"] == 50


async def test_streaming_yields_text_then_result(settings):
    async with Aegis(settings) as gw:
        async with await gw.chat_stream("one two three", model="gpt-4o-mini") as stream:
            assert stream.provider == "openai"
            pieces = [text async for text in stream.text()]
        assert "".join(pieces) == "echo: one two three"
        assert stream.result.usage.completion_tokens > 0
        assert stream.result.content == "echo: one two three"


async def test_tools_and_task_metadata(settings, fake_openai):
    tool = {"type": "function", "function": {"name": "lookup", "parameters": {}}}
    async with Aegis(settings) as gw:
        result = await gw.chat("find it", model="gpt-4o-mini", tools=[tool], quality="high")
    assert result.finish_reason == "tool_calls"
    assert result.tool_calls[0]["function"]["name"] == "lookup"


async def test_declared_pii_refuses_a_cloud_model(settings, fake_openai):
    async with Aegis(settings) as gw:
        with pytest.raises(PolicyRefusal) as info:
            await gw.chat("nothing to see", model="gpt-4o-mini", data_class="pii")
    assert info.value.rule == "privacy"
    assert fake_openai.requests == []


async def test_bad_input_raises_typed_errors(settings):
    async with Aegis(settings) as gw:
        with pytest.raises(InvalidRequest) as info:
            await gw.chat([{"role": "robot", "content": "x"}], model="gpt-4o-mini")
        assert info.value.param == "messages[0].role"
        with pytest.raises(InvalidRequest):
            await gw.chat("x", model="gpt-4o-mini", quality="ultra")
        with pytest.raises(ModelNotFound):
            await gw.chat("x", model="nope")


async def test_embeddings(settings):
    async with Aegis(settings) as gw:
        result = await gw.embed(["a", "b"], model="text-embedding-3-small")
    assert len(result.vectors) == 2 and result.provider == "openai"


async def test_embedding_inputs_with_health_data_stay_off_the_cloud(settings, fake_openai):
    async with Aegis(settings) as gw:
        with pytest.raises(PolicyRefusal) as info:
            await gw.embed(["meeting notes", "patient was diagnosed with diabetes"],
                           model="text-embedding-3-small")
    assert info.value.rule == "privacy" and "data_class=phi" in info.value.message
    assert fake_openai.requests == []


def test_sync_wrapper(settings):
    with SyncAegis(settings) as gw:
        assert gw.chat("sync hello", model="gpt-4o-mini").content == "echo: sync hello"
        assert "".join(gw.chat_stream("a b", model="gpt-4o-mini")) == "echo: a b"
        assert "qwen-plus" in gw.models()


def test_both_clients_take_a_config_file_path(fake_openai, tmp_path):
    import yaml

    path = tmp_path / "aegis.yaml"
    path.write_text(yaml.safe_dump(openai_config(fake_openai)))
    with SyncAegis(str(path)) as gw:
        assert gw.chat("from a path", model="gpt-4o-mini").content == "echo: from a path"
    with SyncAegis.from_config(path) as gw:
        assert "qwen-plus" in gw.models()
    assert "qwen-plus" in Aegis(path).models()
    with pytest.raises(TypeError, match="expected Settings or a config file path, not dict"):
        Aegis(openai_config(fake_openai))  # type: ignore[arg-type]


async def test_chat_without_a_model_uses_defaults_model(fake_openai):
    settings = from_dict(openai_config(fake_openai, defaults={"model": "qwen-plus"}), env={})
    async with Aegis(settings) as gw:
        result = await gw.chat("which model?")
        assert (result.provider, result.model) == ("dashscope", "qwen-plus")
        async with await gw.chat_stream("and streamed?") as stream:
            assert stream.provider == "dashscope"
