"""Bars aggregated from trades, checked against exchange candles built from the same trades."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from spreadhawk.data.bars import with_trade_bars
from spreadhawk.data.readers import read_freqtrade_ohlcv, read_freqtrade_trades
from spreadhawk.data.readers.instruments import binance_spot_xrpeth
from spreadhawk.domain.market import Aggressor, Bar, TradeTick

MINUTE = 60_000_000_000


def test_one_minute_bars_equal_the_recorded_candles(shared_data: Path) -> None:
    inst = binance_spot_xrpeth()
    trades = read_freqtrade_trades(shared_data / "freqtrade/trades/XRP_ETH-trades.feather", inst)
    candles = read_freqtrade_ohlcv(shared_data / "freqtrade/ohlcv/XRP_ETH-1m.feather", inst)
    stream = list(with_trade_bars(trades, [inst], MINUTE))
    bars = {b.ts_ns: b for b in stream if isinstance(b, Bar) and b.volume > 0}
    assert len(bars) == len(candles) == 2469
    for candle in candles:
        bar = bars[candle.ts_ns]
        assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (
            candle.open, candle.high, candle.low, candle.close, candle.volume,
        )  # fmt: skip
    # every bar enters the stream at its close, before the first later record
    last = 0
    for record in stream:
        assert record.ts_ns >= last
        last = record.ts_ns


def test_quiet_interval_repeats_the_last_close_with_no_volume() -> None:
    inst = binance_spot_xrpeth()

    def trade(ts: int, price: int) -> TradeTick:
        return TradeTick(inst.id, ts, price, 5, Aggressor.BUYER, str(ts))

    stream = list(with_trade_bars([trade(10, 100), trade(20, 102), trade(3 * MINUTE + 1, 99)], [inst], MINUTE))
    bars = [r for r in stream if isinstance(r, Bar)]
    assert [b.ts_ns for b in bars] == [MINUTE, 2 * MINUTE, 3 * MINUTE, 4 * MINUTE]  # the last one at the end
    assert bars[0].close == inst.price(102)
    assert bars[0].volume == inst.size(10)
    assert (bars[1].open, bars[1].close, bars[1].volume) == (inst.price(102), inst.price(102), Decimal(0))
    assert (bars[3].open, bars[3].volume) == (inst.price(99), inst.size(5))
    with pytest.raises(ValueError, match="positive"):
        list(with_trade_bars([], [inst], 0))
