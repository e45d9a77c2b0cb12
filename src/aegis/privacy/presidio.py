"""Optional Microsoft Presidio detector (NER-based: finds free-text names).

``presidio_analyzer`` is imported lazily, only when a ``PresidioDetector`` is
built without an injected analyzer, so the dependency stays optional:
``pip install 'aegis-gateway[presidio]'`` (Presidio also needs a spaCy model,
e.g. ``python -m spacy download en_core_web_lg``).

Presidio entity types are mapped onto the regex detector's kinds so combined
results read the same. Unknown entity types (custom recognizers) are treated
as PII -- failing closed. ``DATE_TIME``, ``URL`` and ``LOCATION`` are ignored
by default: they fire on every date, link and city name, which would make
every request PII without protecting anyone; pass ``entity_map`` to change it.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from aegis.errors import ConfigError
from aegis.privacy.classes import DataClass, Finding

__all__ = ["DEFAULT_ENTITY_MAP", "PresidioDetector", "PresidioUnavailable"]

PII, PHI = DataClass.PII, DataClass.PHI

INSTALL_HINT = "pip install 'aegis-gateway[presidio]'"

# Presidio entity type -> (Aegis kind, class); None = ignored.
DEFAULT_ENTITY_MAP: Mapping[str, tuple[str, DataClass] | None] = MappingProxyType(
    {
        "PERSON": ("person_name", PII),
        "EMAIL_ADDRESS": ("email", PII),
        "PHONE_NUMBER": ("phone", PII),
        "US_SSN": ("ssn", PII),
        "US_ITIN": ("national_id", PII),
        "CREDIT_CARD": ("credit_card", PII),
        "IBAN_CODE": ("iban", PII),
        "US_BANK_NUMBER": ("bank_account", PII),
        "CRYPTO": ("crypto_wallet", PII),
        "IP_ADDRESS": ("ip_address", PII),
        "US_PASSPORT": ("passport", PII),
        "IT_PASSPORT": ("passport", PII),
        "IN_PASSPORT": ("passport", PII),
        "US_DRIVER_LICENSE": ("driver_license", PII),
        "IT_DRIVER_LICENSE": ("driver_license", PII),
        "UK_NINO": ("national_id", PII),
        "ES_NIF": ("national_id", PII),
        "ES_NIE": ("national_id", PII),
        "IT_FISCAL_CODE": ("national_id", PII),
        "IT_IDENTITY_CARD": ("national_id", PII),
        "IN_PAN": ("national_id", PII),
        "IN_AADHAAR": ("national_id", PII),
        "IN_VOTER": ("national_id", PII),
        "PL_PESEL": ("national_id", PII),
        "SG_NRIC_FIN": ("national_id", PII),
        "FI_PERSONAL_IDENTITY_CODE": ("national_id", PII),
        "KR_RRN": ("national_id", PII),
        "AU_TFN": ("national_id", PII),
        "NRP": ("special_category", PII),  # nationality, religious or political group
        # Health-sector identifiers: conservative, they only occur around care.
        "MEDICAL_LICENSE": ("medical_license", PHI),
        "UK_NHS": ("medical_record", PHI),
        "AU_MEDICARE": ("medical_record", PHI),
        "DATE_TIME": None,
        "URL": None,
        "LOCATION": None,
        "IT_VAT_CODE": None,  # companies, not people
        "AU_ABN": None,
        "AU_ACN": None,
        "SG_UEN": None,
        "IN_VEHICLE_REGISTRATION": None,
    }
)


class PresidioUnavailable(ConfigError):
    """Presidio was configured but ``presidio_analyzer`` is not installed."""


@dataclass(frozen=True, slots=True)
class PresidioDetector:
    """Wraps a ``presidio_analyzer.AnalyzerEngine``.

    ``analyzer`` can be injected (tests, a pre-warmed shared engine); otherwise
    one is built here. The engine is CPU-bound (spaCy): callers on an event
    loop should run ``scan_text`` in a worker thread for large inputs.
    """

    analyzer: Any = None
    language: str = "en"
    score_threshold: float = 0.5
    entity_map: Mapping[str, tuple[str, DataClass] | None] = field(
        default_factory=lambda: dict(DEFAULT_ENTITY_MAP)
    )
    entities: tuple[str, ...] | None = None
    name: str = "presidio"

    def __post_init__(self) -> None:
        if self.analyzer is None:
            object.__setattr__(self, "analyzer", _default_analyzer())

    def scan_text(self, text: str) -> list[Finding]:
        if not text or not text.strip():
            return []
        results: Iterable[Any] = self.analyzer.analyze(
            text=text,
            language=self.language,
            entities=list(self.entities) if self.entities else None,
            score_threshold=self.score_threshold,
        )
        findings: list[Finding] = []
        for result in results:
            if float(getattr(result, "score", 1.0)) < self.score_threshold:
                continue
            entity = str(result.entity_type)
            mapped = self.entity_map.get(entity, (entity.lower(), PII))
            if mapped is None:
                continue
            kind, data_class = mapped
            findings.append(
                Finding(
                    kind,
                    data_class,
                    start=int(result.start),
                    end=int(result.end),
                    detector=self.name,
                )
            )
        return findings


def _default_analyzer() -> Any:
    try:
        module = importlib.import_module("presidio_analyzer")
    except ImportError as exc:
        raise PresidioUnavailable(
            "the 'presidio' privacy detector needs Microsoft Presidio, which is not "
            f"installed: {INSTALL_HINT} (and a spaCy model, e.g. "
            "'python -m spacy download en_core_web_lg')"
        ) from exc
    return module.AnalyzerEngine()
