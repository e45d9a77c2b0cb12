"""Scan every piece of text a request would send upstream.

Not just the last user turn: system and developer prompts, assistant history,
assistant ``tool_calls[].function.arguments`` (a JSON string), ``role: tool``
results, every text part of a multi-part ``content``, ``name`` fields, tool
definitions, and -- via ``scan_request`` -- ``response_format`` and the
passthrough parameters. Binary payloads (base64 ``data:`` URLs, audio, file
data) cannot be read by a text detector and are skipped; remote image URLs are
scanned as text (they can carry identifiers in the path or query).

Strings that parse as JSON objects/arrays are scanned in a normalised form:
one ``key: value`` line per leaf, keys humanised (``date_of_birth`` ->
``date of birth``), unicode escapes decoded. That gives values the context of
their key (``"phone": "0961073668"``) and sees through ``\\u00e9`` escapes;
such findings carry no character span (it would not index the original).

Routing only needs the class: with ``exhaustive=False`` scanning stops once
the findings make the request PHI, the highest class (the rest of the
request cannot change it). The class is the same as a full scan's; the
findings -- and so the kinds an explanation lists -- are then only those
found up to that point.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from itertools import chain
from typing import TYPE_CHECKING, Any

from aegis.privacy.classes import HEALTH_KINDS, DataClass, Finding, Scan, scan_result
from aegis.privacy.detectors import Detector, RegexDetector

if TYPE_CHECKING:
    from aegis.types import ChatRequest

__all__ = ["DEFAULT_DETECTOR", "iter_message_texts", "scan_messages", "scan_request"]

DEFAULT_DETECTOR: Detector = RegexDetector()

# Keys whose values are opaque ids or enums, never user data.
_OPAQUE_KEYS = frozenset({"role", "type", "id", "tool_call_id", "index"})
# Keys whose values are binary payloads a text detector cannot read.
_BINARY_KEYS = frozenset({"data", "file_data", "b64_json", "input_audio"})

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SEPARATORS = re.compile(r"[_\-.]+")

# (location, text, exact): exact=False when ``text`` is a normalised JSON form.
Segment = tuple[str, str, bool]


def scan_messages(
    messages: Sequence[Mapping[str, Any]],
    tools: Sequence[Mapping[str, Any]] | None = None,
    *,
    detector: Detector | None = None,
    declared: DataClass = DataClass.PUBLIC,
    exhaustive: bool = True,
) -> Scan:
    """Scan a chat request's messages (and tool definitions).

    The result's class is ``max(declared, detected)``: a declaration can raise
    the class, a detector can raise it further, nothing lowers it.
    ``exhaustive=False``: stop at PHI (see the module docstring).
    """
    detector = detector or DEFAULT_DETECTOR
    findings: list[Finding] = []
    if not exhaustive and declared is DataClass.PHI:
        return scan_result(findings, declared)
    tracker = None if exhaustive else _PhiTracker()
    segments: Iterable[tuple[int, Segment]] = _message_segments(messages)
    if tools:  # walked lazily: scanning may stop at PHI before the tools
        segments = chain(
            segments,
            (
                (-1, segment)
                for index, tool in enumerate(tools)
                for segment in _walk(tool, f"tools[{index}]")
            ),
        )
    for index, (location, text, exact) in segments:
        found = _located(detector, text, index, location, exact, exhaustive)
        if found:
            findings += found
            if tracker is not None and tracker.reached(found):
                break
    return scan_result(findings, declared)


def _message_segments(messages: Sequence[Mapping[str, Any]]) -> list[tuple[int, Segment]]:
    """``iter_message_texts`` of every message, with its index.

    Most messages are ``{"role", "content": "<text>"}``; those take a direct path
    (the generator chain cost more than scanning a short prompt). Text that may
    be JSON goes the general way, which normalises it.
    """
    out: list[tuple[int, Segment]] = []
    for index, message in enumerate(messages):
        if type(message) is dict and len(message) == 2 and "role" in message:
            text = message.get("content")
            if type(text) is str:
                if not text:
                    continue
                head = text[0]  # ``_text`` parses what starts, after blanks, with { or [
                if head != "{" and head != "[" and not head.isspace():
                    out.append((index, ("content", text, True)))
                    continue
        out += [(index, segment) for segment in iter_message_texts(message)]
    return out


def scan_request(
    request: ChatRequest,
    *,
    detector: Detector | None = None,
    declared: DataClass = DataClass.PUBLIC,
    exhaustive: bool = True,
) -> Scan:
    """Scan a ``ChatRequest``: messages, tools, response_format and passthrough params.

    ``exhaustive=False``: stop at PHI (see the module docstring).
    """
    detector = detector or DEFAULT_DETECTOR
    base = scan_messages(
        request.messages, request.tools, detector=detector, declared=declared, exhaustive=exhaustive
    )
    if not exhaustive and base.data_class is DataClass.PHI:
        return base
    if not (request.response_format or request.extra or request.stop):
        return base  # nothing else to scan (skips building the generator below)
    tracker = None if exhaustive else _PhiTracker(base.findings)
    extra: list[Finding] = []
    for location, text, exact in _request_extras(request):
        found = _located(detector, text, -1, location, exact, exhaustive)
        extra.extend(found)
        if tracker is not None and tracker.reached(found):
            break
    if not extra:
        return base
    return scan_result(base.findings + tuple(extra), declared)


def _request_extras(request: ChatRequest) -> Iterator[Segment]:
    if request.response_format:
        yield from _walk(request.response_format, "response_format")
    for key, value in request.extra.items():
        yield from _walk(value, key)
    for i, stop in enumerate(request.stop or ()):
        yield (f"stop[{i}]", stop, True)  # as they are, never parsed as JSON


class _PhiTracker:
    """Whether findings seen so far make a request PHI (``classes.combine_findings``)."""

    __slots__ = ("health", "personal")

    def __init__(self, findings: Sequence[Finding] = ()) -> None:
        self.health = self.personal = False
        self.reached(findings)

    def reached(self, findings: Sequence[Finding]) -> bool:
        for f in findings:
            if f.data_class is DataClass.PHI:
                return True
            if f.kind in HEALTH_KINDS:
                self.health = True
            elif f.data_class is DataClass.PII:
                self.personal = True
        return self.health and self.personal


def iter_message_texts(message: Any) -> Iterator[Segment]:
    """Every scannable string in one message, with its location inside the message."""
    if isinstance(message, str):
        yield from _text("content", message)
        return
    if not isinstance(message, Mapping):
        return
    for key, value in message.items():
        if key in _OPAQUE_KEYS or value is None:
            continue
        if key == "content":
            yield from _content(value)
        elif key == "tool_calls" and isinstance(value, list):
            for i, call in enumerate(value):
                yield from _walk(call, f"tool_calls[{i}]")
        else:
            yield from _walk(value, str(key))


def _located(
    detector: Detector, text: str, index: int, location: str, exact: bool, exhaustive: bool = True
) -> list[Finding]:
    if type(detector) is RegexDetector:  # the findings made in place
        return detector._scan(
            text,
            stop_at_phi=not exhaustive,
            message_index=index,
            location=location,
            spans=exact,
        )
    if exact:
        return [
            replace(f, message_index=index, location=location) for f in detector.scan_text(text)
        ]
    return [
        replace(f, message_index=index, location=location, start=-1, end=-1)
        for f in detector.scan_text(text)
    ]


def _content(content: Any) -> Iterator[Segment]:
    if isinstance(content, str):
        yield from _text("content", content)
        return
    if not isinstance(content, list):
        yield from _walk(content, "content")
        return
    for i, part in enumerate(content):
        location = f"content[{i}]"
        if isinstance(part, str):
            yield from _text(location, part)
        elif isinstance(part, Mapping):
            for key, value in part.items():
                if key in _OPAQUE_KEYS or key in _BINARY_KEYS or value is None:
                    continue
                if key == "image_url":
                    url = value.get("url") if isinstance(value, Mapping) else value
                    if isinstance(url, str) and not url.startswith("data:"):
                        yield (f"{location}.image_url", url, True)
                elif key == "text" and isinstance(value, str):
                    yield from _text(location, value)
                else:
                    yield from _walk(value, f"{location}.{key}")


def _text(location: str, text: str) -> Iterator[Segment]:
    """A string, or its normalised form when it is a JSON object/array."""
    if not text:
        return
    head = text.lstrip()[:1]
    if head in ("{", "["):
        try:
            parsed = json.loads(text)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, (dict, list)):
            yield (location, flatten_json(parsed), False)
            return
    yield (location, text, True)


def _walk(value: Any, location: str) -> Iterator[Segment]:
    """Strings anywhere in a nested value (tool calls, tool definitions, extras)."""
    if isinstance(value, str):
        yield from _text(location, value)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if key in _OPAQUE_KEYS or key in _BINARY_KEYS or item is None:
                continue
            if isinstance(item, str) and item.startswith("data:") and ";base64," in item[:100]:
                continue
            yield from _walk(item, f"{location}.{key}")
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from _walk(item, f"{location}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield (location, str(value), True)


def humanise_key(key: str) -> str:
    """``date_of_birth`` / ``dateOfBirth`` -> ``date of birth`` / ``date Of Birth``."""
    return _SEPARATORS.sub(" ", _CAMEL.sub(" ", key)).strip()


def flatten_json(value: Any) -> str:
    """One ``key: value`` line per leaf; iterative, so deep nesting cannot recurse."""
    lines: list[str] = []
    stack: list[tuple[str, Any]] = [("", value)]
    humanised: dict[str, str] = {}  # keys repeat (arrays of records)
    while stack:
        key, item = stack.pop()
        kind = type(item)  # json.loads makes exact types: test those first
        if kind is str:
            lines.append(f"{key}: {item}" if key else item)
        elif kind is dict or (kind is not list and isinstance(item, dict)):
            for k, v in reversed(list(item.items())):
                k = str(k)
                h = humanised.get(k)
                if h is None:
                    h = humanised[k] = humanise_key(k)
                stack.append((h, v))
        elif kind is list or isinstance(item, list):
            stack.extend([(key, v) for v in reversed(item)])
        elif isinstance(item, str):
            lines.append(f"{key}: {item}" if key else item)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, (int, float)):
            lines.append(f"{key}: {item}" if key else str(item))
    return "\n".join(lines)
