"""``estimate_prompt_tokens`` with its ASCII-string case inlined estimates what it did."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

from aegis import tokens

TEXTS = ["", "Say hello.", "héllo wörld", "日本語のテキスト", "emoji 🎉🎉", "\ud800 lone", "x" * 3000,
         "mixed ascii then é"]


def _reference_estimate(messages: Sequence[Mapping[str, Any]]) -> int:
    """``estimate_prompt_tokens`` as it was: every value through ``_estimate_value``."""
    total = tokens.REPLY_PRIMING_TOKENS
    for message in messages:
        total += tokens.TOKENS_PER_MESSAGE
        for key, value in message.items():
            total += tokens._estimate_value(value)
            if key == "name":
                total += tokens.TOKENS_PER_NAME
    return total


def test_inlined_ascii_estimate_matches_estimate_value() -> None:
    rng = random.Random(22)
    values: list[Any] = [*TEXTS, None, 3, [{"type": "text", "text": "hi"}],
                         {"type": "image_url", "image_url": {"detail": "low"}}]
    for _ in range(3000):
        messages = [{k: rng.choice(values) for k in rng.sample(["role", "content", "name"], 2)}
                    for _ in range(rng.randint(0, 4))]
        assert tokens.estimate_prompt_tokens(messages) == _reference_estimate(messages), messages
