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

Speed: every text is mapped once to byte views (``aegis.privacy.prefilter``):
the lexicon runs as one trie pattern over the word view
(``aegis.privacy.lexicon``), and the full-text patterns (digit clusters,
IBAN, letter-led IDs, doses) only at candidate positions that literal-led
patterns over the shape view find -- ``re`` skips to a literal at ``memchr``
speed but walks a character class at ~10 ns a character. Clusters feed every
numeric validator; cheap exact tests (digit counts, claimed spans, anchors
nearby) skip validators that cannot match. Nothing changes what is found: the
prefiltered scan equals the reference scan (``RegexDetector._scan(
prefilter=False)``) finding for finding (``tests/privacy/test_prefilter.py``).
No pattern can backtrack catastrophically. No digit -> no numeric work; no
``@`` -> no e-mail work; no keyword, digit or ``@`` -> nothing else either.
Routing can stop at PHI (``messages.scan_messages(exhaustive=False)``).
``bench/privacy_eval.py`` measures it (``--baseline REF`` for before/after).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from aegis.privacy import patterns as p
from aegis.privacy import prefilter as pf
from aegis.privacy.classes import DataClass, Finding, make_finding
from aegis.privacy.finders import (
    KIND_CLASSES,
    PHI,
    VALUE_ANCHORS,
    Claims,
    Context,
    find_alpha_ids,
    find_anchored_values,
    find_confidential,
    find_dates_of_birth,
    find_emails,
    find_first_dose,
    find_ibans,
    find_ipv6,
    find_names,
    find_numeric,
    find_phones,
    group_anchors,
    matches_at,
)
from aegis.privacy.health import health_context
from aegis.privacy.lexicon import LEXICON, lowercase
from aegis.privacy.prefilter import TextViews, text_views

__all__ = [
    "DETECTOR_NAMES",
    "KIND_CLASSES",
    "CombinedDetector",
    "Detector",
    "RegexDetector",
    "build_detector",
]


@runtime_checkable
class Detector(Protocol):
    """Anything that turns text into findings. Must be safe to share between requests."""

    @property
    def name(self) -> str: ...

    def scan_text(self, text: str) -> list[Finding]:
        """Findings for ``text`` with ``message_index=-1``; never the matched text."""
        ...


@dataclass(frozen=True, slots=True)
class RegexDetector:
    """The default detector: stdlib only, precompiled, linear time.

    ``health_class`` is the class of health context on its own (PHI by
    default; see the module docstring before lowering it).
    """

    health_class: DataClass = PHI
    name: str = "regex"

    def scan_text(self, text: str) -> list[Finding]:
        return self._scan(text)

    def _scan(
        self,
        text: str,
        *,
        stop_at_phi: bool = False,
        prefilter: bool = True,
        message_index: int = -1,
        location: str = "",
        spans: bool = True,
    ) -> list[Finding]:
        """``scan_text``, with switches.

        ``stop_at_phi``: return as soon as the findings make the text PHI (the
        highest class). The class is the same as a full scan's; the findings
        are then not exhaustive. ``messages.scan_messages(exhaustive=False)``.

        ``prefilter=False``: the reference scan -- every full-text pattern over
        the whole text, the lexicon word by word -- that the prefiltered scan
        must equal finding for finding (``tests/privacy/test_prefilter.py``).

        ``message_index``, ``location``, ``spans=False`` (start and end -1):
        the findings as ``messages.scan_messages`` reports them.
        """
        if not text:
            return []
        views: TextViews | None = None
        if prefilter:
            views = text_views(text, lowercase)
            lowered = views.lowered
            hits = LEXICON.find(text, lowered, views.words)
            has_digit = views.has_digit
        else:
            lowered = lowercase(text)
            hits = LEXICON.find_words(text, lowered)
            has_digit = p.DIGIT.search(text) is not None
        if not hits and not has_digit and "@" not in text:
            return []  # nothing any kind below could start from (most short prompts)
        findings: list[Finding] = []
        detector = self.name

        def add(kind: str, data_class: DataClass, start: int, end: int) -> None:
            if not spans:
                start = end = -1
            findings.append(
                make_finding(kind, data_class, message_index, location, start, end, detector)
            )

        if stop_at_phi and self.health_class is PHI:
            # Health context without doses implies health context with them.
            span = health_context(hits, lowered)
            if span is not None:
                add("health", PHI, span[0], span[1])
                return findings
        anchors = group_anchors(hits)
        doses: list[tuple[int, int]] = []
        if "@" in text:
            find_emails(text, add)
        if has_digit:
            claims = Claims(len(text))
            if views is not None:
                clusters = pf.clusters(views)
                # (no starts -- candidates everywhere: matches_at scans the whole text)
                ibans = matches_at(p.IBAN, text, pf.iban_starts(views))
                alpha_ids = matches_at(p.ALPHA_ID, text, pf.alpha_id_starts(views))
                dose = find_first_dose(text, pf.dose_digits(views))
            else:
                clusters = [m.span() for m in p.CLUSTER.finditer(text)]
                ibans = p.IBAN.finditer(text)
                alpha_ids = p.ALPHA_ID.finditer(text)
                dose = None
                if any(unit in lowered for unit in p.DOSE_UNITS):
                    dose = next(p.DOSE.finditer(text), None)
            find_ibans(text, ibans, add, claims)
            find_alpha_ids(alpha_ids, add, claims)
            shape = views.shape if views is not None else None
            context = Context(anchors) if clusters else None
            if context is not None:
                find_numeric(text, clusters, add, claims, context, anchors, shape)
            if text.count(":") >= 2:
                find_ipv6(text, add, claims)
            if dose is not None:
                doses = [dose.span()]  # only the first dose counts (health_context)
            if "dob" in anchors:
                find_dates_of_birth(text, add, claims, anchors)
            if not VALUE_ANCHORS.isdisjoint(anchors):
                find_anchored_values(text, add, claims, anchors)
            if stop_at_phi and any(f.data_class is PHI for f in findings):
                return findings
            if context is not None:
                find_phones(text, clusters, add, claims, context, shape)
        elif "passport" in anchors:
            # letters-only passport numbers
            find_anchored_values(text, add, Claims(len(text)), anchors)
        if anchors:
            find_names(text, anchors, add)
            if "conf" in anchors:
                find_confidential(text, lowered, anchors, add)
        if hits or doses:
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
