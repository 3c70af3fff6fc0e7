"""``spreadhawk new-strategy NAME``: a working strategy to start from, with its test.

Writes ``<name>.py`` (a Donchian breakout on bars: buy when a close breaks the highest close of the
last ``lookback`` bars, sell the position when one breaks the lowest) and ``test_<name>.py`` (it
replays hand-made bars through the engine and a simulated venue and checks the fills, worked out by
hand), in ``--dir``. ``pytest test_<name>.py`` passes as written; a config names the strategy as
``path = "<name>:<Class>"`` with the folder on ``PYTHONPATH``. ``docs/writing_a_strategy.md`` says
what a strategy may do and how.
"""

from __future__ import annotations

import keyword
import re
from pathlib import Path
from typing import Annotated

import typer

from spreadhawk.cli.output import errors, fail

__all__ = ["register"]

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def register(app: typer.Typer) -> None:
    app.command("new-strategy")(new_strategy)


def new_strategy(
    name: Annotated[str, typer.Argument(help="module name, snake_case: my_breakout")],
    directory: Annotated[Path, typer.Option("--dir", help="where to write the two files")] = Path(),
    force: Annotated[bool, typer.Option("--force", help="overwrite files that exist")] = False,
) -> None:
    """Write a working strategy template and its test (a bar breakout you can change)."""
    if not _NAME.fullmatch(name) or keyword.iskeyword(name) or name.startswith("test"):
        fail(f"NAME must be a snake_case module name (letters, digits, _; not a keyword or test_*), got {name!r}")
    cls = "".join(part.capitalize() for part in name.split("_") if part)
    module, test = directory / f"{name}.py", directory / f"test_{name}.py"
    existing = [str(p) for p in (module, test) if p.exists()]
    if existing and not force:
        fail(f"{', '.join(existing)} exists (--force to overwrite)")
    try:
        directory.mkdir(parents=True, exist_ok=True)
        module.write_text(STRATEGY.replace("{Class}", cls), encoding="utf-8")
        test.write_text(TEST.replace("{Class}", cls).replace("{module}", name), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write the template: {exc}")
    errors.print(f"wrote {module} and {test}", highlight=False)
    errors.print(f"  test it:  cd {directory} && pytest -q test_{name}.py", highlight=False)
    errors.print(f'  use it:   path = "{name}:{cls}" in \\[strategy], with PYTHONPATH={directory}', highlight=False)


STRATEGY = '''"""{Class}: a Donchian breakout on bars (from `spreadhawk new-strategy`; make it yours).

Buy at market when a bar closes above the highest close of the ``lookback`` bars before it; sell
the whole position at market when one closes below their lowest close. One order at a time.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from decimal import Decimal

from pydantic import Field
from spreadhawk import Bar, InstrumentId, OrderSide, Strategy, StrategyConfig
from spreadhawk.domain.events import (
    OrderCanceled,
    OrderDenied,
    OrderFilled,
    OrderRejected,
)


class {Class}Config(StrategyConfig):
    instrument_id: str = Field(description="the instrument it trades, VENUE:SYMBOL")
    lookback: int = Field(default=20, gt=0, description="bars in the channel")
    quantity: Decimal = Field(
        default=Decimal(1), gt=0, description="base bought on a breakout"
    )


class {Class}(Strategy):
    config_class = {Class}Config

    def __init__(
        self, config: {Class}Config, strategy_id: str | None = None
    ) -> None:
        super().__init__(config, strategy_id)
        self.cfg = config
        self.instrument_id = InstrumentId(config.instrument_id)
        self.closes: deque[Decimal] = deque(maxlen=config.lookback)
        self.in_flight = False

    def subscriptions(self) -> Iterable[InstrumentId]:
        return (self.instrument_id,)  # only this instrument's messages reach it

    def on_bar(self, bar: Bar) -> None:
        full = len(self.closes) == self.cfg.lookback
        high, low = (max(self.closes), min(self.closes)) if full else (None, None)
        self.closes.append(bar.close)
        if not full or self.in_flight or high is None or low is None:
            return
        held = self.ctx.position(self.instrument_id).quantity  # its own fills only
        if bar.close > high and held == 0:
            self.in_flight = True
            self.ctx.submit(self.instrument_id, OrderSide.BUY, self.cfg.quantity)
        elif bar.close < low and held > 0:
            self.in_flight = True
            self.ctx.submit(self.instrument_id, OrderSide.SELL, held)

    def on_order_filled(self, fill: OrderFilled) -> None:
        if self.ctx.order(fill.client_order_id).is_terminal:
            self.in_flight = False

    def on_order_rejected(self, event: OrderRejected) -> None:
        self.in_flight = False

    def on_order_denied(self, event: OrderDenied) -> None:
        self.in_flight = False

    def on_order_canceled(self, event: OrderCanceled) -> None:
        self.in_flight = False
'''

TEST = '''"""{Class} on hand-made bars: its fills, worked out by hand (`spreadhawk new-strategy`)."""

from __future__ import annotations

from decimal import Decimal

from spreadhawk import (
    Bar,
    Engine,
    Instrument,
    InstrumentKind,
    SimulatedVenue,
    attach_strategy,
    run_replay,
)
from spreadhawk.venues.simulated.venue import connect_simulated

from {module} import {Class}, {Class}Config

D = Decimal
MINUTE = 60_000_000_000
SPOT = Instrument(
    "SIM",
    "BTC/USDT",
    InstrumentKind.SPOT,
    "BTC",
    "USDT",
    D("0.01"),
    D("0.001"),
    taker_fee=D("0.001"),
)


def bars(*closes: str) -> list[Bar]:
    return [
        Bar(SPOT.id, (n + 1) * MINUTE, MINUTE, D(c), D(c), D(c), D(c), D(10))
        for n, c in enumerate(closes)
    ]


def test_buys_the_breakout_and_sells_the_breakdown() -> None:
    engine = Engine([SPOT])
    venue = SimulatedVenue("SIM")
    connect_simulated(engine, venue)
    venue.deposit("USDT", D(1000))
    config = {Class}Config(instrument_id=str(SPOT.id), lookback=3, quantity=D("0.5"))
    attach_strategy(engine, {Class}(config))
    # 100 101 102, then 103 closes above their high (102): buy, filled at the next
    # bar's open, 104; 101 closes below the low of 102 103 104: sell, filled at 99
    run_replay(engine, bars("100", "101", "102", "103", "104", "101", "99", "98"))
    fills = [(f.side.name, f.quantity, f.price) for f in engine.fills]
    assert fills == [("BUY", D("0.5"), D(104)), ("SELL", D("0.5"), D(99))]
    # paid 0.5 x 104 = 52 and a 0.1 % fee; received 0.5 x 99 = 49.5 less its fee
    paid, received = D(52) + D("0.052"), D("49.5") - D("0.0495")
    assert engine.portfolio.ledger.balance("SIM", "USDT") == D(1000) - paid + received
'''
