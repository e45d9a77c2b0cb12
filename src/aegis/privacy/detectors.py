"""Detectors: find personal, health and confidential data in text.

Class rules (what a finding makes a request)
============================================

The product fails closed: when in doubt, data stays on the local tier.

* **PII** -- anything that identifies a person: e-mail addresses, phone
  numbers, US SSNs, payment cards, IBANs, national IDs (UK NINO, French NIR,
  Italian codice fiscale, Spanish DNI/NIE, Dutch BSN, Indian Aadhaar/PAN,
  German Steuer-ID), passport numbers, dates of birth, IP addresses (personal
  data under GDPR; private ranges too -- they identify a machine on someone's
  network), and person names *when anchored* ("Dear ...", "Mr ...", "my name
  is ...", sign-offs). Free-text names need NER: use the Presidio detector.
* **PHI** -- health information:
  - strong medical identifiers on their own: medical record / patient / NHS
    numbers, ICD-10 codes next to a diagnosis keyword;
  - health context (see ``aegis.privacy.health``) -- **on its own, by
    default**. Rationale: the sender of a request is always identifiable to
    the upstream (API key, account, IP), so "I was diagnosed with X" is
    health data about an identifiable person, and a regex cannot tell that
    sentence from "explain what a diagnosis of X means" across paraphrases and
    languages -- nor can it see the free-text name in "Maria has X". Generic
    medical-education prompts therefore stay local too. Deployments that serve
    medical education can set ``RegexDetector(health_class=DataClass.PUBLIC)``:
    health context is then still PHI as soon as any PII or medical identifier
    appears anywhere in the same request (``classes.combine_findings``);
* **CONFIDENTIAL** -- explicit markers: "confidential", "internal only",
  "do not distribute", "strictly private", "under NDA", "vertraulich",
  "confidentiel", ... (not "confidence", "confidentiality agreement
  template", "draft an NDA").

What is deliberately *not* flagged (principled, not tuned): loopback,
unspecified, link-local, multicast, reserved and documentation IP ranges,
CIDR network ranges (``10.0.0.0/8`` names a network, not a host), dotted
quads right after a version keyword (``version 1.2.3.4``, ``v1.2.3.4``,
``==1.2.3.4``); three-part versions are never IPs. RFC 2606 example domains
are placeholders, not addresses. Identifiers whose checksum fails (Luhn,
mod-97, Verhoeff, ...) are not identifiers. Numbers right after an order /
invoice / tracking / SKU / ISBN label are not phone numbers unless a phone
word is closer; amounts (a currency next to them) and dates never are.

Phone numbers: a number is flagged on its format alone when the format is a
phone plan's (``+`` / ``00`` international, NANP 3-3-4, French 2-2-2-2-2,
trunk-prefixed national numbers such as ``030 1234567`` or ``07700900461``,
Indian 5-5, Spanish and Italian mobiles); any other 8-13 digit run needs a
phone word before it ("call", "Tel", "Handy", "portable", ...).

Speed: one lexicon pass finds every keyword (``aegis.privacy.lexicon``); one
digit-cluster pass feeds every numeric validator; full-text patterns start
with a character class so ``re`` skips ahead; no pattern can backtrack
catastrophically. No digit -> no numeric work; no ``@`` -> no e-mail work.
``bench/privacy_eval.py`` measures it.
"""

from __future__ import annotations

import ipaddress
import re
from bisect import bisect_right
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Protocol, runtime_checkable

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
from aegis.privacy.classes import DataClass, Finding
from aegis.privacy.health import health_context
from aegis.privacy.lexicon import LEXICON, lowercase

__all__ = [
    "DETECTOR_NAMES",
    "KIND_CLASSES",
    "CombinedDetector",
    "Detector",
    "RegexDetector",
    "build_detector",
]

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


@runtime_checkable
class Detector(Protocol):
    """Anything that turns text into findings. Must be safe to share between requests."""

    @property
    def name(self) -> str: ...

    def scan_text(self, text: str) -> list[Finding]:
        """Findings for ``text`` with ``message_index=-1``; never the matched text."""
        ...


Add = Callable[[str, DataClass, int, int], None]
Anchors = dict[str, list[tuple[int, int]]]  # lexicon family -> spans


@dataclass(frozen=True, slots=True)
class RegexDetector:
    """The default detector: stdlib only, precompiled, linear time.

    ``health_class`` is the class of health context on its own (PHI by
    default; see the module docstring before lowering it).
    """

    health_class: DataClass = PHI
    name: str = "regex"

    def scan_text(self, text: str) -> list[Finding]:
        if not text:
            return []
        findings: list[Finding] = []
        detector = self.name

        def add(kind: str, data_class: DataClass, start: int, end: int) -> None:
            findings.append(Finding(kind, data_class, start=start, end=end, detector=detector))

        lowered = lowercase(text)
        hits = LEXICON.find(text, lowered)
        anchors = _group(hits)
        doses: list[tuple[int, int]] = []
        if "@" in text:
            _emails(text, add)
        claims = _Claims(len(text))
        if p.DIGIT.search(text) is not None:
            context = _Context(anchors)
            clusters = [m.span() for m in p.CLUSTER.finditer(text)]
            _ibans(text, add, claims)
            _alpha_ids(text, add, claims)
            _numeric(text, clusters, add, claims, context, anchors)
            if text.count(":") >= 2:
                _ipv6(text, add, claims)
            if any(unit in lowered for unit in p.DOSE_UNITS):
                doses = [m.span() for m in p.DOSE.finditer(text)]
            _dates_of_birth(text, add, claims, anchors)
            _anchored_values(text, add, claims, anchors)
            _phones(text, clusters, add, claims, context)
        elif "passport" in anchors:
            _anchored_values(text, add, claims, anchors)  # letters-only passport numbers
        _names(text, anchors, add)
        _confidential(text, lowered, anchors, add)
        span = health_context(hits, lowered, doses)
        if span is not None:
            add("health", self.health_class, span[0], span[1])
        return findings


@dataclass(frozen=True, slots=True)
class CombinedDetector:
    """Runs several detectors and merges their findings (same kind + span once)."""

    detectors: tuple[Detector, ...]
    name: str = field(default="")

    def __post_init__(self) -> None:
        if not self.detectors:
            raise ValueError("CombinedDetector needs at least one detector")
        if not self.name:
            object.__setattr__(self, "name", "+".join(d.name for d in self.detectors))

    def scan_text(self, text: str) -> list[Finding]:
        seen: set[tuple[str, int, int]] = set()
        out: list[Finding] = []
        for detector in self.detectors:
            for f in detector.scan_text(text):
                key = (f.kind, f.start, f.end)
                if key not in seen:
                    seen.add(key)
                    out.append(f)
        return out


DETECTOR_NAMES = ("regex", "presidio", "regex+presidio")


def build_detector(name: str = "regex") -> Detector:
    """The detector a config names: ``regex`` (default), ``presidio``, ``regex+presidio``.

    Raises ``ValueError`` for an unknown name and
    ``aegis.privacy.presidio.PresidioUnavailable`` (a ``ConfigError``) when
    Presidio is asked for but not installed.
    """
    parts = [part.strip().lower() for part in name.split("+")] if name.strip() else ["regex"]
    if (
        not parts
        or any(part not in ("regex", "presidio") for part in parts)
        or len(set(parts)) != len(parts)
    ):
        raise ValueError(
            f"unknown privacy detector {name!r}; allowed values: {', '.join(DETECTOR_NAMES)}"
        )
    built: list[Detector] = []
    for part in parts:
        if part == "regex":
            built.append(RegexDetector())
        else:
            from aegis.privacy.presidio import PresidioDetector

            built.append(PresidioDetector())
    return built[0] if len(built) == 1 else CombinedDetector(tuple(built))


# ---------------------------------------------------------------------------
# helpers

_CONTEXT_WINDOW = 40
# Upper-case words that can follow "Passport No.:" without being a number.
_PLACEHOLDERS = frozenset(
    ("UNKNOWN", "PENDING", "EXPIRED", "MISSING", "NONE", "NULL", "REDACTED", "REQUIRED", "INVALID")
)
# str.translate table deleting what clusters contain besides digits
_NON_DIGITS = str.maketrans("", "", " \u00a0().-/+xXext")


class _Claims:
    """Character positions already explained by a more specific kind."""

    __slots__ = ("_mask",)

    def __init__(self, size: int) -> None:
        self._mask = bytearray(size)

    def taken(self, start: int, end: int) -> bool:
        return self._mask.find(1, start, end) >= 0

    def take(self, start: int, end: int) -> None:
        self._mask[start:end] = b"\x01" * (end - start)


class _Context:
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


def _group(hits: list[tuple[str, int, int]]) -> Anchors:
    """Hits by family; nested hits dropped (``passport number`` beats ``passport``)."""
    grouped: Anchors = {}
    for family, s, e in sorted(hits, key=lambda h: (h[0], h[1], -h[2])):
        spans = grouped.setdefault(family, [])
        if spans and spans[-1][0] <= s and e <= spans[-1][1]:
            continue
        spans.append((s, e))
    return grouped


def _near(
    anchors: Anchors, kind: str, start: int, end: int, before: int = 40, after: int = 30
) -> bool:
    for ks, ke in anchors.get(kind, ()):
        if ke <= start and start - ke <= before:
            return True
        if ks >= end and ks - end <= after:
            return True
    return False


def _gap_ok(gap: str, limit: int = 28) -> bool:
    """Anchor and value belong together: close, few words, no sentence break."""
    return (
        len(gap) <= limit and p.SENTENCE_BREAK.search(gap) is None and len(p.WORD.findall(gap)) <= 3
    )


# ---------------------------------------------------------------------------
# kinds


_LOCAL_PART = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")


def _emails(text: str, add: Add) -> None:
    done = 0
    at = text.find("@")
    while at >= 0:
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


def _ibans(text: str, add: Add, claims: _Claims) -> None:
    for m in p.IBAN.finditer(text):
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


def _alpha_ids(text: str, add: Add, claims: _Claims) -> None:
    for m in p.ALPHA_ID.finditer(text):
        group = m.lastgroup
        value = m.group().replace(" ", "").replace("-", "")
        validator = _ALPHA_ID_VALIDATORS.get(group or "")
        valid = validator is not None and validator(value)
        if valid and not claims.taken(*m.span()):
            add("national_id", PII, *m.span())
            claims.take(*m.span())


def _numeric(
    text: str,
    clusters: list[tuple[int, int]],
    add: Add,
    claims: _Claims,
    context: _Context,
    anchors: Anchors,
) -> None:
    """Cards, SSNs, numeric national IDs and IPv4 -- inside digit clusters only."""
    size = len(text)
    for cs, ce in clusters:
        raw = text[cs:ce]
        dots = raw.count(".")
        digits = len(raw.translate(_NON_DIGITS))
        if digits < 7 and dots < 3:
            continue
        hi = min(size, ce + 2)  # let look-aheads see the real next characters
        if digits >= 13:
            _cards(text, cs, hi, add, claims, context)
        if digits >= 8:
            _numeric_ids(text, cs, hi, add, claims, context, anchors)
        if digits >= 9:
            _ssns(text, cs, hi, add, claims, context, anchors)
        if dots >= 3:
            _ipv4(text, cs, hi, add, claims)


def _cards(text: str, lo: int, hi: int, add: Add, claims: _Claims, context: _Context) -> None:
    for m in p.CARD_RUN.finditer(text, lo, hi):
        run = m.group()
        separators = {ch for ch in run if not ch.isdigit()}
        if len(separators) > 1:
            continue
        groups = run.split(separators.pop()) if separators else [run]
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
    text: str, lo: int, hi: int, add: Add, claims: _Claims, context: _Context, anchors: Anchors
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
    text: str, lo: int, hi: int, add: Add, claims: _Claims, context: _Context, anchors: Anchors
) -> None:
    for m in p.SSN_DASHED.finditer(text, lo, hi):
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
    if "ssn" in anchors:
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
_DOC_V6 = ipaddress.IPv6Network("2001:db8::/32")


def _ipv4(text: str, lo: int, hi: int, add: Add, claims: _Claims) -> None:
    for m in p.IPV4.finditer(text, lo, hi):
        octets = m.group().split(".")
        if any(len(o) > 1 and o[0] == "0" for o in octets) or any(int(o) > 255 for o in octets):
            continue
        start, end = m.span()
        if p.VERSION_BEFORE.search(text, max(0, start - 24), start):
            continue
        address = ipaddress.IPv4Address(m.group())
        if any(address in net for net in _NOT_HOST_V4):
            continue
        cidr = p.CIDR_SUFFIX.match(text, end)
        if cidr is not None:
            prefix = int(cidr.group(1))
            if prefix < 32 and int(address) & ((1 << (32 - prefix)) - 1) == 0:
                continue  # a network range, not a host
        if not claims.taken(start, end):
            add("ip_address", PII, start, end)
            claims.take(start, end)


def _ipv6(text: str, add: Add, claims: _Claims) -> None:
    size = len(text)
    chars = p.IPV6_CHARS
    done = 0
    for m in p.IPV6_HINT.finditer(text):
        if m.start() < done:
            continue
        lo, hi = m.start(), m.end()
        while lo > 0 and text[lo - 1] in chars and hi - lo < 45:
            lo -= 1
        while hi < size and text[hi] in chars and hi - lo < 45:
            hi += 1
        done = hi
        before, after = text[lo - 1 : lo], text[hi : hi + 1]
        if before.isalnum() or before in ("_", ".") or after.isalnum() or after == "_":
            continue  # part of a longer token (std::vector, a hash, ...)
        if after == "." and text[hi + 1 : hi + 2].isdigit():
            continue  # IPv4-embedded form: the dotted part is scanned as IPv4
        candidate = text[lo:hi]
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


def _dates_of_birth(text: str, add: Add, claims: _Claims, anchors: Anchors) -> None:
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


def _anchored_values(text: str, add: Add, claims: _Claims, anchors: Anchors) -> None:
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
                if not any(c.isdigit() for c in value) and not (
                    kind == "passport"
                    and not text[ke : m.start()].strip(" :#.-\t")
                    and value not in _PLACEHOLDERS
                ):
                    continue  # letters only: a word, unless it directly follows the anchor
                if valid is not None and not valid("".join(c for c in value if c.isdigit())):
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
    ext = p.PHONE_EXTENSION.search(candidate)
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


def _phones(
    text: str, clusters: list[tuple[int, int]], add: Add, claims: _Claims, context: _Context
) -> None:
    size = len(text)
    for cs, ce in clusters:
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
        if len(candidate.translate(_NON_DIGITS)) < 7:
            continue
        label: int | None = None
        for _ in range(3):
            shape = _phone_shape(candidate)
            if shape is not None:
                if label is None:
                    amount = (
                        p.CURRENCY_AFTER.match(text, start + len(candidate)) is not None
                        or text[start - 1 : start] in p.CURRENCY_BEFORE
                    )
                    label = -1 if amount else context.label(start, context.phone)
                if label < 0:
                    break  # an amount, or an order / invoice / tracking number
                if shape == "strong" or label > 0:
                    span = (start, start + len(candidate))
                    if not claims.taken(*span):
                        add("phone", PII, *span)
                        claims.take(*span)
                    break
            last = p.LAST_GROUP.search(candidate)
            if last is None or last.start() <= 0:
                break
            candidate = candidate[: last.start()].rstrip(" \u00a0()-./")


def _names(text: str, anchors: Anchors, add: Add) -> None:
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


def _confidential(text: str, lowered: str, anchors: Anchors, add: Add) -> None:
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
