"""Byte views of a text: where the detectors' patterns *can* match, found at C speed.

Python's ``re`` walks a character class (``\\d``, ``[A-Z]``, ``[^\\W_]+``) at
roughly 10 ns per character even where nothing matches, but it skips to a
*literal* first character at ``memchr`` speed. So each text is mapped once,
with ``bytes.translate``, to *index-preserving* byte views (one byte per
character, character classes collapsed to a few symbols), and the patterns
that locate candidates run over a view and start with a literal:

* ``words``: letters and digits lower-cased, everything else a space; the
  lexicon's trie starts with a space (``aegis.privacy.lexicon``);
* ``shape``: every digit is ``0``, so the numeric candidate patterns start
  with ``0`` and cost nothing in a text without digits, little in prose.

The real patterns then run only at those candidates (``Pattern.match`` at
each, in order -- exactly what ``finditer`` would find there), on the real
text. Rule for every candidate pattern: over-approximate, never miss.
``tests/privacy/test_prefilter.py`` checks the prefiltered scan against a
full scan (``RegexDetector._scan(prefilter=False)``) finding for finding.

Views are built from the text's Latin-1 encoding. Characters outside Latin-1
become a stand-in of the same class (decimal digit, other letter or digit,
whitespace, anything else), keeping one byte per character: through a codec
error handler when they are few, through one ``str.translate`` with a table
of the whole BMP when there are many (text in another script). Texts in any
script get the same findings as the full scan; Latin-1 text is fastest.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Callable
from typing import NamedTuple

__all__ = [
    "TextViews",
    "alpha_id_starts",
    "clusters",
    "dose_digits",
    "iban_starts",
    "text_views",
    "word_view",
]

_SHAPE_ERRORS = "aegis.privacy.shape"
_WORD_ERRORS = "aegis.privacy.words"
# Typographic characters outside Latin-1 that are common in prose. Replaced
# before encoding (``str.replace`` runs at C speed, the error handler is a
# Python call per run of them); none is a letter, digit or whitespace --
# exactly like their stand-in DEL.
_COMMON_WIDE = ("\u2019", "\u2018", "\u201c", "\u201d", "\u2013", "\u2014", "\u2026", "\u20ac")


def _shape_stand_in(ch: str) -> str:
    if ch.isdecimal():
        return "0"
    if ch.isalnum():
        return "\u00aa"  # a Latin-1 letter: a word character, no digit, not [A-Za-z]
    return "\x1f" if ch.isspace() else "\x7f"  # Latin-1 whitespace / punctuation


def _word_stand_in(ch: str) -> str:
    return "\u00aa" if ch.isalnum() else " "


def _shape_handler(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "".join(map(_shape_stand_in, exc.object[exc.start : exc.end])), exc.end


def _words_handler(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "".join(map(_word_stand_in, exc.object[exc.start : exc.end])), exc.end


codecs.register_error(_SHAPE_ERRORS, _shape_handler)
codecs.register_error(_WORD_ERRORS, _words_handler)


def _table(symbol: Callable[[str], str]) -> bytes:
    return bytes(ord(symbol(chr(i))) for i in range(256))


def _shape_symbol(c: str) -> str:
    if c.isdecimal():
        return "0"
    if "A" <= c <= "Z":
        return "A"
    if "a" <= c <= "z":
        return c if c in "im" else "a"  # "i", "m" start the units "iu", "mg", "mcg"
    if c == "\u00b5":
        return c  # "µg"
    if c.isalnum() or c == "_":
        return "w"
    if c in "().-/ \u00a0":
        return c
    return "\t" if c.isspace() else "x"


# lower-case letters and digits as themselves, everything else a space (the lexicon's words)
_WORDS = _table(lambda c: c.lower() if c.isalnum() else " ")
_LOWER = _table(str.lower)
# decimal digit 0; ASCII letters A (upper) / a (lower), except the units' first
# lower-case letters i, m and µ; other word characters w; ().-/ space and no-break
# space as themselves; other whitespace a tab; anything else x.
_SHAPE = _table(_shape_symbol)
_WORD_CHAR = b"0Aaim\xb5w"  # the characters of ``shape`` that are \w in the text
_DIGIT_SYMBOL = ord("0")  # every decimal digit is this in ``shape``

# Each pattern below is the candidate test for one detector pattern, written
# for ``shape``; each starts with a literal (0 or A) that ``re`` skips to.
# patterns.CLUSTER, character for character: its matches are the clusters.
_CLUSTER = re.compile(rb"0(?<![" + _WORD_CHAR + rb"\-./]0)(?:[0().\-/]|[ \xa0](?=[0(])){6,}+")
# patterns.IBAN: two digits after exactly two ASCII letters that start a word.
_IBAN = re.compile(rb"00(?<=(?<![" + _WORD_CHAR + rb"])[Aaim]{2}00)")
# patterns.ALPHA_ID: an upper-case letter followed by a digit, or by a space
# (NINO) or a hyphen (NIE) and a digit.
_ALPHA_ID = re.compile(rb"A(?=[ \-]?0)")
# patterns.DOSE: a digit, optional whitespace, the first letter of a unit ("I"
# is an A here). In a text full of digits, searched in ``_UNITS`` instead: two
# literal finds rather than a stop at every digit.
_DOSE = re.compile(rb"0(?=[ \xa0\t]?[mA\xb5i])")
_UNITS = _table(
    lambda c: "0" if c.isdecimal() else " " if c.isspace() else "m" if c in "mIi\u00b5" else "x"
)


class TextViews(NamedTuple):
    """A text's views. A named tuple, not a frozen dataclass: built once per
    scanned text, and a frozen dataclass's ``__init__`` (one ``object.__setattr__``
    per field) cost more than the views themselves on a short prompt."""

    lowered: str  # as ``lexicon.lowercase``
    words: bytes  # ``word_view(lowered)``
    raw: bytes  # the text in Latin-1, stand-ins (``_shape_stand_in``) for the rest
    shape: bytes  # ``raw`` through ``_SHAPE``

    @property
    def has_digit(self) -> bool:
        # An int operand: ``bytes.__contains__`` tries an int first, and a bytes
        # operand costs ~0.2 us in the TypeError it raises and swallows.
        return _DIGIT_SYMBOL in self.shape


def _latin1(text: str, errors: str) -> bytes:
    """``text`` in Latin-1, one byte per character (``text`` is not all Latin-1)."""
    for ch in _COMMON_WIDE:
        text = text.replace(ch, "\x7f")
    wide = len(text) - len(text.encode("latin-1", "ignore"))  # characters outside Latin-1
    if wide > 32:
        # Many (another script): one str.translate (C, ~40 ns a character) with a
        # table of the Basic Multilingual Plane; only astral characters are left
        # to the error handler, a Python call per run of them.
        text = text.translate(_bmp_table(errors))
    return text.encode("latin-1", errors)


_BMP_TABLES: dict[str, str] = {}


def _bmp_table(errors: str) -> str:
    """A ``str.translate`` table (indexable by code point) for the BMP: Latin-1 as
    itself, the rest as the error handler's stand-in. Built on first use (~30 ms)."""
    table = _BMP_TABLES.get(errors)
    if table is None:
        stand_in = _shape_stand_in if errors == _SHAPE_ERRORS else _word_stand_in
        table = "".join(map(chr, range(256))) + "".join(
            stand_in(chr(i)) for i in range(256, 0x10000)
        )
        _BMP_TABLES[errors] = table
    return table


def word_view(lowered: str) -> bytes:
    """``lowered`` with each letter or digit as itself and everything else a space,
    padded with one space on each side (index ``i`` of the text is ``i + 1`` here).

    Letters and digits outside Latin-1 become ``ª``: they still join a word,
    and no Latin-1 lexicon key contains them (keys outside Latin-1 are matched
    on ``lowered`` itself, see ``lexicon.Lexicon.find``).
    """
    try:
        raw = lowered.encode("latin-1")
    except UnicodeEncodeError:
        raw = _latin1(lowered, _WORD_ERRORS)
    return b" " + raw.translate(_WORDS) + b" "


def text_views(text: str, lowercase: Callable[[str], str]) -> TextViews:
    """All views of ``text``; ``lowercase`` is ``lexicon.lowercase``."""
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        lowered = lowercase(text)
        raw = _latin1(text, _SHAPE_ERRORS)
        return TextViews(lowered, word_view(lowered), raw, raw.translate(_SHAPE))
    # Latin-1 lower-casing maps one character to one character: a table does it.
    lowered = raw.translate(_LOWER).decode("latin-1")
    return TextViews(lowered, b" " + raw.translate(_WORDS) + b" ", raw, raw.translate(_SHAPE))


def clusters(views: TextViews) -> list[tuple[int, int]]:
    """``[m.span() for m in patterns.CLUSTER.finditer(text)]``."""
    return [m.span() for m in _CLUSTER.finditer(views.shape)]


# More candidates than one per this many characters: trying each in Python
# costs more than the real pattern's own pass over the text (~10 ns a
# character against ~0.5 us a candidate); the candidate functions then return
# None and the caller runs the pattern over the whole text.
_DENSE = 48


def iban_starts(views: TextViews) -> list[int] | None:
    """Every position where ``patterns.IBAN`` can match (where its two digits
    start), in order; None when there are too many (see ``_DENSE``)."""
    shape = views.shape
    if len(_IBAN.findall(shape)) * _DENSE > len(shape):
        return None
    return [m.start() for m in _IBAN.finditer(shape)]


def alpha_id_starts(views: TextViews) -> list[int] | None:
    """Every position where ``patterns.ALPHA_ID`` can match, in order; None when
    there are too many (see ``_DENSE``).

    The pattern's look-behind forbids a word character before its first
    letter, so a match starts where a run of capitals starts; NINO (2
    letters), PAN (5), codice fiscale (6) and NIE (1) all have a digit right
    after that run, or a space (NINO) / hyphen (NIE) and then a digit.
    """
    shape = views.shape
    if len(_ALPHA_ID.findall(shape)) * _DENSE > len(shape):
        return None
    found: list[int] = []
    for m in _ALPHA_ID.finditer(shape):
        last = m.start()  # the last capital of the run
        start = last
        while start > 0 and shape[start - 1] == 65 and last - start < 5:
            start -= 1
        if start == 0 or shape[start - 1] != 65:  # longer runs cannot match
            found.append(start)
    return found


def dose_digits(views: TextViews) -> list[int]:
    """Digits followed by (whitespace and) the first letter of a dose unit, in order."""
    shape = views.shape
    if shape.count(b"0") * 16 < len(shape):  # few digits: stop at each, that is cheaper
        return [m.start() for m in _DOSE.finditer(shape)]
    units = views.raw.translate(_UNITS)
    found: list[int] = []
    for needle in (b"0m", b"0 m"):
        i = units.find(needle)
        while i >= 0:
            found.append(i)
            i = units.find(needle, i + 1)
    found.sort()
    return found
