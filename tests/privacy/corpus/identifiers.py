"""Positives: emails, phones, SSNs, cards, IBANs, IPs, dates of birth, passports (see
``tests.privacy.corpus``)."""

from __future__ import annotations

import random
import string

from faker import Faker

from tests.privacy.corpus.base import LANG, LOCALES, PII, _Item
from tests.privacy.corpus.checksums import _day, _iban_ok, _luhn_sum_ok
from tests.privacy.corpus.generators import _digits, _fmt_date, _group, _pick

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
