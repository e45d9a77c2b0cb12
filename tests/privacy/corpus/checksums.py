"""Checksum helpers written independently of the detector's validators (see
``tests.privacy.corpus``)."""

from __future__ import annotations

import random
import string
from datetime import date, datetime

# ---------------------------------------------------------------------------
# Independent checksum helpers (corpus side)


def _luhn_sum_ok(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _luhn_fail(rng: random.Random, prefix: str, length: int) -> str:
    while True:
        body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix)))
        if not _luhn_sum_ok(body):
            return body


_IBAN_LEN = {"GB": 22, "DE": 22, "FR": 27, "ES": 24, "IT": 27, "NL": 18}


def _iban_ok(iban: str) -> bool:
    iban = iban.replace(" ", "")
    if _IBAN_LEN.get(iban[:2]) != len(iban):
        return False
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


_VERHOEFF_D = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
    [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
    [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
    [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
    [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
    [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
    [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
    [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
    [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
]
_VERHOEFF_P = [
    [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
    [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
    [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
    [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
    [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
    [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
    [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
    [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
]
_VERHOEFF_INV = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9]


def _verhoeff_digit(body: str) -> str:
    c = 0
    for i, ch in enumerate(reversed(body)):
        c = _VERHOEFF_D[c][_VERHOEFF_P[(i + 1) % 8][int(ch)]]
    return str(_VERHOEFF_INV[c])


def _aadhaar(rng: random.Random) -> str:
    body = str(rng.randint(2, 9)) + "".join(rng.choice(string.digits) for _ in range(10))
    return body + _verhoeff_digit(body)


def _bsn(rng: random.Random) -> str:
    while True:
        digits = [rng.randint(0, 9) for _ in range(8)]
        total = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True))
        check = total % 11
        if check < 10:
            return "".join(map(str, digits)) + str(check)


def _nir(rng: random.Random, born: date) -> str:
    dept = f"{rng.randint(1, 95):02d}"
    body = f"{rng.randint(1, 2)}{born.year % 100:02d}{born.month:02d}{dept}"
    body += f"{rng.randint(1, 999):03d}{rng.randint(1, 999):03d}"
    key = 97 - int(body) % 97
    return body + f"{key:02d}"


def _nino(rng: random.Random) -> str:
    first = "ABCEGHJKLMNOPRSTWXYZ"
    second = "ABCEGHJKLMNPRSTWXYZ"
    while True:
        prefix = rng.choice(first) + rng.choice(second)
        if prefix not in {"BG", "GB", "NK", "KN", "TN", "NT", "ZZ"}:
            break
    return prefix + "".join(rng.choice(string.digits) for _ in range(6)) + rng.choice("ABCD")


def _steuer_id(rng: random.Random) -> str:
    """German tax ID: 11 digits, ISO 7064 MOD 11,10 check digit."""
    while True:
        body = str(rng.randint(1, 9)) + "".join(rng.choice(string.digits) for _ in range(9))
        if len(set(body)) == 9:  # exactly one digit repeated (the official rule)
            break
    product = 10
    for ch in body:
        total = (int(ch) + product) % 10 or 10
        product = (total * 2) % 11
    check = (11 - product) % 10
    return body + str(check)


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
_CF_ODD = dict(zip("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", _CF_ODD_VALUES, strict=True))


def _cf_ok(cf: str) -> bool:
    total = 0
    for i, ch in enumerate(cf[:15]):
        if i % 2 == 0:
            total += _CF_ODD[ch]
        else:
            total += int(ch) if ch.isdigit() else ord(ch) - ord("A")
    return chr(ord("A") + total % 26) == cf[15]


def _dni_ok(value: str) -> bool:
    v = value.replace("-", "").upper()
    v = v.replace("X", "0", 1) if v[0] == "X" else v
    v = "1" + v[1:] if v[0] == "Y" else v
    v = "2" + v[1:] if v[0] == "Z" else v
    return "TRWAGMYFPDXBNJZSQVHLCKE"[int(v[:-1]) % 23] == v[-1]


def _day(rng: random.Random, first_year: int, last_year: int) -> date:
    """A random date (Faker's date helpers are relative to today: not reproducible)."""
    start = date(first_year, 1, 1).toordinal()
    return date.fromordinal(rng.randint(start, date(last_year, 12, 31).toordinal()))


def _moment(rng: random.Random) -> datetime:
    day = _day(rng, 2020, 2026)
    return datetime(
        day.year,
        day.month,
        day.day,
        rng.randrange(24),
        rng.randrange(60),
        rng.randrange(60),
        rng.randrange(1_000_000),
    )


def _dni(rng: random.Random) -> str:
    """Spanish DNI (Faker's nif() draws from the global random module: not reproducible)."""
    number = rng.randint(0, 99_999_999)
    return f"{number:08d}" + "TRWAGMYFPDXBNJZSQVHLCKE"[number % 23]


def _nie(rng: random.Random) -> str:
    prefix = rng.randrange(3)
    number = rng.randint(0, 9_999_999)
    letter = "TRWAGMYFPDXBNJZSQVHLCKE"[(prefix * 10_000_000 + number) % 23]
    return "XYZ"[prefix] + f"{number:07d}" + letter
