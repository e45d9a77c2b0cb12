"""``Usage.from_openai``'s shortcut (no cache counts: two look-ups fewer), pinned to the
general reading over many usage objects OpenAI-compatible servers send."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from aegis.types import Usage


def reference(usage: Mapping[str, Any] | None) -> Usage | None:
    if not usage:
        return None
    details = usage.get("prompt_tokens_details") or {}
    return Usage(
        prompt_tokens=int(usage.get("prompt_tokens") or 0),
        completion_tokens=int(usage.get("completion_tokens") or 0),
        cached_tokens=int(details.get("cached_tokens") or 0),
        cache_write_tokens=int(details.get("cache_write_tokens") or 0),
    )


def test_usage_from_openai_reads_what_the_general_reading_does() -> None:
    counts: list[Any] = [None, 0, 9, "12", 3.0, True]
    details: list[Any] = [None, {}, {"cached_tokens": 4}, {"cache_write_tokens": 2},
                          {"cached_tokens": None, "cache_write_tokens": "5"}, {"other": 1}]
    seen = 0
    for prompt, completion, detail in itertools.product(counts, counts, details):
        usage: dict[str, Any] = {"total_tokens": 99}
        if prompt is not None:
            usage["prompt_tokens"] = prompt
        if completion is not None:
            usage["completion_tokens"] = completion
        if detail is not None:
            usage["prompt_tokens_details"] = detail
        got = Usage.from_openai(usage)
        assert got == reference(usage), usage
        assert got is not None and all(type(getattr(got, f)) is int for f in got.__slots__)
        seen += 1
    assert seen == len(counts) ** 2 * len(details)
    assert Usage.from_openai(None) is None and Usage.from_openai({}) is None
