"""Health context: is this text about someone's health?

The lexicon (``aegis.privacy.lexicon``: English, German, French, Spanish,
Italian, Dutch) has weights, because many medical words are everyday words in
software:

* **strong** terms are unambiguous (``chemotherapy``, ``metformin``,
  ``diagnosed with``, ``Krankenhaus``, ``HIPAA``, a dose like ``20 mg``): one is
  enough;
* **weak** terms are health words with common non-medical senses
  (``patient``, ``symptoms``, ``diagnosis``, ``treatment``, ``virus``,
  ``doctor``): two *different* ones within ``PAIR_WINDOW`` characters are
  needed. ``patient`` after a determiner (``the patient``) counts as strong;
* **anti** phrases spell out the technical senses (``be patient``,
  ``health check``, ``brew doctor``, ``treatment group``, ``antivirus``): words
  inside them never count.

Acronyms (``HIV``, ``PHI``, ``COPD``, ``MRI``) are case-sensitive, so
``std::`` or the golden ratio ``phi`` do not trigger.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence

from aegis.privacy.lexicon import Hit

__all__ = ["PAIR_WINDOW", "health_context"]

PAIR_WINDOW = 250
_COUNTED = frozenset({"h_strong", "h_acro", "h_weak"})
_DETERMINER_BEFORE = re.compile(
    r"(?<!\w)(?:the|a|an|our|my|your|his|her|their|this|that|each|every|per|new|elderly"
    r"|adult|female|male|pediatric|paediatric|der|die|le|la|el|il|lo|de|het)\s+$"
)


def health_context(
    hits: Sequence[Hit], lowered: str, doses: Sequence[tuple[int, int]] = ()
) -> tuple[int, int] | None:
    """The span that establishes health context, or None.

    ``hits`` are lexicon hits (families ``h_strong``, ``h_acro``, ``h_weak``,
    ``h_anti``; others are ignored), ``doses`` are spans like ``20 mg``.
    """
    anti = sorted((s, e) for family, s, e in hits if family == "h_anti")
    anti_starts = [s for s, _ in anti]
    best: tuple[int, int] | None = min(doses) if doses else None
    weak: list[tuple[int, int]] = []
    for family, s, e in sorted(h for h in hits if h[0] in _COUNTED):
        if best is not None and s >= best[0]:
            break
        if anti:
            k = bisect_right(anti_starts, s)
            # anti phrases are short: only the nearest one starting at or before s can cover s
            if k and anti[k - 1][1] > s:
                continue
            if k < len(anti) and anti[k][0] < e:
                continue
        if family == "h_weak" and not (
            lowered[s:e] == "patient" and _DETERMINER_BEFORE.search(lowered, max(0, s - 12), s)
        ):
            weak.append((s, e))
        else:
            best = (s, e)
            break
    if best is not None:
        return best
    for k, (s, e) in enumerate(weak):
        word = lowered[s:e]
        for s2, e2 in weak[k + 1 :]:
            if s2 - s > PAIR_WINDOW:
                break
            if lowered[s2:e2] != word:
                return (s2, e2)
    return None
