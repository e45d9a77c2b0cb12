"""Checksum and range validators for identifiers.

A regex finds things that *look like* a card number or an IBAN; these decide
whether they *are* one. They take the normalised identifier (separators
removed, upper-case) and never raise on malformed input -- they return False.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

__all__ = [
    "bsn_valid",
    "card_number_valid",
    "codice_fiscale_valid",
    "dni_valid",
    "iban_valid",
    "luhn_valid",
    "nino_valid",
    "nir_valid",
    "ssn_valid",
    "steuer_id_valid",
    "verhoeff_valid",
]


def luhn_valid(digits: str) -> bool:
    """The Luhn (mod 10) check used by payment cards."""
    if not digits.isdigit():
        return False
    if digits.isascii():  # the sums in C: undoubled digits, then doubled ones via a table
        raw = digits.encode()
        kept, doubled = raw[-1::-2], raw[-2::-2]
        return (sum(kept) - 48 * len(kept) + sum(doubled.translate(_LUHN_DOUBLED))) % 10 == 0
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i & 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# "0".."9" -> the digit doubled, minus 9 when above 9
_LUHN_DOUBLED = bytes(
    (2 * (i - 48) - 9 if 2 * (i - 48) > 9 else 2 * (i - 48)) % 256 for i in range(256)
)

# (prefix range low, high, allowed lengths). Ranges compare on the first
# len(low) digits. Maestro's 12-digit cards are deliberately out (13..19 only).
_CARD_RANGES: tuple[tuple[str, str, frozenset[int]], ...] = (
    ("4", "4", frozenset({13, 16, 19})),  # Visa
    ("51", "55", frozenset({16})),  # Mastercard
    ("2221", "2720", frozenset({16})),  # Mastercard 2-series
    ("34", "34", frozenset({15})),  # Amex
    ("37", "37", frozenset({15})),  # Amex
    ("6011", "6011", frozenset(range(16, 20))),  # Discover
    ("644", "649", frozenset(range(16, 20))),  # Discover
    ("65", "65", frozenset(range(16, 20))),  # Discover / RuPay
    ("300", "305", frozenset(range(14, 20))),  # Diners Club
    ("3095", "3095", frozenset(range(14, 20))),  # Diners Club
    ("36", "36", frozenset(range(14, 20))),  # Diners Club
    ("38", "39", frozenset(range(14, 20))),  # Diners Club
    # JCB is assigned 3528-3589; the rest of 35xx is accepted too (fail closed:
    # generators and test data use the whole 35 block).
    ("35", "35", frozenset(range(16, 20))),  # JCB
    ("1800", "1800", frozenset({15})),  # JCB (legacy 15-digit)
    ("2131", "2131", frozenset({15})),  # JCB (legacy 15-digit)
    ("62", "62", frozenset(range(16, 20))),  # UnionPay
    ("2200", "2204", frozenset(range(16, 20))),  # Mir
    ("50", "50", frozenset(range(13, 20))),  # Maestro
    ("56", "69", frozenset(range(13, 20))),  # Maestro and others
    ("60", "60", frozenset({16})),  # RuPay
    ("81", "82", frozenset({16})),  # RuPay
)


# The ranges above that a number starting with each digit can fall in (order kept).
_CARD_RANGES_BY_FIRST: Mapping[str, tuple[tuple[str, str, frozenset[int]], ...]] = MappingProxyType(
    {first: tuple(r for r in _CARD_RANGES if r[0][0] <= first <= r[1][0]) for first in "0123456789"}
)


def card_number_valid(digits: str) -> bool:
    """A payment card number: 13..19 digits, a known issuer prefix, Luhn-valid."""
    n = len(digits)
    if not 13 <= n <= 19 or not digits.isdigit():
        return False
    for low, high, lengths in _CARD_RANGES_BY_FIRST.get(digits[0], ()):
        if n in lengths and low <= digits[: len(low)] <= high:
            return luhn_valid(digits)
    return False


# ISO 13616 registry: country code -> IBAN length.
IBAN_LENGTHS: Mapping[str, int] = MappingProxyType({
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22,
    "BH": 22, "BI": 27, "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24,
    "DE": 22, "DJ": 27, "DK": 18, "DO": 28, "EE": 20, "EG": 29, "ES": 24, "FI": 18,
    "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23, "GL": 18, "GR": 27,
    "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
    "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "LY": 25, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27,
    "MT": 31, "MU": 30, "NI": 28, "NL": 18, "NO": 15, "OM": 23, "PK": 24, "PL": 28,
    "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33, "SA": 24, "SC": 31,
    "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
    "TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
})  # fmt: skip


def iban_valid(iban: str) -> bool:
    """ISO 13616: registered country, its exact length, mod-97 == 1."""
    if len(iban) < 15 or IBAN_LENGTHS.get(iban[:2]) != len(iban) or not iban.isalnum():
        return False
    if not iban[2:4].isdigit():
        return False
    remainder = 0
    for ch in iban[4:] + iban[:4]:
        if "0" <= ch <= "9":
            remainder = (remainder * 10 + ord(ch) - 48) % 97
        elif "A" <= ch <= "Z":
            remainder = (remainder * 100 + ord(ch) - 55) % 97
        else:
            return False
    return remainder == 1


def ssn_valid(area: str, group: str, serial: str) -> bool:
    """US SSN ranges: area not 000/666/9xx, group not 00, serial not 0000."""
    return (
        len(area) == 3
        and len(group) == 2
        and len(serial) == 4
        and area != "000"
        and area != "666"
        and area[0] != "9"
        and group != "00"
        and serial != "0000"
    )


_VERHOEFF_D = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 2, 3, 4, 0, 6, 7, 8, 9, 5),
    (2, 3, 4, 0, 1, 7, 8, 9, 5, 6),
    (3, 4, 0, 1, 2, 8, 9, 5, 6, 7),
    (4, 0, 1, 2, 3, 9, 5, 6, 7, 8),
    (5, 9, 8, 7, 6, 0, 4, 3, 2, 1),
    (6, 5, 9, 8, 7, 1, 0, 4, 3, 2),
    (7, 6, 5, 9, 8, 2, 1, 0, 4, 3),
    (8, 7, 6, 5, 9, 3, 2, 1, 0, 4),
    (9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
)
_VERHOEFF_P = (
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 9),
    (1, 5, 7, 6, 2, 8, 3, 0, 9, 4),
    (5, 8, 0, 3, 7, 9, 6, 1, 4, 2),
    (8, 9, 1, 6, 0, 4, 3, 5, 2, 7),
    (9, 4, 5, 3, 1, 2, 6, 8, 7, 0),
    (4, 2, 8, 6, 5, 7, 3, 9, 0, 1),
    (2, 7, 9, 3, 8, 0, 6, 4, 1, 5),
    (7, 0, 4, 6, 9, 1, 3, 2, 5, 8),
)


def verhoeff_valid(digits: str) -> bool:
    """The Verhoeff check used by India's Aadhaar numbers."""
    if not digits.isdecimal():
        return False
    c = 0
    for i, ch in enumerate(reversed(digits)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[i % 8][int(ch)]]  # int(): any script's digits
    return c == 0


def bsn_valid(digits: str) -> bool:
    """Dutch BSN "elfproef": weights 9..2 and -1, sum divisible by 11."""
    if len(digits) != 9 or not digits.isdigit() or digits == "000000000":
        return False
    total = sum((9 - i) * (ord(ch) - 48) for i, ch in enumerate(digits[:8]))
    total -= ord(digits[8]) - 48
    return total % 11 == 0


def nir_valid(nir: str) -> bool:
    """French social security number (NIR): 13 characters + 2-digit key (97 - n mod 97)."""
    if len(nir) != 15 or not nir[13:].isdigit():
        return False
    body = nir[:13].replace("2A", "19").replace("2B", "18")
    if not body.isdigit() or body[0] not in "12":
        return False
    return 97 - int(body) % 97 == int(nir[13:])


# Value of each character in an odd (1st, 3rd, ...) position.
_CF_ODD_VALUES: tuple[int, ...] = (
    1,
    0,
    5,
    7,
    9,
    13,
    15,
    17,
    19,
    21,
    1,
    0,
    5,
    7,
    9,
    13,
    15,
    17,
    19,
    21,
    2,
    4,
    18,
)
_CF_ODD_VALUES += (20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23)
_CF_ODD: Mapping[str, int] = MappingProxyType(
    dict(zip("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", _CF_ODD_VALUES, strict=True))
)


def codice_fiscale_valid(cf: str) -> bool:
    """Italian codice fiscale check character (16 alphanumerics)."""
    if len(cf) != 16 or not cf.isalnum():
        return False
    total = 0
    for i, ch in enumerate(cf[:15]):
        if i % 2 == 0:
            value = _CF_ODD.get(ch)
            if value is None:
                return False
            total += value
        else:
            total += ord(ch) - 48 if ch.isdigit() else ord(ch) - 65
    return chr(65 + total % 26) == cf[15]


def dni_valid(value: str) -> bool:
    """Spanish DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter)."""
    if len(value) != 9:
        return False
    head = value[0]
    number = {"X": "0", "Y": "1", "Z": "2"}.get(head, head) + value[1:8]
    if not number.isdigit():
        return False
    return "TRWAGMYFPDXBNJZSQVHLCKE"[int(number) % 23] == value[8]


_NINO_BAD_PREFIX = frozenset({"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"})


def nino_valid(nino: str) -> bool:
    """UK National Insurance number: valid prefix letters, 6 digits, suffix A-D."""
    return (
        len(nino) == 9
        and nino[0] not in "DFIQUV"
        and nino[1] not in "DFIOQUV"
        and nino[:2] not in _NINO_BAD_PREFIX
        and nino[2:8].isdigit()
        and nino[8] in "ABCD"
    )


def steuer_id_valid(digits: str) -> bool:
    """German tax ID (Steuer-IdNr): 11 digits, ISO 7064 MOD 11,10 check digit."""
    if len(digits) != 11 or not digits.isdigit() or digits[0] == "0":
        return False
    product = 10
    for ch in digits[:10]:
        total = (ord(ch) - 48 + product) % 10 or 10
        product = (total * 2) % 11
    return (11 - product) % 10 == ord(digits[10]) - 48
