"""Carriers: where in a request a sample's text travels (see ``tests.privacy.corpus``)."""

from __future__ import annotations

import json
import random
from typing import Any

from tests.privacy.corpus.base import Sample, _Item
from tests.privacy.corpus.generators import _pick

# ---------------------------------------------------------------------------
# Carriers: where in a request the text travels

_FILLER_USER = (
    "Please help me with the following.",
    "Can you rewrite this more politely?",
    "Summarize this in two sentences.",
    "Translate this into English, keep the formatting.",
    "Fix the grammar in the text below.",
    "What do you make of this?",
)
_FILLER_SYSTEM = (
    "You are a helpful assistant. Answer concisely.",
    "You are a careful writing assistant.",
    "You are an assistant for a small company. Be brief.",
)
_FILLER_ASSISTANT = (
    "Sure, here is a draft.",
    "Understood. Here is what I have so far.",
    "Thanks, noted.",
)
_TINY_PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQ"
    "DwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _embed(item: _Item, rng: random.Random, idx: int) -> Sample:
    carriers = (
        "user",
        "system",
        "developer",
        "assistant",
        "parts",
        "tool_result",
        "tool_result_json",
        "tool_args",
    )
    carrier = carriers[idx % len(carriers)] if rng.random() < 0.7 else _pick(rng, carriers)
    user = _pick(rng, _FILLER_USER)
    system = _pick(rng, _FILLER_SYSTEM)
    text = item.text
    messages: list[dict[str, Any]]
    if carrier == "user":
        messages = [{"role": "system", "content": system}, {"role": "user", "content": text}]
    elif carrier == "system":
        messages = [
            {"role": "system", "content": f"{system}\n\n{text}"},
            {"role": "user", "content": user},
        ]
    elif carrier == "developer":
        messages = [{"role": "developer", "content": text}, {"role": "user", "content": user}]
    elif carrier == "assistant":
        messages = [
            {"role": "user", "content": user},
            {"role": "assistant", "content": f"{_pick(rng, _FILLER_ASSISTANT)}\n{text}"},
            {"role": "user", "content": "Thanks, make it shorter."},
        ]
    elif carrier == "parts":
        messages = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": user},
                    {"type": "image_url", "image_url": {"url": _TINY_PNG}},
                    {"type": "text", "text": text},
                ],
            }
        ]
    elif carrier in ("tool_result", "tool_result_json"):
        result = text if carrier == "tool_result" else json.dumps({"status": "ok", "result": text})
        messages = [
            {"role": "user", "content": user},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "fetch_document", "arguments": '{"doc": 7}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": result},
        ]
    else:  # tool_args
        if item.value is not None and rng.random() < 0.5:
            args = {item.field_name: item.value}
        else:
            args = {"recipient": "team", "message": text}
        messages = [
            {"role": "user", "content": user},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {
                            "name": "send_message",
                            "arguments": json.dumps(args, ensure_ascii=rng.random() < 0.5),
                        },
                    }
                ],
            },
        ]
    return Sample(
        category=item.category,
        kinds=item.kinds,
        data_class=item.data_class,
        messages=tuple(messages),
        optional=item.optional,
        carrier=carrier,
        text=text,
    )
