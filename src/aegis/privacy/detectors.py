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
word is closer.

Speed: candidates come from precompiled, linear-time patterns behind cheap
pre-filters (no digit -> no numeric detector; no ``@`` -> no e-mail pass);
validation happens only on the few candidates. ``bench/privacy_eval.py``
measures it.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
from aegis.privacy.health import find_health_context

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
KIND_CLASSES: dict[str, DataClass] = {
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


@runtime_checkable
class Detector(Protocol):
    """Anything that turns text into findings. Must be safe to share between requests."""

    @property
    def name(self) -> str: ...

    def scan_text(self, text: str) -> list[Finding]:
        """Findings for ``text`` with ``message_index=-1``; never the matched text."""
        ...


Add = Callable[[str, DataClass, int, int], None]
Spans = list[tuple[int, int]]
Anchors = dict[str, list[tuple[int, int]]]


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

        claimed: Spans = []
        if "@" in text:
            _emails(text, add)
        if p.DIGIT.search(text) is not None:
            anchors = _anchors(text)
            _ibans(text, add, claimed)
            _cards(text, add, claimed)
            _national_ids(text, add, claimed, anchors)
            _ssns(text, add, claimed, anchors)
            _ipv4(text, add, claimed)
            if text.count(":") >= 2:
                _ipv6(text, add, claimed)
            _dates_of_birth(text, add, claimed, anchors)
            _anchored_values(text, add, claimed, anchors)
            _phones(text, add, claimed)
        _names(text, add)
        for m in p.CONFIDENTIAL.finditer(text):
            add("confidential", CONFIDENTIAL, m.start(), m.end())
        span = find_health_context(text)
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
    if not parts or any(part not in ("regex", "presidio") for part in parts) or len(
        set(parts)
    ) != len(parts):
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


def _overlaps(spans: Spans, start: int, end: int) -> bool:
    return any(s < end and start < e for s, e in spans)


def _context(text: str, start: int, positive: re.Pattern[str] | None, window: int = 40) -> int:
    """+1 if a positive label is the closest one before ``start``, -1 if a negative one is, else 0."""
    segment = text[max(0, start - window) : start]
    pos_end = neg_end = -1
    if positive is not None:
        for m in positive.finditer(segment):
            pos_end = m.end()
    for m in p.NEGATIVE_CONTEXT.finditer(segment):
        neg_end = m.end()
    if pos_end < 0 and neg_end < 0:
        return 0
    return 1 if pos_end >= neg_end else -1


def _anchors(text: str) -> Anchors:
    found: Anchors = {}
    for m in p.KEYWORDS.finditer(text):
        group = m.lastgroup
        if group is not None:
            found.setdefault(group, []).append(m.span())
    return found


def _near(anchors: Anchors, kind: str, start: int, end: int, before: int = 40, after: int = 30) -> bool:
    for ks, ke in anchors.get(kind, ()):
        if ke <= start and start - ke <= before:
            return True
        if ks >= end and ks - end <= after:
            return True
    return False


def _gap_ok(gap: str, limit: int = 28) -> bool:
    """Anchor and value belong together: close, few words, no sentence break."""
    return (
        len(gap) <= limit
        and p.SENTENCE_BREAK.search(gap) is None
        and len(p.WORD.findall(gap)) <= 3
    )


# ---------------------------------------------------------------------------
# kinds


def _emails(text: str, add: Add) -> None:
    for m in p.EMAIL.finditer(text):
        domain = m.group(1)
        if p.RESERVED_EMAIL_DOMAIN.search(domain) or p.RETINA_ASSET.match(domain):
            continue
        end = m.end()
        # scp-style SSH remotes (git@github.com:org/repo.git) are hosts, not mailboxes
        if text[end : end + 1] == ":" and text[end + 1 : end + 2].strip():
            continue
        add("email", PII, m.start(), end)


def _ibans(text: str, add: Add, claimed: Spans) -> None:
    for m in p.IBAN.finditer(text):
        candidate = m.group()
        length = IBAN_LENGTHS.get(candidate[:2].upper())
        if length is None:
            continue
        chars: list[str] = []
        end = -1
        for i, ch in enumerate(candidate):
            if ch != " ":
                chars.append(ch)
                if len(chars) == length:
                    end = m.start() + i + 1
                    break
        if end < 0 or (end < len(text) and text[end].isalnum()):
            continue
        if iban_valid("".join(chars).upper()):
            add("iban", PII, m.start(), end)
        # An IBAN-shaped string with a bad checksum is a mistyped or fake IBAN:
        # claim its digits so they are not re-read as a card, phone or ID.
        claimed.append((m.start(), end))


def _cards(text: str, add: Add, claimed: Spans) -> None:
    for m in p.CARD_RUN.finditer(text):
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
        if _overlaps(claimed, start, end) or _context(text, start, p.CARD_CONTEXT) < 0:
            continue
        add("credit_card", PII, start, end)
        claimed.append((start, end))


_ID_VALIDATORS: dict[str, Callable[[str], bool]] = {
    "nino": nino_valid,
    "nir": nir_valid,
    "cf": codice_fiscale_valid,
    "dni": dni_valid,
    "pan": lambda _: True,
    "aadhaar": verhoeff_valid,
}


def _national_ids(text: str, add: Add, claimed: Spans, anchors: Anchors) -> None:
    for m in p.NATIONAL_ID.finditer(text):
        group = m.lastgroup
        if group == "asep":  # lastgroup is the innermost group that closed last
            group = "aadhaar"
        if group is None:
            continue
        value = m.group().replace(" ", "").replace("-", "")
        start, end = m.span()
        if not _ID_VALIDATORS[group](value) or _overlaps(claimed, start, end):
            continue
        if group == "aadhaar":
            keyword = _near(anchors, "aadhaar", start, end)
            if not keyword and (not m.group("asep") or _context(text, start, None) < 0):
                continue
        add("national_id", PII, start, end)
        claimed.append((start, end))
    for kind, value_re, valid in (
        ("bsn", p.BSN_VALUE, bsn_valid),
        ("steuer", p.STEUER_VALUE, steuer_id_valid),
    ):
        for _, ke in anchors.get(kind, ()):
            for m in value_re.finditer(text, ke, ke + 48):
                if not _gap_ok(text[ke : m.start()]):
                    break
                if valid(re.sub(r"\D", "", m.group())) and not _overlaps(claimed, *m.span()):
                    add("national_id", PII, m.start(), m.end())
                    claimed.append(m.span())
                    break


def _ssns(text: str, add: Add, claimed: Spans, anchors: Anchors) -> None:
    for m in p.SSN_DASHED.finditer(text):
        start, end = m.span()
        if not ssn_valid(m.group(1), m.group(3), m.group(4)) or _overlaps(claimed, start, end):
            continue
        keyword = _near(anchors, "ssn", start, end)
        if not keyword and (m.group(2) == " " or _context(text, start, None) < 0):
            continue
        add("ssn", PII, start, end)
        claimed.append((start, end))
    if "ssn" in anchors:
        for m in p.SSN_BARE.finditer(text):
            start, end = m.span()
            if (
                ssn_valid(m.group(1), m.group(2), m.group(3))
                and _near(anchors, "ssn", start, end)
                and not _overlaps(claimed, start, end)
            ):
                add("ssn", PII, start, end)
                claimed.append((start, end))


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


def _ipv4(text: str, add: Add, claimed: Spans) -> None:
    for m in p.IPV4.finditer(text):
        octets = m.groups()
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
        if _overlaps(claimed, start, end):
            continue
        add("ip_address", PII, start, end)
        claimed.append((start, end))


def _ipv6(text: str, add: Add, claimed: Spans) -> None:
    for m in p.IPV6.finditer(text):
        candidate = m.group()
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
        start, end = m.span()
        if not _overlaps(claimed, start, end):
            add("ip_address", PII, start, end)
            claimed.append((start, end))


def _plausible_date(m: re.Match[str]) -> bool:
    if m.group("iso"):
        return 1 <= int(m.group("im")) <= 12 and 1 <= int(m.group("id")) <= 31
    if m.group("a"):
        a, b = int(m.group("a")), int(m.group("b"))
        return 1 <= a <= 31 and 1 <= b <= 31 and (a <= 12 or b <= 12)
    return True


def _dates_of_birth(text: str, add: Add, claimed: Spans, anchors: Anchors) -> None:
    for ks, ke in anchors.get("dob", ()):
        hit: tuple[int, int] | None = None
        for m in p.DATE.finditer(text, ke, min(len(text), ke + 64)):
            if _gap_ok(text[ke : m.start()]) and _plausible_date(m):
                hit = m.span()
            break
        if hit is None:  # "Ich bin am 20.10.1965 geboren": the anchor follows the date
            for m in p.DATE.finditer(text, max(0, ks - 40), ks):
                if _gap_ok(text[m.end() : ks], 16) and _plausible_date(m):
                    hit = m.span()
        if hit is not None and not _overlaps(claimed, *hit):
            add("date_of_birth", PII, *hit)
            claimed.append(hit)


def _anchored_values(text: str, add: Add, claimed: Spans, anchors: Anchors) -> None:
    """Passport and medical record numbers after their anchor; ICD-10 codes near one."""
    for kind, group, value_re in (
        ("passport", "passport", p.PASSPORT_VALUE),
        ("medical_record", "mrn", p.MRN_VALUE),
    ):
        for _, ke in anchors.get(group, ()):
            for m in value_re.finditer(text, ke, min(len(text), ke + 48)):
                if not _gap_ok(text[ke : m.start()]):
                    break
                value = m.group()
                if not any(c.isdigit() for c in value) or _overlaps(claimed, *m.span()):
                    continue
                add(kind, KIND_CLASSES[kind], m.start(), m.end())
                claimed.append(m.span())
                break
    seen: set[int] = set()
    for ks, ke in anchors.get("icd", ()):
        windows = ((ke, min(len(text), ke + 48)), (max(0, ks - 24), ks))
        for lo, hi in windows:
            for m in p.ICD_CODE.finditer(text, lo, hi):
                if m.start() not in seen and not _overlaps(claimed, *m.span()):
                    seen.add(m.start())
                    add("icd10", PHI, m.start(), m.end())


def _phone_shape(candidate: str) -> str | None:
    """``"strong"`` (a phone number by its format), ``"weak"`` (needs a phone word), or None."""
    body = re.sub(r"\s?(?:x|ext\.?|extension)\s?\d{1,6}$", "", candidate)
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


def _phones(text: str, add: Add, claimed: Spans) -> None:
    for m in p.PHONE_RUN.finditer(text):
        start, end = m.span()
        if end < len(text) and (text[end].isalnum() or text[end] == "_"):
            continue
        candidate = m.group().rstrip(" \u00a0()-./")
        if sum(c.isdigit() for c in candidate) < 7:
            continue
        if p.CURRENCY_AFTER.match(text, start + len(candidate)) or text[start - 1 : start] in (
            "€",
            "$",
            "£",
            "¥",
            "₹",
        ):
            continue  # an amount
        context = _context(text, start, p.PHONE_CONTEXT)
        if context < 0:
            continue
        for _ in range(3):
            shape = _phone_shape(candidate)
            if shape == "strong" or (shape == "weak" and context > 0):
                span = (start, start + len(candidate))
                if not _overlaps(claimed, *span):
                    add("phone", PII, *span)
                    claimed.append(span)
                break
            cut = max(candidate.rfind(sep) for sep in (" ", "-", ".", "/", "\u00a0"))
            if cut <= 0:
                break
            candidate = candidate[:cut].rstrip(" \u00a0()-./")


def _names(text: str, add: Add) -> None:
    for m in p.PERSON_NAME.finditer(text):
        tokens = m.group("name").split()
        capitalised = [t for t in tokens if t[:1].isupper()]
        if not capitalised or capitalised[0].lower().strip("'’-.") in p.NOT_A_NAME:
            continue
        if m.group("field") is not None and len(capitalised) < 2:
            continue
        add("person_name", PII, m.start("name"), m.end("name"))


def kinds() -> Sequence[str]:
    """Every kind the regex detector can report."""
    return tuple(KIND_CLASSES)
