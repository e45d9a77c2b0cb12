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

from tests.privacy.corpus.assembly import KINDS, build_corpus
from tests.privacy.corpus.base import LOCALES, SEED, Corpus, Sample
from tests.privacy.corpus.carriers import _TINY_PNG as _TINY_PNG
from tests.privacy.corpus.checksums import _aadhaar as _aadhaar
from tests.privacy.corpus.checksums import _bsn as _bsn
from tests.privacy.corpus.checksums import _nir as _nir
from tests.privacy.corpus.checksums import _steuer_id as _steuer_id
from tests.privacy.corpus.holdout import holdout
from tests.privacy.corpus.scoring import KindScore, Report, evaluate

__all__ = ["KINDS", "LOCALES", "SEED", "Corpus", "KindScore", "Report", "Sample", "build_corpus", "evaluate", "holdout"]
