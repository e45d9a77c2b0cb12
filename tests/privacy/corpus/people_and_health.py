"""Positives: medical records, ICD codes, health text, PHI combinations, confidential markers,
names, national IDs (see ``tests.privacy.corpus``)."""

from __future__ import annotations

import random
import string

from faker import Faker

from tests.privacy.corpus.base import CONF, LANG, LOCALES, PHI, PII, _Item
from tests.privacy.corpus.checksums import (
    _aadhaar,
    _bsn,
    _cf_ok,
    _day,
    _dni,
    _dni_ok,
    _nie,
    _nino,
    _nir,
    _steuer_id,
)
from tests.privacy.corpus.generators import _digits, _fmt_date, _pick
from tests.privacy.corpus.identifiers import _e164_variant, _k

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
