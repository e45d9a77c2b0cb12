"""Keyword lexicons and the one-pass matcher that finds them.

Why not one big regex alternation over the text: Python's ``re`` tries every
branch at every position, so a few hundred keywords cost milliseconds per
kilobyte; and walking the words in Python costs ~1 microsecond per word.
Instead the lower-cased text is mapped with ``bytes.translate`` to a *word
view* (letters and digits kept, everything else a space; see
``aegis.privacy.prefilter``) and one compiled pattern -- a space, then a trie
of every key word -- runs over it: ``re`` jumps from space to space with a
``memchr``-speed literal search, and each attempt dies after a character or
two unless a key word starts there. Only words that are in the lexicon reach
Python, where multi-word phrases are confirmed with a small precompiled tail
pattern. Cost: about 20 ns per character plus work proportional to the number
of *matching* words.

Phrase syntax in the lists below:
``=Word``   the first word must have exactly this spelling (acronyms, titles);
``stem*``   any word starting with ``stem`` (single words only);
spaces      between words: any run of up to three of space, ``-``, ``_``, ``.``,
            ``/``, and straight or curly apostrophes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from aegis.privacy.prefilter import word_view

__all__ = ["LEXICON", "Hit", "Lexicon", "lowercase"]

# Words as the matcher sees them: letters and digits (underscore separates,
# so ``date_of_birth`` and ``order_id`` split into words).
_WORD = re.compile(r"[^\W_]+")
_SEP = r"[\s\-_.'\u2019/]{1,3}"
# The characters of ``_SEP`` (``\s`` spelled out) and the word after a separator.
_WHITESPACE = (  # every character \s matches (str.isspace)
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_SEP_CHARS = _WHITESPACE + "-_.'\u2019/"
_NEXT_WORD = re.compile(_SEP + r"([^\W_]+)")

Hit = tuple[str, int, int]  # (family, start, end)


@dataclass(frozen=True, slots=True)
class Term:
    family: str
    case: str | None = None  # exact spelling of the key word, if case-sensitive
    tail: re.Pattern[str] | None = None  # the words after the key word, matched right after
    lead: re.Pattern[str] | None = None  # the words before it, searched in a short window
    lead_len: int = 0
    before: str = ""  # a character that must immediately precede the phrase
    # The tail's first word / the lead's last word (phrases only): a string
    # comparison rules most occurrences out before a pattern runs.
    tail_word: str = ""
    lead_word: str = ""

    @property
    def plain(self) -> bool:
        """A single word, any case: every occurrence is a hit."""
        return self.case is None and self.tail is None and self.lead is None and not self.before


@dataclass(frozen=True, slots=True)
class Lexicon:
    words: Mapping[str, tuple[Term, ...]]
    stems: Mapping[str, tuple[tuple[str, Term], ...]]  # keyed by the stem's first 4 chars
    stem_prefixes: frozenset[str] = frozenset()
    keys: frozenset[str] = frozenset()
    # " " + a trie of the Latin-1 key words and stems, run over ``prefilter.word_view``
    index: re.Pattern[bytes] | None = None
    # key words / stems outside Latin-1 (the word view cannot spell them), run over ``lowered``
    wide: re.Pattern[str] | None = None
    # every key word's terms, sorted for ``find`` (words that only match a stem: per scan)
    entries: Mapping[str, _Entry] = field(default_factory=lambda: MappingProxyType({}))

    def find(self, text: str, lowered: str, words: bytes | None = None) -> list[Hit]:
        """Every lexicon hit in ``text`` (``lowered`` = ``lowercase(text)``;
        ``words`` = ``prefilter.word_view(lowered)``, computed when not given).

        A word is a maximal run of letters and digits of ``lowered``; a hit
        starts at a word that is a key word or starts with a stem.
        """
        if self.index is None:
            return self.find_words(text, lowered)
        if words is None:
            words = word_view(lowered)
        hits: list[Hit] = []
        entries = self.entries
        known: dict[str, _Entry] = {}  # stem words
        # ``search`` from the end of each match, not ``finditer``: the same matches
        # (none is empty), without the ~0.5 us that creating the iterator costs --
        # most of this call on a short prompt, which usually has no match at all.
        search = self.index.search
        m = search(words)
        while m is not None:
            i, j = m.span()
            m = search(words, j)
            j -= 1  # the view is padded by one space
            word = lowered[i:j]
            entry = entries.get(word) or known.get(word)
            if entry is None:
                entry = known[word] = _Entry.of(self._terms(word))
            for family in entry.plain:
                hits.append((family, i, j))
            terms = entry.other
            if entry.by_next:
                following = _NEXT_WORD.match(lowered, j)
                if following is not None:
                    terms += entry.by_next.get(following.group(1), ())
            if entry.by_previous:
                # The run of separators before the key word, then the word before
                # it. A lead ends with 1-3 separators at the key word, or (its "$")
                # right before a newline there.
                gap = lowered[max(0, i - 5) : i]
                k = len(gap) - len(gap.rstrip(_SEP_CHARS))
                if 1 <= k <= 3 or (k == 4 and gap[-1] == "\n"):
                    previous = lowered[words.rfind(b" ", 0, i - k + 1) : i - k]
                    terms += entry.by_previous.get(previous, ())
            if terms:
                self._apply(terms, text, lowered, i, j, hits)
        if self.wide is not None and not lowered.isascii():
            for wide in self.wide.finditer(lowered):
                terms = self._terms(wide.group())
                if terms:
                    self._apply(terms, text, lowered, wide.start(), wide.end(), hits)
        return hits

    def find_words(self, text: str, lowered: str) -> list[Hit]:
        """``find`` by walking every word in Python: the reference ``find`` is checked
        against (slow: about 1 microsecond per word)."""
        hits: list[Hit] = []
        for m in _WORD.finditer(lowered):
            terms = self._terms(m.group())
            if terms:
                self._apply(terms, text, lowered, m.start(), m.end(), hits)
        return hits

    def _terms(self, word: str) -> tuple[Term, ...]:
        terms = self.words.get(word, ())
        if len(word) >= 4:
            candidates = self.stems.get(word[:4])
            if candidates:
                extra = tuple(term for stem, term in candidates if word.startswith(stem))
                if extra:
                    terms += extra
        return terms

    @staticmethod
    def _apply(
        terms: tuple[Term, ...], text: str, lowered: str, i: int, j: int, hits: list[Hit]
    ) -> None:
        for term in terms:
            if term.case is not None and text[i:j] != term.case:
                continue
            if term.before and (i == 0 or text[i - 1] != term.before):
                continue
            start, end = i, j
            if term.tail is not None:
                m = term.tail.match(lowered, j)
                if m is None:
                    continue
                end = m.end()
            if term.lead is not None:
                m = term.lead.search(lowered, max(0, i - term.lead_len), i)
                if m is None:
                    continue
                start = m.start()
            hits.append((term.family, start, end))


@dataclass(frozen=True, slots=True)
class _Entry:
    """A key word's terms, sorted for ``Lexicon.find``: plain terms are hits at
    once; a phrase can only match where the word after the key word is its
    tail's first word (``by_next``), or the word before it its lead's last word
    (``by_previous``) -- a dictionary lookup instead of a pattern per phrase."""

    plain: tuple[str, ...]  # families
    other: tuple[Term, ...]  # case-sensitive, "before" or special-tail terms
    by_next: Mapping[str, tuple[Term, ...]]
    by_previous: Mapping[str, tuple[Term, ...]]

    @staticmethod
    def of(terms: tuple[Term, ...]) -> _Entry:
        plain: list[str] = []
        other: list[Term] = []
        by_next: dict[str, tuple[Term, ...]] = {}
        by_previous: dict[str, tuple[Term, ...]] = {}
        for term in terms:
            if term.plain:
                plain.append(term.family)
            elif term.lead_word:
                by_previous[term.lead_word] = (*by_previous.get(term.lead_word, ()), term)
            elif term.tail_word:
                by_next[term.tail_word] = (*by_next.get(term.tail_word, ()), term)
            else:
                other.append(term)
        return _Entry(tuple(plain), tuple(other), by_next, by_previous)


def lowercase(text: str) -> str:
    """``text.lower()`` that keeps every index valid (some characters grow when lowered)."""
    lowered = text.lower()
    if len(lowered) == len(text):
        return lowered
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _parse(family: str, phrase: str) -> tuple[str, Term, bool]:
    """-> (key word, term, is_stem).

    A phrase is keyed on its longest word (rarer than ``be`` or ``my``, so
    fewer occurrences to confirm); the words before it become a look-back
    pattern, the words after it a tail pattern. Case-sensitive phrases are
    keyed on their first word, whose spelling is checked.
    """
    case_sensitive = phrase.startswith("=")
    phrase = phrase.lstrip("=")
    stem = phrase.endswith("*")
    phrase = phrase.rstrip("*")
    original = _WORD.findall(phrase)
    words = [w.lower() for w in original]
    if not words:
        raise ValueError(f"empty lexicon phrase in {family!r}")
    if stem and len(words) > 1:
        raise ValueError(f"stems must be single words: {phrase!r}")
    key = 0 if case_sensitive else max(range(len(words)), key=lambda k: len(words[k]))
    tail = lead = None
    lead_len = 0
    if key + 1 < len(words):
        rest = "".join(_SEP + re.escape(w) for w in words[key + 1 :])
        tail = re.compile(rest + r"(?![^\W_])")
    if key > 0:
        before = "".join(re.escape(w) + _SEP for w in words[:key])
        lead = re.compile(r"(?<![^\W_])" + before + "$")
        lead_len = sum(len(w) + 3 for w in words[:key])
    case = original[0] if case_sensitive else None
    term = Term(
        family,
        case=case,
        tail=tail,
        lead=lead,
        lead_len=lead_len,
        tail_word=words[key + 1] if tail is not None else "",
        lead_word=words[key - 1] if lead is not None else "",
    )
    return words[key], term, stem


def build(
    families: Mapping[str, Iterable[str]], specials: Iterable[tuple[str, Term]] = ()
) -> Lexicon:
    words: dict[str, list[Term]] = {}
    stems: dict[str, list[tuple[str, Term]]] = {}
    for family, phrases in families.items():
        for phrase in phrases:
            first, term, stem = _parse(family, phrase)
            if stem:
                if len(first) < 4:
                    raise ValueError(f"stem too short: {first!r}")
                stems.setdefault(first[:4], []).append((first, term))
            else:
                words.setdefault(first, []).append(term)
    for first, term in specials:
        words.setdefault(first, []).append(term)
    stem_words = [stem for candidates in stems.values() for stem, _ in candidates]
    lexicon = Lexicon(
        words=MappingProxyType({k: tuple(v) for k, v in words.items()}),
        stems=MappingProxyType({k: tuple(v) for k, v in stems.items()}),
        stem_prefixes=frozenset(stems),
        keys=frozenset(words),
        index=_index([w for w in words if _latin1(w)], [s for s in stem_words if _latin1(s)]),
        wide=_wide([w for w in words if not _latin1(w)], [s for s in stem_words if not _latin1(s)]),
    )
    entries = MappingProxyType({w: _Entry.of(lexicon._terms(w)) for w in words})
    return replace(lexicon, entries=entries)


def _latin1(word: str) -> bool:
    return all(ord(c) < 256 for c in word)


def _index(words: Iterable[str], stems: Iterable[str]) -> re.Pattern[bytes]:
    """``" "`` + a trie of ``words`` (a whole word of the view) and ``stems`` (a word
    starting with one). Every branch starts with a literal, which ``re`` rejects
    in one comparison, and the pattern starts with a literal space, which ``re``
    skips to at ``memchr`` speed."""
    root: dict[int, Any] = {}
    for word, mark in [(w, 1) for w in words] + [(s, 2) for s in stems]:
        node = root
        for byte in word.encode("latin-1"):
            node = node.setdefault(byte, {})
        node[-1] = node.get(-1, 0) | mark

    def emit(node: dict[int, Any]) -> bytes:
        end = node.get(-1, 0)
        if end & 2:
            return rb"[^ ]*+"  # a stem: whatever follows, up to the end of the word
        branches = [re.escape(bytes([b])) + emit(node[b]) for b in sorted(node) if b >= 0]
        if end:
            branches.append(rb"(?= )")  # the word ends here
        return branches[0] if len(branches) == 1 else b"(?:" + b"|".join(branches) + b")"

    return re.compile(b" " + emit(root))


def _wide(words: list[str], stems: list[str]) -> re.Pattern[str] | None:
    """Key words / stems outside Latin-1, matched on ``lowered`` as whole words."""
    if not words and not stems:
        return None
    # the look-behind goes after the first character, so ``re`` can skip ahead to it
    branches = [_start(w) + r"(?![^\W_])" for w in words]
    branches += [_start(s) + r"[^\W_]*+" for s in stems]
    return re.compile("|".join(branches))


def _start(word: str) -> str:
    first = re.escape(word[0])
    return first + r"(?<![^\W_]" + first + ")" + re.escape(word[1:])


def _split(block: str) -> tuple[str, ...]:
    return tuple(
        w.strip() for line in block.strip().splitlines() for w in line.split("|") if w.strip()
    )


# --- health (see aegis.privacy.health for how they are weighed) -------------

HEALTH_STRONG = _split("""
diagnosed with|misdiagnosed|diagnosed as|medication*|medicated|prescription*|dosage*|oncolog*
chemotherapy|chemo|radiotherapy|radiation therapy|biops*|tumor*|tumour*|malignan*|metasta*
carcinoma*|cancer*|leukemia|leukaemia|lymphoma|melanoma|diabetes|diabetic|insulin|metformin
hypertension|hypotension|asthma*|hepatitis|tuberculosis|pneumonia|influenza|covid|covid19
covid 19|sars cov 2|schizophreni*|bipolar disorder|depressive|antidepressant*|anxiety disorder
panic attack|panic attacks|autism|autistic|dementia|alzheimer s|alzheimers|alzheimer disease
parkinson s|parkinsons|parkinson disease|parkinsonism|epilep*|seizure*
multiple sclerosis|arthritis|osteoporosis|cardiac|cardiolog*|arrhythmia|myocardial|heart attack
heart failure|heart disease|pregnant|pregnancy|miscarriage|abortion|contracepti*|infertility
syphilis|gonorrh*|chlamydia|herpes|hiv positive|cholesterol|blood pressure|blood sugar
blood test|blood tests|blood work|bloodwork|lab results|lab result|ct scan|mri scan
mammogram*|colonoscop*|ultrasound scan|surgery|surgeon*|hospitali*|admitted to hospital
intensive care|emergency room|physician*|pediatrician|paediatrician|psychiatr*|psychotherap*
therapist*|rehab|addiction|overdos*|opioid*|methadone|antibiotic*|ibuprofen|paracetamol
acetaminophen|amoxicillin|lisinopril|atorvastatin|sertraline|fluoxetine|omeprazole
levothyroxine|insulin glargine|prozac|xanax|adderall|warfarin|statins|anaphyla*
allergic reaction|medical history|medical record|medical records|health record|health records
clinical notes|discharge summary|discharge note|inpatient|outpatient|comorbid*|prognosis
symptomatic|asymptomatic|sick leave|sick note|medical leave|mental health|mental illness
suicid*|self harm|eating disorder|anorexia|bulimia|obesity|migraine*|crohn s|crohns|rheumatoid
crohn disease
chest pain|shortness of breath|nausea|vomiting|diarrh*|illness*|disease*|patients
patient care|patient data|patient records|patient information|side effects of|hba1c
glucose level|glucose levels|immunocompromised|vaccinated against|chronic pain|pharmacist
pharmacy|lab report|pathology|radiology|radiologist|nurse practitioner|gp surgery
appendicitis|concussion|fractured|sprained|dermatitis|eczema|psoriasis|hyperlipidemia|anemia
anaemia|thyroid|hypothyroidism|hyperthyroidism|urinary tract infection|std test|hiv test
pregnancy test|ivf treatment|shortness of breath
diagnostizier*|patientin|patienten|medikament*|krankheit*|erkrank*|hausarzt|hausärztin
krankenhaus*|klinikum|blutdruck|schwanger*|krankgeschrieben|krankschreibung|arztbrief
krankenkasse|nebenwirkung*|lungenentzündung|krebs*|zuckerkrankheit|entzündung*|befund*
diagnostiqué*|patiente|patientes|médicament*|maladie*|posologie|hôpital|hôpitaux|hospitalis*
grossesse|enceinte de|dossier médical|diabète|ordonnance médicale|effets secondaires
diagnosticad*|diagnosticar*|medicament*|medicación|enfermedad*|embarazad*|embarazo
historia clínica|receta médica|diagnosticat*|farmac*|malattia|malattie|ospedal*|ricoverat*
ricovero|incinta|gravidanza|cartella clinica|ricetta medica|diabete|gediagnosticeerd
medicijn*|medicatie|ziekte*|huisarts*|ziekenhuis*|zwanger*|voorgeschreven
""")

HEALTH_ACRONYMS = _split("""
=HIPAA|=PHI|=HIV|=AIDS|=COPD|=ADHD|=PTSD|=OCD|=MRI|=ICU|=IVF|=STD|=STI|=STIs|=STDs|=EHR|=ECG
=EKG|=HbA1c
""")

HEALTH_WEAK = _split("""
patient|diagnosis|diagnoses|diagnose|diagnostic|diagnosed|symptom|symptoms|treatment
treatments|treated|therapy|clinic|clinical|hospital|doctor|doctors|nurse|nurses|medical
medicine|health|healthcare|infection|infected|virus|dose|doses|pain|fever|injury|chronic
acute|depression|anxiety|stroke|allergy|allergies|allergic|side effects|x ray|xray|vaccine
vaccines|vaccination|surgical|disabled|disability|recovery|prescribed|drug|drugs|pill|pills
tablets|headache|cough|rash|wound|blood|ill|sick|referral|specialist|therapeutic|ultrasound
emr|bmi|arzt|ärztin|klinik|behandlung|therapie|symptome|beschwerden|verschrieben|krank
médecin|traitement|symptômes|prescrit|enceinte|douleur|malade|paciente|médico|tratamiento
síntomas|diagnóstico|receta|dosis|dolor|recetado|paziente|medico|sintomi|diagnosi|prescritto
terapia|dolore|pressione|patiënt|behandeling|klachten|arts|pijn
""")

# Technical / everyday senses: matched first, their words never count.
HEALTH_ANTI = _split("""
be patient|being patient|stay patient|patient with|patient zero|health check|health checks
healthcheck|healthchecks|health endpoint|health probe|health status|cluster health|system health
service health|node health|health score|brew doctor|flutter doctor|npm doctor|doctor command
run doctor|treatment group|treatment groups|treatment effect|treatment arm|control group
computer virus|virus scanner|virus scan|race condition|side effects in|side effect in
side effects inside|side effect free|pain point|pain points|growing pains|drug store
clinical precision|surgical fix|surgical precision|surgical strike|stroke width|brush stroke
sick of|ill formed|ill advised|medical device software|diagnostic log|diagnostic logs
diagnostic message|diagnostic messages|diagnostics|diagnostic tool|diagnostic mode|healthy dose
dose of reality|dose of skepticism|antivirus|anti virus
""")

# --- anchors for keyword-anchored identifiers -------------------------------

ANCHORS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "dob": _split("""
date of birth|dateofbirth|birth date|birthdate|birthday|born|d o b|dob|geburtsdatum|geburtstag
geboren|date de naissance|né|née|nacido|nacida|nací|fecha de nacimiento|data di nascita|=nato
=Nato|=nata|=Nata|geboortedatum
"""),
        "passport": _split("""
passport|passport no|passport number|passport num|passport nr|passportnumber|reisepass
reisepassnummer|passnummer|pass nr|numéro de passeport|numero de passeport|passeport
número de pasaporte|numero de pasaporte|pasaporte|numero di passaporto|passaporto|paspoort
paspoortnummer
"""),
        "mrn": _split("""
mrn|medical record|medical record number|medical record no|patient id|patientid|patient number
patient no|chart number|chart no|hospital number|nhs number|nhs no|patientennummer|patienten id
numéro de dossier|numéro de dossier patient|numero de dossier|dossier patient|historia clínica
historia clinica|cartella clinica|patiëntnummer|patientnummer
"""),
        "icd": _split("""
icd|icd10|icd 10|icd 10 cm|icd 10 gm|icd 11|icd10cm|cim 10|cie 10|=Dx|=DX|diagnosis|diagnoses
diagnosis code|diagnosed|diagnose|diagnostic|diagnóstico|diagnosi|coded as|billing code
"""),
        "ssn": _split("""
ssn|social security|social security number|social security no|socialsecurity
"""),
        "bsn": _split("burgerservicenummer|sofinummer|sofi nummer|citizen service number|bsn"),
        "aadhaar": _split("=UID|aadhaar|aadhar|आधार"),
        "steuer": _split("""
steuer id|steuerid|steuer idnr|steueridnr|steueridentifikationsnummer|idnr|identifikationsnummer
"""),
    }
)

# --- context words for numbers ----------------------------------------------

PHONE_WORDS = _split("""
phone|phones|phone number|telephone|tel|tél|telefon|telefono|teléfono|telefoon|mobile|mobil
móvil|movil|mobiel|cell|cellphone|cell phone|cellulare|handy|portable|call|calls|calling|ring
text|texts|sms|whatsapp|signal|viber|telegram|fax|hotline|dial|reach me|reach us|reach him
reach her|contact number|rufnummer|telefonnummer|mobilnummer|handynummer|ruf|anrufen|erreichen
erreichbar|appelez|appeler|appelle|joindre|llámame|llamar|llama|chiamami|chiamare|chiama|bel
bellen|telefoonnummer|my number|meine nummer|mon numéro|mi número|mio numero|mijn nummer
your number|his number|her number|landline|switchboard
""")

NEGATIVE_WORDS = _split("""
order|orders|invoice|invoices|inv|receipt|tracking|shipment|parcel|package|consignment|awb
waybill|sku|part|article|model|serial|s n|isbn|ean|upc|gtin|asin|ticket|case no|case number
case id|ref|reference|booking|reservation|confirmation|transaction|txn|batch|lot|account no
account number|customer no|customer number|customer id|policy no|policy number|claim number
voucher|coupon|purchase order|build|version|release|uuid|token|hash|checksum|bestell*|rechnung*
sendung*|artikel*|kundennummer|auftrag*|vorgang*|commande|facture|colis|suivi|référence|pedido
factura|envío|ordine|fattura|spedizione|bestelling|factuur|zending|bestelnummer|ordernummer
""")

CARD_WORDS = _split("""
card|cards|credit|debit|visa|mastercard|master card|amex|american express|discover|diners|jcb
maestro|cc|cvv|karte|kreditkarte|carte|tarjeta|carta|kaart|kaartnummer|kartennummer|payment
charge|pay
""")

# --- explicit confidentiality markers ---------------------------------------

CONFIDENTIAL_WORDS = _split("""
confidential|strictly confidential|highly confidential|private and confidential
proprietary and confidential|internal only|internal use only|for internal use|not for distribution
not for external distribution|do not distribute|do not share|do not forward|do not disclose
strictly private|trade secret|trade secrets|top secret|need to know|embargoed|vertraulich
streng vertraulich|nur für den internen gebrauch|nur intern|nur zur internen
nicht zur weitergabe|nicht weitergeben|geschäftsgeheimnis|verschlusssache|confidentiel
confidentielle|strictement confidentiel|usage interne|ne pas diffuser|ne pas distribuer
secret d'affaires|confidencial|uso interno|solo para uso interno|no distribuir|no difundir
estrictamente privado|riservato|riservata|strettamente riservato|non divulgare|confidenziale
ad uso interno|vertrouwelijk|strikt vertrouwelijk|alleen voor intern gebruik|niet verspreiden
under nda|under an nda|under the nda|under our nda|under a nda|covered by nda
covered by an nda|covered by the nda|covered by our nda|subject to nda|subject to an nda
subject to the nda|subject to our nda|bound by nda|bound by an nda|bound by the nda
bound by our nda|protected by nda|protected by an nda|protected by our nda|under mutual nda
nda protected|nda covered|nda restricted|nda only|nda material
""")

# --- person-name anchors (the name itself is matched by detectors) ----------

NAME_ANCHORS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "n_title": _split("""
=Mr|=Mrs|=Ms|=Miss|=Mx|=Dr|=Prof|=Herr|=Frau|=Mme|=Mlle|=Madame|=Monsieur|=Sr|=Sra|=Srta|=Sig
=Sig ra|=Sig na|=Dott|=Dott ssa|=Dhr|=Mevr|=heer|=mevrouw|=Patient|=Pt
"""),
        "n_intro": _split("""
my name is|my name s|mein name ist|ich heiße|ich heisse|je m appelle|me llamo|mi nombre es
mi chiamo|il mio nome è|mijn naam is|full name|first name|last name|surname|customer name
patient name|contact name|vorname|nachname|vollständiger name|nom complet|nombre completo
nome completo|volledige naam|name of the patient
"""),
        "n_field": ("name",),
        "n_greeting": _split("""
=Dear|=Sehr geehrte|=Sehr geehrter|=Geachte|=Estimado|=Estimada|=Gentile|=Cher|=Chère
"""),
        "n_signoff": _split("""
regards|sincerely|best wishes|cheers|thanks|best|grüßen|grüße|gruß|cordialement|saludos
salutations|cordiali saluti|saluti|groet|groeten
"""),
    }
)

_FAMILIES: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "h_strong": HEALTH_STRONG,
        "h_acro": HEALTH_ACRONYMS,
        "h_weak": HEALTH_WEAK,
        "h_anti": HEALTH_ANTI,
        "ctx_phone": PHONE_WORDS,
        "ctx_neg": NEGATIVE_WORDS,
        "ctx_card": CARD_WORDS,
        "conf": CONFIDENTIAL_WORDS,
        **ANCHORS,
        **NAME_ANCHORS,
    }
)

LEXICON: Lexicon = build(
    _FAMILIES,
    specials=(
        ("ss", Term("ssn", case="SS", tail=re.compile("#"))),  # SS#
        ("geb", Term("dob", tail=re.compile(r"\."))),  # geb.
        ("nda", Term("conf", case="NDA", tail=re.compile(r"\s?:"))),  # NDA:
        ("nda", Term("conf", case="NDA", before="[", tail=re.compile(r"\]"))),  # [NDA]
    ),
)
