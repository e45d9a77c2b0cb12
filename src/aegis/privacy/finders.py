"""The per-kind finders the ``RegexDetector`` runs: emails, numbers with checksums,
network addresses, dates of birth, keyword-anchored identifiers, phones, names and
confidentiality markers, plus the claims/context bookkeeping they share.

Each finder reports through ``add`` and claims the span it used, so one stretch
of text is never counted as two kinds. The class rules live in
``aegis.privacy.detectors``; this module only finds.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable, Iterator, Mapping
from operator import itemgetter
from types import MappingProxyType

from aegis.privacy import patterns as p
from aegis.privacy.checksums import (
    IBAN_LENGTHS,
    bsn_valid,
    card_number_valid,
    codice_fiscale_valid,
    dni_valid,
    iban_valid,
    nino_valid,
    nir_valid,
    ssn_valid,
    steuer_id_valid,
    verhoeff_valid,
)
from aegis.privacy.classes import DataClass

PII, PHI, CONFIDENTIAL = DataClass.PII, DataClass.PHI, DataClass.CONFIDENTIAL

# The class each regex kind carries ("health" is configurable, see above).
KIND_CLASSES: Mapping[str, DataClass] = MappingProxyType(
    {
        "email": PII,
        "phone": PII,
        "ssn": PII,
        "credit_card": PII,
        "iban": PII,
        "national_id": PII,
        "ip_address": PII,
        "date_of_birth": PII,
        "passport": PII,
        "person_name": PII,
        "medical_record": PHI,
        "icd10": PHI,
        "health": PHI,
        "confidential": CONFIDENTIAL,
    }
)

Add = Callable[[str, DataClass, int, int], None]
Anchors = dict[str, list[tuple[int, int]]]  # lexicon family -> spans

# ---------------------------------------------------------------------------
# helpers

_CONTEXT_WINDOW = 40
# Upper-case words that can follow "Passport No.:" without being a number.
_PLACEHOLDERS = frozenset(
    ("UNKNOWN", "PENDING", "EXPIRED", "MISSING", "NONE", "NULL", "REDACTED", "REQUIRED", "INVALID")
)
# str.translate table deleting what clusters contain besides digits
_NON_DIGITS = str.maketrans("", "", " \u00a0().-/+xXext")


class Claims:
    """Character positions already explained by a more specific kind."""

    __slots__ = ("_mask",)

    def __init__(self, size: int) -> None:
        self._mask = bytearray(size)

    def taken(self, start: int, end: int) -> bool:
        return self._mask.find(1, start, end) >= 0

    def all_taken(self, start: int, end: int) -> bool:
        return self._mask.find(0, start, end) < 0

    def take(self, start: int, end: int) -> None:
        self._mask[start:end] = b"\x01" * (end - start)


class Context:
    """Label words before a number: the closest one decides (phone / card vs order / invoice)."""

    __slots__ = ("card", "negative", "phone")

    def __init__(self, anchors: Anchors) -> None:
        self.phone = sorted(e for _, e in anchors.get("ctx_phone", ()))
        self.card = sorted(e for _, e in anchors.get("ctx_card", ()))
        self.negative = sorted(e for _, e in anchors.get("ctx_neg", ()))

    def label(self, start: int, positive: list[int] | None) -> int:
        """+1 if a positive label is the closest before ``start``, -1 if a negative one, else 0."""
        pos_end = _last_between(positive or [], start - _CONTEXT_WINDOW, start)
        neg_end = _last_between(self.negative, start - _CONTEXT_WINDOW, start)
        if pos_end < 0 and neg_end < 0:
            return 0
        return 1 if pos_end >= neg_end else -1


def _last_between(ends: list[int], lo: int, hi: int) -> int:
    i = bisect_right(ends, hi)
    return ends[i - 1] if i and ends[i - 1] >= lo else -1


def group_anchors(hits: list[tuple[str, int, int]]) -> Anchors:
    """Hits by family; nested hits dropped (``passport number`` beats ``passport``).

    In each family's list starts never decrease and ends strictly increase
    (a span whose end does not pass the previous one's is nested in it).
    """
    grouped: Anchors = {}
    ordered = sorted(hits)
    last = len(ordered) - 1
    for k, (family, s, e) in enumerate(ordered):
        if k < last and ordered[k + 1][1] == s and ordered[k + 1][0] == family:
            continue  # a longer span starts here too: this one is nested in it
        spans = grouped.setdefault(family, [])
        if spans and spans[-1][0] <= s and e <= spans[-1][1]:
            continue
        spans.append((s, e))
    return grouped


def _near(
    anchors: Anchors, kind: str, start: int, end: int, before: int = 40, after: int = 30
) -> bool:
    """An anchor ends at most ``before`` characters before ``start`` or starts at
    most ``after`` characters after ``end`` (binary search: see ``group_anchors``)."""
    spans = anchors.get(kind)
    if not spans:
        return False
    i = bisect_right(spans, start, key=_END)  # the last anchor ending at or before start
    if i and start - spans[i - 1][1] <= before:
        return True
    i = bisect_left(spans, end, key=_START)  # the first anchor starting at or after end
    return i < len(spans) and spans[i][0] - end <= after


def _near_range(
    anchors: Anchors, kind: str, lo: int, hi: int, before: int = 40, after: int = 30
) -> bool:
    """``_near(anchors, kind, start, end, before, after)`` may hold for some
    ``lo <= start <= end <= hi``: an anchor ends in ``[lo - before, hi]`` or
    starts in ``[lo, hi + after]``."""
    spans = anchors.get(kind)
    if not spans:
        return False
    i = bisect_left(spans, lo - before, key=_END)
    if i < len(spans) and spans[i][1] <= hi:
        return True
    i = bisect_left(spans, lo, key=_START)
    return i < len(spans) and spans[i][0] <= hi + after


_START, _END = itemgetter(0), itemgetter(1)


def _gap_ok(gap: str, limit: int = 28) -> bool:
    """Anchor and value belong together: close, few words, no sentence break."""
    return (
        len(gap) <= limit and p.SENTENCE_BREAK.search(gap) is None and len(p.WORD.findall(gap)) <= 3
    )


# ---------------------------------------------------------------------------
# kinds


_LOCAL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-"
_LOCAL_PART = frozenset(_LOCAL_CHARS)


def find_emails(text: str, add: Add) -> None:
    done = 0
    at = text.find("@")
    while at >= 0:
        window = text[max(done, at - 64) : at]  # where the local part can start
        if window.isascii():
            start = at - (len(window) - len(window.rstrip(_LOCAL_CHARS)))
        else:
            start = at
            while (
                start > done
                and at - start < 64
                and (text[start - 1] in _LOCAL_PART or text[start - 1].isalnum())
            ):
                start -= 1
        while start < at and text[start] in ".%+-":
            start += 1
        m = p.EMAIL.match(text, start) if start < at else None
        if m is not None:
            done = m.end()
            domain = m.group(1)
            # scp-style SSH remotes (git@github.com:org/repo.git) are hosts, not mailboxes
            scp = text[done : done + 1] == ":" and text[done + 1 : done + 2].strip() != ""
            if not (p.RESERVED_EMAIL_DOMAIN.search(domain) or p.RETINA_ASSET.match(domain) or scp):
                add("email", PII, start, done)
        at = text.find("@", at + 1)


def matches_at(
    pattern: re.Pattern[str], text: str, starts: list[int] | None
) -> Iterator[re.Match[str]]:
    """``pattern.finditer(text)`` when every match starts at one of ``starts``
    (sorted); ``starts=None``: ``pattern.finditer(text)`` itself."""
    if starts is None:
        yield from pattern.finditer(text)
        return
    resume = 0
    for start in starts:
        if start >= resume:
            m = pattern.match(text, start)
            if m is not None:
                resume = m.end()
                yield m


# The units of ``patterns.DOSE``, as written there (case-sensitive).
_DOSE_UNITS = ("mg", "mcg", "\u00b5g", "IU", "iu")
# After a dose's last digit: whitespace, "mcg", "/day" and the character the
# final look-ahead reads.
_DOSE_TAIL = 1 + 1 + 3 + 4 + 1 + 1


def find_first_dose(text: str, digits: list[int]) -> re.Match[str] | None:
    """``next(patterns.DOSE.finditer(text), None)``, given ``digits``: every digit
    followed by (whitespace and) the first letter of a unit, in text order.

    A dose's number ends at such a digit ``k`` and starts in the run of
    digits, dots and commas that ends at ``k``; runs of different ``k`` do not
    overlap (a unit separates them), so the first ``k`` whose run holds a
    match holds the first match. From any start in the run the number reaches
    ``k`` (its repeat is possessive) and what follows ``k`` does not depend on
    the start: one attempt, at the leftmost start the look-behind allows,
    decides the run. (``DOSE.finditer`` itself tries every start: quadratic on
    "1,1,1,...,1mgx".)
    """
    size = len(text)
    for k in digits:
        u = k + 2 if text[k + 1].isspace() else k + 1
        if not text.startswith(_DOSE_UNITS, u):
            continue
        lo = k
        while lo > 0 and (
            text[lo - 1].isdecimal()
            or (text[lo - 1] in ".," and lo > 1 and text[lo - 2].isdecimal())
        ):
            lo -= 1
        before = text[lo - 1 : lo]
        if before.isalnum() or before in ("_", "."):
            # the look-behind refuses lo; inside the run only a comma lets a number start
            comma = text.find(",", lo, k)
            if comma < 0:
                continue
            lo = comma + 1
        m = p.DOSE.match(text, lo, min(size, k + _DOSE_TAIL))
        if m is not None:
            return m
    return None


def find_ibans(text: str, matches: Iterable[re.Match[str]], add: Add, claims: Claims) -> None:
    for m in matches:
        start = m.start() - 2
        candidate = text[start : m.end()]
        length = IBAN_LENGTHS.get(candidate[:2].upper())
        if length is None:
            continue
        chars: list[str] = []
        end = -1
        for i, ch in enumerate(candidate):
            if ch != " ":
                chars.append(ch)
                if len(chars) == length:
                    end = start + i + 1
                    break
        if end < 0 or (end < len(text) and text[end].isalnum()):
            continue
        if iban_valid("".join(chars).upper()):
            add("iban", PII, start, end)
        # An IBAN-shaped string with a bad checksum is a mistyped or fake IBAN:
        # claim its digits so they are not re-read as a card, phone or ID.
        claims.take(start, end)


def find_alpha_ids(matches: Iterable[re.Match[str]], add: Add, claims: Claims) -> None:
    for m in matches:
        group = m.lastgroup
        value = m.group().replace(" ", "").replace("-", "")
        validator = _ALPHA_ID_VALIDATORS.get(group or "")
        valid = validator is not None and validator(value)
        if valid and not claims.taken(*m.span()):
            add("national_id", PII, *m.span())
            claims.take(*m.span())


def find_numeric(
    text: str,
    clusters: list[tuple[int, int]],
    add: Add,
    claims: Claims,
    context: Context,
    anchors: Anchors,
    shape: bytes | None = None,
) -> None:
    """Cards, SSNs, numeric national IDs and IPv4 -- inside digit clusters only."""
    size = len(text)
    for cs, ce in clusters:
        if shape is not None:
            digits, dots = shape.count(b"0", cs, ce), shape.count(b".", cs, ce)
        else:
            raw = text[cs:ce]
            digits, dots = len(raw.translate(_NON_DIGITS)), raw.count(".")
        if digits < 7 and dots < 3:
            continue
        if claims.all_taken(cs, ce):
            continue  # inside an IBAN: every match here would be taken
        hi = min(size, ce + 2)  # let look-aheads see the real next characters
        if digits >= 13:
            _cards(text, cs, hi, add, claims, context)
        # NIR and Aadhaar need 12+ digits; with fewer only a DNI can match: 8
        # digits in a row, its letter right after the cluster.
        if digits >= 12 or (
            digits >= 8
            and "A" <= text[ce : ce + 1] <= "Z"
            and (shape is None or shape.find(b"00000000", cs, ce) >= 0)
        ):
            _numeric_ids(text, cs, hi, add, claims, context, anchors)
        if digits >= 9:
            # A dashed SSN lies inside the cluster: so does its "-dd-" / " dd ".
            if shape is None:
                dashed = "-" in text[cs:ce] or " " in text[cs:ce]
            else:
                dashed = shape.find(b"-00-", cs, ce) >= 0 or shape.find(b" 00 ", cs, ce) >= 0
            if dashed or "ssn" in anchors:
                _ssns(text, cs, hi, add, claims, context, anchors, dashed)
        if dots >= 3:
            _ipv4(text, cs, hi, add, claims)


def _cards(text: str, lo: int, hi: int, add: Add, claims: Claims, context: Context) -> None:
    for m in p.CARD_RUN.finditer(text, lo, hi):
        run = m.group()
        spaced, dashed = " " in run, "-" in run  # the only separators CARD_RUN allows
        if spaced and dashed:
            continue
        groups = run.split(" ") if spaced else run.split("-") if dashed else [run]
        digits, valid_upto = "", -1
        for k, group in enumerate(groups):
            digits += group
            if len(digits) > 19:
                break
            if len(digits) >= 13 and card_number_valid(digits):
                valid_upto = k
        if valid_upto < 0:
            continue
        start = m.start()
        end = start + sum(len(g) for g in groups[: valid_upto + 1]) + valid_upto
        if claims.taken(start, end) or context.label(start, context.card) < 0:
            continue
        add("credit_card", PII, start, end)
        claims.take(start, end)


_NUMERIC_ID_VALIDATORS: Mapping[str, Callable[[str], bool]] = MappingProxyType(
    {"nir": nir_valid, "dni": dni_valid, "aadhaar": verhoeff_valid}
)
_ALPHA_ID_VALIDATORS: Mapping[str, Callable[[str], bool]] = MappingProxyType(
    {"nino": nino_valid, "cf": codice_fiscale_valid, "pan": lambda _: True, "nie": dni_valid}
)


def _numeric_ids(
    text: str, lo: int, hi: int, add: Add, claims: Claims, context: Context, anchors: Anchors
) -> None:
    for m in p.NUMERIC_ID.finditer(text, lo, hi):
        group = "aadhaar" if m.lastgroup == "asep" else m.lastgroup
        if group is None:
            continue
        value = m.group().replace(" ", "").replace("-", "")
        start, end = m.span()
        if not _NUMERIC_ID_VALIDATORS[group](value) or claims.taken(start, end):
            continue
        # An unanchored Aadhaar: only the printed 4-4-4 layout, and not after an order label.
        if (
            group == "aadhaar"
            and not _near(anchors, "aadhaar", start, end)
            and (not m.group("asep") or context.label(start, None) < 0)
        ):
            continue
        add("national_id", PII, start, end)
        claims.take(start, end)


def _ssns(
    text: str,
    lo: int,
    hi: int,
    add: Add,
    claims: Claims,
    context: Context,
    anchors: Anchors,
    dashed: bool = True,
) -> None:
    for m in p.SSN_DASHED.finditer(text, lo, hi) if dashed else ():
        start, end = m.span()
        area = text[start : start + 3]
        if not ssn_valid(area, m.group(2), m.group(3)) or claims.taken(start, end):
            continue
        if not _near(anchors, "ssn", start, end) and (
            m.group(1) == " " or context.label(start, None) < 0
        ):
            continue
        add("ssn", PII, start, end)
        claims.take(start, end)
    # A bare SSN needs an "ssn" anchor near it (_near), so near the cluster.
    if _near_range(anchors, "ssn", lo, hi):
        for m in p.SSN_BARE.finditer(text, lo, hi):
            start, end = m.span()
            v = m.group()
            if (
                ssn_valid(v[:3], v[3:5], v[5:])
                and _near(anchors, "ssn", start, end)
                and not claims.taken(start, end)
            ):
                add("ssn", PII, start, end)
                claims.take(start, end)


_NOT_HOST_V4 = tuple(
    ipaddress.IPv4Network(net)
    for net in (
        "0.0.0.0/8",  # "this network" / unspecified
        "127.0.0.0/8",  # loopback
        "169.254.0.0/16",  # link-local (incl. cloud metadata 169.254.169.254)
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",  # TEST-NET-1 (documentation)
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",  # TEST-NET-2
        "203.0.113.0/24",  # TEST-NET-3
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, broadcast, netmasks like 255.255.255.0
    )
)
_NOT_HOST_V4_RANGES = tuple(
    (int(net.network_address), int(net.broadcast_address)) for net in _NOT_HOST_V4
)
# First octets whose whole /8 is not a host / that some range above starts in.
_NOT_HOST_V4_FIRST = frozenset(
    octet
    for net in _NOT_HOST_V4
    if net.prefixlen <= 8
    for octet in range(int(net.network_address) >> 24, (int(net.broadcast_address) >> 24) + 1)
)
_PARTLY_NOT_HOST_V4_FIRST = frozenset(
    int(net.network_address) >> 24 for net in _NOT_HOST_V4 if net.prefixlen > 8
)
# The last character of a ``patterns.VERSION_BEFORE`` match: a keyword's last
# letter, whitespace, or one of these.
_VERSION_LAST = frozenset(".:=#^~/\u00a7")
# Its ASCII keywords.
_VERSION_WORDS = frozenset(
    w
    for w in re.search(r"\(\?:(v\|[^)]*)\)", p.VERSION_BEFORE.pattern).group(1).split("|")  # type: ignore[union-attr]
    if w.isascii() and w.isalpha()
)
_DOC_V6 = ipaddress.IPv6Network("2001:db8::/32")


def _ipv4(text: str, lo: int, hi: int, add: Add, claims: Claims) -> None:
    # Each test below is a pure filter: the cheap ones run first.
    for m in p.IPV4.finditer(text, lo, hi):
        quad = m.group()
        octets = quad.split(".")
        if any(len(o) > 1 and o[0] == "0" for o in octets) or any(int(o) > 255 for o in octets):
            continue
        # int(ipaddress.IPv4Address(quad)), which refuses other scripts' digits
        a, b, c, d = map(int, octets)
        if a in _NOT_HOST_V4_FIRST:
            continue
        value = a << 24 | b << 16 | c << 8 | d
        if a in _PARTLY_NOT_HOST_V4_FIRST and any(
            first <= value <= last for first, last in _NOT_HOST_V4_RANGES
        ):
            continue
        start, end = m.span()
        cidr = p.CIDR_SUFFIX.match(text, end)
        if cidr is not None:
            prefix = int(cidr.group(1))
            if prefix < 32 and value & ((1 << (32 - prefix)) - 1) == 0:
                continue  # a network range, not a host
        if claims.taken(start, end) or _version_before(text, start):
            continue
        add("ip_address", PII, start, end)
        claims.take(start, end)


def _version_before(text: str, start: int) -> bool:
    """``patterns.VERSION_BEFORE.search(text, max(0, start - 24), start)``, with a
    fast path for its common case: an ASCII keyword, then optionally ".", spaces,
    one of ":=#" and spaces, right before ``start``."""
    lo = max(0, start - 24)
    before = text[start - 1 : start]
    if not before or not (before.isalpha() or before.isspace() or before in _VERSION_LAST):
        return False  # no way for a match to end here
    rest = text[lo:start].rstrip(" \t")
    if rest[-1:] in (":", "=", "#"):
        rest = rest[:-1].rstrip(" \t")
    if rest[-1:] == ".":
        rest = rest[:-1]
    head = rest.rstrip(_ASCII_LETTERS)
    word = rest[len(head) :]
    prev = head[-1:] if head else text[lo - 1 : lo]
    if word.lower() in _VERSION_WORDS and not (prev.isalnum() or prev == "_"):
        return True  # the pattern's first branch matches where the word starts
    return p.VERSION_BEFORE.search(text, lo, start) is not None


_ASCII_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def find_ipv6(text: str, add: Add, claims: Claims) -> None:
    chars = p.IPV6_CHARS_STR
    done = 0
    for m in p.IPV6_HINT.finditer(text):
        if m.start() < done:
            continue
        lo, hi = m.start(), m.end()
        # grow the hint to the whole run of hex digits and colons, 45 characters at most
        left = text[max(0, hi - 45) : lo]
        lo -= len(left) - len(left.rstrip(chars))
        right = text[hi : lo + 45]
        hi += len(right) - len(right.lstrip(chars))
        done = hi
        candidate = text[lo:hi]
        # Pure filters, cheapest first.
        if "::" not in candidate and candidate.count(":") != 7:
            continue  # without "::" an address has 8 groups; ipaddress would refuse it
        before, after = text[lo - 1 : lo], text[hi : hi + 1]
        if before.isalnum() or before in ("_", ".") or after.isalnum() or after == "_":
            continue  # part of a longer token (std::vector, a hash, ...)
        if after == "." and text[hi + 1 : hi + 2].isdigit():
            continue  # IPv4-embedded form: the dotted part is scanned as IPv4
        if sum(1 for g in candidate.split(":") if g) < 2 or not any(c.isdigit() for c in candidate):
            continue
        try:
            address = ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        if (
            address.is_loopback
            or address.is_unspecified
            or address.is_link_local
            or address.is_multicast
            or address in _DOC_V6
        ):
            continue
        if not claims.taken(lo, hi):
            add("ip_address", PII, lo, hi)
            claims.take(lo, hi)


def _plausible_date(m: re.Match[str]) -> bool:
    if m.group("iso"):
        return 1 <= int(m.group("im")) <= 12 and 1 <= int(m.group("id")) <= 31
    if m.group("a"):
        a, b = int(m.group("a")), int(m.group("b"))
        return 1 <= a <= 31 and 1 <= b <= 31 and (a <= 12 or b <= 12)
    return True


def find_dates_of_birth(text: str, add: Add, claims: Claims, anchors: Anchors) -> None:
    size = len(text)
    for ks, ke in anchors.get("dob", ()):
        hit: tuple[int, int] | None = None
        for m in p.DATE.finditer(text, ke, min(size, ke + 64)):
            if _gap_ok(text[ke : m.start()]) and _plausible_date(m):
                hit = m.span()
            break
        if hit is None:  # "Ich bin am 20.10.1965 geboren": the anchor follows the date
            for m in p.DATE.finditer(text, max(0, ks - 40), ks):
                if _gap_ok(text[m.end() : ks], 16) and _plausible_date(m):
                    hit = m.span()
        if hit is not None and not claims.taken(*hit):
            add("date_of_birth", PII, *hit)
            claims.take(*hit)


VALUE_ANCHORS = frozenset(("passport", "mrn", "bsn", "steuer", "icd"))  # find_anchored_values'


def find_anchored_values(text: str, add: Add, claims: Claims, anchors: Anchors) -> None:
    """Passport / medical record / BSN / Steuer-ID numbers after their anchor; ICD-10 near one."""
    size = len(text)
    for kind, group, value_re, valid in (
        ("passport", "passport", p.PASSPORT_VALUE, None),
        ("medical_record", "mrn", p.MRN_VALUE, None),
        ("national_id", "bsn", p.BSN_VALUE, bsn_valid),
        ("national_id", "steuer", p.STEUER_VALUE, steuer_id_valid),
    ):
        for _, ke in anchors.get(group, ()):
            for m in value_re.finditer(text, ke, min(size, ke + 48)):
                if not _gap_ok(text[ke : m.start()]):
                    break
                value = m.group()
                if claims.taken(*m.span()):
                    continue
                # (values are ASCII letters and decimal digits: \d finds the digits)
                if p.DIGIT.search(value) is None and not (
                    kind == "passport"
                    and not text[ke : m.start()].strip(" :#.-\t")
                    and value not in _PLACEHOLDERS
                ):
                    continue  # letters only: a word, unless it directly follows the anchor
                if valid is not None and not valid(value.translate(_NON_DIGITS)):
                    continue
                add(kind, KIND_CLASSES[kind], *m.span())
                claims.take(*m.span())
                break
    seen: set[int] = set()
    for ks, ke in anchors.get("icd", ()):
        for lo, hi in ((ke, min(size, ke + 48)), (max(0, ks - 24), ks)):
            for m in p.ICD_CODE.finditer(text, lo, hi):
                if m.start() not in seen and not claims.taken(*m.span()):
                    seen.add(m.start())
                    add("icd10", PHI, *m.span())


def _phone_shape(candidate: str) -> str | None:
    """``"strong"`` (a phone number by its format), ``"weak"`` (needs a phone word), or None."""
    # every spelling of an extension has an "x"
    ext = p.PHONE_EXTENSION.search(candidate) if "x" in candidate else None
    body = candidate[: ext.start()] if ext is not None else candidate
    groups = p.PHONE_GROUPS.findall(body)
    digits = "".join(groups)
    n = len(digits)
    if p.DATE_LIKE.match(body) or p.SHORT_DATE.match(body):
        return None  # a date or a timestamp
    if len(groups) > 1 and len(groups[-1]) == 1:
        return None  # ISBN-style check digit
    if len(groups) == 2 and set(body) - set("0123456789") == {"."}:
        return None  # a decimal number
    if body.startswith(("+", "(+")):
        n -= body.count("(0)")
        return "strong" if 8 <= n <= 15 else None
    if digits.startswith("00") and 10 <= n <= 17 and len(groups) >= 2:
        return "strong"  # 00 international prefix
    if not 8 <= n <= 13:
        return None
    if len(groups) == 1:
        if digits[0] == "0" and digits[1] != "0" and n in (10, 11):
            return "strong"  # a national number with its trunk prefix, unspaced
        return "weak"
    sizes = [len(g) for g in groups]
    if sizes == [3, 2, 4]:
        return None  # the SSN layout; no national phone plan groups digits this way
    if sizes in ([3, 3, 4], [1, 3, 3, 4], [2, 2, 2, 2, 2]):
        return "strong"  # NANP, French
    if sizes == [5, 5] and digits[0] in "6789":
        return "strong"  # Indian mobile
    if n == 9 and digits[0] in "6789" and sizes in ([3, 3, 3], [3, 2, 2, 2]):
        return "strong"  # Spanish
    if digits[0] == "3" and n in (9, 10) and sizes in ([3, 7], [3, 6], [3, 3, 4], [3, 4, 3]):
        return "strong"  # Italian mobile
    if digits[0] == "0" and 9 <= n <= 12 and min(sizes) >= 2 and sizes[-1] >= 3:
        return "strong"  # trunk-prefixed national number (UK, DE, FR, NL, IN, IT)
    return "weak"


_GROUP_SEPARATORS = (" ", "\u00a0", "-", ".", "/")  # patterns.LAST_GROUP's


def _phone_trials(candidate: str) -> tuple[tuple[int, str], ...]:
    """The shapes ``candidate`` and its trimmed forms have, in the order ``find_phones``
    tries them: ``(length, shape)`` for each form that has one. Pure."""
    trials: list[tuple[int, str]] = []
    for _ in range(3):
        shape = _phone_shape(candidate)
        if shape is not None:
            trials.append((len(candidate), shape))
        # p.LAST_GROUP.search(candidate).start(): where the last group's separator is
        cut = max(map(candidate.rfind, _GROUP_SEPARATORS))
        if cut <= 0:
            break
        candidate = candidate[:cut].rstrip(" \u00a0()-./")
        # Every phone shape needs 8+ digits (the count includes an extension's
        # letters: an upper bound); trimming only removes some.
        if len(candidate.translate(_NON_DIGITS)) < 8:
            break
    return tuple(trials)


def find_phones(
    text: str,
    clusters: list[tuple[int, int]],
    add: Add,
    claims: Claims,
    context: Context,
    view: bytes | None = None,
) -> None:
    size = len(text)
    known: dict[str, tuple[tuple[int, str], ...]] = {}  # clusters repeat (dates, versions)
    for cs, ce in clusters:
        if view is not None:
            # A phone's digits (extension aside) are the cluster's: every shape needs 8.
            if view.count(b"0", cs, ce) < 8:
                continue
            # A number running straight into a word (no extension) is part of a longer token.
            after = text[ce : ce + 1]
            if view[ce - 1] == 48 and (after.isalnum() or after == "_") and after not in "xXe":
                continue
        start = cs
        if text[start - 1 : start] == "(":
            start -= 1
        if text[start - 1 : start] == "+":
            start -= 1
            if text[start - 1 : start] == "(":
                start -= 1
        if start > 0 and (text[start - 1].isalnum() or text[start - 1] in "+-./"):
            continue
        end = ce
        if ce < size and text[ce] in " xXe":
            ext = p.PHONE_EXTENSION.match(text, ce)
            if ext is not None:
                end = ext.end()
        candidate = text[start:end].rstrip(" \u00a0()-./")
        after = text[start + len(candidate) : start + len(candidate) + 1]
        if after.isalnum() or after == "_":
            continue  # part of a longer token
        if len(candidate.translate(_NON_DIGITS)) < 8:
            continue  # see _phone_trials
        # Every form tried keeps the first digit: if a more specific kind has
        # it, no form can be a phone.
        if claims.taken(cs, cs + 1):
            continue
        trials = known.get(candidate)
        if trials is None:
            trials = known[candidate] = _phone_trials(candidate)
        label: int | None = None
        for length, shape in trials:
            if label is None:
                amount = (
                    p.CURRENCY_AFTER.match(text, start + length) is not None
                    or text[start - 1 : start] in p.CURRENCY_BEFORE
                )
                label = -1 if amount else context.label(start, context.phone)
            if label < 0:
                break  # an amount, or an order / invoice / tracking number
            if shape == "strong" or label > 0:
                span = (start, start + length)
                if not claims.taken(*span):
                    add("phone", PII, *span)
                    claims.take(*span)
                break


def find_names(text: str, anchors: Anchors, add: Add) -> None:
    seen: set[int] = set()
    for family, pattern in p.NAME_AFTER.items():
        for _, ke in anchors.get(family, ()):
            m = pattern.match(text, ke)
            if m is None or m.start("name") in seen:
                continue
            tokens = m.group("name").split()
            capitalised = [t for t in tokens if t[:1].isupper()]
            if not capitalised or capitalised[0].lower().strip("'\u2019-.") in p.NOT_A_NAME:
                continue
            if family == "n_field" and len(capitalised) < 2:
                continue
            seen.add(m.start("name"))
            add("person_name", PII, m.start("name"), m.end("name"))


def find_confidential(text: str, lowered: str, anchors: Anchors, add: Add) -> None:
    last_end = -1
    for s, e in sorted(anchors.get("conf", ()), key=lambda span: (span[0], -span[1])):
        if s < last_end:
            continue  # inside a longer marker already reported
        if lowered[max(0, s - 4) : s] in ("non-", "non "):
            continue  # "non-confidential"
        if lowered.startswith(" comput", e):
            continue  # "confidential computing" names a technology
        last_end = e
        add("confidential", CONFIDENTIAL, s, e)
