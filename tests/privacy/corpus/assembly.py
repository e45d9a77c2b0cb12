"""Assembly: the seeded corpus, built the same way on every run (see ``tests.privacy.corpus``)."""

from __future__ import annotations

import functools
import random

from faker import Faker

from tests.privacy.corpus.base import LOCALES, SEED, Corpus
from tests.privacy.corpus.carriers import _embed
from tests.privacy.corpus.identifiers import (
    _cards,
    _dobs,
    _emails,
    _ibans,
    _ips,
    _passports,
    _phones,
    _ssns,
)
from tests.privacy.corpus.negatives import _negatives
from tests.privacy.corpus.people_and_health import (
    _confidentials,
    _free_text_names,
    _health,
    _icds,
    _mrns,
    _names,
    _national_ids,
    _phi_combos,
)

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
