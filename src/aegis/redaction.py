"""Masking secrets in text: key shapes anyone's credential has, and literal known values.

Two consumers share it: the log pipeline (``aegis.observability.logs``), which masks
key-shaped text in every record, and the provider adapters' edge
(``aegis.providers.base``), which masks upstream error messages before they can
reach a client -- there the provider's own configured credentials are known, so
they are masked literally as well, whatever their shape.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "***"
_SECRET = re.compile(
    r"\b(?P<prefix>sk-ant-|sk-|gsk_|xai-|pplx-|hf_|ghp_|github_pat_)[A-Za-z0-9_\-]{6,}"
    r"|\bAIza[0-9A-Za-z_\-]{20,}"
    r"|\bAKIA[0-9A-Z]{16}\b"
    r"|(?P<scheme>\b[Bb]earer\s+)[A-Za-z0-9._~+/=\-]{6,}"
    r"|(?P<assign>(?i:\b(?:api[_-]?key|access[_-]?token|auth[_-]?token|secret|password|"
    r"x-api-key)\b)[\"']?\s*[=:]\s*[\"']?)[^\s\"'&,;}]{6,}"
)
SHORTEST = 9  # "sk-" + 6: nothing shorter is masked
# Cheap pre-check (the full pattern costs ~10x more): every secret shape contains one of these.
_TRIGGERS = ("sk-", "bearer", "key", "token", "secret", "password", "gsk_", "xai-", "pplx-",
             "hf_", "ghp_", "github_pat_", "aiza", "akia")
_BEARER = re.compile(r"(?i)^bearer\s+")
SHORTEST_LITERAL = 4  # a configured value shorter than this is no secret worth mangling text for


def _mask(match: re.Match[str]) -> str:
    for group in ("prefix", "scheme", "assign"):
        if (kept := match.group(group)) is not None:
            return kept + MASK
    return MASK


def redact(text: str) -> str:
    """Mask key-shaped substrings: ``sk-…``, ``sk-ant-…``, ``Bearer …``, ``api_key=…``."""
    if len(text) < SHORTEST:
        return text
    lowered = text.lower()
    for trigger in _TRIGGERS:
        if trigger in lowered:
            return _SECRET.sub(_mask, text)
    return text


class Redactor:
    """``redact`` plus literal masking of known secret values (a provider's own keys).

    Why literal too: a configured key need not have a recognisable shape (a vLLM
    token, a proxy's password), and upstreams echo it back in error messages. Each
    value is masked with and without a ``Bearer`` prefix, longest first, so a key
    that contains another is masked whole.
    """

    __slots__ = ("_literals",)

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        values: set[str] = set()
        for secret in secrets:
            for value in (secret.strip(), _BEARER.sub("", secret.strip())):
                if len(value) >= SHORTEST_LITERAL:
                    values.add(value)
        self._literals = sorted(values, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for value in self._literals:
            if value in text:
                text = text.replace(value, MASK)
        return redact(text)
