"""The fast paths detect exactly what a full scan detects.

* the prefiltered scan (byte views, candidate positions, trie lexicon) equals
  the reference scan (``RegexDetector._scan(prefilter=False)``: every
  full-text pattern over the whole text, the lexicon word by word) finding for
  finding -- on the whole corpus, on mutated corpus texts and on long ones;
* ``scan_messages(exhaustive=False)`` (stop at PHI) gives the same
  ``data_class`` as a full scan on every corpus sample;
* the exact rewrites the fast path relies on agree with their plain
  definitions (Luhn, issuer ranges, anchor proximity, phone trimming, ...).

No timing here: bench/privacy_eval.py measures speed.
"""

from __future__ import annotations

import json
import random
import re
from bisect import bisect_right

import pytest

from aegis.privacy import (
    DataClass,
    Finding,
    RegexDetector,
    iter_message_texts,
    scan_messages,
    scan_request,
)
from aegis.privacy import finders as d
from aegis.privacy import patterns as p
from aegis.privacy.checksums import _CARD_RANGES, card_number_valid, luhn_valid
from aegis.privacy.classes import make_finding
from aegis.privacy.lexicon import _FAMILIES, LEXICON, lowercase
from aegis.privacy.prefilter import text_views, word_view
from aegis.types import ChatRequest
from tests.privacy.corpus import Corpus, Sample, build_corpus, holdout

STRICT = RegexDetector()
LENIENT = RegexDetector(health_class=DataClass.PUBLIC)


@pytest.fixture(scope="module")
def corpus() -> Corpus:
    return build_corpus()


def _samples(corpus: Corpus) -> list[Sample]:
    return [*corpus.samples, *corpus.free_text_names, *holdout()]


def _texts(corpus: Corpus) -> list[str]:
    texts = []
    for sample in _samples(corpus):
        for message in sample.messages:
            texts.extend(text for _, text, _ in iter_message_texts(message))
        texts.extend(json.dumps(tool) for tool in sample.tools or ())
    return texts


def _assert_same(texts: list[str]) -> None:
    for text in texts:
        for detector in (STRICT, LENIENT):
            fast = detector._scan(text)
            full = detector._scan(text, prefilter=False)
            assert fast == full, text


def test_prefiltered_scan_equals_full_scan_on_the_corpus(corpus: Corpus) -> None:
    texts = _texts(corpus)
    assert len(texts) > 5_000
    _assert_same(texts)


# Characters the views treat specially: outside Latin-1 (stand-ins), other
# scripts' digits, case mappings that change length, separators and units.
_INSERTS = [
    *"0123456789 .-/()+:,@_#\n\t\u00a0AaIiMmXxZz",
    "\u2019", "\u2009", "\u212a", "\u0130", "\u03a3", "\u096b", "\uff13", "\u0663",
    "\u0906\u0927\u093e\u0930", "\U0001f600", "\u00e9", "\u00b5", "\u00df", "\u00aa",
    "\u00b2", "\x7f", "\x1f", "\u20ac", "mg", " mg", "IU", "5 mcg", "::", "1.2.3.4",
]  # fmt: skip


def _mutate(rng: random.Random, text: str) -> str:
    chars = list(text)
    for _ in range(rng.randint(1, 6)):
        i = rng.randrange(len(chars) + 1)
        op = rng.random()
        if op < 0.4 or not chars:
            chars[i:i] = list(rng.choice(_INSERTS))
            continue
        j = min(i, len(chars) - 1)
        if op < 0.6:
            del chars[j]
        elif op < 0.8:
            c = chars[j]
            chars[j] = c.swapcase() if c.isalpha() else str(rng.randrange(10)) if c.isdigit() else c
        else:
            chars[j] = rng.choice(_INSERTS)
    return "".join(chars)


def test_prefiltered_scan_equals_full_scan_on_mutated_and_long_texts(corpus: Corpus) -> None:
    rng = random.Random(20_250_101)
    texts = _texts(corpus)
    mutated = [_mutate(rng, rng.choice(texts)) for _ in range(3_000)]
    long = ["\n".join(rng.sample(texts, 150)) for _ in range(6)]  # the 8 KB+ paths
    phrases = [ph.lstrip("=").rstrip("*") for family in _FAMILIES.values() for ph in family]
    # phrase words joined by 1-4 separator characters (phrases allow 1-3), or by others
    seps = [*" -_.'/\n\u2019\u2009", ",", ":", "#", "\u3000"]

    def phrase() -> str:
        words = rng.choice(phrases).split()
        case = rng.choice([str.upper, str.title, str.lower])
        return "".join(
            case(w) + "".join(rng.choice(seps) for _ in range(rng.choice([1, 1, 2, 3, 4])))
            for w in words
        )

    soups = ["".join(phrase() for _ in range(60)) for _ in range(300)]
    _assert_same(mutated + long + soups)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "x",
        "\u212aelvin SSN 123-45-6789",  # Kelvin sign lower-cases to ASCII "k"
        "\u0130stanbul: call +90 212 555 0101",  # lower-casing changes the length
        "\u0906\u0927\u093e\u0930 1234 5678 9012",  # a key word outside Latin-1
        "IP \uff11\uff19\uff12.168.1.20 and 192.168.\u0663.20",  # other scripts' digits
        "dose: 5\u2009mg of it, 20 mg later",  # non-Latin-1 whitespace before a unit
        "\U0001f600 mail bob@mailbox.org \U0001f600",
        "DE89 3704 0044 0532 0130 00 and AB 12 34 56 C and X-1234567-L",
        "1" * 5_000 + " mg",
        "1," * 1_000 + "1mgx",  # a dose pattern that fails late, from every start
        "a1," + "1," * 500 + "1 mg",
        "A1" * 3_000,  # candidates everywhere: the patterns scan the whole text
        "DE89 " * 1_000,
        ("x" * 63 + "@") * 200,
    ],
)
def test_prefiltered_scan_equals_full_scan_on_edge_cases(text: str) -> None:
    _assert_same([text])


# --- the routing fast path -------------------------------------------------------


def test_fast_path_and_full_scan_agree_on_data_class(corpus: Corpus) -> None:
    for sample in _samples(corpus):
        for detector in (STRICT, LENIENT):
            full = scan_messages(sample.messages, sample.tools, detector=detector)
            fast = scan_messages(sample.messages, sample.tools, detector=detector, exhaustive=False)
            assert fast.data_class is full.data_class, sample.text
            # what the fast path reports is in the full scan (a health span may
            # start elsewhere: a dose that comes first is not looked for)
            where = {(f.kind, f.message_index, f.location) for f in full.findings}
            assert {(f.kind, f.message_index, f.location) for f in fast.findings} <= where
            assert {f for f in fast.findings if f.kind != "health"} <= set(full.findings)
            if fast.data_class is not DataClass.PHI:
                assert fast.findings == full.findings  # stopping only happens at PHI


def test_fast_path_stops_at_phi() -> None:
    messages = [
        {"role": "user", "content": "MRN: 00123456"},
        {"role": "user", "content": "mail bob@mailbox.org"},
    ]
    full = scan_messages(messages)
    fast = scan_messages(messages, exhaustive=False)
    assert full.data_class is fast.data_class is DataClass.PHI
    assert full.kinds == {"medical_record", "email"}
    assert fast.kinds == {"medical_record"}
    declared = scan_messages(messages, declared=DataClass.PHI, exhaustive=False)
    assert declared.data_class is DataClass.PHI and declared.findings == ()
    # health context plus an identifier in different messages is PHI too
    lenient = [
        {"role": "system", "content": "Customer: bob@mailbox.org"},
        {"role": "user", "content": "He asks about his diabetes medication."},
        {"role": "user", "content": "Call +44 20 7946 0958."},
    ]
    fast = scan_messages(lenient, detector=LENIENT, exhaustive=False)
    assert fast.data_class is DataClass.PHI and "phone" not in fast.kinds


def test_scan_request_fast_path() -> None:
    request = ChatRequest(
        model="m",
        messages=[{"role": "user", "content": "I was diagnosed with asthma."}],
        extra={"user": "bob@mailbox.org"},
        stop=("STOP",),
    )
    full = scan_request(request)
    fast = scan_request(request, exhaustive=False)
    assert full.data_class is fast.data_class is DataClass.PHI
    assert "email" in full.kinds and "email" not in fast.kinds
    clean = ChatRequest(model="m", messages=[{"role": "user", "content": "hi"}], stop=("x",))
    assert scan_request(clean, exhaustive=False) == scan_request(clean)


# --- views and exact rewrites ---------------------------------------------------


def test_views_keep_one_byte_per_character() -> None:
    rng = random.Random(3)
    pool = (
        "aZ9 _-.\u00e9\u00df\u00b5\u00aa\u00b2\u2019\u2009\u212a\u0130\u03a3\u096b\uff13\U0001f600"
    )
    for _ in range(500):
        # up to 32 characters outside Latin-1 go through the codec error
        # handler, more through a translation table: both paths
        text = "".join(rng.choice(pool) for _ in range(rng.randint(1, 120)))
        views = text_views(text, lowercase)
        lowered = lowercase(text)
        assert views.lowered == lowered
        assert len(views.shape) == len(views.raw) == len(text)
        assert views.words == word_view(lowered)
        assert len(views.words) == len(text) + 2
        for i, ch in enumerate(text):
            assert (views.shape[i] == ord("0")) == ch.isdecimal()
            assert (views.words[i + 1] != ord(" ")) == lowered[i].isalnum()


def test_lexicon_trie_finds_what_the_word_walk_finds(corpus: Corpus) -> None:
    for text in _texts(corpus)[::7]:
        lowered = lowercase(text)
        assert sorted(LEXICON.find(text, lowered)) == sorted(LEXICON.find_words(text, lowered))


def test_make_finding_is_a_finding() -> None:
    made = make_finding("email", DataClass.PII, 2, "content", 3, 9, "regex")
    built = Finding("email", DataClass.PII, 2, "content", 3, 9, "regex")
    assert made == built and hash(made) == hash(built) and repr(made) == repr(built)
    assert type(made) is Finding
    with pytest.raises(AttributeError):
        made.kind = "phone"  # type: ignore[misc]


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        v = ord(ch) - 48
        if i & 1:
            v = v * 2 - 9 if v * 2 > 9 else v * 2
        total += v
    return total % 10 == 0


def _card(digits: str) -> bool:
    n = len(digits)
    if not 13 <= n <= 19 or not digits.isdigit():
        return False
    for low, high, lengths in _CARD_RANGES:
        if n in lengths and low <= digits[: len(low)] <= high:
            return _luhn(digits)
    return False


def test_card_checks_match_their_definition() -> None:
    rng = random.Random(4)
    prefixes = ["4", "51", "2221", "2720", "34", "37", "6011", "65", "35", "1800", "56", "69", "9"]
    for _ in range(20_000):
        digits = rng.choice(prefixes) + "".join(
            rng.choice("0123456789") for _ in range(rng.randint(0, 19))
        )
        if rng.random() < 0.05:
            digits += rng.choice(["\u0663", "\uff13", "\u00b2"])
        assert luhn_valid(digits) == (digits.isdigit() and _luhn(digits)), digits
        assert card_number_valid(digits) == _card(digits), digits


def test_anchor_lookups_match_their_definition() -> None:
    rng = random.Random(5)
    for _ in range(2_000):
        hits = []
        for _ in range(rng.randint(0, 12)):
            s = rng.randrange(200)
            hits.append((rng.choice(["ssn", "dob"]), s, s + rng.randint(1, 20)))
        grouped = d.group_anchors(hits)
        expected: dict[str, list[tuple[int, int]]] = {}
        for family, s, e in sorted(hits, key=lambda h: (h[0], h[1], -h[2])):
            spans = expected.setdefault(family, [])
            if not (spans and spans[-1][0] <= s and e <= spans[-1][1]):
                spans.append((s, e))
        assert grouped == expected
        start = rng.randrange(220)
        end = start + rng.randint(0, 15)
        near = any(
            (ke <= start and start - ke <= 40) or (ks >= end and ks - end <= 30)
            for ks, ke in grouped.get("ssn", ())
        )
        assert d._near(grouped, "ssn", start, end) == near
        if near:
            assert d._near_range(grouped, "ssn", start - rng.randint(0, 5), end + 3)


def test_phone_trimming_matches_last_group_pattern() -> None:
    rng = random.Random(6)
    for _ in range(5_000):
        candidate = "".join(rng.choice("0123 \u00a0-./x(") for _ in range(rng.randint(1, 20)))
        last = p.LAST_GROUP.search(candidate)
        cut = max(map(candidate.rfind, d._GROUP_SEPARATORS))
        assert cut == (last.start() if last is not None else -1), candidate


def test_context_labels_use_sorted_ends() -> None:
    # _Context and _near rely on _group's order: ends strictly increase per family
    rng = random.Random(7)
    for _ in range(500):
        hits = [("ctx_phone", s, s + rng.randint(1, 9)) for s in rng.sample(range(300), 20)]
        spans = d.group_anchors(hits)["ctx_phone"]
        ends = [e for _, e in spans]
        assert ends == sorted(set(ends))
        assert [s for s, _ in spans] == sorted(s for s, _ in spans)
        assert bisect_right(ends, 150) == sum(1 for e in ends if e <= 150)


def test_views_cover_every_dose_unit() -> None:
    units = re.search(r"\(\?:(mg\|[^)]*)\)", p.DOSE.pattern)
    assert units is not None and tuple(units.group(1).split("|")) == d._DOSE_UNITS
