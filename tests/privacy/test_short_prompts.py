"""The short-prompt shortcuts find exactly what the general path finds.

A scan of a short prompt that finds nothing returns early (before any
finding machinery is built), the lexicon's trie is walked with ``search``
rather than ``finditer``, a scan with no finding returns a shared empty
``Scan``, and ``scan_request`` skips the extras when there are none. Each is
pinned here to its general definition on varied short inputs: empty,
whitespace, non-ASCII, digits, ``@``, JSON-looking text and key words.
"""

from __future__ import annotations

import pytest

from aegis.privacy import (
    DataClass,
    RegexDetector,
    Scan,
    combine_findings,
    iter_message_texts,
    scan_request,
    scan_result,
)
from aegis.privacy import messages as messages_module
from aegis.privacy import patterns as p
from aegis.privacy.lexicon import LEXICON, lowercase
from aegis.privacy.prefilter import text_views
from aegis.types import ChatRequest

SHORT = [
    "",
    " ",
    "\n\t",
    "x",
    "0",
    "@",
    "Say hello.",
    "Hi!",
    "What is the capital of France?",
    "Explain recursion in 3 sentences.",
    "Version 1.2.3.4 is out",
    "Mail me at bob@mailbox.org",
    "user@example.com",
    "a@b",
    "Call +44 20 7946 0958 please",
    "My SSN is 123-45-6789",
    "I was diagnosed with asthma.",
    "be patient with the health check",
    "Dear Mr Smith, thanks",
    "CONFIDENTIAL: internal only",
    "NDA: draft",
    "[NDA] notes",
    "SS# 123456789",
    "geb. 01.02.1990",
    '{"phone": "4155550132"}',
    '[{"ssn": "123-45-6789"}]',
    "{not json",
    "[1, 2, 3]",
    "Caf\u00e9 cr\u00e8me, s'il vous pla\u00eet",
    "\u00c9t\u00e9 \u00e0 l'h\u00f4pital",
    "\u0130stanbul",
    "\u212aelvin",
    "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!",
    "\u4f60\u597d\uff0c\u4e16\u754c",
    "\u0906\u0927\u093e\u0930 \u0967\u0968\u0969\u096a",
    "\uff11\uff19\uff12.168.1.20",
    "\U0001f600\U0001f600",
    "\u00b2\u00b3\u00b9 superscripts are not digits",
    "5\u2009mg twice a day",
    "it\u2019s \u201cquoted\u201d \u2014 and \u20ac5",
    "A1 B2 C3",
    "\x00\x7f\x1f",
]


@pytest.mark.parametrize("text", SHORT)
def test_short_texts_scan_like_the_reference(text: str) -> None:
    for detector in (RegexDetector(), RegexDetector(health_class=DataClass.PUBLIC)):
        for stop_at_phi in (False, True):
            fast = detector._scan(text, stop_at_phi=stop_at_phi)
            full = detector._scan(text, stop_at_phi=stop_at_phi, prefilter=False)
            assert fast == full


@pytest.mark.parametrize("text", SHORT)
def test_views_and_lexicon_agree_with_their_definitions(text: str) -> None:
    views = text_views(text, lowercase)
    assert views.has_digit is (p.DIGIT.search(text) is not None)
    lowered = lowercase(text)
    # the same hits; their order differs (consumers sort them)
    found = LEXICON.find(text, lowered, views.words)
    assert sorted(found) == sorted(LEXICON.find_words(text, lowered))


def test_empty_scan_result_is_the_general_one() -> None:
    for declared in DataClass:
        for findings in ([], ()):
            result = scan_result(findings, declared)
            assert result == Scan(max(declared, combine_findings(()), declared), (), declared)
            assert result.data_class is declared and result.findings == ()


@pytest.mark.parametrize("text", SHORT)
def test_scan_request_equals_the_walk_of_every_segment(text: str) -> None:
    """``scan_request`` (with and without extras) against the plain assembly."""
    detector = RegexDetector()
    messages = [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": text},
    ]
    for extra, stop in (({}, None), ({"user": text}, (text,))):
        request = ChatRequest(model="m", messages=messages, extra=extra, stop=stop)
        segments = [(i, seg) for i, m in enumerate(messages) for seg in iter_message_texts(m)]
        segments += [(-1, seg) for seg in messages_module._request_extras(request)]
        expected = [
            f
            for i, (loc, t, exact) in segments
            for f in messages_module._located(detector, t, i, loc, exact)
        ]
        for declared in (DataClass.PUBLIC, DataClass.PII):
            result = scan_request(request, declared=declared)
            assert result.findings == tuple(expected)
            assert result.data_class is max(declared, combine_findings(expected))
