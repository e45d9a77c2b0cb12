"""Data classes, findings and scan results: what the router reads.

``DataClass`` is totally ordered (public < internal < confidential < pii < phi)
so the effective class of a request is simply ``max(declared, detected)``; a
detector can only ever *raise* the class a caller declared, never lower it.

A ``Finding`` deliberately carries no matched text: findings end up in logs,
ledgers and error messages, and the matched text is exactly the data that must
not leak. It records the kind, the class, and *where* (message index, location
inside the message, character span) -- enough to explain a routing decision or
to drive a later redaction pass, nothing more.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

__all__ = ["HEALTH_KINDS", "DataClass", "Finding", "Scan", "combine_findings", "scan_result"]


class DataClass(enum.Enum):
    """Sensitivity of a request's data, ordered from least to most sensitive."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    PII = "pii"
    PHI = "phi"

    def __init__(self, value: str) -> None:
        # Compared on every routing check: a plain attribute, not a mapping lookup.
        self._rank = len(type(self).__members__)

    # Members are singletons and equality is identity, so identity hashing is exact
    # (Enum's own hashes the member's name in Python, on every set or dict lookup).
    __hash__ = object.__hash__

    @property
    def rank(self) -> int:
        return self._rank

    @classmethod
    def parse(cls, value: str | DataClass) -> DataClass:
        """``"PII"``, ``" pii "``, ``DataClass.PII`` -> ``DataClass.PII``.

        Raises ``ValueError`` naming the allowed values; callers (config loader,
        header parser) wrap it in their own error with the key path.
        """
        if isinstance(value, DataClass):
            return value
        if isinstance(value, str):
            key = value.strip().lower()
            for member in cls:
                if member.value == key:
                    return member
        allowed = ", ".join(m.value for m in cls)
        raise ValueError(f"unknown data class {value!r}; allowed values: {allowed}")

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, DataClass):
            return NotImplemented
        return self._rank < other._rank

    def __le__(self, other: object) -> bool:
        if not isinstance(other, DataClass):
            return NotImplemented
        return self._rank <= other._rank

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, DataClass):
            return NotImplemented
        return self._rank > other._rank

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, DataClass):
            return NotImplemented
        return self._rank >= other._rank

    def __str__(self) -> str:
        return self._value_  # ``value`` is an enum property: ~5x slower, on every request


# Kinds that are health information in themselves: together with any PII
# finding anywhere in the same request they make the whole request PHI.
HEALTH_KINDS: frozenset[str] = frozenset({"health", "medical_record", "icd10", "medical_license"})


@dataclass(frozen=True, slots=True)
class Finding:
    """One detection. Never holds the matched text -- only what and where.

    ``message_index`` is the index in ``messages`` (-1 outside them: tool
    definitions, ``response_format``, extra parameters, a bare ``scan_text``
    call); ``location`` is the path inside the message
    (``"content"``, ``"content[2]"``, ``"tool_calls[0].function.arguments"``,
    ...); ``start``/``end`` is the character span in the scanned string, or -1
    when the string was JSON and was scanned in a normalised form.
    """

    kind: str
    data_class: DataClass
    message_index: int = -1
    location: str = ""
    start: int = -1
    end: int = -1
    detector: str = "regex"

    def describe(self) -> str:
        """A log-safe one-liner, e.g. ``email (pii) in messages[2].content@14``."""
        where = f"messages[{self.message_index}]" if self.message_index >= 0 else "request"
        if self.location:
            where += f".{self.location}"
        if self.start >= 0:
            where += f"@{self.start}"
        return f"{self.kind} ({self.data_class.value}) in {where}"


def _finding_maker() -> Callable[[str, DataClass, int, str, int, int, str], Finding]:
    """``Finding(kind, data_class, message_index, location, start, end, detector)``
    at half the cost: the slots are set directly, not through the frozen
    dataclass's ``__init__`` (one ``object.__setattr__`` call per field). For
    detectors that make thousands of findings per text."""
    new = object.__new__
    setters = tuple(getattr(Finding, name).__set__ for name in Finding.__dataclass_fields__)
    if len(setters) != 7:  # pragma: no cover - a field was added: update the signature
        raise RuntimeError("Finding changed: update _finding_maker")
    kind_, class_, index_, location_, start_, end_, detector_ = setters

    def make(
        kind: str,
        data_class: DataClass,
        message_index: int,
        location: str,
        start: int,
        end: int,
        detector: str,
    ) -> Finding:
        f: Finding = new(Finding)
        kind_(f, kind)
        class_(f, data_class)
        index_(f, message_index)
        location_(f, location)
        start_(f, start)
        end_(f, end)
        detector_(f, detector)
        return f

    return make


make_finding = _finding_maker()


@dataclass(frozen=True, slots=True)
class Scan:
    """The result of scanning a request: its effective class and the findings.

    ``data_class`` is ``max(declared, every finding's class)``, raised to PHI
    when health information and a personal identifier occur in the same
    request (see ``aegis.privacy.detectors`` for the rules).
    """

    data_class: DataClass
    findings: tuple[Finding, ...] = ()
    declared: DataClass = DataClass.PUBLIC

    @property
    def detected(self) -> DataClass:
        """The class the findings alone justify, ignoring the declaration."""
        return combine_findings(self.findings)

    @property
    def kinds(self) -> frozenset[str]:
        return frozenset(f.kind for f in self.findings)

    @property
    def sensitive(self) -> bool:
        return self.data_class > DataClass.PUBLIC

    def summary(self) -> dict[str, Any]:
        """Log-safe summary: class and finding counts per kind, no text."""
        counts: dict[str, int] = {}
        for f in self.findings:
            counts[f.kind] = counts.get(f.kind, 0) + 1
        return {
            "data_class": self.data_class.value,
            "declared": self.declared.value,
            "findings": dict(sorted(counts.items())),
        }


def combine_findings(findings: tuple[Finding, ...] | list[Finding]) -> DataClass:
    """The class a set of findings justifies.

    The maximum of the findings' classes, except that health information plus
    any personal identifier is PHI: "diagnosed with X" is at most health
    context, but next to an e-mail address it is someone's health record.
    """
    result = DataClass.PUBLIC
    health = False
    personal = False
    for f in findings:
        result = max(result, f.data_class)
        if f.kind in HEALTH_KINDS:
            health = True
        elif f.data_class == DataClass.PII:
            personal = True
    if health and personal:
        result = DataClass.PHI
    return result


# The result of a scan that found nothing, per declared class: most requests.
# Building one costs more than the scan of a short prompt (the frozen dataclass's
# __init__, enum comparisons in ``max``); a Scan is immutable, so one is shared.
_NOTHING_FOUND: Mapping[DataClass, Scan] = MappingProxyType(
    {member: Scan(member, (), member) for member in DataClass}
)


def scan_result(
    findings: tuple[Finding, ...] | list[Finding], declared: DataClass = DataClass.PUBLIC
) -> Scan:
    """Build a ``Scan``; the effective class is never below ``declared``."""
    if not findings:
        return _NOTHING_FOUND[declared]
    found = tuple(findings)
    return Scan(
        data_class=max(declared, combine_findings(found)), findings=found, declared=declared
    )
