"""Compiled patterns and keyword lexicons for ``RegexDetector``.

Rules for every pattern here (they run on every request, on untrusted input):

* candidates are found by regex, *validated* in Python (checksums, ranges,
  context), so the regexes stay simple;
* runs of digits/separators use possessive quantifiers (``*+``) and every
  other repetition is bounded, so no input can trigger catastrophic
  backtracking -- scan time is linear in the text length;
* keywords are case-insensitive, acronyms (``SSN``, ``MRN``, ``NDA``) are not.
"""

from __future__ import annotations

import re

from aegis.privacy.health import alternation

# --- cheap pre-filters ------------------------------------------------------

DIGIT = re.compile(r"\d")

# --- e-mail -----------------------------------------------------------------

# Local part bounded (RFC 5321: 64), labels bounded, so a long run without
# "@" costs O(64) per token start, not O(n).
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

# --- payment cards / IBAN ---------------------------------------------------

CARD_RUN = re.compile(r"(?<![\w+\-.,/])\d(?:[ \-]?\d){12,}+(?!\w)")
IBAN = re.compile(r"(?<!\w)[A-Za-z]{2}\d{2}(?: ?[A-Za-z0-9]){11,34}+")

# --- national identifiers ---------------------------------------------------

SSN_DASHED = re.compile(r"(?<![\w\-])(?<!\d )(\d{3})([\- ])(\d{2})\2(\d{4})(?![\w\-])(?! \d)")
SSN_BARE = re.compile(r"(?<![\w\-])(\d{3})(\d{2})(\d{4})(?![\w\-])")

NATIONAL_ID = re.compile(
    r"(?<![\w\-])(?<!\d )(?:"
    r"(?P<nino>[A-Z]{2} ?\d{2} ?\d{2} ?\d{2} ?[A-D])"
    r"|(?P<nir>[12] ?\d{2} ?\d{2} ?(?:\d{2}|2[AB]) ?\d{3} ?\d{3} ?\d{2})"
    r"|(?P<cf>[A-Z]{6}\d{2}[A-Z]\d{2}[A-Z]\d{3}[A-Z])"
    r"|(?P<dni>(?:\d{8}|[XYZ]-?\d{7})-?[A-Z])"
    r"|(?P<pan>[A-Z]{3}P[A-Z]\d{4}[A-Z])"
    r"|(?P<aadhaar>[2-9]\d{3}(?P<asep>[ \-]?)\d{4}(?P=asep)\d{4})"
    r")(?![\w\-])(?! \d)"
)
BSN_VALUE = re.compile(r"(?<![\w.])(?:\d{9}|\d{4}\.\d{2}\.\d{3})(?![\w])")
STEUER_VALUE = re.compile(r"(?<![\w])\d{2} ?\d{3} ?\d{3} ?\d{3}(?![\w])")

# --- IP addresses -----------------------------------------------------------

IPV4 = re.compile(r"(?<![\w.])(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})(?!\.?\d)(?!\w)")
IPV6 = re.compile(r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])(?!\.\d)")
CIDR_SUFFIX = re.compile(r"/(\d{1,2})(?!\d)")
# What immediately precedes a dotted quad that is a version or a section number.
VERSION_BEFORE = re.compile(
    r"(?:(?<![\w])(?:v|ver|version|versión|versione|release|rel|build|firmware|fw|rev|revision"
    r"|tag|patch|update|sp|section|sec|§|chapter|ch|clause|step|figure|fig|table|paragraph"
    r"|para|art|article|item|no)\.?\s*[:=#]?\s*|(?:==|>=|<=|~=|!=|@|\^|~)\s*|\w/)$",
    re.IGNORECASE,
)

# --- phone numbers ----------------------------------------------------------

# Digits with separators; a space only continues the run before a digit,
# "(" or "+", so adjacent words are never swallowed. Possessive: linear.
PHONE_RUN = re.compile(
    r"(?<![\w+\-./])(?:\+|\(\+?)?\d(?:[\d().\-/]|[ \u00a0](?=[\d(]))*+"
    r"(?:\s?(?:x|ext\.?|extension)\s?\d{1,6})?"
)
PHONE_GROUPS = re.compile(r"\d+")
# A date (optionally followed by a time): "2024-03-15 10", "15.03.2024 14".
DATE_LIKE = re.compile(r"^(?:\d{4}[./\-]\d{1,2}[./\-]\d{1,2}|\d{1,2}[./\-]\d{1,2}[./\-]\d{4})(?!\d)")
SHORT_DATE = re.compile(r"^\d{1,2}([./\-])\d{1,2}\1\d{2}$")
# An amount: a currency right after the number.
CURRENCY_AFTER = re.compile(r"\s?(?:[€$£¥₹]|(?:EUR|USD|GBP|CHF|INR|JPY|CAD|AUD|SEK|NOK|DKK|PLN)\b)")

_PHONE_WORDS = """
phone|phones|phone number|telephone|tel|tél|telefon|telefono|teléfono|telefoon|mobile|mobil
móvil|movil|mobiel|cell|cellphone|cell phone|cellulare|handy|portable|call|calls|calling|ring
text|texts|sms|whatsapp|signal|viber|telegram|fax|hotline|dial|reach me|reach us|reach him
reach her|contact number|rufnummer|telefonnummer|mobilnummer|handynummer|ruf|anrufen|erreichen
erreichbar|appelez|appeler|appelle|joindre|numéro de téléphone|llámame|llamar|llama|chiamami
chiamare|chiama|bel|bellen|telefoonnummer|my number|meine nummer|mon numéro|mi número
il mio numero|mijn nummer|your number|his number|her number|landline|switchboard
"""
_NEG_WORDS = """
order|orders|order no|order id|order number|invoice|invoices|inv|receipt|tracking|shipment
parcel|package|consignment|awb|waybill|sku|part|part no|part number|article|model|serial
serial no|serial number|s/n|isbn|ean|upc|gtin|asin|ticket|case no|case number|case id|ref
reference|booking|reservation|confirmation|transaction|txn|batch|lot|account no|account number
customer no|customer number|customer id|policy no|policy number|claim number|voucher|coupon
purchase order|build|version|release|uuid|token|hash|checksum|bestell*|rechnung*|sendung*
artikel*|kundennummer|auftrag*|vorgang*|commande|facture|colis|suivi|référence|pedido|factura
envío|ordine|fattura|spedizione|bestelling|factuur|zending|bestelnummer|ordernummer|ref no
"""


def _lex(block: str) -> list[str]:
    return [w.strip() for line in block.strip().splitlines() for w in line.split("|") if w.strip()]


PHONE_CONTEXT = re.compile(rf"(?<!\w)(?i:{alternation(_lex(_PHONE_WORDS))})(?!\w)")
NEGATIVE_CONTEXT = re.compile(rf"(?<!\w)(?i:{alternation(_lex(_NEG_WORDS))})(?!\w)")
CARD_CONTEXT = re.compile(
    r"(?<!\w)(?i:card|cards|credit|debit|visa|mastercard|master card|amex|american express"
    r"|discover|diners|jcb|maestro|cc|cvv|karte|kreditkarte|carte|tarjeta|carta|kaart"
    r"|kaartnummer|kartennummer|payment|charge|pay)(?!\w)"
)

# --- keyword-anchored identifiers -------------------------------------------

# One pass finds every anchor; each group names what it anchors.
KEYWORDS = re.compile(
    r"(?<!\w)(?:"
    r"(?P<dob>(?i:date[\s_\-]+of[\s_\-]+birth|birth[\s_\-]?date|birthday|born|d\.o\.b\.?|dob"
    r"|geburtsdatum|geburtstag|geboren|geb\.|date de naissance|né|née|né\(e\)|nacido|nacida|nací"
    r"|fecha de nacimiento|data di nascita|(?-i:[Nn]at[oa])|geboortedatum))"
    r"|(?P<passport>(?i:passport(?:[\s_\-]*(?:no\.?|number|num|nr\.?|#))?|reisepass(?:nummer)?"
    r"|passnummer|pass-?nr\.?|num[ée]ro de passeport|passeport|n[úu]mero de pasaporte"
    r"|pasaporte|numero di passaporto|passaporto|paspoort(?:nummer)?))"
    r"|(?P<mrn>(?i:mrn|medical[\s_\-]+record(?:[\s_\-]+(?:number|no\.?|#))?|patient[\s_\-]*id"
    r"|patient[\s_\-]+(?:number|no\.?|#)|chart[\s_\-]+(?:number|no\.?)|hospital[\s_\-]+number"
    r"|nhs[\s_\-]+(?:number|no\.?)|patientennummer|patienten-?id|num[ée]ro de dossier(?: patient)?"
    r"|dossier patient|historia cl[íi]nica|cartella clinica|pati[ëe]ntnummer))"
    r"|(?P<icd>(?i:icd(?:-?1[01])?(?:-?(?:cm|gm))?|cim-?10|cie-?10)|Dx|DX|(?i:diagnos[ie]s|diagnosis code"
    r"|diagnosed|diagnose|diagnostic|diagnóstico|diagnosi|coded as|billing code))"
    r"|(?P<ssn>SSN|SS#|(?i:ssn|social[\s_\-]+security(?:[\s_\-]+(?:number|no\.?|#))?))"
    r"|(?P<bsn>BSN|(?i:burgerservicenummer|sofinummer|sofi-nummer|citizen service number))"
    r"|(?P<aadhaar>UID|(?i:aadhaar|aadhar|आधार))"
    r"|(?P<steuer>(?i:steuer-?id(?:nr)?|steueridentifikationsnummer|steuer-idnr|idnr"
    r"|identifikationsnummer))"
    r")(?!\w)"
)

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

# --- person names (anchored only) ------------------------------------------

_NAME_TOKEN = r"[A-ZÀ-ÖØ-Þ][a-zà-öø-ÿß'’\-]+"
_PARTICLE = r"(?:van|von|de|der|den|del|della|di|da|la|le|du|dos|ten|ter|zu|y)"
_TITLE = (
    r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau|Mme|Mlle|Madame|Monsieur|Sr|Sra|Srta|Sig|Sig\.ra"
    r"|Sig\.na|Dott|Dott\.ssa|Dhr|Mevr|heer|mevrouw|Patient|Pt)\.?[ \t]+"
)
PERSON_NAME = re.compile(
    r"(?:"
    rf"(?<!\w)(?P<title>{_TITLE})"
    r"|(?<!\w)(?P<intro>(?i:my name is|my name's|mein name ist|ich heiße|ich heisse|je m'appelle"
    r"|je m’appelle|me llamo|mi nombre es|mi chiamo|il mio nome è|mijn naam is|full name|first name"
    r"|last name|surname|customer name|patient name|contact name|vorname|nachname"
    r"|vollständiger name|nom complet|nombre completo|nome completo|volledige naam"
    rf"|name of the patient))\s*[:=]?\s*(?:{_TITLE})?"
    rf"|(?<!\w)(?P<field>(?i:name))\s*[:=]\s*(?:{_TITLE})?"
    r"|(?<!\w)(?P<greeting>Dear|Sehr geehrte[rs]?|Geachte|Estimad[oa]|Gentile|Cher|Chère)[ \t]+"
    rf"(?:{_TITLE})?"
    r"|(?P<signoff>(?i:regards|sincerely|best wishes|cheers|thanks|best|grüßen|grüße|gruß"
    r"|cordialement|saludos|salutations|cordiali saluti|saluti|groet|groeten)),?[ \t]*\r?\n[ \t]*"
    r")"
    rf"(?P<name>(?:{_PARTICLE}[ \t]+){{0,2}}{_NAME_TOKEN}"
    rf"(?:[ \t]+(?:{_PARTICLE}[ \t]+){{0,2}}{_NAME_TOKEN}){{0,3}})"
)
NOT_A_NAME = frozenset(
    ["the", "a", "an", "all", "team", "sir", "madam", "sirs", "customer", "customers", "colleague", "colleagues", "hiring", "manager", "support", "everyone", "friend", "friends", "admin", "user", "users", "valued", "client", "clients", "reader", "readers", "member", "members", "partner", "partners", "whom", "mr", "mrs", "ms", "miss", "dr", "prof", "damen", "herren", "kolleginnen", "kollegen", "kunde", "kundin", "madame", "monsieur", "mesdames", "messieurs", "señor", "señora", "señores", "cliente", "clienti", "heer", "mevrouw", "heren", "dames", "lord", "god", "santa", "i", "we", "you", "thanks", "best", "regards", "please", "our", "my", "your", "this", "that", "hi", "hello", "phone", "email", "tel", "mobile", "office", "frau", "herr", "sr", "sra", "sig", "mme", "mlle", "dhr", "mevr", "patient", "patients", "portal", "safety", "care", "experience", "zero", "id", "number", "no", "record", "records", "data", "information", "name", "names", "string", "optional", "list", "none", "null", "true", "false", "int", "str", "dict", "any", "type", "value", "customer's", "support's"]
)

# --- explicit confidentiality markers ---------------------------------------

_CONF_WORDS = """
confidential|strictly confidential|highly confidential|private and confidential
proprietary and confidential|internal only|internal use only|for internal use|internal-only
not for distribution|not for external distribution|do not distribute|do not share|do not forward
do not disclose|strictly private|trade secret|trade secrets|top secret|need-to-know|need to know basis
embargoed|vertraulich|streng vertraulich|nur für den internen gebrauch|nur intern|nur zur internen
nicht zur weitergabe|nicht weitergeben|geschäftsgeheimnis|verschlusssache|confidentiel
confidentielle|strictement confidentiel|usage interne|ne pas diffuser|ne pas distribuer
secret d'affaires|confidencial|uso interno|solo para uso interno|no distribuir|no difundir
estrictamente privado|riservato|riservata|strettamente riservato|non divulgare|confidenziale
ad uso interno|vertrouwelijk|strikt vertrouwelijk|alleen voor intern gebruik|niet verspreiden
"""
CONFIDENTIAL = re.compile(
    r"(?<![\w\-])(?<!non-)(?<!non )(?:"
    rf"(?i:{alternation(_lex(_CONF_WORDS))})(?!\w)(?!\s+comput)"
    r"|(?i:under|covered by|subject to|bound by|protected by)\s+(?:(?i:an|the|our|a|mutual)\s+)?NDA"
    r"|NDA[\s\-](?i:protected|covered|restricted|only|material)|\[NDA\]|NDA:"
    r")(?!\w)"
)
