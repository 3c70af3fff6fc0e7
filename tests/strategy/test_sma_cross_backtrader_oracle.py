"""SmaCross against backtrader as an oracle, on freqtrade's ETH/BTC 5m candles.

Both sides run the same rules. Decide on a bar's close, fill a market order at the next bar's open
(backtrader with ``cheat_on_open``), size a buy all-in as ``round_lot_down(cash / (open * (1 + fee)))``,
and charge a percentage fee on the value in the quote currency. Then every trade (signal bar, fill bar,
price, size) and the final equity must agree. backtrader keeps cash as a float, so its equity is
compared within 1e-9 relative and ours stays exact.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import warnings
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from pydantic import ValidationError

from spreadhawk.data.readers.freqtrade import read_freqtrade_ohlcv
from spreadhawk.data.readers.instruments import bittrex_btc_pair
from spreadhawk.domain.events import OrderSide
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import Bar
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import run_replay
from spreadhawk.strategy.base import attach_strategy
from spreadhawk.strategy.library.sma_cross import SmaCross, SmaCrossConfig
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

with warnings.catch_warnings():
    # Compiling backtrader's sources (no .pyc yet) warns about invalid escapes in its docstrings; the
    # pyproject filter ``ignore::DeprecationWarning:backtrader.*`` can't catch compile-time warnings,
    # whose "module" is the file path.
    warnings.simplefilter("ignore", DeprecationWarning)
    import backtrader as bt

FEED = Path("freqtrade/ohlcv/ETH_BTC-5m.feather")
FAST, SLOW = 10, 50
CASH = Decimal(1)
NS_PER_SECOND = 1_000_000_000
ZERO_VOLUME = Decimal(0)


@dataclass(frozen=True)
class Trade:
    side: OrderSide
    signal_bar: int  # index of the bar whose close decided the trade
    fill_bar: int  # index of the bar at whose open it filled
    ts_ns: int  # open time of the fill bar
    price: Decimal
    size: Decimal  # always positive


@dataclass(frozen=True)
class Outcome:
    trades: list[Trade]
    signals_up: int
    signals_down: int
    rejections: int
    cash: Decimal
    position: Decimal
    equity: Decimal


def _instrument(fee: Decimal | None) -> Instrument:
    """freqtrade's ETH/BTC test pair; ``fee`` (maker and taker) replaces Bittrex's 0.25 % when given."""
    # backtrader books fees unrounded: so does the instrument here (a venue's 1e-8 would differ from it)
    inst = dataclasses.replace(bittrex_btc_pair("ETH"), fee_precision=Decimal("1e-28"))
    if fee is None:
        return inst
    # as in examples/sma_cross_eth_btc.toml (min notional is never checked here anyway: the buys are
    # sized by quote and the sells are market orders)
    return dataclasses.replace(inst, maker_fee=fee, taker_fee=fee, min_notional=Decimal(0))


def _run_spreadhawk(bars: list[Bar], inst: Instrument, fast: int = FAST, slow: int = SLOW) -> Outcome:
    engine = Engine([inst], valuation_currency=inst.quote)
    venue = SimulatedVenue(inst.venue, latency_ns=0)
    connect_simulated(engine, venue)
    venue.deposit(inst.quote, CASH)
    strategy = SmaCross(SmaCrossConfig(instrument_id=inst.id, fast=fast, slow=slow))
    attach_strategy(engine, strategy)
    run_replay(engine, bars)

    bar_at = {bar.ts_ns: index for index, bar in enumerate(bars)}
    bar_opening_at = {bar.open_ts_ns: index for index, bar in enumerate(bars)}
    trades = []
    for fill in engine.fills:
        order = engine.orders[fill.client_order_id]
        # the venue stamps a bar fill with the open time of the bar whose open price it took
        fill_bar = bar_opening_at[fill.ts_ns]
        trades.append(
            Trade(
                fill.side,
                bar_at[order.ts_init],
                fill_bar,
                bars[fill_bar].open_ts_ns,
                fill.price,
                fill.quantity,
            )
        )
    stats = strategy.stats()
    equity = engine.portfolio.equity(engine.price)
    assert engine.equity_curve[-1][1] == equity
    assert venue.balances() == engine.portfolio.ledger.venue_balances(inst.venue)  # venue and engine agree
    return Outcome(
        trades,
        stats["signals_up"],
        stats["signals_down"],
        stats["rejections"],
        engine.portfolio.ledger.balance(inst.venue, inst.quote),
        engine.portfolio.position(inst.id).quantity,
        equity,
    )


class _BtSmaCross(bt.Strategy):  # type: ignore[misc]  # backtrader ships no type hints
    """Decides in ``next`` (bar close); acts in ``next_open`` of the following bar, filling at its open."""

    params = (("inst", None), ("fast", FAST), ("slow", SLOW))

    def __init__(self) -> None:
        fast = bt.indicators.SMA(self.data.close, period=self.p.fast)
        slow = bt.indicators.SMA(self.data.close, period=self.p.slow)
        self.cross = bt.indicators.CrossOver(fast, slow)
        self.signal = 0.0
        self.signal_bar = -1
        self.signals: list[tuple[int, float]] = []
        self.fills: list[tuple[int, Any]] = []  # (signal bar, completed order)
        self.rejections = 0

    def next(self) -> None:
        self.signal = float(self.cross[0])
        self.signal_bar = len(self.data) - 1
        if self.signal:
            self.signals.append((self.signal_bar, self.signal))

    def next_open(self) -> None:
        inst: Instrument = self.p.inst
        if self.signal > 0 and not self.position:
            # The venue's sizing, in Decimal from the float cash (shortest repr = the value shown).
            cash = Decimal(repr(self.broker.getcash()))
            price = Decimal(repr(self.data.open[0]))
            size = inst.round_lot_down(cash / (price * inst.contract_size * (1 + inst.taker_fee)))
            if size > 0:
                self.buy(size=float(size), exectype=bt.Order.Market)
        elif self.signal < 0 and self.position.size > 0:
            self.close()
        self.signal = 0.0

    def notify_order(self, order: Any) -> None:
        if order.status == order.Completed:
            self.fills.append((self.signal_bar, order))
        elif order.status in (order.Margin, order.Rejected, order.Canceled):
            self.rejections += 1


def _run_backtrader(frame: pd.DataFrame, inst: Instrument, fast: int = FAST, slow: int = SLOW) -> Outcome:
    cerebro = bt.Cerebro(stdstats=False, cheat_on_open=True)
    cerebro.adddata(bt.feeds.PandasData(dataname=frame))
    cerebro.broker.setcash(float(CASH))
    cerebro.broker.setcommission(commission=float(inst.taker_fee))  # percentage of the traded value
    cerebro.addstrategy(_BtSmaCross, inst=inst, fast=fast, slow=slow)
    strat = cerebro.run()[0]

    bar_of = {ts: index for index, ts in enumerate(frame.index)}
    trades = []
    for signal_bar, order in strat.fills:
        # One execution per order, as ours. Its own price, not ``executed.price``: that is backtrader's
        # running average, (0 * 0 + size * price) / size, which floats can leave an ulp off the price.
        (execution,) = order.executed.exbits
        when = pd.Timestamp(bt.num2date(execution.dt))
        trades.append(
            Trade(
                OrderSide.BUY if order.isbuy() else OrderSide.SELL,
                signal_bar,
                bar_of[when],
                int(when.tz_localize("UTC").value),
                Decimal(repr(execution.price)),
                Decimal(repr(abs(execution.size))),
            )
        )
    ups = sum(1 for _, value in strat.signals if value > 0)
    return Outcome(
        trades,
        ups,
        len(strat.signals) - ups,
        strat.rejections,
        Decimal(repr(strat.broker.getcash())),
        Decimal(repr(strat.position.size)),
        Decimal(repr(strat.broker.getvalue())),
    )


def _bt_frame(path: Path) -> pd.DataFrame:
    frame = pd.read_feather(path)
    index = pd.DatetimeIndex(frame["date"]).tz_convert("UTC").tz_localize(None)  # backtrader wants naive UTC
    return frame[["open", "high", "low", "close", "volume"]].set_index(index)


def _dec(value: float) -> Decimal:
    return Decimal(repr(value))


def _assert_same(ours: Outcome, theirs: Outcome, bars: list[Bar]) -> None:
    # Both fill each order at the open of the bar right after the bar whose close decided it.
    for side in (ours, theirs):
        for trade in side.trades:
            assert trade.fill_bar == trade.signal_bar + 1, trade
            assert trade.price == bars[trade.fill_bar].open, trade
            assert trade.ts_ns == bars[trade.signal_bar].ts_ns == bars[trade.fill_bar].open_ts_ns, trade
        alternating = [OrderSide.BUY, OrderSide.SELL] * len(side.trades)
        assert [t.side for t in side.trades] == alternating[: len(side.trades)]

    assert (ours.signals_up, ours.signals_down) == (theirs.signals_up, theirs.signals_down)
    assert ours.rejections == theirs.rejections == 0
    assert len(ours.trades) == len(theirs.trades) > 0
    for mine, oracle in zip(ours.trades, theirs.trades, strict=True):
        assert mine == oracle, (
            f"first differing trade at {dt.datetime.fromtimestamp(mine.ts_ns / NS_PER_SECOND, dt.UTC)}"
        )
    assert ours.position == theirs.position
    assert abs(ours.cash - theirs.cash) <= abs(ours.cash) * Decimal("1e-9")
    assert abs(ours.equity - theirs.equity) <= ours.equity * Decimal("1e-9")
    # ours is exact: equity = cash + position * last close
    assert ours.equity == ours.cash + ours.position * bars[-1].close


@pytest.mark.real_data
@pytest.mark.parametrize(
    "fee",
    [pytest.param(Decimal("0.001"), id="fee-0.1%"), pytest.param(None, id="fee-bittrex-0.25%")],
)
def test_sma_cross_matches_backtrader(shared_data: Path, fee: Decimal | None) -> None:
    path = shared_data / FEED
    if not path.is_file():
        pytest.skip(f"{path} not found")
    inst = _instrument(fee)
    bars = read_freqtrade_ohlcv(path, inst)
    frame = _bt_frame(path)
    assert len(bars) == len(frame)

    ours = _run_spreadhawk(bars, inst)
    theirs = _run_backtrader(frame, inst)

    assert len(ours.trades) == 176  # 88 round trips; flat at the end
    _assert_same(ours, theirs, bars)


def test_touching_the_slow_average_is_not_a_cross() -> None:
    """Exact ties (fast == slow; dyadic prices, so the averages are exact): a zero difference keeps
    the last non-zero one, as backtrader's ``CrossOver`` does.

    With fast=2, slow=4: bar 3 seeds the difference with 0; bar 5 goes positive after only zeros (not
    a cross); bar 9 crosses down; bar 13 crosses up (buy at bar 14's open); bar 17 goes positive after
    touching at bar 16 (not a cross); bar 21 crosses down (sell at bar 22's open). A rule based on the
    previous bar alone (``previous fast <= previous slow``) would also buy at bars 5 and 17.
    """
    closes = [1.0, 1, 1, 1, 1, 2, 2, 2, 2, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 1.5, 1, 1, 1, 1]
    opens = [closes[0], *closes[:-1]]
    highs = [max(o, c) for o, c in zip(opens, closes, strict=True)]
    lows = [min(o, c) for o, c in zip(opens, closes, strict=True)]
    inst = _instrument(Decimal("0.001"))
    step = 300 * NS_PER_SECOND
    start = 1_600_000_000 * NS_PER_SECOND
    bars = [
        Bar(inst.id, start + (i + 1) * step, step, _dec(o), _dec(h), _dec(low), _dec(c), ZERO_VOLUME)
        for i, (o, h, low, c) in enumerate(zip(opens, highs, lows, closes, strict=True))
    ]
    frame = pd.DataFrame(
        {"open": opens, "high": highs, "low": lows, "close": closes, "volume": 0.0},
        index=pd.DatetimeIndex([pd.Timestamp(bar.open_ts_ns) for bar in bars]),
    )

    ours = _run_spreadhawk(bars, inst, fast=2, slow=4)
    theirs = _run_backtrader(frame, inst, fast=2, slow=4)

    assert (ours.signals_up, ours.signals_down) == (1, 2)
    assert [(t.side, t.fill_bar) for t in ours.trades] == [(OrderSide.BUY, 14), (OrderSide.SELL, 22)]
    _assert_same(ours, theirs, bars)


@pytest.mark.parametrize(
    ("fast", "slow", "message"),
    [
        (50, 50, "slow (50) must be longer than fast (50)"),
        (60, 50, "slow (50) must be longer than fast (60)"),
        (0, 5, "greater than 0"),
        (3, -1, "greater than 0"),
    ],
)
def test_config_rejects_bad_windows(fast: int, slow: int, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        SmaCrossConfig(instrument_id="BITTREX:ETH/BTC", fast=fast, slow=slow)


def test_config_rejects_unknown_keys() -> None:
    with pytest.raises(ValidationError, match="extra"):
        SmaCrossConfig.model_validate({"instrument_id": "BITTREX:ETH/BTC", "fastt": 5})
