"""The exchange quirks table and the start-up checks ``CcxtVenue`` derives from it."""

from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from spreadhawk.data.readers.instruments import binance_spot_btcusdt, binance_usdm_btcusdt
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.engine.clock import WallClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.order_ids import ClientOrderIds, run_prefix
from spreadhawk.venues.ccxt.quirks import (
    QUIRKS,
    ClientIdError,
    RateLimit,
    check_client_id,
    market_rules,
    quirks_for,
    rate_limits,
    widest_client_id,
)
from spreadhawk.venues.ccxt.venue import CcxtVenue

START_NS = 1_765_000_000_000_000_000  # 2025-12-06


def test_every_exchange_the_seeds_name_has_an_entry() -> None:
    assert set(QUIRKS) == {"binance", "binanceusdm", "bybit", "okx", "coinbase", "kraken"}
    for exchange_id, quirks in QUIRKS.items():
        assert quirks.sources, exchange_id
        assert quirks.streams, exchange_id
    with pytest.raises(ValueError, match="no quirks table for 'ftx'"):
        quirks_for("ftx")


def test_binance_takes_our_widest_id_and_the_documented_rule() -> None:
    widest = widest_client_id(START_NS)
    assert len(widest) == 36
    # The id the engine really makes for a long strategy name and a ten-digit counter is no longer.
    ids = ClientOrderIds(run_prefix(START_NS))
    assert len(f"{ids.prefix}{ids.tag('a-very-long-strategy-name-indeed')}-{'9' * 10}") <= len(widest)
    binance = quirks_for("binance")
    check_client_id(binance, widest)
    for fits in ("a", "A.b:c/d_e-f", "x" * 36):
        check_client_id(binance, fits)
    # Binance's published pattern, applied here by the stdlib directly, agrees on the misfits.
    rule = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
    for misfit in ("", "x" * 37, "has space", "caf\u00e9", "a+b"):
        assert rule.match(misfit) is None
        with pytest.raises(ClientIdError, match="does not fit binance's rule"):
            check_client_id(binance, misfit)


def test_okx_refuses_our_ids_at_start_before_any_connection() -> None:
    # OKX: clOrdId is 1-32 alphanumerics; our ids carry '.' and '-' (engine/order_ids.py).
    with pytest.raises(ClientIdError, match="okx"):
        check_client_id(quirks_for("okx"), widest_client_id(START_NS))
    perp = Instrument(venue="OKX", symbol="BTC/USDT:USDT", kind=InstrumentKind.PERPETUAL, base="BTC", quote="USDT",
                      tick_size=Decimal("0.1"), lot_size=Decimal("0.01"), settlement="USDT")  # fmt: skip
    venue = CcxtVenue("OKX", "okx", [perp], api_key="k", api_secret="s")
    Engine([perp], clock=WallClock()).add_venue(venue)
    with pytest.raises(ClientIdError, match="need a mapping"):
        asyncio.run(venue.start())
    assert venue._exchange is None  # refused before a client was made


def test_an_instrument_of_the_wrong_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="binanceusdm trades perpetual instruments here"):
        CcxtVenue("BINANCE", "binanceusdm", [binance_spot_btcusdt()], api_key="k", api_secret="s")
    with pytest.raises(ValueError, match="binance trades spot instruments here"):
        CcxtVenue("BINANCE", "binance", [binance_usdm_btcusdt()], api_key="k", api_secret="s")


def test_market_rules_are_read_from_the_market_in_either_precision_mode() -> None:
    market = {"precision": {"price": 0.1, "amount": 0.001}, "limits": {"cost": {"min": 100}}}
    assert market_rules(market, 4) == market_rules(  # TICK_SIZE and DECIMAL_PLACES say the same here
        {"precision": {"price": 1, "amount": 3}, "limits": {"cost": {"min": 100}}}, 2
    )
    rules = market_rules(market, 4)
    assert (rules.tick, rules.step, rules.min_notional) == (Decimal("0.1"), Decimal("0.001"), Decimal(100))
    assert market_rules({}, 4).min_notional is None


def test_rate_limits_are_the_recorded_exchange_info_s(shared_data: Path) -> None:
    line = (shared_data / "cryptofeed" / "sample_data" / "BINANCE_FUTURES.0").read_text().splitlines()[0]
    info = json.loads(line[line.index(": ", line.index(" -> ")) + 2 :])
    assert rate_limits(info) == (
        RateLimit("REQUEST_WEIGHT", "MINUTE", 1, 2400),
        RateLimit("ORDERS", "MINUTE", 1, 1200),
        RateLimit("ORDERS", "SECOND", 10, 300),
    )
