"""Cost computation: known usages against known prices, caching, tiers, exactness."""

from __future__ import annotations

import dataclasses
import math
import random
from decimal import Decimal

import pytest

from aegis.catalog import load_catalog
from aegis.pricing import (
    PICO_PER_USD,
    Prices,
    PriceTier,
    cost_picousd,
    cost_usd,
    picousd_to_usd,
    worst_case_cost,
    worst_case_picousd,
)
from aegis.types import Usage

M = 1_000_000


def test_defaults_and_validation() -> None:
    p = Prices(2.0, 8.0)
    assert (p.cached_input, p.cache_write, p.tiers) == (2.0, 2.0, ())
    assert Prices(2.0, 8.0, 0.5).cache_write == 2.0
    for bad in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError):
            Prices(bad, 1.0)
        with pytest.raises(ValueError):
            Prices(1.0, 1.0, cache_write=bad)
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.input = 1.0  # type: ignore[misc]
    assert hash(p) == hash(Prices(2.0, 8.0, 2.0, 2.0))
    assert Prices(0, 0).is_free and not p.is_free


def test_plain_usage() -> None:
    gpt4o = Prices(2.5, 10.0, 1.25)
    assert cost_usd(Usage(M, M), gpt4o) == 12.5
    assert cost_usd(Usage(1000, 500), gpt4o) == 0.0075  # 2.5e-3 + 5e-3
    assert cost_usd(Usage(), gpt4o) == 0.0
    assert cost_usd(Usage(123_456, 7_890), Prices(0, 0)) == 0.0


def test_cached_reads_are_discounted() -> None:
    gpt4o = Prices(2.5, 10.0, 1.25)
    # 10k prompt of which 8k cached: 2k x 2.5 + 8k x 1.25 (+ 100 out x 10)
    assert cost_usd(Usage(10_000, 100, cached_tokens=8_000), gpt4o) == pytest.approx(
        0.005 + 0.010 + 0.001, abs=1e-12
    )
    assert cost_usd(Usage(10_000, 100, cached_tokens=8_000), gpt4o) < cost_usd(
        Usage(10_000, 100), gpt4o
    )


def test_anthropic_cache_writes_cost_more_than_input() -> None:
    sonnet = load_catalog()["claude-sonnet-4-6"].prices  # 3 / 15, reads 0.30, writes 3.75
    usage = Usage(prompt_tokens=10_000, completion_tokens=1_000, cached_tokens=2_000,
                  cache_write_tokens=5_000)
    # 3k uncached x 3 + 2k x 0.30 + 5k x 3.75 + 1k x 15 = 9000 + 600 + 18750 + 15000 (x 1e-6)
    assert cost_usd(usage, sonnet) == 0.04335
    assert cost_picousd(usage, sonnet) == 43_350 * 10**6


def test_uncached_never_negative() -> None:
    p = Prices(1.0, 2.0, 0.5, 1.5)
    # a provider reporting more cached+written than prompt: charged for what it reported
    usage = Usage(prompt_tokens=100, cached_tokens=80, cache_write_tokens=50)
    assert cost_picousd(usage, p) == 80 * 500_000 + 50 * 1_500_000
    assert cost_usd(Usage(prompt_tokens=-5, completion_tokens=-1), p) == 0.0


def test_long_prompt_tiers() -> None:
    haiku = load_catalog()["claude-haiku-5-5"].prices  # 0.10/0.50; above 100K 0.50/2.50
    at_threshold = Usage(100_000, 1_000)
    over = Usage(100_001, 1_000)
    assert cost_usd(at_threshold, haiku) == pytest.approx(0.01 + 0.0005, abs=1e-12)
    assert cost_usd(over, haiku) == pytest.approx(100_001 * 0.5e-6 + 1_000 * 2.5e-6, abs=1e-12)
    # cache reads count towards the threshold (prompt_tokens includes them)
    cached = Usage(120_000, 1_000, cached_tokens=20_000, cache_write_tokens=5_000)
    assert cost_usd(cached, haiku) == 0.054125
    sol = load_catalog()["gpt-6-sol"].prices
    assert sol.for_prompt(272_000) is sol
    assert sol.for_prompt(272_001).input == 4.0 and sol.for_prompt(272_001).output == 15.0
    coder = load_catalog()["qwen3-coder-plus"].prices
    assert [coder.for_prompt(n).input for n in (1, 32_001, 128_001, 256_001)] == [
        1.0, 1.8, 3.0, 6.0,
    ]


def test_tiers_are_sorted_and_flat() -> None:
    hi = PriceTier(200, Prices(3, 3))
    lo = PriceTier(100, Prices(2, 2))
    p = Prices(1, 1, tiers=(hi, lo))
    assert [t.above_tokens for t in p.tiers] == [100, 200]
    assert p.for_prompt(150).input == 2 and p.for_prompt(250).input == 3
    with pytest.raises(ValueError):
        PriceTier(100, p)  # no nested tiers
    with pytest.raises(ValueError):
        PriceTier(0, Prices(1, 1))
    with pytest.raises(ValueError):
        Prices(1, 1, tiers=(lo, PriceTier(100, Prices(5, 5))))


def test_exact_sums_do_not_drift() -> None:
    p = Prices(0.15, 0.6)
    one = Usage(1, 1)  # 0.15e-6 + 0.6e-6 USD
    rows = [cost_picousd(one, p) for _ in range(10_000)]
    assert sum(rows) == 10_000 * 750_000  # exact: $0.0075
    assert picousd_to_usd(sum(rows)) == 0.0075
    naive = sum(1 * 0.15 / M + 1 * 0.6 / M for _ in range(10_000))
    assert naive != 0.0075  # what float accumulation would have produced
    # decimal prices are taken at face value: 0.1 + 0.2 is 0.3 here
    assert cost_usd(Usage(M, M), Prices(0.1, 0.2)) == 0.3
    # the finest shipped price is exact in picodollars
    assert cost_picousd(Usage(1, 0), Prices(0.003625, 0)) == 3_625


def test_rounded_to_nano_dollars() -> None:
    assert cost_usd(Usage(1, 0), Prices(0.0028, 0)) == 3e-9  # 2.8e-9 rounds half-even
    assert cost_usd(Usage(1, 0), Prices(0.0025, 0)) == 2e-9  # 2.5e-9 -> even
    assert cost_usd(Usage(3, 0), Prices(0.0025, 0)) == 8e-9  # 7.5e-9 -> even
    assert PICO_PER_USD == 10**12


def test_worst_case_covers_every_outcome() -> None:
    rng = random.Random(7)
    for info in load_catalog():
        p = info.prices
        for _ in range(20):
            upper = rng.randint(0, 400_000)
            max_out = rng.randint(0, 50_000)
            prompt = rng.randint(0, upper)
            cached = rng.randint(0, prompt)
            written = rng.randint(0, prompt - cached)
            usage = Usage(prompt, rng.randint(0, max_out), cached, written)
            assert worst_case_picousd(upper, max_out, p) >= cost_picousd(usage, p), info.name
            assert worst_case_cost(upper, max_out, p) >= cost_usd(usage, p), info.name


def test_worst_case_uses_the_dearest_rates() -> None:
    sonnet = Prices(3.0, 15.0, 0.3, 3.75)
    assert worst_case_cost(1_000, 100, sonnet) == pytest.approx(0.00375 + 0.0015, abs=1e-12)
    haiku = load_catalog()["claude-haiku-5-5"].prices
    assert worst_case_cost(100_000, 0, haiku) == pytest.approx(100_000 * 0.125e-6, abs=1e-12)
    assert worst_case_cost(100_001, 0, haiku) == pytest.approx(100_001 * 0.625e-6, abs=1e-12)
    assert worst_case_cost(0, 0, haiku) == 0.0


def test_worst_case_rounds_up() -> None:
    assert worst_case_cost(1, 0, Prices(0.0011, 0)) == 2e-9  # 1.1e-9 -> 2e-9
    value = worst_case_cost(3, 7, Prices(0.13, 0.37))
    assert Decimal(value) >= Decimal(worst_case_picousd(3, 7, Prices(0.13, 0.37))) / PICO_PER_USD
