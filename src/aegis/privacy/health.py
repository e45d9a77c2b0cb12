"""Health context: is this text about someone's health?

A lexicon in English, German, French, Spanish, Italian and Dutch with two
weights, because many medical words are everyday words in software:

* **strong** terms are unambiguous (``chemotherapy``, ``metformin``,
  ``diagnosed with``, ``Krankenhaus``, ``HIPAA``, a dose like ``20 mg``): one is
  enough;
* **weak** terms are health words with common non-medical senses
  (``patient``, ``symptoms``, ``diagnosis``, ``treatment``, ``virus``,
  ``doctor``): two *different* ones within a short window are needed;
* **anti** phrases are the technical senses spelled out (``be patient``,
  ``health check``, ``brew doctor``, ``treatment group``, ``side effects``
  in code): they are consumed first, so their words never count.

Acronyms (``HIV``, ``PHI``, ``COPD``, ``MRI``) are matched case-sensitively so
``std::`` or the golden ratio ``phi`` do not trigger.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["find_health_context"]


def alternation(words: Iterable[str]) -> str:
    """A regex alternation; ``*`` suffix = stem (``\\w*``), space = any whitespace.

    Longest first, so ``blood pressure`` wins over ``blood``.
    """
    parts = []
    for word in sorted(set(words), key=lambda w: (-len(w), w)):
        stem = word.endswith("*")
        body = r"[\s\-]+".join(re.escape(p) for p in word.rstrip("*").split(" "))
        parts.append(body + (r"\w*" if stem else ""))
    return "|".join(parts)


_STRONG = """
diagnosed with|misdiagnosed|diagnosed as|medication*|medicated|prescription*|dosage*|oncolog*
chemotherapy|chemo|radiotherapy|radiation therapy|biops*|tumor*|tumour*|malignan*|metasta*
carcinoma*|cancer*|leukemia|leukaemia|lymphoma|melanoma|diabetes|diabetic|insulin|metformin
hypertension|hypotension|asthma*|hepatitis|tuberculosis|pneumonia|influenza|covid|covid-19
sars-cov-2|schizophreni*|bipolar disorder|depressive|antidepressant*|anxiety disorder
panic attack*|autism|autistic|dementia|alzheimer*|parkinson's|parkinson’s|parkinson's disease
epilep*|seizure*|multiple sclerosis|arthritis|osteoporosis|cardiac|cardiolog*|arrhythmia
myocardial|heart attack|heart failure|heart disease|pregnant|pregnancy|miscarriage|abortion
contracepti*|infertility|syphilis|gonorrh*|chlamydia|herpes|hiv-positive|cholesterol
blood pressure|blood sugar|blood test*|blood work|bloodwork|lab results|lab result|ct scan
mammogram*|colonoscop*|ultrasound scan|surgery|surgeon*|hospitali*|admitted to hospital
intensive care|emergency room|physician*|pediatrician|paediatrician|psychiatr*|psychotherap*
psycholog* assessment|therapist*|rehab|addiction|overdos*|opioid*|methadone|antibiotic*
ibuprofen|paracetamol|acetaminophen|amoxicillin|lisinopril|atorvastatin|sertraline|fluoxetine
omeprazole|levothyroxine|insulin glargine|prozac|xanax|adderall|warfarin|statins|anaphyla*
allergic reaction|medical history|medical record|medical records|health record|health records
clinical notes|discharge summary|discharge note|inpatient|outpatient|comorbid*|prognosis
symptomatic|asymptomatic|sick leave|sick note|medical leave|mental health|mental illness
suicid*|self-harm|self harm|eating disorder|anorexia|bulimia|obesity|migraine*|crohn's|crohn’s
rheumatoid|chest pain|shortness of breath|nausea|vomiting|diarrh*|illness*|disease*|patients
patient's|patient’s|the patient|a patient|our patient|my patient|each patient|every patient
per patient|new patient|patient care|patient data|patient records|patient information
side effects of|hba1c|glucose level*|immunocompromised|vaccinated against|chronic pain
pharmacist|pharmacy|lab report|pathology|radiology|radiologist|nurse practitioner|gp surgery
appendicitis|stroke patient|concussion|fractured|sprained|dermatitis|eczema|psoriasis
hyperlipidemia|anemia|anaemia|thyroid|hypothyroidism|hyperthyroidism|urinary tract infection
std test|hiv test|pregnancy test|ivf treatment|chemotherapy session
diagnostizier*|patientin|patienten|medikament*|krankheit*|erkrank*|hausarzt|hausärztin
krankenhaus*|klinikum|blutdruck|schwanger*|krankgeschrieben|krankschreibung|arztbrief
krankenkasse|nebenwirkung*|lungenentzündung|krebs*|zuckerkrankheit|entzündung*|befund*
diagnostiqué*|patiente|patientes|médicament*|maladie*|posologie|hôpital|hôpitaux|hospitalis*
grossesse|enceinte de|dossier médical|diabète|ordonnance médicale|effets secondaires
diagnosticad*|diagnosticar*|medicament*|medicación|enfermedad*|embarazad*|embarazo
historia clínica|receta médica|diagnosticat*|farmac*|malattia|malattie|ospedal*|ricoverat*
ricovero|incinta|gravidanza|cartella clinica|ricetta medica|diabete|gediagnosticeerd
medicijn*|medicatie|ziekte*|huisarts*|ziekenhuis*|zwanger*|voorgeschreven
"""

_WEAK = """
patient|diagnosis|diagnoses|diagnose|diagnostic|diagnosed|symptom|symptoms|treatment|treatments
treated|therapy|clinic|clinical|hospital|doctor|doctors|nurse|nurses|medical|medicine|health
infection|infected|virus|dose|doses|pain|fever|injury|chronic|acute|depression|anxiety|stroke
allergy|allergies|allergic|side effects|x-ray|xray|vaccine|vaccines|vaccination|surgical
disabled|disability|recovery|prescribed|drug|drugs|pill|pills|tablets|headache|cough|rash
wound|blood|scan|condition|mg|ill|sick|referral|specialist|therapeutic|ultrasound|emr|bmi
arzt|ärztin|klinik|behandlung|therapie|symptome|beschwerden|diagnose|verschrieben|krank
patient|médecin|traitement|symptômes|diagnostic|prescrit|enceinte|douleur|malade
paciente|médico|tratamiento|síntomas|diagnóstico|receta|dosis|dolor|recetado
paziente|medico|sintomi|diagnosi|prescritto|terapia|dolore|pressione
patiënt|behandeling|klachten|diagnose|arts|pijn
"""

# Technical / everyday senses, consumed before the lexicon so they never count.
_ANTI = """
be patient|being patient|stay patient|patient with|patient zero|health check|health checks
healthcheck|health-check|health endpoint|health probe|health status|cluster health
system health|service health|node health|health score|brew doctor|flutter doctor|npm doctor
doctor command|run doctor|treatment group|treatment groups|treatment effect|treatment arm
control group|computer virus|virus scanner|virus scan|race condition|condition variable
side effects in|side effect in|side effects inside|side-effect free|side effect free|pure function
pain point|pain points|growing pains|scan the|scan for|port scan|security scan|drug store
blood type of the|clinical precision|surgical fix|surgical precision|surgical strike
stroke width|stroke-width|brush stroke|keystroke|sick of|ill-formed|ill formed|ill-advised
medical device software|diagnostic log|diagnostic logs|diagnostic message|diagnostics
diagnostic tool|diagnostic mode|healthy dose|dose of reality|dose of skepticism
"""

_ACRONYMS = (
    "HIPAA|PHI|HIV|AIDS|COPD|ADHD|PTSD|OCD|MRI|ICU|IVF|STD|STI|STIs|STDs|EHR|ECG|EKG|HbA1c"
)


def _words(block: str) -> list[str]:
    return [w.strip() for line in block.strip().splitlines() for w in line.split("|") if w.strip()]


_HEALTH_RE = re.compile(
    r"(?<!\w)(?:"
    rf"(?P<anti>(?i:{alternation(_words(_ANTI))}))"
    rf"|(?P<acro>{_ACRONYMS})"
    r"|(?P<dose>\d+(?:[.,]\d+)?\s?(?:mg|mcg|µg|ml|IU)(?:/(?:kg|day|d|ml))?)"
    rf"|(?P<strong>(?i:{alternation(_words(_STRONG))}))"
    rf"|(?P<weak>(?i:{alternation(_words(_WEAK))}))"
    r")(?!\w)"
)

_PAIR_WINDOW = 250


def find_health_context(text: str) -> tuple[int, int] | None:
    """The span that establishes health context in ``text``, or None.

    One strong term, or two different weak terms within ``_PAIR_WINDOW``
    characters. The span is the strong term (or the second weak term).
    """
    last_weak: list[tuple[int, str]] = []
    for m in _HEALTH_RE.finditer(text):
        group = m.lastgroup
        if group == "anti":
            continue
        if group != "weak":
            return m.span()
        word = m.group().lower()
        start = m.start()
        last_weak = [(pos, w) for pos, w in last_weak if start - pos <= _PAIR_WINDOW]
        if any(w != word for _, w in last_weak):
            return m.span()
        last_weak.append((start, word))
    return None
