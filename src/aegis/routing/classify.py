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
from aegis.routing.decision import Profile, Task
from aegis.tokens import estimate_prompt_tokens
from aegis.types import ChatRequest

if TYPE_CHECKING:
    from aegis.privacy import Detector

_CODE = re.compile(r"```|\bdef \w+\(|\bclass \w+[:(]|\bfunction \w+\(|#include\b"
                   r"|\bSELECT\b[^;]{1,200}?\bFROM\b|\bimport \w+|=>|\)\s*\{")
_REASONING = re.compile(
    r"\b(prove|derive|step[- ]by[- ]step|analy[sz]e|trade-?offs?|compare|evaluate|justify|"
    r"reason about|optimi[sz]e|design|architecture|root cause|why does|implications?)\b", re.I)
_EXTRACT = re.compile(r"\b(extract|parse|pull out|list all|fill in|json schema|fields?)\b", re.I)
_RESEARCH = re.compile(r"\b(research|literature|sources|cite|citations|survey|investigate)\b",
                       re.I)
_GENERATE = re.compile(r"\b(write|draft|compose|generate|create|story|poem|essay|email)\b",
                       re.I)
_CONSTRAINT = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+|\b(must|should|at least|at most|exactly|"
                         r"without|only if|unless)\b", re.I | re.M)


_SAMPLE = 4096  # characters of user text the task/complexity heuristics look at


def profile(
    request: ChatRequest,
    task: Task,
    *,
    detector: Detector | None,
    output_cap: int,
    kind: str = "chat",
) -> Profile:
    text = _user_text(request.messages)
    inferred: dict[str, Any] = {}

    declared = task.data_class or DataClass.PUBLIC
    findings: tuple[str, ...] = ()
    data_class = declared
    if detector is not None and declared < DataClass.PHI:
        from aegis.privacy import scan_request

        scan = scan_request(request, detector=detector)
        findings = tuple(sorted(scan.kinds))
        if scan.detected > declared:
            data_class = scan.detected
            inferred["data_class"] = str(data_class)

    needs: set[str] = set()
    if kind == "embedding":
        needs.add("embeddings")
    if request.tools:
        needs.add("tools")
    if request.has_images:
        needs.add("vision")
    if request.json_mode:
        needs.add("json")

    prompt_tokens = estimate_prompt_tokens(request.messages, request.tools)
    task_type = task.task_type or _task_type(text, kind)
    complexity = task.complexity or _complexity(text, prompt_tokens)
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
        needs=frozenset(needs),
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


def _task_type(text: str, kind: str) -> str:
    if kind == "embedding":
        return "embedding"
    if _CODE.search(text):
        return "code"
    if _EXTRACT.search(text):
        return "extraction"
    if _RESEARCH.search(text):
        return "research"
    if _GENERATE.search(text):
        return "generation"
    return "chat"


def _complexity(text: str, prompt_tokens: int) -> str:
    score = 0
    score += min(3, prompt_tokens // 1500)  # long inputs
    score += min(2, len(_REASONING.findall(text)))
    score += 1 if _CODE.search(text) else 0
    score += min(2, len(_CONSTRAINT.findall(text)) // 3)
    if score >= 6:
        return "very_high"
    if score >= 4:
        return "high"
    if score >= 2:
        return "medium"
    return "low"
