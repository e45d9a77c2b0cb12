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
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

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
    # Picodollars per token (exact, see the module docstring), derived once here rather
    # than per request: (input, cached_input, cache_write, output), and the dearest of
    # the three prompt-token rates (what a worst case charges every prompt token).
    _pico: tuple[int, int, int, int] = field(init=False, repr=False, compare=False)
    _pico_prompt_max: int = field(init=False, repr=False, compare=False)

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
        pico = (_pico_per_token(self.input), _pico_per_token(self.cached_input),
                _pico_per_token(self.cache_write), _pico_per_token(self.output))
        object.__setattr__(self, "_pico", pico)
        object.__setattr__(self, "_pico_prompt_max", max(pico[:3]))

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


def _pico_per_token(usd_per_mtok: float) -> int:
    """USD per million tokens -> picodollars per token (exact for <= 6 decimals)."""
    exact = Decimal(repr(float(usd_per_mtok))) * 10**6
    return int(exact.to_integral_value(rounding=ROUND_HALF_EVEN))


def cost_picousd(usage: Usage, prices: Prices) -> int:
    """The exact cost in picodollars (1e-12 USD); see the module docstring.

    Counts are taken as ints, a negative one as 0; uncached input is what remains of
    the prompt after cache reads and writes, never negative. (Clamped with ``if``s
    rather than ``max()``: this runs for every request.)
    """
    prompt = int(usage.prompt_tokens)
    cached = int(usage.cached_tokens)
    written = int(usage.cache_write_tokens)
    completion = int(usage.completion_tokens)
    if prompt < 0:
        prompt = 0
    if cached < 0:
        cached = 0
    if written < 0:
        written = 0
    if completion < 0:
        completion = 0
    uncached = prompt - cached - written
    if uncached < 0:
        uncached = 0
    per_input, per_cached, per_written, per_output = prices.for_prompt(prompt)._pico
    return (uncached * per_input + cached * per_cached + written * per_written
            + completion * per_output)


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
    prompt = int(prompt_tokens_upper_bound)
    output = int(max_output_tokens)
    if prompt < 0:
        prompt = 0
    if output < 0:
        output = 0
    worst = prompt * prices._pico_prompt_max + output * prices._pico[3]
    for tier in prices.tiers:
        if prompt > tier.above_tokens:
            rates = tier.prices
            worst = max(worst, prompt * rates._pico_prompt_max + output * rates._pico[3])
    return worst


def worst_case_nusd(
    prompt_tokens_upper_bound: int, max_output_tokens: int, prices: Prices
) -> int:
    """``worst_case_picousd`` rounded *up* to whole nano-dollars: what budgets reserve.

    Exactly what ``usd_to_nusd_ceil(worst_case_cost(...))`` gives below $1M, without
    the float and back (measured, isolated: 1.1 µs -> 0.4 µs).
    """
    return -(-worst_case_picousd(prompt_tokens_upper_bound, max_output_tokens, prices)
             // _PICO_PER_NANO)


def worst_case_cost(
    prompt_tokens_upper_bound: int, max_output_tokens: int, prices: Prices
) -> float:
    """USD upper bound of a request's cost, rounded *up* to 1e-9 (never under-reserves)."""
    nano = worst_case_nusd(prompt_tokens_upper_bound, max_output_tokens, prices)
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
    "worst_case_nusd",
    "worst_case_picousd",
]
