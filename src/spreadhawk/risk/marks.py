"""Marks: equity, asset prices and account aggregates, re-marked at intervals rather than per order.

A pre-trade check must take microseconds, so the account-wide figures (equity, gross notional,
capital deployed, each strategy's exposure) are re-marked when the risk engine asks (after every
fill, at each equity sample, and at least every ``mark_interval_s`` of the injected clock) and
read as they are in between; the order being checked is priced now.

A price that disappears (a book turning invalid) keeps its last value: an asset left out of equity
for a moment would look like a loss and could trip a drawdown breaker on nothing.

* gross notional: every non-cash holding and every perpetual position at full notional (a spot
  long and a perp short hedging it count twice: leverage is about size, not direction);
* capital deployed: non-cash holdings at full value, perpetuals at notional / max leverage (the
  margin they tie up); cash is what is not deployed;
* a strategy's exposure: the sum over assets of |its net position| at the mark.
"""

from __future__ import annotations

from decimal import Decimal

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.engine.ports import RiskView
from spreadhawk.risk.exposure import ExposureBook

ZERO = Decimal(0)
ONE = Decimal(1)


class Marks:
    def __init__(self, instruments: dict[InstrumentId, Instrument], max_leverage: Decimal | None) -> None:
        self.perps = [i for i in instruments.values() if i.kind is InstrumentKind.PERPETUAL]
        self._perps_of: dict[str, list[Instrument]] = {}
        for perp in self.perps:
            self._perps_of.setdefault(perp.base, []).append(perp)
        self.margin_fraction = ONE / max_leverage if max_leverage else ONE
        self.ts_ns = -1
        self.equity = ZERO
        self.gross = ZERO
        self.deployed = ZERO
        self.prices: dict[str, Decimal] = {}  # valuation currency per unit, carried forward
        self.strategy_exposure: dict[str, Decimal] = {}
        self._fresh: dict[str, Decimal | None] = {}

    def price(self, asset: str, view: RiskView) -> Decimal | None:
        """The asset's price now (spot in the valuation currency, else its perpetual), else the last one."""
        portfolio = view.portfolio
        price = portfolio.asset_price(asset, view.price)
        if price is None:
            for perp in self._perps_of.get(asset, ()):
                mark = view.price(perp.id)
                settle = portfolio.asset_price(perp.settlement, view.price)
                if mark is not None and settle is not None:
                    price = mark * settle
                    break
        if price is None:
            return self.prices.get(asset)
        self.prices[asset] = price
        return price

    def _priced(self, asset: str, view: RiskView) -> Decimal | None:
        if asset in self._fresh:
            return self._fresh[asset]
        price = self._fresh[asset] = self.price(asset, view)
        return price

    def account_net(self, asset: str, view: RiskView, venues: tuple[str, ...]) -> Decimal:
        """Net units of ``asset`` held: balances on every venue plus perpetual positions (signed)."""
        ledger = view.portfolio.ledger
        net = ZERO
        for venue in venues:
            net += ledger.balance(venue, asset)
        for perp in self._perps_of.get(asset, ()):
            position = view.portfolio.positions.get(perp.id)
            if position is not None and position.quantity:
                net += position.quantity * perp.contract_size
        return net

    def remark(self, ts_ns: int, view: RiskView, book: ExposureBook) -> None:
        self._fresh.clear()  # each asset is priced once per re-mark, however many venues hold it
        equity, gross, deployed = self._holdings(view)
        for perp in self.perps:
            position = view.portfolio.positions.get(perp.id)
            if position is None or not position.quantity:
                continue
            mark = view.price(perp.id)
            settle = self._priced(perp.settlement, view)
            base = self._priced(perp.base, view)
            if mark is not None and settle is not None:
                equity += position.unrealized_pnl(mark) * settle
            if base is not None:
                notional = abs(position.quantity) * perp.contract_size * base
                gross += notional
                deployed += notional * self.margin_fraction
        self.ts_ns, self.equity, self.gross, self.deployed = ts_ns, equity, gross, deployed
        self.strategy_exposure = {
            strategy_id: sum((abs(net) * self.prices.get(asset, ZERO) for asset, net in nets.items()), ZERO)
            for strategy_id, nets in book.strategy_net.items()
        }

    def _holdings(self, view: RiskView) -> tuple[Decimal, Decimal, Decimal]:
        """Equity, gross and deployed value of the balances (and of what is in transit)."""
        portfolio = view.portfolio
        cash = portfolio.currencies
        equity = gross = ZERO
        for (_, asset), amount in portfolio.ledger.balances().items():
            if not amount:
                continue
            price = self._priced(asset, view)
            if price is None:
                continue
            value = amount * price
            equity += value
            if asset not in cash:
                gross += abs(value)
        for asset, amount in portfolio.transit_amounts().items():  # still owned while in transit
            price = self._priced(asset, view)
            if price is not None:
                equity += amount * price
        return equity, gross, gross  # holdings tie up their full value
