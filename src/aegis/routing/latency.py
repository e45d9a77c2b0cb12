"""Live latency per model: EWMAs of time to first token and time per output token.

Until a model has been observed, the catalog's priors stand in; afterwards every
successful attempt the engine records moves the estimate. The ``latency`` and
``balanced`` strategies read it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aegis.records import Attempt, Recorder

if TYPE_CHECKING:
    from aegis.routing.decision import Candidate

ALPHA = 0.2  # weight of the newest sample


@dataclass(slots=True)
class _Estimate:
    ttft_ms: float
    per_token_ms: float | None  # None until a stream showed the decode speed
    samples: int = 1


class LatencyStats(Recorder):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, str], _Estimate] = {}

    def expected_all(self, candidates: Sequence[Candidate], output_tokens: int) -> list[float]:
        """Expected latency (ms) of each candidate for ``output_tokens`` tokens: observed,
        or the catalog's priors for what has not been seen (time per token until a
        stream showed the decode speed)."""
        seen = self._seen
        out: list[float] = []
        for c in candidates:
            est = seen.get(c.key)
            prior = c.model.latency
            if est is None:
                out.append(prior.ttft_ms + prior.per_token_ms * output_tokens)
            else:
                per_token = est.per_token_ms
                out.append(est.ttft_ms + (prior.per_token_ms if per_token is None
                                          else per_token) * output_tokens)
        return out

    def observe(self, provider: str, model: str, *, ttft_ms: float | None, latency_ms: float,
                output_tokens: int) -> None:
        with self._lock:
            est = self._seen.get((provider, model))
            per_token = None
            if ttft_ms is not None and output_tokens > 1:
                per_token = max(0.0, latency_ms - ttft_ms) / (output_tokens - 1)
            elif ttft_ms is None:
                # non-streamed: the first byte came at most when the whole answer did
                known = est.per_token_ms if est and est.per_token_ms is not None else 0.0
                ttft_ms = max(0.0, latency_ms - known * output_tokens)
            assert ttft_ms is not None
            if est is None:
                self._seen[(provider, model)] = _Estimate(ttft_ms, per_token)
                return
            est.ttft_ms += ALPHA * (ttft_ms - est.ttft_ms)
            if per_token is not None:
                est.per_token_ms = per_token if est.per_token_ms is None else (
                    est.per_token_ms + ALPHA * (per_token - est.per_token_ms))
            est.samples += 1

    def record(self, attempt: Attempt) -> None:
        if attempt.status == "ok" and attempt.task.task_type != "embedding":
            self.observe(attempt.provider, attempt.model, ttft_ms=attempt.ttft_ms,
                         latency_ms=attempt.latency_ms,
                         output_tokens=attempt.usage.completion_tokens)

