"""Small generators: digits, grouping, localised dates, picks (see ``tests.privacy.corpus``)."""

from __future__ import annotations

import random
import string
from collections.abc import Sequence
from datetime import date

from tests.privacy.corpus.base import LANG

# ---------------------------------------------------------------------------
# Small generators


def _digits(rng: random.Random, n: int, first: str = string.digits) -> str:
    return rng.choice(first) + "".join(rng.choice(string.digits) for _ in range(n - 1))


def _group(number: str, sizes: Sequence[int], sep: str) -> str:
    out, i = [], 0
    for size in sizes:
        out.append(number[i : i + size])
        i += size
    if i < len(number):
        out.append(number[i:])
    return sep.join(p for p in out if p)


_MONTHS = {
    "en": "January February March April May June July August September October November December",
    "de": "Januar Februar März April Mai Juni Juli August September Oktober November Dezember",
    "fr": "janvier février mars avril mai juin juillet août septembre octobre novembre décembre",
    "es": "enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre",
    "it": "gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre "
    "dicembre",
    "nl": "januari februari maart april mei juni juli augustus september oktober november december",
}


def _fmt_date(d: date, locale: str, rng: random.Random) -> str:
    lang = LANG[locale]
    month = _MONTHS[lang].split()[d.month - 1]
    styles: dict[str, list[str]] = {
        "en_US": [
            f"{d:%m/%d/%Y}",
            f"{month} {d.day}, {d.year}",
            f"{d:%Y-%m-%d}",
            f"{d:%b} {d.day}, {d.year}",
        ],
        "en_GB": [f"{d:%d/%m/%Y}", f"{d.day} {month} {d.year}", f"{d:%Y-%m-%d}"],
        "en_IN": [f"{d:%d-%m-%Y}", f"{d:%d/%m/%Y}", f"{d.day} {month} {d.year}"],
        "de_DE": [f"{d:%d.%m.%Y}", f"{d.day}. {month} {d.year}", f"{d.day}.{d.month}.{d.year}"],
        "fr_FR": [f"{d:%d/%m/%Y}", f"{d.day} {month} {d.year}"],
        "es_ES": [f"{d:%d/%m/%Y}", f"{d.day} de {month} de {d.year}"],
        "it_IT": [f"{d:%d/%m/%Y}", f"{d.day} {month} {d.year}"],
        "nl_NL": [f"{d:%d-%m-%Y}", f"{d.day} {month} {d.year}"],
    }
    return rng.choice(styles[locale])


def _pick(rng: random.Random, options: Sequence[str]) -> str:
    return options[rng.randrange(len(options))]
