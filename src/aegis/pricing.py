"""What a request costs, from its ``Usage`` and the model's ``Prices``.

Prices are USD per million tokens, as every provider publishes them.

Exact arithmetic
----------------
Costs are computed in integer **picodollars** (1e-12 USD). A price of ``p``
USD per million tokens is ``p * 1e6`` picodollars per token, which is a whole
number for every price with at most six decimals, i.e. every published price
(the finest in the shipped catalog is $0.003625/Mtok). So ``cost_picousd`` is
exact: summing any number of ledger rows in picodollars cannot drift. The
price floats are converted through their shortest ``repr`` (``0.15`` ->
``Decimal("0.15")``), never through binary expansion, so ``0.15`` means
exactly fifteen cents. A price with more than six decimals is rounded
half-even to the picodollar per token, an error far below a cent per
billion tokens.

``cost_usd`` returns that exact value as a float rounded to 1e-9 USD (what a
ledger row displays); stores that aggregate should keep ``cost_picousd``
(a Python ``int``; it fits a signed 64-bit column up to $9.2M per row) and
convert once at the end.

``worst_case_cost`` rounds *up* (to the next nano-dollar), so a budget
reservation made from it is never smaller than the real charge.

Long-context tiers
------------------
Some providers charge more per token once the prompt passes a threshold
(Anthropic's Haiku 5.5 above 100K, OpenAI's GPT-6 family above 272K, Qwen's
context bands). ``Prices.tiers`` lists them; the tier is picked by the whole
prompt (``Usage.prompt_tokens``, which counts cache reads and writes) and then
applies to every token of that request, output included, which is how those
providers bill.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from functools import lru_cache

from aegis.types import Usage

PICO_PER_USD = 10**12
_PICO_PER_NANO = 10**3


@dataclass(frozen=True, slots=True)
class PriceTier:
    """Prices that apply to a request whose prompt has more than ``above_tokens`` tokens."""

    above_tokens: int
    prices: Prices

    def __post_init__(self) -> None:
        if isinstance(self.above_tokens, bool) or not isinstance(self.above_tokens, int):
            raise ValueError("above_tokens must be an integer")
        if self.above_tokens <= 0:
            raise ValueError("above_tokens must be > 0")
        if self.prices.tiers:
            raise ValueError("a price tier cannot have tiers of its own")


@dataclass(frozen=True, slots=True)
class Prices:
    """USD per million tokens.

    ``cached_input`` (cache reads) and ``cache_write`` (cache creation) default
    to ``input`` when a provider has no separate rate; after construction they
    are always floats.
    """

    input: float
    output: float
    cached_input: float = None  # type: ignore[assignment]  # filled in __post_init__
    cache_write: float = None  # type: ignore[assignment]  # filled in __post_init__
    tiers: tuple[PriceTier, ...] = ()

    def __post_init__(self) -> None:
        if self.cached_input is None:
            object.__setattr__(self, "cached_input", self.input)
        if self.cache_write is None:
            object.__setattr__(self, "cache_write", self.input)
        for label in ("input", "output", "cached_input", "cache_write"):
            value = getattr(self, label)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"{label} must be a number")
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{label} must be a finite number >= 0")
        tiers = tuple(self.tiers)
        object.__setattr__(self, "tiers", tuple(sorted(tiers, key=lambda t: t.above_tokens)))
        thresholds = [t.above_tokens for t in self.tiers]
        if len(set(thresholds)) != len(thresholds):
            raise ValueError("price tiers must have distinct above_tokens")

    @property
    def is_free(self) -> bool:
        rates = [self, *(t.prices for t in self.tiers)]
        return all(
            p.input == p.output == p.cached_input == p.cache_write == 0 for p in rates
        )

    def for_prompt(self, prompt_tokens: int) -> Prices:
        """The rates that apply to a request with this many prompt tokens."""
        if not self.tiers:  # most models: asked per candidate per request
            return self
        chosen = self
        for tier in self.tiers:  # sorted by threshold
            if prompt_tokens > tier.above_tokens:
                chosen = tier.prices
        return chosen


# -- exact cost ---------------------------------------------------------------


@lru_cache(maxsize=4096)
def _pico_per_token(usd_per_mtok: float) -> int:
    """USD per million tokens -> picodollars per token (exact for <= 6 decimals)."""
    exact = Decimal(repr(float(usd_per_mtok))) * 10**6
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


def _split(usage: Usage) -> tuple[int, int, int, int]:
    """(uncached input, cache reads, cache writes, output), none negative."""
    prompt = max(int(usage.prompt_tokens), 0)
    cached = max(int(usage.cached_tokens), 0)
    written = max(int(usage.cache_write_tokens), 0)
    completion = max(int(usage.completion_tokens), 0)
    uncached = max(prompt - cached - written, 0)
    return uncached, cached, written, completion


def cost_picousd(usage: Usage, prices: Prices) -> int:
    """The exact cost in picodollars (1e-12 USD); see the module docstring."""
    rates = prices.for_prompt(max(int(usage.prompt_tokens), 0))
    uncached, cached, written, completion = _split(usage)
    return (
        uncached * _pico_per_token(rates.input)
        + cached * _pico_per_token(rates.cached_input)
        + written * _pico_per_token(rates.cache_write)
        + completion * _pico_per_token(rates.output)
    )


def picousd_to_usd(pico: int) -> float:
    """Picodollars -> USD float rounded (half-even) to 1e-9."""
    nano, rest = divmod(pico, _PICO_PER_NANO)  # integers: exact, and no Decimal per request
    if rest * 2 > _PICO_PER_NANO or (rest * 2 == _PICO_PER_NANO and nano % 2):
        nano += 1
    return nano / 10**9  # int / int is correctly rounded to the nearest float


def cost_usd(usage: Usage, prices: Prices) -> float:
    """USD for this usage: uncached input x input + cache reads x cached_input
    + cache writes x cache_write + completion x output, rounded to 1e-9.

    Uncached input is ``prompt - cached - cache_write``, never negative (a
    provider that reports inconsistent counts is charged for what it reported
    as cached/written, not for a negative remainder).
    """
    return picousd_to_usd(cost_picousd(usage, prices))


def worst_case_picousd(
    prompt_tokens_upper_bound: int, max_output_tokens: int, prices: Prices
) -> int:
    """The most a request can cost, in picodollars, for budget reservations.

    Every prompt token is priced at the dearest of the input, cache-read and
    cache-write rates (a cache write can cost more than plain input, e.g.
    Anthropic's 1.25x), using the dearest tier the prompt could fall in.
    """
    prompt = max(int(prompt_tokens_upper_bound), 0)
    output = max(int(max_output_tokens), 0)
    candidates = [prices] + [t.prices for t in prices.tiers if prompt > t.above_tokens]
    worst = 0
    for rates in candidates:
        per_prompt_token = max(
            _pico_per_token(rates.input),
            _pico_per_token(rates.cached_input),
            _pico_per_token(rates.cache_write),
        )
        worst = max(worst, prompt * per_prompt_token + output * _pico_per_token(rates.output))
    return worst


def worst_case_cost(
    prompt_tokens_upper_bound: int, max_output_tokens: int, prices: Prices
) -> float:
    """USD upper bound of a request's cost, rounded *up* to 1e-9 (never under-reserves)."""
    pico = worst_case_picousd(prompt_tokens_upper_bound, max_output_tokens, prices)
    nano = -(-pico // _PICO_PER_NANO)
    result = nano / 10**9
    num, den = result.as_integer_ratio()
    if num * 10**9 < nano * den:  # the float nearest a decimal can sit just below it
        result = math.nextafter(result, math.inf)
    return result


__all__ = [
    "PICO_PER_USD",
    "PriceTier",
    "Prices",
    "cost_picousd",
    "cost_usd",
    "picousd_to_usd",
    "worst_case_cost",
    "worst_case_picousd",
]
