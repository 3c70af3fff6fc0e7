"""The pure parts of the pre-trade check: the price band and the exposure limits.

``RiskEngine`` (``limits.py``) gathers the facts (the order, the account's net position in the
asset, the marks, the orders in flight) and calls these; they read nothing else.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from spreadhawk.domain.events import SubmitOrder
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.engine.ports import RiskView
from spreadhawk.risk.config import RiskLimits
from spreadhawk.risk.denials import Denial, DenialCode
from spreadhawk.risk.exposure import ExposureBook
from spreadhawk.risk.marks import Marks

ZERO = Decimal(0)


class InstrumentFacts(NamedTuple):
    """What the check needs of an instrument, looked up once at attach."""

    asset: str
    venue: str
    quote: str
    contract_size: Decimal
    deployed_weight: Decimal  # 1 for spot, 1 / max leverage for a perpetual (its margin)
    tick_size: Decimal


Touch = tuple[Decimal | None, Decimal | None]  # best bid, best ask (None when a side is empty)


def touch_of(view: RiskView, instrument_id: InstrumentId) -> Touch:
    """The best bid and ask of a valid book (neither when the book is missing or invalid)."""
    book = view.books.get(instrument_id)
    if book is None or not book.is_valid:
        return None, None
    inst = view.instruments[instrument_id]
    bid, ask = book.best_bid(), book.best_ask()
    return (None if bid is None else inst.price(bid[0])), (None if ask is None else inst.price(ask[0]))


class Projection(NamedTuple):
    """The order as the exposure limits see it: what the account would hold if it filled."""

    strategy_id: str
    net: Decimal  # the account's net units of the asset now (every venue, spot and perpetuals)
    signed: Decimal  # the order's signed base units
    notional: Decimal  # the order's notional in the valuation currency
    price: Decimal  # the asset's mark in the valuation currency


def price_band_denial(
    limits: RiskLimits, command: SubmitOrder, mark: Decimal | None, touch: Touch, facts: InstrumentFacts
) -> Denial | None:
    """A limit price further than the band beyond the market: above the best ask (or the mark) by
    more than ``price_band`` of it, or below the best bid (or the mark) by more. Measured from the
    touch rather than the mid so that taking the best price of a wide book (a binary market quoted
    in cents) is never a fat finger; the band is never narrower than ``price_band_min_ticks``."""
    band = limits.price_band
    if band is None or command.price is None or mark is None:
        return None  # no limit price, or no mark to measure it against: no band
    bid, ask = touch
    high = mark if ask is None else max(mark, ask)
    low = mark if bid is None else min(mark, bid)
    floor = facts.tick_size * limits.price_band_min_ticks
    top, bottom = high + max(high * band, floor), low - max(low * band, floor)
    if command.price > top:
        return Denial(DenialCode.PRICE_BAND, f"{command.price} is above {top} ({band:%} over the market {high})")
    if command.price < bottom:
        return Denial(DenialCode.PRICE_BAND, f"{command.price} is below {bottom} ({band:%} under the market {low})")
    return None


def exposure_denial(
    limits: RiskLimits,
    marks: Marks,
    book: ExposureBook,
    facts: InstrumentFacts,
    order: Projection,
    multiplier: Decimal,
) -> Denial | None:
    """The first exposure limit the order would break if it filled, orders in flight included."""
    equity, price = marks.equity, order.price
    if limits.max_asset_fraction is not None:
        projected = abs(order.net + order.signed) * price + book.by_asset.get(facts.asset, ZERO)
        cap = limits.max_asset_fraction * multiplier * equity
        if projected > cap:
            return Denial(DenialCode.ASSET_CONCENTRATION, f"{facts.asset} exposure {projected:.2f} > {cap:.2f}")
    if limits.max_strategy_fraction is not None:
        own = book.net(order.strategy_id, facts.asset)
        projected = (
            marks.strategy_exposure.get(order.strategy_id, ZERO)
            + (abs(own + order.signed) - abs(own)) * price
            + book.by_strategy.get(order.strategy_id, ZERO)
        )
        cap = limits.max_strategy_fraction * multiplier * equity
        if projected > cap:
            detail = f"{order.strategy_id} exposure {projected:.2f} > {cap:.2f}"
            return Denial(DenialCode.STRATEGY_EXPOSURE, detail)
    if limits.max_deployed_fraction is not None:
        projected = marks.deployed + book.deployed + order.notional * facts.deployed_weight
        cap = limits.max_deployed_fraction * equity
        if projected > cap:
            return Denial(DenialCode.CAPITAL_DEPLOYED, f"{projected:.2f} > {cap:.2f}")
    if limits.max_leverage is not None:
        projected = marks.gross + book.gross + order.notional
        if projected > limits.max_leverage * equity:
            ratio = projected / equity if equity > 0 else Decimal("Infinity")
            return Denial(DenialCode.LEVERAGE, f"{ratio:.2f} > {limits.max_leverage}")
    return None
