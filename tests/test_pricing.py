"""Token usage and estimated cost: the price table, its override, and what a room shows."""
from __future__ import annotations

import asyncio

import pytest
from test_room_users import send

from chat.config import parse_settings
from chat.errors import ConfigError
from chat.models import Usage
from chat.pricing import DEFAULT_PRICES, describe, estimate, parse_prices


def test_cost_counts_cache_reads_cheaper_and_cache_writes_dearer() -> None:
    plain = estimate('claude-sonnet-5-5', Usage(1_000_000, 0), DEFAULT_PRICES)
    cached = estimate('claude-sonnet-5-5', Usage(0, 0, cache_read_tokens=1_000_000), DEFAULT_PRICES)
    written = estimate('claude-sonnet-5-5', Usage(0, 0, cache_write_tokens=1_000_000), DEFAULT_PRICES)
    assert plain == pytest.approx(3.0) and cached == pytest.approx(0.3) and written == pytest.approx(3.75)
    assert estimate('demo', Usage(10, 10), DEFAULT_PRICES) is None
    assert describe(Usage(1200, 30, 1000), 0.01) == '1,200 in · 30 out · 1,000 from cache · ≈ $0.0100'


def test_prices_can_be_overridden_and_bad_ones_are_refused_in_one_line() -> None:
    settings = parse_settings([], {'CHAT_PRICES': 'sonnet=1/2, mymodel=0.5/1'})
    assert settings.prices['sonnet'] == (1.0, 2.0) and settings.prices['mymodel'] == (0.5, 1.0)
    assert settings.prices['opus'] == DEFAULT_PRICES['opus']
    with pytest.raises(ConfigError, match='CHAT_PRICES'):
        parse_settings([], {'CHAT_PRICES': 'sonnet=cheap'})
    assert parse_prices('') == {}


async def test_each_reply_and_the_room_show_tokens_and_cost(app_users) -> None:
    rooms, new_user = app_users
    user = new_user()
    await user.open('/room/costs')
    hub = rooms.open_hub('costs')
    assert hub is not None

    class Metered:
        name = 'claude-sonnet-5-5'

        async def stream(self, turns, system, *, on_usage=None, **hooks):  # type: ignore[no-untyped-def]
            yield 'metered answer'
            on_usage(Usage(1000, 200, cache_read_tokens=5000))
    hub._model_for = lambda _name: Metered()
    await send(user, 'how much?')
    for _ in range(200):
        if hub.messages[-1].usage:
            break
        await asyncio.sleep(0.01)
    await user.should_see('1,000 in · 200 out · 5,000 from cache')
    await user.should_see('This room so far')
