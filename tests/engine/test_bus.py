"""The message bus: subscription order, keys, and strategies that name their instruments."""

from __future__ import annotations

from decimal import Decimal

import pytest

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import Aggressor, Bar, TradeTick
from spreadhawk.engine.bus import MessageBus
from spreadhawk.engine.engine import Engine
from spreadhawk.strategy.base import Strategy, StrategyConfig, attach_strategy

MINUTE = 60_000_000_000


def _instrument(base: str) -> Instrument:
    return Instrument("X", f"{base}/USD", InstrumentKind.SPOT, base, "USD", Decimal("0.01"), Decimal("0.001"))


A, B = _instrument("AAA").id, _instrument("BBB").id


def _bar(iid: InstrumentId, ts: int) -> Bar:
    one = Decimal(1)
    return Bar(iid, ts, MINUTE, one, one, one, one, Decimal(0))


class Listener(Strategy):
    """Records the bars it hears, in a log shared with the other listeners."""

    def __init__(self, name: str, log: list[tuple[str, str]], wants: list[InstrumentId] | None) -> None:
        super().__init__(StrategyConfig(), name)
        self.log, self.wants = log, wants

    def subscriptions(self) -> list[InstrumentId] | None:
        return self.wants

    def on_bar(self, bar: Bar) -> None:
        self.log.append((self.id, bar.instrument_id))


def test_keyed_and_unkeyed_handlers_run_in_subscription_order() -> None:
    bus, heard = MessageBus(), []
    bus.subscribe(int, lambda m: heard.append(("all-1", m)))
    bus.subscribe(int, lambda m: heard.append(("k", m)), key="k")
    bus.subscribe(int, lambda m: heard.append(("all-2", m)))
    bus.subscribe(int, lambda m: heard.append(("j", m)), key="j")
    bus.publish(1, key="k")
    bus.publish(2)
    assert heard == [("all-1", 1), ("k", 1), ("all-2", 1), ("all-1", 2), ("all-2", 2)]
    bus.subscribe(int, lambda m: heard.append(("k-late", m)), key="k")  # a new subscription is heard
    heard.clear()
    bus.publish(3, key="k")
    assert heard == [("all-1", 3), ("k", 3), ("all-2", 3), ("k-late", 3)]


def test_a_strategy_hears_only_the_instruments_it_named_and_keeps_its_place() -> None:
    engine = Engine([_instrument("AAA"), _instrument("BBB")], valuation_currency="USD")
    log: list[tuple[str, str]] = []
    for name, wants in (("everything", None), ("only-b", [B]), ("only-a", [A, A]), ("both", [B, A])):
        attach_strategy(engine, Listener(name, log, wants))
    engine.process(_bar(A, MINUTE))
    engine.process(_bar(B, 2 * MINUTE))
    engine.process(TradeTick(A, 3 * MINUTE, 100, 1, Aggressor.BUYER, "t1"))  # no handler for it: nobody is called
    assert log == [
        ("everything", A),
        ("only-a", A),  # named twice, heard once
        ("both", A),
        ("everything", B),
        ("only-b", B),
        ("both", B),
    ]


def test_subscribing_to_an_unknown_instrument_fails_at_once() -> None:
    engine = Engine([_instrument("AAA")], valuation_currency="USD")
    with pytest.raises(ValueError, match="not a declared instrument"):
        attach_strategy(engine, Listener("typo", [], [InstrumentId("X:AAB/USD")]))
