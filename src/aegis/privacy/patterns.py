"""Compiled patterns for ``RegexDetector``.

Rules for every pattern here (they run on every request, on untrusted input):

* candidates are found by regex and *validated* in Python (checksums, ranges,
  context), so the regexes stay simple;
* runs use possessive quantifiers (``*+``) and every other repetition is
  bounded, so no input can trigger catastrophic backtracking -- scan time is
  linear in the text length;
* full-text patterns start with a character class (``\\d``, ``[A-Z]``), with
  their look-behind placed *after* the first character, so ``re`` can skip
  ahead to candidate characters instead of trying every position;
* keywords are not here: see ``aegis.privacy.lexicon``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from types import MappingProxyType

DIGIT = re.compile(r"\d")

# --- e-mail (searched only around each "@") ----------------------------------

EMAIL = re.compile(
    r"(?<![\w.%+\-])[\w%+\-](?:[\w.%+\-]{0,63})@"
    r"((?:[A-Za-z0-9](?:[A-Za-z0-9\-]{0,61}[A-Za-z0-9])?\.){1,8}[A-Za-z]{2,24})"
    r"(?![\w\-]|\.[A-Za-z0-9])"
)
# RFC 2606 / 6761 reserved names: placeholders in docs and code, not addresses.
RESERVED_EMAIL_DOMAIN = re.compile(
    r"(?:^|\.)(?:example\.(?:com|net|org)|example|test|invalid|localhost)$", re.IGNORECASE
)
RETINA_ASSET = re.compile(r"^\d+(?:\.\d+)?x\.", re.IGNORECASE)  # logo@2x.png

# --- digit clusters ------------------------------------------------------------

# A run of digits with the separators numbers are written with, at least 7
# characters long (the shortest identifier, 1.2.3.4). A space only continues
# the run before a digit or "(", so adjacent words are never swallowed. Every
# numeric detector (cards, phones, SSNs, IPv4, national IDs) looks inside
# these clusters only; the possessive repeat makes short runs fail at once.
CLUSTER = re.compile(r"\d(?<![\w\-./]\d)(?:[\d().\-/]|[ \u00a0](?=[\d(])){6,}+")
# Millilitres are deliberately not a dose unit: recipes and lab work use them too.
DOSE = re.compile(
    r"\d(?<![\w.]\d)(?:[.,]?\d)*+\s?(?:mg|mcg|µg|IU|iu)(?:/(?:kg|day|d|ml))?(?![^\W_])"
)
DOSE_UNITS = ("mg", "mcg", "µg", "iu")

# --- payment cards / IBAN ---------------------------------------------------

CARD_RUN = re.compile(r"\d(?<![\w+\-.,/]\d)(?:[ \-]?\d){12,}+(?!\w)")
# Starts at the check digits (a \d prefix is fast to scan for); the country
# code is checked by the look-behind, the match starts 2 characters earlier.
IBAN = re.compile(r"\d\d(?<=(?<!\w)[A-Za-z]{2}\d\d)(?: ?[A-Za-z0-9]){11,34}+")

# --- national identifiers ---------------------------------------------------

SSN_DASHED = re.compile(r"\d(?<![\w\-]\d)(?<!\d \d)\d\d([\- ])(\d{2})\1(\d{4})(?![\w\-])(?! \d)")
SSN_BARE = re.compile(r"\d(?<![\w\-]\d)\d{8}(?![\w\-])")

NUMERIC_ID = re.compile(
    r"\d(?<![\w\-]\d)(?<!\d \d)(?:"
    r"(?P<nir>(?<=[12]) ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2})"
    r"|(?P<dni>\d{7}-?[A-Z])"
    r"|(?P<aadhaar>(?<=[2-9])\d{3}(?P<asep>[ \-]?)\d{4}(?P=asep)\d{4})"
    r")(?![\w\-])(?! \d)"
)
ALPHA_ID = re.compile(
    r"[A-Z](?<![\w\-][A-Z])(?:"
    r"(?P<nino>[A-Z] ?\d{2} ?\d{2} ?\d{2} ?[A-D])"
    r"|(?P<cf>[A-Z]{5}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z])"
    r"|(?P<pan>[A-Z]{2}P[A-Z]\d{4}[A-Z])"
    r"|(?P<nie>(?<=[XYZ])-?\d{7}-?[A-Z])"
    r")(?![\w\-])"
)
BSN_VALUE = re.compile(r"(?<![\w.])(?:\d{9}|\d{4}\.\d{2}\.\d{3})(?![\w])")
STEUER_VALUE = re.compile(r"(?<![\w])\d{2} ?\d{3} ?\d{3} ?\d{3}(?![\w])")

# --- IP addresses -----------------------------------------------------------

IPV4 = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.\d{1,3}\.\d{1,3}\.\d{1,3}(?!\.?\d)(?!\w)")
# Every IPv6 address has two colons at most 5 characters apart: a literal-led
# pattern that is cheap to scan for; the address is then grown around it.
IPV6_HINT = re.compile(r":[0-9A-Fa-f]{0,4}:")
IPV6_CHARS_STR = "0123456789abcdefABCDEF:"
IPV6_CHARS = frozenset(IPV6_CHARS_STR)
CIDR_SUFFIX = re.compile(r"/(\d{1,2})(?!\d)")
# What immediately precedes a dotted quad that is a version or a section number.
VERSION_BEFORE = re.compile(
    r"(?:(?<![\w])(?:v|ver|version|versión|versione|release|rel|build|firmware|fw|rev|revision"
    r"|tag|patch|update|sp|section|sec|§|chapter|ch|clause|step|figure|fig|table|paragraph"
    r"|para|art|article|item|no)\.?\s*[:=#]?\s*|(?:==|>=|<=|~=|!=|\^|~)\s*|\w/)$",
    re.IGNORECASE,
)

# --- phone numbers ----------------------------------------------------------

PHONE_EXTENSION = re.compile(r"\s?(?:x|ext\.?|extension)\s?\d{1,6}(?!\w)")
PHONE_GROUPS = re.compile(r"\d+")
LAST_GROUP = re.compile(r"[ \u00a0\-./][^ \u00a0\-./]*$")  # trim "555-123-4567 2" -> "555-123-4567"
# A date (optionally followed by a time): "2024-03-15 10", "15.03.2024 14".
DATE_LIKE = re.compile(
    r"^(?:\d{4}[./\-]\d{1,2}[./\-]\d{1,2}|\d{1,2}[./\-]\d{1,2}[./\-]\d{4})(?!\d)"
)
SHORT_DATE = re.compile(r"^\d{1,2}([./\-])\d{1,2}\1\d{2}$")
# An amount: a currency right after the number.
CURRENCY_AFTER = re.compile(r"\s?(?:[€$£¥₹]|(?:EUR|USD|GBP|CHF|INR|JPY|CAD|AUD|SEK|NOK|DKK|PLN)\b)")
CURRENCY_BEFORE = frozenset("€$£¥₹")

# --- dates of birth, passport / medical record numbers, ICD-10 ----------------

_MONTHS = (
    "january|february|march|april|may|june|july|august|september|october|november|december"
    "|jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec"
    "|januar|jänner|februar|märz|mai|juni|juli|oktober|dezember|mär|okt|dez"
    "|janvier|février|mars|avril|juin|juillet|août|septembre|octobre|novembre|décembre"
    "|janv|févr|avr|juil|déc"
    "|enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|setiembre|octubre|noviembre"
    "|diciembre|ene|abr|ago|dic"
    "|gennaio|febbraio|aprile|maggio|giugno|luglio|settembre|ottobre|dicembre|gen|mag|giu|lug"
    "|ott"
    "|januari|februari|maart|mei|augustus|mrt"
)
DATE = re.compile(
    r"(?<![\w.])(?:"
    r"(?P<iso>\d{4})-(?P<im>\d{1,2})-(?P<id>\d{1,2})(?!\d)"
    r"|(?P<a>\d{1,2})[./\-](?P<b>\d{1,2})[./\-](?P<y>\d{4}|\d{2})(?![\d.]\d)"
    rf"|\d{{1,2}}(?:st|nd|rd|th|er)?\.?\s+(?:of\s+|de\s+)?(?i:{_MONTHS})\.?,?\s+(?:de\s+)?\d{{4}}"
    rf"|(?i:{_MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}"
    r")(?!\d)"
)
PASSPORT_VALUE = re.compile(r"(?<![\w\-])[A-Z0-9]{6,10}(?![\w\-])")
MRN_VALUE = re.compile(
    r"(?<!\w)(?:\d{3}[ \-]\d{3}[ \-]\d{4}|[A-Z]{1,4}-?\d{4,12}|\d{4,12})(?![\w\-])"
)
ICD_CODE = re.compile(r"(?<![\w.])[A-TV-Z]\d[0-9AB](?:\.[0-9A-TV-Z]{1,4})?(?!\w)")
# Between an anchor and its value: a sentence break means they are unrelated.
SENTENCE_BREAK = re.compile(r"[.!?;]\s+[A-Z]|\n\s*\n")
WORD = re.compile(r"\w+")

# --- person names after an anchor ---------------------------------------------

_NAME_TOKEN = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿß'\u2019\-]+"
_PARTICLE = r"(?:van|von|de|der|den|del|della|di|da|la|le|du|dos|ten|ter|zu|y)"
_TITLE = (
    r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau|Mme|Mlle|Madame|Monsieur|Sr|Sra|Srta|Sig"
    r"|Sig\.ra|Sig\.na|Dott|Dott\.ssa|Dhr|Mevr|heer|mevrouw)\.?[ \t]+"
)
_NAME = (
    rf"(?P<name>(?:{_PARTICLE}[ \t]+){{0,2}}{_NAME_TOKEN}"
    rf"(?:[ \t]+(?:{_PARTICLE}[ \t]+){{0,2}}{_NAME_TOKEN}){{0,3}})"
)
# What follows each kind of anchor (lexicon family) before the name itself.
NAME_AFTER: Mapping[str, re.Pattern[str]] = MappingProxyType(
    {
        "n_title": re.compile(rf"\.?[ \t]+{_NAME}"),
        "n_intro": re.compile(rf"\s*[:=]?\s*(?:{_TITLE})?{_NAME}"),
        "n_field": re.compile(rf"\s*[:=]\s*(?:{_TITLE})?{_NAME}"),
        "n_greeting": re.compile(rf"[ \t]+(?:{_TITLE})?{_NAME}"),
        "n_signoff": re.compile(rf",?[ \t]*\r?\n[ \t]*{_NAME}"),
    }
)
# Capitalised words that follow a greeting or title but are not names ("Dear Sir").
_NOT_A_NAME_WORDS = """
    the a an all team sir madam sirs customer customers colleague colleagues hiring manager
    support everyone friend friends admin user users valued client clients reader readers member
    members partner partners whom mr mrs ms miss dr prof damen herren kolleginnen kollegen kunde
    kundin madame monsieur mesdames messieurs señor señora señores cliente clienti heer mevrouw
    heren dames lord god santa i we you thanks best regards please our my your this that hi hello
    phone email tel mobile office frau herr sr sra sig mme mlle dhr mevr patient patients portal
    safety care experience zero id number no record records data information name names string
    optional list none null true false int str dict any type value"""
NOT_A_NAME = frozenset(_NOT_A_NAME_WORDS.split())
