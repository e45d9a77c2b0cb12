"""SSE and NDJSON framing: the same events however the bytes are split into reads."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import AsyncIterator, Iterable

import orjson
import pytest

from aegis.http import iter_lines, iter_ndjson, iter_sse

# Multi-line data, comments, named events, and every line terminator the spec allows.
SSE = (b": keep-alive\r\n"
       b"data: {\"a\": 1}\r\n\r\n"
       b"event: ping\rdata: first\rdata: second\r\r"
       b"data:no-space\n\n"
       b"id: 7\r\ndata: x\r\ndata: y\r\n\r\n"
       b"data: [DONE]\n\n")
EXPECTED = [("message", b'{"a": 1}'), ("ping", b"first\nsecond"), ("message", b"no-space"),
            ("message", b"x\ny"), ("message", b"[DONE]")]


async def _reads(parts: Iterable[bytes]) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def _events(parts: Iterable[bytes]) -> list[tuple[str, bytes]]:
    return [(e.event, e.data) async for e in iter_sse(_reads(parts))]


def _splits(body: bytes, cuts: Iterable[int]) -> list[bytes]:
    bounds = [0, *sorted(set(cuts)), len(body)]
    return [body[a:b] for a, b in itertools.pairwise(bounds)]


def test_every_single_split_gives_the_same_events() -> None:
    """Including a ``\\r\\n`` split between its two bytes: one line end, not two (two
    would end the event early: ``x`` and ``y`` would arrive as separate events)."""
    for cut in range(len(SSE) + 1):
        assert asyncio.run(_events(_splits(SSE, [cut]))) == EXPECTED, cut


@pytest.mark.parametrize("seed", range(20))
def test_random_splits_and_byte_by_byte_give_the_same_events(seed: int) -> None:
    rng = random.Random(seed)
    cuts = rng.sample(range(1, len(SSE)), rng.randint(1, 30))
    assert asyncio.run(_events(_splits(SSE, cuts))) == EXPECTED
    assert asyncio.run(_events([SSE[i:i + 1] for i in range(len(SSE))])) == EXPECTED


def test_a_stream_ending_without_its_blank_line_still_dispatches() -> None:
    assert asyncio.run(_events([b"data: last"])) == [("message", b"last")]
    assert asyncio.run(_events([b"data: last\r"])) == [("message", b"last")]
    assert asyncio.run(_events([b"data: a\r\ndata: b\r"])) == [("message", b"a\nb")]


def test_lines_keep_a_trailing_unterminated_line_and_drop_terminators() -> None:
    async def lines(parts: list[bytes]) -> list[bytes]:
        return [line async for line in iter_lines(_reads(parts))]

    assert asyncio.run(lines([b"a\r", b"\nb\rc\n", b"d"])) == [b"a", b"b", b"c", b"d"]
    assert asyncio.run(lines([b"a\r", b"\r", b"\n"])) == [b"a", b""]
    assert asyncio.run(lines([b"", b"x"])) == [b"x"]


def test_ndjson_objects_survive_any_split() -> None:
    body = b'{"a": 1}\r\n\r\n{"b": [2, 3]}\n{"c": "\\r"}\r'
    want = [{"a": 1}, {"b": [2, 3]}, {"c": "\r"}]

    async def objs(parts: list[bytes]) -> list[object]:
        return [o async for o in iter_ndjson(_reads(parts))]

    for cut in range(len(body) + 1):
        assert asyncio.run(objs(_splits(body, [cut]))) == want, cut
    with pytest.raises(orjson.JSONDecodeError):
        asyncio.run(objs([b"{not json}\n"]))
