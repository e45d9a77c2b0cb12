"""A deterministic, labelled corpus for measuring the privacy detectors.

Written from the specification, not from the detector: positives are what the
gateway must keep local, hard negatives are look-alikes that must not be
flagged. Everything is synthetic (seeded Faker in eight locales plus hand-made
templates) and regenerated identically on every run.

Labelling rules (mirroring ``aegis.privacy.detectors``):

* every positive names the kinds it *must* produce (``kinds``, scored for
  recall) and the kinds it *may* produce (``optional``: e.g. health vocabulary
  in an MRN sentence, a name next to an identifier), so precision only counts
  findings that are really wrong;
* generic health / medical-education text is a positive (kind ``health``,
  class PHI): the product fails closed on health context;
* checksum-bearing identifiers (cards, IBANs, national IDs) are only positives
  when their checksum is valid -- corrupted ones are hard negatives;
* loopback / documentation / multicast IPs, CIDR network ranges and version
  strings are negatives; public and private host addresses are positives;
* example domains (RFC 2606) are placeholders, not addresses: negatives.

The checksum helpers here are a second, independent implementation, so a bug
in the detector's validators cannot hide itself by also shaping the corpus.
"""

from __future__ import annotations

import functools
import json
import random
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from faker import Faker

from aegis.privacy.classes import DataClass

SEED = 20_240_611
LOCALES = ("en_US", "en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL", "en_IN")
LANG = {
    "en_US": "en",
    "en_GB": "en",
    "en_IN": "en",
    "de_DE": "de",
    "fr_FR": "fr",
    "es_ES": "es",
    "it_IT": "it",
    "nl_NL": "nl",
}

PII, PHI, CONF, PUBLIC = DataClass.PII, DataClass.PHI, DataClass.CONFIDENTIAL, DataClass.PUBLIC


@dataclass(frozen=True, slots=True)
class Sample:
    """One labelled request. ``text`` is the embedded (synthetic) text, for debugging."""

    category: str
    kinds: frozenset[str]
    data_class: DataClass
    messages: tuple[dict[str, Any], ...]
    tools: tuple[dict[str, Any], ...] | None = None
    optional: frozenset[str] = frozenset()
    carrier: str = "user"
    text: str = ""

    @property
    def positive(self) -> bool:
        return self.data_class > PUBLIC


@dataclass(frozen=True, slots=True)
class Corpus:
    positives: tuple[Sample, ...]
    negatives: tuple[Sample, ...]
    # Person names with no anchor ("forward this to Maria Rossi"): out of the
    # regex detector's reach by design (that is Presidio's job). Reported
    # separately by bench/privacy_eval.py, never part of the floors.
    free_text_names: tuple[Sample, ...]

    @property
    def samples(self) -> tuple[Sample, ...]:
        return self.positives + self.negatives


@dataclass(slots=True)
class _Item:
    """A text before it is embedded in a request."""

    category: str
    kinds: frozenset[str]
    data_class: DataClass
    text: str
    value: str | None = None  # the bare value, for structured JSON carriers
    field_name: str = "value"
    optional: frozenset[str] = field(default_factory=frozenset)


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


# ---------------------------------------------------------------------------
# Carriers: where in a request the text travels

_FILLER_USER = (
    "Please help me with the following.",
    "Can you rewrite this more politely?",
    "Summarize this in two sentences.",
    "Translate this into English, keep the formatting.",
    "Fix the grammar in the text below.",
    "What do you make of this?",
)
_FILLER_SYSTEM = (
    "You are a helpful assistant. Answer concisely.",
    "You are a careful writing assistant.",
    "You are an assistant for a small company. Be brief.",
)
_FILLER_ASSISTANT = (
    "Sure, here is a draft.",
    "Understood. Here is what I have so far.",
    "Thanks, noted.",
)
_TINY_PNG = (
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQ"
    "DwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def _embed(item: _Item, rng: random.Random, idx: int) -> Sample:
    carriers = (
        "user",
        "system",
        "developer",
        "assistant",
        "parts",
        "tool_result",
        "tool_result_json",
        "tool_args",
    )
    carrier = carriers[idx % len(carriers)] if rng.random() < 0.7 else _pick(rng, carriers)
    user = _pick(rng, _FILLER_USER)
    system = _pick(rng, _FILLER_SYSTEM)
    text = item.text
    messages: list[dict[str, Any]]
    if carrier == "user":
        messages = [{"role": "system", "content": system}, {"role": "user", "content": text}]
    elif carrier == "system":
        messages = [
            {"role": "system", "content": f"{system}\n\n{text}"},
            {"role": "user", "content": user},
        ]
    elif carrier == "developer":
        messages = [{"role": "developer", "content": text}, {"role": "user", "content": user}]
    elif carrier == "assistant":
        messages = [
            {"role": "user", "content": user},
            {"role": "assistant", "content": f"{_pick(rng, _FILLER_ASSISTANT)}\n{text}"},
            {"role": "user", "content": "Thanks, make it shorter."},
        ]
    elif carrier == "parts":
        messages = [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": user},
                    {"type": "image_url", "image_url": {"url": _TINY_PNG}},
                    {"type": "text", "text": text},
                ],
            }
        ]
    elif carrier in ("tool_result", "tool_result_json"):
        result = text if carrier == "tool_result" else json.dumps({"status": "ok", "result": text})
        messages = [
            {"role": "user", "content": user},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "fetch_document", "arguments": '{"doc": 7}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": result},
        ]
    else:  # tool_args
        if item.value is not None and rng.random() < 0.5:
            args = {item.field_name: item.value}
        else:
            args = {"recipient": "team", "message": text}
        messages = [
            {"role": "user", "content": user},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_9",
                        "type": "function",
                        "function": {
                            "name": "send_message",
                            "arguments": json.dumps(args, ensure_ascii=rng.random() < 0.5),
                        },
                    }
                ],
            },
        ]
    return Sample(
        category=item.category,
        kinds=item.kinds,
        data_class=item.data_class,
        messages=tuple(messages),
        optional=item.optional,
        carrier=carrier,
        text=text,
    )


# ---------------------------------------------------------------------------
# Positives


def _k(*kinds: str) -> frozenset[str]:
    return frozenset(kinds)


_EMAIL_T = {
    "en": [
        "Please send the report to {v} by Friday.",
        "My email is {v}, write to me there.",
        "Contact: {v}",
        "Can you cc {v} on the thread?",
        "From: {v}\nSubject: quarterly numbers",
        "Reply-To: <{v}>",
        "Reach out via mailto:{v} if anything breaks.",
        "The new login for the portal is {v}.",
        "Forward the invoice to {v} please",
    ],
    "de": ["Meine E-Mail-Adresse lautet {v}.", "Bitte schreiben Sie an {v}.", "E-Mail: {v}"],
    "fr": ["Mon adresse e-mail est {v}.", "Écrivez-moi à {v} svp.", "Courriel : {v}"],
    "es": ["Mi correo es {v}.", "Escríbeme a {v} cuando puedas."],
    "it": ["La mia email è {v}.", "Scrivimi a {v} per favore."],
    "nl": ["Mijn e-mailadres is {v}.", "Mail me op {v}."],
}


def _emails(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    items = []
    for i in range(130):
        loc = LOCALES[i % len(LOCALES)]
        f = fakers[loc]
        style = i % 5
        if style == 0:
            v = f.free_email()
        elif style == 1:
            v = f.company_email()
        elif style == 2:
            v = f"{f.user_name()}+{_pick(rng, ['news', 'work', 'x1'])}@{f.free_email_domain()}"
        elif style == 3:
            v = f"{f.first_name().lower()}.{f.last_name().lower()}@{f.domain_word()}.co.uk"
            v = v.replace(" ", "")
        else:
            v = f.free_email().upper()
        v = v.encode("ascii", "ignore").decode()  # local parts with accents are rare
        lang = LANG[loc] if rng.random() < 0.6 else "en"
        text = _pick(rng, _EMAIL_T[lang]).format(v=v)
        items.append(_Item("email", _k("email"), PII, text, v, "email"))
    return items


_PHONE_T = {
    "en": [
        "Call me at {v}.",
        "You can reach me on {v} after 6pm.",
        "My phone number is {v}",
        "Tel: {v}",
        "Mobile: {v}",
        "Please text {v} when you arrive.",
        "Here's my cell: {v}",
        "WhatsApp me on {v}",
        "Ring the office on {v} tomorrow.",
        "contact number {v}",
        "Here it is: {v}",
        "{v} - any time after 9am works.",
    ],
    "de": [
        "Sie erreichen mich unter {v}.",
        "Telefon: {v}",
        "Handy: {v}",
        "Ruf mich bitte an: {v}",
        "Meine Nummer ist {v}.",
    ],
    "fr": [
        "Appelez-moi au {v}.",
        "Mon numéro de téléphone est le {v}.",
        "Tél. : {v}",
        "Portable : {v}",
    ],
    "es": ["Llámame al {v}.", "Mi teléfono es {v}.", "Móvil: {v}"],
    "it": ["Chiamami al {v}.", "Il mio numero di telefono è {v}.", "Cellulare: {v}"],
    "nl": ["Bel me op {v}.", "Mijn telefoonnummer is {v}.", "Mobiel: {v}"],
}


def _e164_variant(locale: str, rng: random.Random) -> str:
    """Hand-formatted international numbers in the usual national grouping."""
    if locale == "en_US":
        n = _digits(rng, 3, "23456789") + _digits(rng, 3, "23456789") + _digits(rng, 4)
        return _pick(
            rng,
            [
                f"+1 ({n[:3]}) {n[3:6]}-{n[6:]}",
                f"+1 {n[:3]} {n[3:6]} {n[6:]}",
                f"1-{n[:3]}-{n[3:6]}-{n[6:]}",
                f"({n[:3]}) {n[3:6]}-{n[6:]}",
                f"+1{n}",
            ],
        )
    if locale == "en_GB":
        m = "7" + _digits(rng, 9)
        return _pick(
            rng,
            [
                f"+44 {m[:4]} {m[4:]}",
                f"0{m[:4]} {m[4:]}",
                f"+44 20 {_digits(rng, 4)} {_digits(rng, 4)}",
                f"020 {_digits(rng, 4)} {_digits(rng, 4)}",
            ],
        )
    if locale == "de_DE":
        return _pick(
            rng,
            [
                f"+49 30 {_digits(rng, 8)}",
                f"+49 151 {_digits(rng, 8)}",
                f"0151 {_digits(rng, 8)}",
                f"030-{_digits(rng, 7)}",
                f"(089) {_digits(rng, 3)} {_digits(rng, 4)}",
                f"089/{_digits(rng, 6)}",
            ],
        )
    if locale == "fr_FR":
        p = [_digits(rng, 2) for _ in range(4)]
        first = _pick(rng, ["1", "6", "7", "4"])
        return _pick(
            rng,
            [
                f"+33 {first} {' '.join(p)}",
                f"0{first} {' '.join(p)}",
                f"0{first}.{'.'.join(p)}",
                f"0{first}-{'-'.join(p)}",
            ],
        )
    if locale == "en_IN":
        m = _digits(rng, 10, "6789")
        return _pick(
            rng, [f"+91 {m[:5]} {m[5:]}", f"+91-{m}", f"0{m[:5]} {m[5:]}", f"{m[:5]}-{m[5:]}"]
        )
    if locale == "es_ES":
        m = _digits(rng, 9, "6789")
        return _pick(
            rng, [f"+34 {m[:3]} {m[3:6]} {m[6:]}", f"{m[:3]} {m[3:5]} {m[5:7]} {m[7:]}", f"+34{m}"]
        )
    if locale == "it_IT":
        m = "3" + _digits(rng, 9)
        return _pick(
            rng,
            [
                f"+39 {m[:3]} {m[3:6]} {m[6:]}",
                f"{m[:3]} {m[3:]}",
                f"+39 06 {_digits(rng, 4)} {_digits(rng, 4)}",
            ],
        )
    m = "6" + _digits(rng, 8)
    return _pick(
        rng,
        [
            f"+31 6 {m[1:]}",
            f"06-{m[1:]}",
            f"+31 20 {_digits(rng, 3)} {_digits(rng, 4)}",
            f"020-{_digits(rng, 7)}",
        ],
    )


def _phones(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    items = []
    for i in range(240):
        loc = LOCALES[i % len(LOCALES)]
        v = fakers[loc].phone_number() if rng.random() < 0.6 else _e164_variant(loc, rng)
        lang = LANG[loc] if rng.random() < 0.6 else "en"
        text = _pick(rng, _PHONE_T[lang]).format(v=v)
        items.append(_Item("phone", _k("phone"), PII, text, v, "phone"))
    return items


_SSN_T = [
    "My SSN is {v}.",
    "Social Security Number: {v}",
    "SSN {v}",
    "Please verify the applicant's social security number {v} before Monday.",
    "{v} is the SSN on file for the account holder.",
    "ssn: {v}",
    "The W-2 shows SS# {v}.",
    "Employee record -- SSN: {v}, start date next week.",
]


def _ssns(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    items = []
    for i in range(100):
        v = fakers["en_US"].ssn()
        style = i % 5
        if style == 3:
            v = v.replace("-", " ")
        elif style == 4:
            v = v.replace("-", "")
        text = _pick(rng, _SSN_T).format(v=v)
        items.append(_Item("ssn", _k("ssn"), PII, text, v, "ssn"))
    return items


_CARD_T = {
    "en": [
        "Card number: {v}",
        "Please charge my card {v}, exp 04/27.",
        "CC: {v}",
        "My credit card is {v}",
        "Use the debit card ending in... actually here's the full number {v}",
        "{v} exp 08/26 cvv 123",
        "payment method: {v}",
    ],
    "de": ["Kartennummer: {v}", "Meine Kreditkarte: {v}"],
    "fr": ["Numéro de carte : {v}", "Ma carte bancaire : {v}"],
    "es": ["Número de tarjeta: {v}"],
    "it": ["Numero carta: {v}"],
    "nl": ["Kaartnummer: {v}"],
}


def _cards(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    kinds = [
        "visa16",
        "visa13",
        "visa19",
        "mastercard",
        "amex",
        "discover",
        "diners",
        "jcb15",
        "jcb16",
    ]
    items = []
    for i in range(130):
        loc = LOCALES[i % len(LOCALES)]
        raw = fakers[loc].credit_card_number(kinds[i % len(kinds)])
        assert _luhn_sum_ok(raw), raw
        style = rng.randrange(4)
        if style == 0:
            v = raw
        elif len(raw) == 15 and raw[:2] in ("34", "37"):
            v = _group(raw, [4, 6, 5], " " if style != 2 else "-")
        else:
            v = _group(raw, [4, 4, 4, 4], " " if style != 2 else "-")
        lang = LANG[loc] if rng.random() < 0.5 else "en"
        text = _pick(rng, _CARD_T[lang]).format(v=v)
        items.append(_Item("credit_card", _k("credit_card"), PII, text, v, "card_number"))
    return items


_IBAN_T = {
    "en": [
        "IBAN: {v}",
        "Please transfer the deposit to {v}.",
        "Bank details -- IBAN {v}, BIC {bic}",
        "Wire it to {v} by Monday.",
        "Refund to account {v} please.",
    ],
    "de": ["Bankverbindung: IBAN {v}", "Bitte überweisen Sie den Betrag auf {v}."],
    "fr": ["Mon IBAN est {v}.", "Virement sur le compte {v}"],
    "es": ["Mi IBAN es {v}.", "Transferencia a la cuenta {v}"],
    "it": ["Il mio IBAN è {v}.", "Bonifico sul conto {v}"],
    "nl": ["Rekeningnummer: {v}", "Maak het bedrag over naar {v}."],
}


def _ibans(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    locs = ["en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"]
    items = []
    i = 0
    while len(items) < 120:
        loc = locs[i % len(locs)]
        i += 1
        raw = fakers[loc].iban()
        if not _iban_ok(raw):
            continue
        v = _group(raw, [4] * 8, " ") if rng.random() < 0.6 else raw
        lang = LANG[loc] if rng.random() < 0.6 else "en"
        text = _pick(rng, _IBAN_T[lang]).format(v=v, bic=fakers[loc].swift())
        items.append(_Item("iban", _k("iban"), PII, text, v, "iban"))
    return items


_IP_T = [
    "My home IP is {v}, can you whitelist it?",
    "The attacker connected from {v} twice last night.",
    "Server {v} is unreachable from the office.",
    "Failed password for root from {v} port 22 ssh2",
    "X-Forwarded-For: {v}",
    "Set the DNS server to {v} and retry.",
    "ping {v}",
    "Our VPN gateway lives at {v}.",
    '{v} - - [10/Oct/2023:13:55:36 +0000] "GET /index.html HTTP/1.1" 200 2326',
    "Block {v} in the firewall.",
]


def _real_ipv6(rng: random.Random) -> str:
    groups = [f"{rng.randrange(0x2000, 0x3FFF):x}"] + [
        f"{rng.randrange(0, 0xFFFF):x}" for _ in range(3)
    ]
    tail = [f"{rng.randrange(1, 0xFFFF):x}" for _ in range(rng.randint(1, 3))]
    return ":".join(groups) + "::" + ":".join(tail)


def _ips(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    f = fakers["en_US"]
    items = []
    for i in range(110):
        style = i % 5
        if style in (0, 1):
            v = f.ipv4_public()
        elif style == 2:
            v = f.ipv4_private()
        elif style == 3:
            v = _real_ipv6(rng)
        else:
            v = f.ipv6() if rng.random() < 0.5 else _real_ipv6(rng).upper()
        text = _pick(rng, _IP_T).format(v=v)
        items.append(_Item("ip_address", _k("ip_address"), PII, text, v, "ip"))
    return items


_DOB_T = {
    "en": [
        "I was born on {v}.",
        "DOB: {v}",
        "Date of birth: {v}",
        "D.O.B. {v}",
        "born {v} in a small town",
        "Birthdate {v}, please update the form.",
        "Her date of birth is {v}.",
        "Applicant (date of birth {v}) requests a new card.",
    ],
    "de": ["Ich bin am {v} geboren.", "Geburtsdatum: {v}", "geb. {v}", "geboren am {v}"],
    "fr": ["Je suis né le {v}.", "née le {v}", "Date de naissance : {v}"],
    "es": ["Nací el {v}.", "Fecha de nacimiento: {v}", "nacida el {v}"],
    "it": ["Sono nato il {v}.", "Data di nascita: {v}", "nata il {v}"],
    "nl": ["Ik ben geboren op {v}.", "Geboortedatum: {v}"],
}


def _dobs(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    items = []
    for i in range(120):
        loc = LOCALES[i % len(LOCALES)]
        d = _day(rng, 1930, 2023)
        lang = LANG[loc] if rng.random() < 0.7 else "en"
        loc_fmt = loc if lang == LANG[loc] else "en_US"
        v = _fmt_date(d, loc_fmt, rng)
        text = _pick(rng, _DOB_T[lang]).format(v=v)
        field_name = _pick(rng, ["date_of_birth", "dob", "birthDate"])
        items.append(_Item("date_of_birth", _k("date_of_birth"), PII, text, v, field_name))
    return items


_PASSPORT_T = {
    "en": [
        "My passport number is {v}.",
        "Passport No.: {v}",
        "passport #{v}, expires 2031",
        "Traveller's passport no {v} was scanned at the gate.",
        "Please copy the passport number ({v}) into the booking.",
    ],
    "de": ["Reisepassnummer: {v}", "Meine Passnummer lautet {v}."],
    "fr": ["Numéro de passeport : {v}"],
    "es": ["Número de pasaporte: {v}"],
    "it": ["Numero di passaporto: {v}"],
    "nl": ["Paspoortnummer: {v}"],
}


def _passport_value(loc: str, fakers: dict[str, Faker], rng: random.Random) -> str:
    up = string.ascii_uppercase
    styles = {
        "en_US": lambda: fakers["en_US"].passport_number(),
        "en_GB": lambda: _digits(rng, 9),
        "de_DE": lambda: (
            rng.choice("CFGHJK")
            + "".join(rng.choice("CFGHJKLMNPRTVWXYZ0123456789") for _ in range(8))
        ),
        "fr_FR": lambda: _digits(rng, 2) + rng.choice(up) + rng.choice(up) + _digits(rng, 5),
        "es_ES": lambda: "".join(rng.choice(up) for _ in range(3)) + _digits(rng, 6),
        "it_IT": lambda: fakers["it_IT"].passport_number(),
        "nl_NL": lambda: (
            "".join(rng.choice(up) for _ in range(2))
            + "".join(rng.choice(up + string.digits) for _ in range(6))
            + _digits(rng, 1)
        ),
        "en_IN": lambda: rng.choice(up) + _digits(rng, 7),
    }
    return styles[loc]()


def _passports(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    items = []
    for i in range(90):
        loc = LOCALES[i % len(LOCALES)]
        v = _passport_value(loc, fakers, rng)
        lang = LANG[loc] if rng.random() < 0.6 else "en"
        text = _pick(rng, _PASSPORT_T[lang]).format(v=v)
        items.append(_Item("passport", _k("passport"), PII, text, v, "passport_number"))
    return items


_MRN_T = {
    "en": [
        "MRN: {v}",
        "Medical record number {v} -- please pull the chart.",
        "Patient ID: {v}",
        "Patient number {v} missed the follow-up.",
        "Attach the scan to MRN {v}.",
        "NHS number {nhs}",
        "medical record no. {v}",
    ],
    "de": ["Patientennummer: {v}", "Patienten-ID {v}"],
    "fr": ["Numéro de dossier patient : {v}"],
    "es": ["Número de historia clínica: {v}"],
    "it": ["Numero di cartella clinica: {v}"],
    "nl": ["Patiëntnummer: {v}"],
}


def _nhs(rng: random.Random) -> str:
    while True:
        body = _digits(rng, 9)
        check = 11 - sum(int(d) * w for d, w in zip(body, range(10, 1, -1), strict=True)) % 11
        check = 0 if check == 11 else check
        if check != 10:
            n = body + str(check)
            return f"{n[:3]} {n[3:6]} {n[6:]}"


def _mrns(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    items = []
    for i in range(90):
        loc = LOCALES[i % len(LOCALES)]
        v = _pick(
            rng,
            [
                _digits(rng, 8),
                f"MRN-{_digits(rng, 7)}",
                f"{rng.choice(string.ascii_uppercase)}{_digits(rng, 7)}",
                f"PID-{_digits(rng, 6)}",
                _digits(rng, 10),
            ],
        )
        lang = LANG[loc] if rng.random() < 0.6 else "en"
        text = _pick(rng, _MRN_T[lang]).format(v=v, nhs=_nhs(rng))
        items.append(
            _Item("medical_record", _k("medical_record"), PHI, text, v, "mrn", _k("health"))
        )
    return items


_ICD_CODES = [
    ("E11.9", "type 2 diabetes without complications"),
    ("I10", "essential hypertension"),
    ("J45.909", "unspecified asthma"),
    ("F32.1", "moderate depressive episode"),
    ("M54.5", "low back pain"),
    ("K21.9", "reflux disease"),
    ("C50.911", "malignant neoplasm of breast"),
    ("Z00.00", "general adult examination"),
    ("N39.0", "urinary tract infection"),
    ("G43.909", "migraine"),
    ("E78.5", "hyperlipidemia"),
    ("F41.1", "generalized anxiety disorder"),
    ("J06.9", "acute upper respiratory infection"),
    ("S72.001A", "fracture of femur, initial encounter"),
    ("B20", "HIV disease"),
    ("D50.9", "iron deficiency anemia"),
    ("L40.0", "psoriasis vulgaris"),
    ("O80", "uncomplicated delivery"),
    ("T78.40XA", "allergy, unspecified"),
    ("R51", "headache"),
]

_ICD_T = [
    "ICD-10: {v}",
    "Diagnosis code {v} ({d}).",
    "Dx: {v} - {d}",
    "Coded as {v} in ICD-10 for the claim.",
    "ICD-10-CM {v}",
    "CIM-10 : {v}",
    "CIE-10: {v}",
    "ICD-10-GM: {v}",
    "Billing under ICD10 code {v} was rejected.",
    "The claim lists diagnosis {v}.",
]


def _icds(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    del fakers
    items = []
    for i in range(70):
        code, desc = _ICD_CODES[i % len(_ICD_CODES)]
        text = _pick(rng, _ICD_T).format(v=code, d=desc)
        items.append(_Item("icd10", _k("icd10"), PHI, text, code, "icd10", _k("health")))
    return items


_CONDITIONS = [
    "type 2 diabetes",
    "hypertension",
    "asthma",
    "depression",
    "an anxiety disorder",
    "breast cancer",
    "epilepsy",
    "COPD",
    "HIV",
    "migraine",
    "rheumatoid arthritis",
    "Crohn's disease",
    "bipolar disorder",
    "ADHD",
    "hepatitis C",
]
_DRUGS = [
    "metformin",
    "lisinopril",
    "sertraline",
    "ibuprofen",
    "amoxicillin",
    "atorvastatin",
    "insulin glargine",
    "levothyroxine",
    "fluoxetine",
    "omeprazole",
]
_HEALTH_EN = [
    "Explain what a diagnosis of {c} means.",
    "What are the common side effects of {d}?",
    "I was diagnosed with {c} last year and I'm struggling to cope.",
    "My doctor prescribed 20 mg of {d} twice a day. Is that a lot?",
    "Summarize this discharge note: patient admitted with {c}, started on {d}.",
    "What is the usual dosage of {d} for adults?",
    "My son has {c}; what should I tell his school?",
    "Write a patient leaflet on living with {c}.",
    "Is it safe to take {d} during pregnancy?",
    "Our clinic needs a HIPAA-compliant way to email lab results.",
    "Draft a reminder for patients to refill their {d} prescription.",
    "What symptoms would make a doctor suspect {c}?",
    "Can {d} interact with alcohol? I started the medication on Monday.",
    "This export contains PHI, so handle it carefully.",
    "Translate the oncology referral letter into plain language.",
    "List the first-line treatments for {c}.",
    "I've had chest pain and shortness of breath since yesterday, should I go to the ER?",
    "My blood pressure reading was 150/95 this morning.",
    "How long does chemotherapy for {c} usually last?",
    "He was hospitalized for pneumonia in March.",
]
_HEALTH_OTHER = {
    "de": [
        "Mein Arzt hat mir {d} verschrieben.",
        "Ich habe die Diagnose {c} bekommen.",
        "Welche Nebenwirkungen hat {d}? Die Dosierung ist 500 mg.",
        "Der Patient wurde mit Verdacht auf Lungenentzündung ins Krankenhaus eingeliefert.",
        "Ich bin seit zwei Wochen krankgeschrieben.",
    ],
    "fr": [
        "Mon médecin m'a prescrit du {d}.",
        "Quels sont les symptômes du diabète ?",
        "La patiente a été hospitalisée pour une pneumonie.",
        "Quelle est la posologie du {d} ?",
    ],
    "es": [
        "Me diagnosticaron diabetes el año pasado.",
        "¿Cuál es la dosis habitual de {d}?",
        "El paciente tiene una enfermedad crónica y toma medicamentos a diario.",
        "Estoy embarazada y tengo dudas sobre el {d}.",
    ],
    "it": [
        "Il medico mi ha prescritto un farmaco per la pressione.",
        "Mi hanno diagnosticato il diabete.",
        "La paziente è stata ricoverata in ospedale.",
    ],
    "nl": [
        "Mijn huisarts heeft {d} voorgeschreven.",
        "De patiënt is opgenomen in het ziekenhuis.",
        "Ik ben zwanger en gebruik medicijnen.",
    ],
}


def _health(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    del fakers
    items = []
    for i in range(150):
        c, d = _pick(rng, _CONDITIONS), _pick(rng, _DRUGS)
        if i % 3 == 2:
            lang = ["de", "fr", "es", "it", "nl"][(i // 3) % 5]
            text = _pick(rng, _HEALTH_OTHER[lang]).format(c=c, d=d)
        else:
            text = _pick(rng, _HEALTH_EN).format(c=c, d=d)
        items.append(_Item("health", _k("health"), PHI, text))
    return items


def _phi_combos(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    items = []
    for i in range(60):
        loc = LOCALES[i % len(LOCALES)]
        f = fakers[loc]
        c, d = _pick(rng, _CONDITIONS), _pick(rng, _DRUGS)
        email = f.free_email().encode("ascii", "ignore").decode()
        dob = _fmt_date(_day(rng, 1935, 2006), "en_US", rng)
        phone = _e164_variant(loc, rng)
        style = i % 4
        if style == 0:
            text, kinds = (
                f"{f.name()} ({email}) was diagnosed with {c} in May.",
                _k("email", "health"),
            )
        elif style == 1:
            text, kinds = (
                f"Patient {f.name()}, DOB {dob}, presents with {c}.",
                _k("date_of_birth", "health"),
            )
        elif style == 2:
            text = f"Please call {phone} to discuss your {d} prescription."
            kinds = _k("phone", "health")
        else:
            text = f"Send the lab results for {email} -- the HbA1c came back high."
            kinds = _k("email", "health")
        items.append(_Item("phi_combo", kinds, PHI, text, optional=_k("person_name")))
    return items


_CONF_T = [
    "CONFIDENTIAL - Q3 board deck draft, numbers below.",
    "Confidential: do not forward outside the leadership team.",
    "Internal only: the pricing changes for next quarter.",
    "This memo is for internal use only. Summarize it.",
    "Do not distribute. Draft acquisition timeline attached.",
    "Strictly private -- notes from the 1:1 with the CFO.",
    "We are under NDA with the vendor, so keep this to yourself: {topic}.",
    "[INTERNAL ONLY] roadmap for {topic}",
    "Proprietary and confidential. {topic} launch plan.",
    "This is a trade secret: our {topic} recipe.",
    "Vertraulich: Entwurf der Umstrukturierung.",
    "Streng vertraulich - nur für den internen Gebrauch.",
    "Confidentiel : ne pas diffuser. Projet de fusion.",
    "Document confidentiel, usage interne uniquement.",
    "Confidencial: no distribuir fuera del equipo.",
    "Riservato: piano di riorganizzazione, non divulgare.",
    "Vertrouwelijk - niet verspreiden buiten het MT.",
    "Please summarise the attached confidential report on {topic}.",
    "NDA-protected material follows: {topic} specs.",
    "Embargoed until Monday 9am: {topic} announcement.",
]
_TOPICS = [
    "Project Falcon",
    "the Berlin office",
    "the new pricing tier",
    "vendor consolidation",
    "the merger",
]


def _confidentials(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    del fakers
    items = []
    for i in range(100):
        text = _CONF_T[i % len(_CONF_T)].format(topic=_pick(rng, _TOPICS))
        if rng.random() < 0.2:
            text = text.upper() if rng.random() < 0.5 else text.lower()
        items.append(_Item("confidential", _k("confidential"), CONF, text))
    return items


def _names(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    items = []
    for i in range(90):
        loc = LOCALES[i % len(LOCALES)]
        f = fakers[loc]
        first, last, full = f.first_name(), f.last_name(), f"{f.first_name()} {f.last_name()}"
        lang = LANG[loc]
        options = {
            "en": [
                f"Dear {first},\nthanks for the quick turnaround.",
                f"My name is {full} and I'd like to cancel my subscription.",
                f"Please schedule a call with Mr {last} next week.",
                f"Ms. {last} asked for the slides.",
                f"Kind regards,\n{full}",
                f"Full name: {full}",
                f"Dr. {last} will sign the contract.",
            ],
            "de": [
                f"Sehr geehrte Frau {last},",
                f"Mein Name ist {full}.",
                f"Herr {last} ruft zurück.",
                f"Mit freundlichen Grüßen\n{full}",
            ],
            "fr": [f"Je m'appelle {full}.", f"Bonjour Madame {last},", f"Cordialement,\n{full}"],
            "es": [f"Me llamo {full}.", f"Estimado Sr. {last}:", f"Saludos,\n{full}"],
            "it": [f"Mi chiamo {full}.", f"Gentile Sig.ra {last},", f"Cordiali saluti,\n{full}"],
            "nl": [
                f"Mijn naam is {full}.",
                f"Geachte heer {last},",
                f"Met vriendelijke groet,\n{full}",
            ],
        }[lang]
        text = _pick(rng, options)
        items.append(_Item("person_name", _k("person_name"), PII, text, full, "name"))
    return items


def _national_ids(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    items = []
    for i in range(105):
        style = i % 7
        if style == 0:
            v = _nino(rng)
            v = v if rng.random() < 0.5 else f"{v[:2]} {v[2:4]} {v[4:6]} {v[6:8]} {v[8]}"
            text = _pick(
                rng, ["National Insurance number: {v}", "My NI number is {v}.", "NINO {v}"]
            )
        elif style == 1:
            v = _nir(rng, _day(rng, 1940, 2010))
            v = (
                v
                if rng.random() < 0.5
                else f"{v[0]} {v[1:3]} {v[3:5]} {v[5:7]} {v[7:10]} {v[10:13]} {v[13:]}"
            )
            text = _pick(rng, ["Numéro de sécurité sociale : {v}", "N° INSEE {v}", "NIR: {v}"])
        elif style == 2:
            while True:
                v = fakers["it_IT"].ssn()
                if _cf_ok(v):
                    break
            text = _pick(rng, ["Codice fiscale: {v}", "Il mio codice fiscale è {v}.", "CF {v}"])
        elif style == 3:
            v = _dni(rng) if rng.random() < 0.6 else _nie(rng)
            assert _dni_ok(v), v
            text = _pick(rng, ["DNI: {v}", "Mi NIE es {v}.", "NIF {v}"])
        elif style == 4:
            v = _bsn(rng)
            text = _pick(
                rng,
                [
                    "BSN: {v}",
                    "Mijn burgerservicenummer is {v}.",
                    "citizen service number (BSN) {v}",
                ],
            )
        elif style == 5:
            v = _aadhaar(rng)
            v = f"{v[:4]} {v[4:8]} {v[8:]}" if rng.random() < 0.6 else v
            text = _pick(rng, ["Aadhaar: {v}", "My Aadhaar number is {v}.", "UID {v}"])
        else:
            v = _steuer_id(rng)
            text = _pick(
                rng, ["Steuer-ID: {v}", "Meine Steueridentifikationsnummer lautet {v}.", "IdNr {v}"]
            )
        items.append(_Item("national_id", _k("national_id"), PII, text.format(v=v), v, "id_number"))
    return items


def _free_text_names(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    items = []
    templates = [
        "Please forward this to {n} in accounting.",
        "{n} will join the meeting at 3.",
        "I spoke with {n} yesterday about the renewal.",
        "Can you add {n} to the project channel?",
        "The contract was signed by {n}.",
    ]
    for i in range(80):
        f = fakers[LOCALES[i % len(LOCALES)]]
        items.append(
            _Item(
                "person_name_free",
                _k("person_name"),
                PII,
                _pick(rng, templates).format(n=f"{f.first_name()} {f.last_name()}"),
            )
        )
    return items


# ---------------------------------------------------------------------------
# Hard negatives


def _neg(category: str, text: str) -> _Item:
    return _Item(category, frozenset(), PUBLIC, text)


def _negatives(fakers: dict[str, Faker], rng: random.Random) -> list[_Item]:
    f = fakers["en_US"]
    d = functools.partial(_digits, rng)
    out: list[_Item] = []

    def add(category: str, n: int, make: Callable[[], str]) -> None:
        out.extend(_neg(category, make()) for _ in range(n))

    add(
        "order_number",
        70,
        lambda: _pick(
            rng,
            [
                f"Order #{d(3)}-{d(3)}-{d(4)} has shipped.",
                f"Your order {d(3)}-{d(7)}-{d(7)} was delivered to the locker.",
                f"Bestellnummer: {d(10)}",
                f"Numéro de commande : {d(3)}-{d(3)}-{d(4)}",
                f"order_id={d(10)}",
                f"Número de pedido {d(9)}, gracias por su compra.",
                f"Ordine n. {d(8)} in lavorazione.",
                f"Bestelnummer {d(10)} is verzonden.",
                f"Can you check order {d(3)} {d(3)} {d(4)}? It never arrived.",
            ],
        ),
    )
    add(
        "invoice_id",
        60,
        lambda: _pick(
            rng,
            [
                f"INV-{rng.randint(2019, 2025)}-{d(6)} is overdue.",
                f"Invoice {rng.randint(2019, 2025)}/{d(5)} attached.",
                f"Rechnungsnummer RE-{rng.randint(2019, 2025)}-{d(5)}",
                f"Facture n° F{rng.randint(2019, 2025)}{d(6)}",
                f"Invoice number 0{d(9)} was paid on time.",
                f"factuurnummer {d(8)}",
                f"Please reconcile invoice {d(4)}-{d(4)}-{d(4)}-{d(4)} against the PO.",
            ],
        ),
    )
    add(
        "tracking_number",
        60,
        lambda: _pick(
            rng,
            [
                f"Tracking number: 1Z{''.join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(6))}{d(10)}",
                f"Your parcel {d(4)} {d(4)} {d(4)} is out for delivery.",
                f"USPS tracking 9400 1{d(3)} {d(4)} {d(4)} {d(4)} {d(4)} {d(2)}",
                f"DHL shipment {d(10)} is held at customs.",
                f"Sendungsnummer {d(20)}",
                f"Numéro de suivi : {d(13)}",
                f"FedEx tracking {d(12)} shows delivered.",
            ],
        ),
    )
    add(
        "uuid",
        50,
        lambda: _pick(
            rng,
            [
                f"request_id={f.uuid4()}",
                f"Trace ID {f.uuid4()} failed at the gateway.",
                f"SELECT * FROM orders WHERE id = '{f.uuid4()}';",
                f'{{"session": "{f.uuid4()}", "ok": true}}',
            ],
        ),
    )
    add(
        "version",
        80,
        lambda: _pick(
            rng,
            [
                f"Upgrade to v{rng.randint(1, 9)}.{rng.randint(0, 30)}.{rng.randint(0, 99)} before Friday.",
                f"pip install requests=={rng.randint(1, 3)}.{rng.randint(0, 32)}.{rng.randint(0, 9)}",
                f"Windows version 10.0.{d(5)}.{d(4)}",
                f"User-Agent: Mozilla/5.0 Chrome/{rng.randint(100, 130)}.0.{d(4)}.{d(3)} Safari/537.36",
                f"Build {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 99)} is out.",
                f"firmware {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 20)} fixes the boot loop",
                f"node v{rng.randint(14, 22)}.{rng.randint(0, 20)}.{rng.randint(0, 9)}",
                f"Bump version from {rng.randint(0, 5)}.{rng.randint(0, 9)}.{rng.randint(0, 9)} to the next minor.",
                f"Version {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)} release notes",
                f"go 1.{rng.randint(18, 23)}.{rng.randint(0, 9)}",
                f"The release tag is v{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.",
            ],
        ),
    )
    add(
        "timestamp",
        70,
        lambda: _pick(
            rng,
            [
                f"{_moment(rng).isoformat()}Z request completed",
                f"{_moment(rng):%Y-%m-%d %H:%M:%S},{d(3)} INFO worker started",
                f"Last modified {_moment(rng):%d.%m.%Y %H:%M}",
                f"epoch {rng.randint(1_500_000_000, 1_800_000_000)}",
                f"created_at: {rng.randint(1_500_000_000_000, 1_800_000_000_000)}",
                f"{_moment(rng):%b %d %H:%M:%S} web01 sshd[{d(4)}]: Accepted publickey",
                f"Elapsed: {rng.randint(0, 23):02d}:{rng.randint(0, 59):02d}:{rng.randint(0, 59):02d}.{d(3)}",
            ],
        ),
    )
    add(
        "price",
        60,
        lambda: _pick(
            rng,
            [
                f"The laptop costs ${rng.randint(1, 9)},{d(3)}.{d(2)}.",
                f"Gesamtbetrag: € {rng.randint(1, 9)}.{d(3)},{d(2)}",
                f"Revenue was {rng.randint(10, 99)},{d(3)},{d(3)}.{d(2)} USD last quarter.",
                f"Total: ₹{rng.randint(1, 9)},{d(2)},{d(3)}",
                f"£ {rng.randint(5, 99)}.99 per month, cancel anytime.",
                f"price: {d(4)}.00",
                f"Budget line 4: {rng.randint(100, 999)} {d(3)} {d(3)} EUR",
            ],
        ),
    )
    add(
        "isbn",
        50,
        lambda: _pick(
            rng,
            [
                f"ISBN {f.isbn13()}",
                f"ISBN-10: {f.isbn10()}",
                f"Orwell, G. Nineteen Eighty-Four. Penguin, {f.isbn13()}.",
                f"Can you find a review of the book with ISBN {f.isbn13().replace('-', '')}?",
            ],
        ),
    )
    add(
        "product_code",
        60,
        lambda: _pick(
            rng,
            [
                f"SKU {d(3)}-{d(3)}-{d(4)} is out of stock.",
                f"Part No. 0{d(2)}-{d(4)}-{d(4)}",
                f"Model KX-TG{d(4)} cordless handset, black.",
                f"Artikelnummer 0{d(3)}-{d(4)}-{d(4)}",
                f"EAN {f.ean13()}",
                f"UPC {d(12)} scanned at till 3",
                f"Ref. 0{rng.randint(1, 9)} {d(2)} {d(2)} {d(2)} {d(2)} (article code, not a phone number)",
                f"serial number {d(4)}-{d(4)}-{d(4)}",
            ],
        ),
    )
    add(
        "luhn_fail_16",
        70,
        lambda: (
            lambda n: _pick(
                rng,
                [
                    f"Reference {_group(n, [4, 4, 4, 4], ' ')}",
                    f"Test card number {_group(n, [4, 4, 4, 4], ' ')} (invalid on purpose)",
                    f"batch id {n}",
                    f"Card number: {_group(n, [4, 4, 4, 4], '-')}",
                    f"The account token is {n}.",
                ],
            )
        )(_luhn_fail(rng, _pick(rng, ["4", "51", "55", "6011", "37"]), 16)),
    )

    def bad_iban() -> str:
        loc = _pick(rng, ["en_GB", "de_DE", "fr_FR", "es_ES", "it_IT", "nl_NL"])
        while True:
            good = fakers[loc].iban()
            if _iban_ok(good):
                break
        pos = rng.randrange(4, len(good))
        while not good[pos].isdigit():
            pos = rng.randrange(4, len(good))
        bad = good[:pos] + str((int(good[pos]) + rng.randint(1, 9)) % 10) + good[pos + 1 :]
        assert not _iban_ok(bad)
        shown = _group(bad, [4] * 8, " ") if rng.random() < 0.5 else bad
        return _pick(
            rng,
            [
                f"IBAN: {shown}",
                f"Is {shown} a valid IBAN? Our validator says no.",
                f"Test fixture iban={shown}",
            ],
        )

    add("iban_bad_checksum", 70, bad_iban)
    add(
        "code",
        80,
        lambda: _pick(rng, _CODE_SNIPPETS).format(
            port=rng.randint(1024, 65000), n=rng.randint(2, 500), big=d(10)
        ),
    )
    add(
        "math",
        50,
        lambda: _pick(
            rng,
            [
                "pi = 3.14159265358979323846",
                "2^64 = 18446744073709551616",
                f"Solve {rng.randint(2, 9)}x + {rng.randint(1, 50)} = {rng.randint(51, 200)} for x.",
                "e ≈ 2.718281828459045",
                f"matrix [[{d(2)}, {d(2)}], [{d(2)}, {d(2)}]] has determinant?",
                "The golden ratio phi = 1.6180339887498948",
                f"{d(3)} \u00d7 {d(3)} = ?",
                "sqrt(2) = 1.4142135623730951",
                f"The {rng.randint(10, 90)}th prime is what?",
                f"Convert {d(10)} from decimal to hex.",
                f"Compute {d(4)} mod 97 and explain the steps.",
            ],
        ),
    )
    add(
        "loopback_semver",
        70,
        lambda: _pick(
            rng,
            [
                "Bind the dev server to 127.0.0.1 and port 8000.",
                "Listen on 0.0.0.0 so the container is reachable.",
                "ping ::1 works but the v6 route does not",
                "netmask 255.255.255.0",
                "The docs use 192.0.2.15 as the example address.",
                "Example: 198.51.100.7 and 203.0.113.9 (RFC 5737).",
                "Use 2001:db8::1 in documentation.",
                "Link-local fe80::1 on eth0",
                "Query the metadata service at 169.254.169.254.",
                f"Release v{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)} is tagged.",
                f"It broke in version {rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}",
                f"v{rng.randint(1, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)}.{rng.randint(0, 9)} fixed it",
                "mDNS uses 224.0.0.251.",
                "Allow the VPC range 10.0.0.0/8 and 172.16.0.0/12.",
                "CIDR 192.168.0.0/16 covers the office LAN.",
            ],
        ),
    )
    add(
        "confidence_words",
        70,
        lambda: _pick(
            rng,
            [
                "What is a 95% confidence interval?",
                "I'm confident the fix works.",
                "Give me a confidentiality agreement template for freelancers.",
                "Draft an NDA for a freelance designer.",
                "What should a mutual NDA include?",
                "This is a non-confidential summary for the press.",
                "Explain confidential computing on Intel SGX.",
                "The internal combustion engine was invented in the 1800s.",
                "Make the helper a private method.",
                "How do I keep API keys secret in CI?",
                "Our confidence in the forecast is low.",
                "Distribute the load evenly across the workers.",
                "The classified ads section moved online.",
                "Write a blog post about the importance of confidentiality in HR.",
            ],
        ),
    )
    add(
        "health_ambiguous",
        80,
        lambda: _pick(
            rng,
            [
                "Please be patient while the build runs.",
                "What are the symptoms of a memory leak in Node?",
                "How do I diagnose a flaky test in CI?",
                "Add a /healthz health check endpoint to the service.",
                "Run brew doctor to find the problem.",
                "Compare the treatment group and the control group conversion rates.",
                "The antivirus flagged our installer as a virus.",
                "Use a condition variable to wake the worker thread.",
                "The operation failed with a timeout.",
                "Avoid side effects inside the render function.",
                "Triage the bug backlog before the sprint.",
                "We need a surgical fix to the parser, nothing more.",
                "A healthy dose of skepticism helps in code review.",
                "Kubernetes liveness probes restart unhealthy pods.",
                "flutter doctor reports a missing Android SDK.",
                "The cluster health is yellow because of unassigned shards.",
                "Be patient with new hires during onboarding.",
                "What's the root cause of this stack overflow?",
                "Diagnose why the Docker container exits immediately.",
                "The patch treats the symptom, not the cause.",
            ],
        ),
    )
    add(
        "date_no_birth",
        60,
        lambda: _pick(
            rng,
            [
                f"The meeting is on {_day(rng, 2020, 2026):%d/%m/%Y}.",
                f"Released on {_day(rng, 2020, 2026):%Y-%m-%d} with two fixes.",
                "bash is the Bourne-again shell.",
                f"Invoice dated {_day(rng, 2020, 2026):%d.%m.%Y}.",
                f"Deadline: {_day(rng, 2020, 2026):%d %B %Y}",
                "The project was born out of frustration with slow builds.",
                f"A stubborn bug has been open since {_day(rng, 2020, 2026):%Y-%m-%d}.",
                f"Der Termin ist am {_day(rng, 2020, 2026):%d.%m.%Y}.",
                f"La réunion a lieu le {_day(rng, 2020, 2026):%d/%m/%Y}.",
                f"Reborn 2.0 launched on {_day(rng, 2020, 2026):%B %d, %Y}.",
            ],
        ),
    )
    add(
        "icd_shaped",
        60,
        lambda: _pick(
            rng,
            [
                "Print it on A4 paper, double-sided.",
                "Take the M25 towards Heathrow.",
                "The F16 has a top speed of Mach 2.",
                "The G20 summit is in November.",
                "Your seat is E12 near the window.",
                "Meet me in room B23 after lunch.",
                "Draw a C4 model diagram for the system.",
                "Stack the Z10 boards on pallet 4.",
                f"Row K{rng.randint(10, 99)}, column J{rng.randint(10, 99)} of the spreadsheet.",
                f"Cell D{rng.randint(10, 99)}.{rng.randint(1, 9)} has the wrong formula.",
            ],
        ),
    )
    add(
        "keyword_no_value",
        50,
        lambda: _pick(
            rng,
            [
                "Use passport.js with the local strategy for login.",
                "The passport photo size is 35x45 mm.",
                "Add an MRN column to the schema, nullable.",
                "How long does a passport renewal take in 2024?",
                "Where do I find the IBAN on my banking app?",
                "What is a social security number used for?",
                "Validate the phone number field with a regex.",
                "Store the date of birth as ISO 8601.",
                "Which ICD version does the billing system use?",
                "The email field is required.",
            ],
        ),
    )
    add(
        "ssn_invalid",
        50,
        lambda: _pick(
            rng,
            [
                f"000-{d(2, '123456789')}-{d(4, '123456789')}",
                f"666-{d(2, '123456789')}-{d(4, '123456789')}",
                f"9{d(2)}-{d(2, '123456789')}-{d(4, '123456789')}",
                f"{d(3, '12345678')}-00-{d(4, '123456789')}",
                f"{d(3, '12345678')}-{d(2, '123456789')}-0000",
            ],
        ).join(
            _pick(
                rng,
                [
                    ("SSN: ", ""),
                    ("Test value ", " is rejected by the form."),
                    ("", " (placeholder)"),
                ],
            )
        ),
    )
    add(
        "hash",
        50,
        lambda: _pick(
            rng,
            [
                f"sha256: {f.sha256()}",
                f"commit {f.sha1()}",
                f"md5 {f.md5()}",
                f"git cherry-pick {f.sha1()[:7]}",
                f'etag "{f.md5()}"',
            ],
        ),
    )
    add(
        "business_text",
        60,
        lambda: _pick(
            rng,
            [
                f"{f.catch_phrase()}. Let's {f.bs()} next quarter.",
                f"Meeting notes: {f.company()} wants to {f.bs()}. Follow up in {rng.randint(2, 6)} weeks.",
                f"Our Q{rng.randint(1, 4)} goal is to grow revenue by {rng.randint(2, 40)}% and hire {rng.randint(2, 30)} engineers.",
                f"Write a product description for a {f.color_name().lower()} {_pick(rng, ['backpack', 'desk lamp', 'kettle'])}.",
                f"The {f.city()} office moves to the new building in {f.month_name()}.",
                "Fasse den folgenden Text in drei Sätzen zusammen.",
                "Peux-tu reformuler ce paragraphe de façon plus concise ?",
                "¿Puedes traducir este correo al inglés?",
                "Puoi riassumere questo documento in cinque punti?",
                "Kun je deze tekst korter maken?",
            ],
        ),
    )
    add(
        "numeric_table",
        50,
        lambda: (
            "date,region,units,revenue\n"
            + "\n".join(
                f"{_day(rng, 2020, 2026):%Y-%m-%d},{_pick(rng, ['EMEA', 'APAC', 'NA'])},{rng.randint(1, 9999)},{rng.randint(1000, 999999)}.{d(2)}"
                for _ in range(rng.randint(3, 8))
            )
        ),
    )
    add(
        "coordinates_dims",
        50,
        lambda: _pick(
            rng,
            [
                f"{rng.uniform(-80, 80):.4f}, {rng.uniform(-170, 170):.4f}",
                f"Resolution {_pick(rng, ['1920x1080', '2560x1440', '3840x2160'])}",
                f"Expose port {rng.randint(1024, 65535)} on the container.",
                f"lat {rng.uniform(-80, 80):.6f} lon {rng.uniform(-170, 170):.6f}",
                f"The box is {rng.randint(10, 99)} x {rng.randint(10, 99)} x {rng.randint(10, 99)} cm.",
            ],
        ),
    )
    add(
        "call_number_words",
        40,
        lambda: _pick(
            rng,
            [
                f"The API call took {d(7)} ns on average.",
                f"Call stack depth reached {rng.randint(1000, 9999)}.",
                f"Number of rows: {d(8)}",
                f"Each call returns {rng.randint(10, 500)} items; we made {d(6)} calls.",
                f"Contact form submissions: {d(5)} this month.",
            ],
        ),
    )
    return out


_CODE_SNIPPETS = [
    "app.run(host='0.0.0.0', port={port})",
    "git clone git@github.com:acme/widgets.git",
    '<img src="logo@2x.png" srcset="logo@3x.png 3x">',
    "std::vector<int> v(n); std::sort(v.begin(), v.end());",
    "evens = numbers[::2]",
    '@app.route("/users/<int:user_id>")\ndef show(user_id): ...',
    "color: #ff5733; margin: 0 {n}px;",
    "mov eax, 0xDEADBEEF",
    'EMAIL_RE = re.compile(r"[^@]+@[^@]+\\.[^@]+")',
    'assert send_mail(to="user@example.com")',
    "DATABASE_URL=postgres://app@localhost:5432/app",
    "for (int i = 0; i < {n}; ++i) {{ total += i * i; }}",
    "SELECT count(*) FROM events WHERE ts > {big};",
    "docker run -p {port}:{port} -e TZ=UTC app:1.4.2",
    "curl -s http://127.0.0.1:{port}/metrics | grep latency",
    "const id = crypto.randomUUID(); // {n} retries max",
    "timeout: {n}s\nreplicas: 3\nimage: registry.local/app:2.3.14",
    "if (x == {big}) {{ return -1; }}",
    "npm install lodash@4.17.21 react@18.2.0",
    "ssh -p {port} deploy@localhost",
    "x = np.linspace(0, 1, {n}); y = np.sin(2 * np.pi * x)",
    "git log --since=2024-01-01 --author=bot",
]


# ---------------------------------------------------------------------------
# Assembly


@functools.cache
def build_corpus(seed: int = SEED) -> Corpus:
    """Generate the whole corpus; deterministic for a given seed and Faker version."""
    fakers = {}
    for i, loc in enumerate(LOCALES):
        fk = Faker(loc)
        fk.seed_instance(seed + i)
        fakers[loc] = fk
    rng = random.Random(seed)

    generators = (
        _emails,
        _phones,
        _ssns,
        _cards,
        _ibans,
        _ips,
        _dobs,
        _passports,
        _mrns,
        _icds,
        _health,
        _phi_combos,
        _confidentials,
        _names,
        _national_ids,
    )
    positives = [
        _embed(item, rng, i) for gen in generators for i, item in enumerate(gen(fakers, rng))
    ]
    negatives = [_embed(item, rng, i) for i, item in enumerate(_negatives(fakers, rng))]
    free = [_embed(item, rng, i) for i, item in enumerate(_free_text_names(fakers, rng))]
    return Corpus(tuple(positives), tuple(negatives), tuple(free))


KINDS = (
    "email",
    "phone",
    "ssn",
    "credit_card",
    "iban",
    "ip_address",
    "date_of_birth",
    "passport",
    "medical_record",
    "icd10",
    "health",
    "confidential",
    "person_name",
    "national_id",
)


# ---------------------------------------------------------------------------
# Scoring


@dataclass(slots=True)
class KindScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0


@dataclass(slots=True)
class Report:
    """Per-kind scores (finding level) and request-level scores (the routing decision).

    Request level: a positive is caught when the scan's class is at least the
    expected class; a negative is a false alarm when its class is above public.
    """

    kinds: dict[str, KindScore] = field(default_factory=dict)
    request: KindScore = field(default_factory=KindScore)
    missed: list[tuple[Sample, frozenset[str]]] = field(default_factory=list)
    false_alarms: list[tuple[Sample, frozenset[str]]] = field(default_factory=list)
    negative_categories: dict[str, KindScore] = field(default_factory=dict)


def evaluate(samples: Sequence[Sample], scan: Callable[[Sample], Any]) -> Report:
    """Score ``scan`` (Sample -> aegis.privacy.Scan) over ``samples``."""
    report = Report(kinds={k: KindScore() for k in KINDS})
    for sample in samples:
        result = scan(sample)
        found = frozenset(result.kinds)
        for kind in sample.kinds:
            score = report.kinds.setdefault(kind, KindScore())
            if kind in found:
                score.tp += 1
            else:
                score.fn += 1
        wrong = found - sample.kinds - sample.optional
        for kind in wrong:
            report.kinds.setdefault(kind, KindScore()).fp += 1
        if sample.positive:
            if result.data_class >= sample.data_class:
                report.request.tp += 1
            else:
                report.request.fn += 1
                report.missed.append((sample, found))
        else:
            cat = report.negative_categories.setdefault(sample.category, KindScore())
            if result.data_class > PUBLIC:
                report.request.fp += 1
                cat.fp += 1
                report.false_alarms.append((sample, found))
            else:
                cat.tp += 1
        if sample.positive and wrong:
            report.false_alarms.append((sample, wrong))
    return report


# ---------------------------------------------------------------------------
# Hand-written holdout: realistic prompts written after the detector, never
# used to tune it. Reported separately; its floors are looser.


def _msg(text: str) -> tuple[dict[str, Any], ...]:
    return ({"role": "user", "content": text},)


def _tool_result(payload: Any) -> tuple[dict[str, Any], ...]:
    return (
        {"role": "user", "content": "Look up the customer and draft a reply."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "crm_lookup", "arguments": '{"id": 1042}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_a", "content": json.dumps(payload)},
    )


def _tool_call(args: Any) -> tuple[dict[str, Any], ...]:
    return (
        {"role": "user", "content": "Send the confirmation."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "send_sms", "arguments": json.dumps(args)},
                }
            ],
        },
    )


@functools.cache
def holdout() -> tuple[Sample, ...]:
    rng = random.Random(SEED + 99)
    it = Faker("it_IT")
    it.seed_instance(SEED + 99)
    cf = next(v for v in (it.ssn() for _ in range(50)) if _cf_ok(v))
    aadhaar = _aadhaar(rng)
    nino = _nino(rng)
    nino = f"{nino[:2]} {nino[2:4]} {nino[4:6]} {nino[6:8]} {nino[8]}"

    def pos(
        text: str | tuple[dict[str, Any], ...],
        kinds: Sequence[str],
        cls: DataClass = PII,
        optional: Sequence[str] = (),
    ) -> Sample:
        messages = _msg(text) if isinstance(text, str) else text
        return Sample(
            "holdout",
            frozenset(kinds),
            cls,
            messages,
            optional=frozenset(optional),
            text=str(text),
        )

    def neg(text: str | tuple[dict[str, Any], ...]) -> Sample:
        messages = _msg(text) if isinstance(text, str) else text
        return Sample("holdout_negative", frozenset(), PUBLIC, messages, text=str(text))

    positives = [
        pos(
            "Hi, I'm moving house next week. New address is 221B Baker Street, London NW1 6XE,"
            " and my new mobile is 07700 900461. Could you update my account?",
            ["phone"],
        ),
        pos(
            "Can you draft a reply to Jürgen Weiß <j.weiss@posteo.de> saying we ship on Monday?",
            ["email"],
        ),
        pos(
            "Refund the customer to IBAN NL91 ABNA 0417 1643 00 and send a confirmation.", ["iban"]
        ),
        pos(
            "The server logs show repeated 401s from 185.220.101.45 - is that a Tor exit node?",
            ["ip_address"],
        ),
        pos("My card 5555 5555 5555 4444 was charged twice for order 4471.", ["credit_card"]),
        pos(
            "Patient: 54-year-old male with a history of type 2 diabetes, presenting with chest"
            " pain radiating to the left arm.",
            ["health"],
            PHI,
        ),
        pos(
            "I've been feeling really low for weeks and my GP suggested I try sertraline."
            " Should I be worried about side effects?",
            ["health"],
            PHI,
        ),
        pos(
            "Please summarise: 'CONFIDENTIAL - Draft Q4 forecast, not for circulation'",
            ["confidential"],
            CONF,
        ),
        pos(
            "Je suis née le 14 juillet 1989 à Lyon, pouvez-vous corriger mon dossier ?",
            ["date_of_birth"],
        ),
        pos("Sehr geehrter Herr Dr. Schneider, anbei die Unterlagen.", ["person_name"]),
        pos(
            f"Our employee's Aadhaar is {aadhaar[:4]} {aadhaar[4:8]} {aadhaar[8:]}.",
            ["national_id"],
        ),
        pos("SSN: 219-09-9999, please keep it on file.", ["ssn"]),
        pos(
            "Call the pharmacy at (415) 555-2671 to renew my lisinopril prescription.",
            ["phone", "health"],
            PHI,
        ),
        pos("Dx E11.65 and I10; please code the encounter.", ["icd10"], PHI, ["health"]),
        pos(
            "The attached spreadsheet lists MRN, name and diagnosis for all 40 patients admitted"
            " last month.",
            ["health"],
            PHI,
        ),
        pos("Tell me about the HIPAA minimum necessary standard.", ["health"], PHI),
        pos("what's the best treatment for a sprained ankle", ["health"], PHI),
        pos("My daughter has a fever of 39.5 and a rash, should we go to A&E?", ["health"], PHI),
        pos("ssh deploy@185.199.108.153 and restart nginx", ["ip_address"]),
        pos("Email from Li Wei (wei.li@tsinghua.edu.cn): the contract is attached.", ["email"]),
        pos("Bank: IBAN DE89 3704 0044 0532 0130 00 (Commerzbank)", ["iban"]),
        pos("Mobile +49 171 2345678 (nur WhatsApp)", ["phone"]),
        pos(
            "the user's IPv6 is 2a02:810d:4c40:3e00:9c1b:2a6f:7d11:5b0e according to the logs",
            ["ip_address"],
        ),
        pos("Geburtsdatum 03.04.1975, bitte im Formular eintragen.", ["date_of_birth"]),
        pos(
            "Confidential and proprietary - do not forward. Our Series B term sheet is below.",
            ["confidential"],
            CONF,
        ),
        pos(
            "[Internal use only] Incident postmortem for the payments outage",
            ["confidential"],
            CONF,
        ),
        pos("Riservato - bozza del contratto con il fornitore", ["confidential"], CONF),
        pos("Nota: mi número de teléfono nuevo es 612 34 56 78", ["phone"]),
        pos("Per favore chiamami al 347 123 4567 dopo le 18", ["phone"]),
        pos("tel. 020 7946 0018 (reception)", ["phone"]),
        pos(f"Her NI number is {nino}.", ["national_id"]),
        pos(f"Codice fiscale del cliente: {cf}", ["national_id"]),
        pos("BSN 111222333 staat op het formulier.", ["national_id"]),
        pos(
            _tool_result(
                {
                    "customer": {
                        "name": "Ana López",
                        "email": "ana.lopez@gmail.com",
                        "phone": "+34 655 123 456",
                    }
                }
            ),
            ["email", "phone", "person_name"],
        ),
        pos(
            _tool_call(
                {"to": "+14155552671", "body": "Your appointment with Dr. Patel is confirmed."}
            ),
            ["phone", "person_name"],
        ),
        pos(
            "I was diagnosed with ADHD as an adult; how do I explain it to my manager?",
            ["health"],
            PHI,
        ),
        pos(
            "Please anonymise this: John Smith, DOB 12/05/1961, NHS number 485 777 3456",
            ["date_of_birth", "medical_record"],
            PHI,
        ),
        pos(
            "Write a cover letter. My name is Priya Natarajan, phone 98450 12345,"
            " email priya.n@outlook.com.",
            ["person_name", "phone", "email"],
        ),
        pos(
            (
                {"role": "system", "content": "You are a billing assistant."},
                {"role": "user", "content": "What's my balance?"},
                {
                    "role": "assistant",
                    "content": "The card on file is 3782 822463 10005 (Amex). Balance: $12.40.",
                },
                {"role": "user", "content": "Thanks, pay it off."},
            ),
            ["credit_card"],
        ),
        pos(
            (
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Transcribe the form in the photo."},
                        {"type": "image_url", "image_url": {"url": _TINY_PNG}},
                        {
                            "type": "text",
                            "text": "Typed part: date of birth 1990-02-28, passport number"
                            " K4512398",
                        },
                    ],
                },
            ),
            ["date_of_birth", "passport"],
        ),
        pos(
            "Lab results for Mr Okafor: HbA1c 8.1%, LDL 3.9 mmol/L.",
            ["health", "person_name"],
            PHI,
        ),
        pos(
            "Ich nehme seit März Ibuprofen 600 gegen die Rückenschmerzen, ist das zu viel?",
            ["health"],
            PHI,
        ),
        pos(
            "Mi médico dice que tengo la tensión alta y me ha recetado enalapril.",
            ["health"],
            PHI,
        ),
        pos("Strictly private: notes from my performance review.", ["confidential"], CONF),
        pos("Visa 4012 8888 8888 1881 exp 09/27, name on card: A. Kowalski", ["credit_card"]),
        pos("Server 10.42.7.19 keeps dropping connections from the VPN pool.", ["ip_address"]),
    ]
    negatives = [
        neg("Bump lodash from 4.17.20 to 4.17.21 in package.json."),
        neg("The build failed: error TS2345 at src/app.ts:120:15."),
        neg("Set MAX_CONNECTIONS=10000 and TIMEOUT_MS=30000 in the config."),
        neg("Order 112-4587723-1298355 hasn't arrived yet, can you check with the carrier?"),
        neg("Our support hours are 9:00-17:30 CET, Monday to Friday."),
        neg("The Fibonacci sequence starts 0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144."),
        neg("curl -X POST http://localhost:8080/api/v1/items -d '{\"qty\": 3}'"),
        neg("The 2024 revenue was 12.4M EUR, up 18% year over year."),
        neg("Use Python 3.11.7 and pip 23.3.1 for the build."),
        neg("Windows 10 build 19045.3803 has the fix."),
        neg("The pod network uses the 10.244.0.0/16 CIDR range."),
        neg("nginx: listen 0.0.0.0:443 ssl;"),
        neg("Our VAT number is DE123456789, please add it to the invoice."),
        neg("Reference: INV-2024-00931, due 30 days net."),
        neg("The patient zero of this bug was a null pointer in the parser."),
        neg("How do I treat warnings as errors in GCC?"),
        neg("Run a health check on the cluster and report node status."),
        neg("What is the Luhn algorithm and how do credit card checksums work?"),
        neg("My confidence interval is 95%, is that enough samples?"),
        neg("Please be patient, the migration will take about 45 minutes."),
        neg("Born to Run came out in 1975 and is still my favourite album."),
        neg("The phone model Galaxy S23 has a 6.1 inch screen."),
        neg("Table 4.2.1.3 shows the results of the second run."),
        neg("ISO 8601 timestamp 2024-05-17T08:45:12+02:00 in the logs."),
        neg("The invoice total is 1 234 567,89 EUR including tax."),
        neg("Ticket JIRA-4412: NPE in PaymentService when the cart is empty."),
        neg("Coordinates: 52.5200 N, 13.4050 E"),
        neg("The movie runs 1:52:07 including credits."),
        neg("Use a UUID like 550e8400-e29b-41d4-a716-446655440000 for the key."),
        neg("Support 16:9 and 4:3 aspect ratios in the player."),
        neg("Chapter 3.1.4.1 covers IPv4 addressing."),
        neg("Mix 2 tablespoons of sugar with 300 ml of water and simmer."),
        neg("This is a template for a non-disclosure agreement (NDA) between two companies."),
        neg("The virus in this sci-fi novel spreads through the ship's air vents."),
        neg("Convert 0x7FFFFFFF to decimal and explain two's complement."),
        neg("The stock closed at 187.44 after hitting 192.10 intraday."),
        neg("EAN 4006381333931 is the barcode on the box."),
        neg("Set the date format to DD/MM/YYYY, e.g. 05/11/2024."),
        neg("Our SLA is 99.95% uptime, measured over 30 days."),
        neg("Rotate the JWT signing key every 90 days."),
        neg("The Dockerfile uses FROM python:3.12-slim and EXPOSE 8000."),
        neg("git log --oneline shows 4f2a9c1 as the merge commit."),
        neg("Sprint 24 velocity: 42 points, carryover 7."),
        neg("Please translate 'Ich hätte gern zwei Kaffee' into English."),
        neg("The train leaves at 14:05 from platform 9 and arrives at 16:48."),
    ]
    return tuple(positives + negatives)
