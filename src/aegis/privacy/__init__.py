"""Privacy classification: which data may leave the local tier.

``scan_messages`` / ``scan_request`` look at everything a request would send
and return a ``Scan``: the effective ``DataClass`` (never below what the
caller declared) and log-safe ``Finding``s that name kinds and positions,
never the matched text. ``RegexDetector`` is the dependency-free default;
``PresidioDetector`` (optional extra) adds NER, and ``build_detector`` turns a
config string (``regex``, ``presidio``, ``regex+presidio``) into a detector.
The class rules are documented in ``aegis.privacy.detectors``.
"""

from aegis.privacy.classes import (
    HEALTH_KINDS,
    DataClass,
    Finding,
    Scan,
    combine_findings,
    scan_result,
)
from aegis.privacy.detectors import (
    DETECTOR_NAMES,
    KIND_CLASSES,
    CombinedDetector,
    Detector,
    RegexDetector,
    build_detector,
)
from aegis.privacy.messages import DEFAULT_DETECTOR, iter_message_texts, scan_messages, scan_request
from aegis.privacy.presidio import PresidioDetector, PresidioUnavailable

__all__ = [
    "DEFAULT_DETECTOR",
    "DETECTOR_NAMES",
    "HEALTH_KINDS",
    "KIND_CLASSES",
    "CombinedDetector",
    "DataClass",
    "Detector",
    "Finding",
    "PresidioDetector",
    "PresidioUnavailable",
    "RegexDetector",
    "Scan",
    "build_detector",
    "combine_findings",
    "iter_message_texts",
    "scan_messages",
    "scan_request",
    "scan_result",
]
