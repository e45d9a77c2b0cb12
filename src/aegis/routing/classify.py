"""Inferring what a request did not declare: sensitivity, needs, complexity, task type.

Everything here is local, cheap and deterministic. Heuristics only *default*
what the client left out; a declared value always wins, except that a detected
data class can raise (never lower) a declared one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aegis.privacy.classes import DataClass
from aegis.privacy.messages import scan_request
from aegis.routing.decision import Profile, Task
from aegis.tokens import estimate_prompt_tokens
from aegis.types import ChatRequest

if TYPE_CHECKING:
    from aegis.privacy import Detector

# One pass splits the text into lower-cased words; the heuristics below are set
# lookups and substring checks on that (alternation regexes over the whole text
# cost ~0.5 ms per 4 KB each, most of the gateway's per-request budget).
_WORD = re.compile(r"[a-z]+")
_CODE_MARKS = ("```", "def ", "class ", "function ", "#include", "import ", "=>", "){", ") {")
_REASONING = frozenset({"prove", "derive", "analyze", "analyse", "tradeoff", "tradeoffs",
                        "compare", "evaluate", "justify", "optimize", "optimise", "design",
                        "architecture", "implication", "implications"})
_REASONING_PHRASES = ("step by step", "step-by-step", "trade-off", "reason about",
                      "root cause", "why does")
_EXTRACT = frozenset({"extract", "parse", "field", "fields"})
_EXTRACT_PHRASES = ("pull out", "list all", "fill in", "json schema")
_RESEARCH = frozenset({"research", "literature", "sources", "cite", "citations", "survey",
                       "investigate"})
_GENERATE = frozenset({"write", "draft", "compose", "generate", "create", "story", "poem",
                       "essay", "email"})
_CONSTRAINT = frozenset({"must", "should", "exactly", "without", "unless"})
_CONSTRAINT_PHRASES = ("at least", "at most", "only if")
_LIST_ITEM = re.compile(r"(?:[-*\u2022]|\d+[.)])\s")


_NO_NEEDS: frozenset[str] = frozenset()
_SAMPLE = 4096  # characters of user text the task/complexity heuristics look at


def profile(
    request: ChatRequest,
    task: Task,
    *,
    detector: Detector | None,
    output_cap: int,
    kind: str = "chat",
) -> Profile:
    text = _Text(_user_text(request.messages))
    inferred: dict[str, Any] = {}

    declared = task.data_class or DataClass.PUBLIC
    findings: tuple[str, ...] = ()
    data_class = declared
    if detector is not None and declared is not DataClass.PHI:  # PHI: nothing is above it
        scan = scan_request(request, detector=detector)
        if scan.findings:  # most requests have none, and then nothing below can change
            findings = tuple(sorted(scan.kinds))
            if scan.detected > declared:
                data_class = scan.detected
                inferred["data_class"] = str(data_class)

    needs = _NO_NEEDS
    if kind == "embedding" or request.tools or request.has_images or request.json_mode:
        wanted: set[str] = set()
        if kind == "embedding":
            wanted.add("embeddings")
        if request.tools:
            wanted.add("tools")
        if request.has_images:
            wanted.add("vision")
        if request.json_mode:
            wanted.add("json")
        needs = frozenset(wanted)

    prompt_tokens = estimate_prompt_tokens(request.messages, request.tools)
    task_type = task.task_type or _task_type(text, kind)
    # embeddings have no "hard" inputs: a quality floor from long texts would only
    # narrow the choice of embedding model
    complexity = task.complexity or ("low" if kind == "embedding"
                                     else _complexity(text, prompt_tokens))
    if task.task_type is None:
        inferred["task_type"] = task_type
    if task.complexity is None:
        inferred["complexity"] = complexity
    return Profile(
        task_type=task_type,
        data_class=data_class,
        quality=task.quality or "medium",
        complexity=complexity,
        batch_size=task.batch_size or 1,
        needs=needs,
        prompt_tokens=prompt_tokens,
        output_tokens=request.max_tokens or output_cap,
        findings=findings,
        inferred=inferred,
    )


def _user_text(messages: Sequence[Any]) -> str:
    parts: list[str] = []
    for msg in messages:
        if msg.get("role") not in ("user", "system", "developer"):
            continue
        content = msg.get("content")
        if isinstance(content, str):
            parts.append(content)
        elif isinstance(content, list):
            parts += [p.get("text", "") for p in content if p.get("type") == "text"]
    text = "\n".join(parts)
    if len(text) <= _SAMPLE:
        return text
    # heuristics need the gist, not 100 KB: the opening and the closing instructions
    half = _SAMPLE // 2
    return text[:half] + "\n" + text[-half:]


class _Text:
    """The sampled user text, lowered and split into words once."""

    __slots__ = ("has_code", "lowered", "raw", "words")

    def __init__(self, raw: str) -> None:
        self.raw = raw
        self.lowered = raw.lower()
        self.words = frozenset(_WORD.findall(self.lowered))
        self.has_code = (any([mark in raw for mark in _CODE_MARKS])
                         or ("select" in self.words and "from" in self.words))

    def count(self, words: frozenset[str], phrases: tuple[str, ...] = ()) -> int:
        lowered = self.lowered
        return len(words & self.words) + len([p for p in phrases if p in lowered])

    def mentions(self, words: frozenset[str], phrases: tuple[str, ...] = ()) -> bool:
        """``count(...) > 0``, stopping at the first hit."""
        if not words.isdisjoint(self.words):
            return True
        lowered = self.lowered
        return any([p in lowered for p in phrases])


def _task_type(text: _Text, kind: str) -> str:
    if kind == "embedding":
        return "embedding"
    if text.has_code:
        return "code"
    if text.mentions(_EXTRACT, _EXTRACT_PHRASES):
        return "extraction"
    if text.mentions(_RESEARCH):
        return "research"
    if text.mentions(_GENERATE):
        return "generation"
    return "chat"


def _complexity(text: _Text, prompt_tokens: int) -> str:
    score = 0
    score += min(3, prompt_tokens // 1500)  # long inputs
    score += min(2, text.count(_REASONING, _REASONING_PHRASES))
    score += 1 if text.has_code else 0
    items = 0
    if _LIST_ITEM.search(text.raw):  # a marker at a line's start is one anywhere, too
        items = len([1 for line in text.raw.splitlines() if _LIST_ITEM.match(line.lstrip())])
    score += min(2, (items + text.count(_CONSTRAINT, _CONSTRAINT_PHRASES)) // 3)
    if score >= 6:
        return "very_high"
    if score >= 4:
        return "high"
    if score >= 2:
        return "medium"
    return "low"
