"""Estimated cost of replies from a small price table per model family. Pure functions, no I/O."""
from __future__ import annotations

from collections.abc import Mapping

from .models import Usage

Prices = Mapping[str, tuple[float, float]]
"""Model family -> (input, output) US dollars per million tokens."""

DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    'opus': (5.0, 25.0),
    'sonnet': (3.0, 15.0),
    'haiku': (1.0, 5.0),
}
CACHE_WRITE_FACTOR = 1.25
"""Writing the cache costs a quarter more than plain input; reading it a tenth."""
CACHE_READ_FACTOR = 0.1
SEARCH_PRICE = 10.0 / 1000
"""US dollars per web search (the API bills $10 per 1,000 searches, on top of the tokens)."""


def parse_prices(text: str) -> dict[str, tuple[float, float]]:
    """`sonnet=3/15,haiku=1/5` -> {'sonnet': (3.0, 15.0), ...}; raises ValueError naming the bad part."""
    prices = {}
    for part in filter(None, (p.strip() for p in text.split(','))):
        try:
            family, pair = part.split('=')
            price_in, price_out = (float(x) for x in pair.split('/'))
        except ValueError:
            raise ValueError(f'{part!r} is not family=INPUT/OUTPUT (dollars per million tokens)') from None
        prices[family.strip().lower()] = (price_in, price_out)
    return prices


def estimate(model: str | None, usage: Usage, prices: Prices) -> float | None:
    """Dollars for `usage` on `model`, or None when the model's family has no price (demo, other servers)."""
    family = next((f for f in prices if model and f in model.lower()), None)
    if family is None:
        return None
    price_in, price_out = prices[family]
    tokens_in = (usage.input_tokens + usage.cache_write_tokens * CACHE_WRITE_FACTOR
                 + usage.cache_read_tokens * CACHE_READ_FACTOR)
    return (tokens_in * price_in + usage.output_tokens * price_out) / 1_000_000 + usage.web_searches * SEARCH_PRICE


def describe(usage: Usage, cost: float | None) -> str:
    parts = [f'{usage.input_tokens:,} in', f'{usage.output_tokens:,} out']
    if usage.cache_read_tokens:
        parts.append(f'{usage.cache_read_tokens:,} from cache')
    if usage.cache_write_tokens:
        parts.append(f'{usage.cache_write_tokens:,} cached')
    if usage.web_searches:
        parts.append(f'{usage.web_searches} web search{"es" if usage.web_searches > 1 else ""}')
    if cost is not None:
        parts.append(f'≈ ${cost:.4f}')
    return ' · '.join(parts)
