"""Measure the privacy detector: precision / recall on the labelled corpus, and speed.

    .venv/bin/python bench/privacy_eval.py [--detector regex|presidio|regex+presidio]
                                           [--baseline GIT-REF] [--no-timing]

Prints Markdown (paste into the README): a per-kind precision/recall table,
request-level scores (the routing decision), false-alarm rates per hard-negative
category, and p50/p99 scan times for 2 KB and 100 KB inputs of four shapes:

* ``prose``  -- conversational prose with the occasional identifier (typical);
* ``tech``   -- technical chat full of health-, phone- and NDA-like words;
* ``code``   -- source code and logs full of numbers, versions, hashes;
* ``dense``  -- an identifier on every line (worst case: every validator runs).

Each 100 KB input is also timed as a one-message request on the routing path,
``scan_messages(exhaustive=False)``, which stops once the request is PHI.

``--baseline REF`` (e.g. ``HEAD``) loads ``src/aegis/privacy`` as it is at that
git revision (read with ``git show``; nothing is checked out) and times it side
by side with the working tree, interleaved run by run, so both see the same
machine load: "before" is REF, "after" the working tree.
"""

from __future__ import annotations

import argparse
import importlib
import json
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aegis.privacy import KIND_CLASSES, Detector, build_detector, scan_messages
from tests.privacy.corpus import (
    KINDS,
    Corpus,
    Report,
    Sample,
    build_corpus,
    evaluate,
    holdout,
)
from tests.privacy.corpus.negatives import _CODE_SNIPPETS


def _table(report: Report, free_text: Report | None) -> str:
    lines = [
        "| kind | class | precision | recall | TP | FP | FN |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for kind in KINDS:
        s = report.kinds.get(kind)
        if s is None or s.tp + s.fp + s.fn == 0:
            continue
        cls = KIND_CLASSES.get(kind)
        lines.append(
            f"| {kind} | {cls.value if cls else '-'} | {s.precision:.3f} | {s.recall:.3f} "
            f"| {s.tp} | {s.fp} | {s.fn} |"
        )
    r = report.request
    lines.append(
        f"| **request (routing decision)** | | **{r.precision:.4f}** | **{r.recall:.4f}** "
        f"| {r.tp} | {r.fp} | {r.fn} |"
    )
    if free_text is not None:
        s = free_text.kinds["person_name"]
        lines.append(
            f"| person_name, free text (not anchored; reported only) | pii | - | {s.recall:.3f} "
            f"| {s.tp} | - | {s.fn} |"
        )
    return "\n".join(lines)


def _negatives_table(report: Report) -> str:
    lines = ["| hard-negative category | samples | false alarms |", "|---|---:|---:|"]
    for cat, s in sorted(report.negative_categories.items()):
        lines.append(f"| {cat} | {s.tp + s.fp} | {s.fp} |")
    return "\n".join(lines)


def _compose(rng: random.Random, pool: Sequence[str], size: int) -> str:
    parts: list[str] = []
    total = 0
    while total < size:
        piece = rng.choice(pool)
        parts.append(piece)
        total += len(piece) + 1
    return "\n".join(parts)[:size]


_PROSE = (
    "Can you help me restructure this section so the argument flows better?",
    "Here is the draft of the announcement we discussed in the meeting yesterday.",
    "Please keep the tone friendly but professional, and avoid jargon where possible.",
    "The second paragraph repeats the first one; merge them and shorten the intro.",
    "We want to launch the new onboarding flow in the spring, after the pricing update.",
    "List three risks of moving the team to a four-day week and how to mitigate them.",
    "Rewrite the following product update for a non-technical audience.",
    "The survey had 412 responses; 63% preferred the second design.",
)


def _workloads(corpus: Corpus, rng: random.Random) -> dict[str, Callable[[int], str]]:
    prose = [s.text for s in corpus.negatives if s.category == "business_text"] + list(_PROSE)
    keyword_heavy = [
        s.text
        for s in corpus.negatives
        if s.category in ("health_ambiguous", "call_number_words", "confidence_words")
    ]
    identifiers = [s.text for s in corpus.positives]
    code = list(_CODE_SNIPPETS) + [
        s.text for s in corpus.negatives if s.category in ("code", "version", "hash", "timestamp")
    ]

    def with_one_identifier(pool: list[str]) -> Callable[[int], str]:
        def make(size: int) -> str:
            return _compose(rng, pool, size - 200) + "\n" + rng.choice(identifiers)[:199]

        return make

    return {
        "prose + 1 identifier": with_one_identifier(prose),
        "tech chat, keyword-heavy + 1 identifier": with_one_identifier(keyword_heavy),
        "code and logs": lambda size: _compose(rng, code, size),
        "dense: an identifier on every line (worst case)": lambda size: _compose(
            rng, identifiers, size
        ),
    }


# CPU time of this thread: on a shared machine, wall-clock percentiles mostly measure
# the neighbours. For single-threaded scanning on an idle machine the two agree.
_clock = time.thread_time


def _percentiles(samples: list[float]) -> tuple[float, float]:
    samples.sort()
    return samples[len(samples) // 2], samples[min(len(samples) - 1, int(len(samples) * 0.99))]


def _load_baseline(ref: str) -> ModuleType:
    """``aegis.privacy`` as it is at git revision ``ref``, importable on its own."""
    root = Path(__file__).resolve().parents[1]

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
        ).stdout

    package = Path(tempfile.mkdtemp(prefix="aegis-baseline-")) / "aegis_privacy_baseline"
    package.mkdir()
    for name in git("ls-tree", "--name-only", ref, "src/aegis/privacy/").split():
        if name.endswith(".py"):
            source = git("show", f"{ref}:{name}")
            (package / Path(name).name).write_text(
                source.replace("aegis.privacy", "aegis_privacy_baseline")
            )
    sys.path.insert(0, str(package.parent))
    return importlib.import_module("aegis_privacy_baseline")


Timed = Callable[[object], object]


def _time(runs: int, inputs: Sequence[object], after: Timed, before: Timed | None) -> str:
    """`| p50 | p99 |` cells (with a baseline: before/after p50, before/after p99, speed-up)."""
    for item in inputs[:3]:  # warm up
        after(item)
        if before is not None:
            before(item)
    times: list[float] = []
    base: list[float] = []
    for i in range(runs):
        item = inputs[i % len(inputs)]
        if before is not None:
            t0 = _clock()
            before(item)
            base.append(_clock() - t0)
        t0 = _clock()
        after(item)
        times.append(_clock() - t0)
    p50, p99 = _percentiles(times)
    if before is None:
        return f"{p50 * 1e3:.3f} ms | {p99 * 1e3:.3f} ms"
    b50, b99 = _percentiles(base)
    return (
        f"{b50 * 1e3:.3f} ms | {p50 * 1e3:.3f} ms | {b99 * 1e3:.3f} ms | {p99 * 1e3:.3f} ms "
        f"| {b50 / p50:.1f}x"
    )


def _timings(
    detector: Detector, corpus: Corpus, baseline: ModuleType | None = None, scale: float = 1.0
) -> str:
    rng = random.Random(7)
    old: Detector | None = None
    if baseline is None:
        lines = ["| input | size | p50 | p99 |", "|---|---:|---:|---:|"]
    else:
        old = baseline.build_detector(detector.name)
        lines = [
            "| input | size | before p50 | after p50 | before p99 | after p99 | speed-up |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
    large: dict[str, list[str]] = {}
    for name, make in _workloads(corpus, rng).items():
        for size, full in ((2_048, 3_000), (100_000, 60)):
            runs = max(2, round(full * scale))
            docs = [make(size) for _ in range(min(runs, 40))]
            label = "2 KB" if size < 10_000 else "100 KB"
            cells = _time(
                runs,
                docs,
                lambda doc: detector.scan_text(doc),  # type: ignore[arg-type]
                None if old is None else lambda doc: old.scan_text(doc),  # type: ignore[arg-type]
            )
            lines.append(f"| {name} | {label} | {cells} |")
            if size > 10_000:
                large[name] = docs
    # Routing only needs the class: stop once the request is PHI.
    for name, docs in large.items():
        requests = [[{"role": "user", "content": doc}] for doc in docs]
        cells = _time(
            max(2, round(60 * scale)),
            requests,
            lambda r: scan_messages(r, detector=detector, exhaustive=False),  # type: ignore[arg-type]
            None
            if baseline is None
            else lambda r: baseline.scan_messages(r, detector=old, exhaustive=False),  # type: ignore[arg-type]
        )
        lines.append(f"| routing (`exhaustive=False`): {name} | 100 KB | {cells} |")
    # A whole request: system prompt, history, a tool call and its JSON result.
    request = [
        {"role": "system", "content": "You are a helpful assistant for the support team."},
        {"role": "user", "content": _workloads(corpus, rng)["prose + 1 identifier"](1_200)},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "lookup", "arguments": json.dumps({"query": "renewal"})},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "c1",
            "content": json.dumps({"rows": [{"id": i, "status": "open"} for i in range(10)]}),
        },
    ]
    cells = _time(
        max(2, round(2_000 * scale)),
        [request],
        lambda r: scan_messages(r, detector=detector),  # type: ignore[arg-type]
        None if baseline is None else lambda r: baseline.scan_messages(r, detector=old),  # type: ignore[arg-type]
    )
    size = len(json.dumps(request))
    lines.append(
        f"| scan_messages: 4-message request with tool call | {size / 1024:.1f} KB | {cells} |"
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--detector", default="regex")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="fraction of the timed runs (a quick look: 0.1)"
    )
    parser.add_argument(
        "--baseline", metavar="REF", help="also time src/aegis/privacy at this git revision"
    )
    args = parser.parse_args(argv)
    detector = build_detector(args.detector)
    corpus = build_corpus()

    def scan(sample: Sample) -> object:
        return scan_messages(sample.messages, sample.tools, detector=detector)

    report = evaluate(corpus.samples, scan)
    free = evaluate(corpus.free_text_names, scan)
    print(f"## Privacy detector `{detector.name}`\n")
    print(
        f"Corpus: {len(corpus.positives)} positives, {len(corpus.negatives)} hard negatives "
        f"(seeded Faker, 8 locales; `tests/privacy/corpus/`).\n"
    )
    print(_table(report, free))
    print()
    print(_negatives_table(report))
    held_samples = holdout()
    held = evaluate(held_samples, scan).request
    negatives = sum(1 for s in held_samples if not s.positive)
    print(
        f"\nHand-written holdout ({held.tp + held.fn} positives, {negatives} negatives, never"
        f" used for tuning): request-level precision {held.precision:.3f}, recall"
        f" {held.recall:.3f} ({held.fp} false alarms, {held.fn} misses)."
    )
    if not args.no_timing:
        baseline = _load_baseline(args.baseline) if args.baseline else None
        against = f", before = `{args.baseline}`, after = working tree" if baseline else ""
        print(f"\n### Scan time (`{detector.name}`, CPU time per scan, single thread{against})\n")
        print(_timings(detector, corpus, baseline, args.scale))


if __name__ == "__main__":
    main()
