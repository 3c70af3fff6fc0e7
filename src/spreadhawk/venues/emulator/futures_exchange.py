"""The emulated Binance USD-M exchange: a linear perpetual (USDT margin, one-way position mode).

It is ``SpotExchange`` with the futures rules put into its hooks; the sweep of the replayed book, the
resting-order matching, IOC/FOK and the order book-keeping are the spot engine's. What differs:

* no assets change hands: a fill moves the symbol's **position** (signed quantity, average entry
  price). A fill that reduces it realizes ``closed qty * (fill price - entry)`` (sign of the position)
  into the USDT wallet; a fill past zero opens the other side at the fill price;
* commission (``notional * fee``, to 1e-8) is taken from the wallet in USDT (the margin asset);
* margin, not locks: an order that can grow the position needs ``notional / leverage`` of available
  balance (wallet - margin of the positions and of the open orders), else -2019;
* ``reduceOnly`` is refused (-2022) when the order would increase the position or take it past zero;
* post-only is ``timeInForce=GTX``; one that would take is refused with -5022 and not recorded
  (Binance's behaviour since 2023: "Post Only order will be rejected");
* conditional orders (STOP_MARKET, TAKE_PROFIT_MARKET) live in ``algo`` (``algo_orders``): off the
  book until a replayed trade reaches their trigger, then a market order;
* funding: the replay's ``markPriceUpdate`` messages carry the rate ``r`` and the next funding time
  ``T``; when a later message's event time reaches ``T``, every open position pays
  ``-qty * mark * rate`` (to 1e-8; the mark of the last update at or before ``T``), booked as a
  ``FUNDING_FEE`` income.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from spreadhawk.venues.emulator.algo_orders import AlgoDesk
from spreadhawk.venues.emulator.captures import Message, RawBook, StreamKind
from spreadhawk.venues.emulator.exchange import EIGHT, ExchangeError, Order, SpotExchange, SymbolRules

__all__ = ["FuturesExchange", "Income", "Position"]

ZERO = Decimal(0)


@dataclass(slots=True)
class Position:
    qty: Decimal = ZERO  # signed: > 0 long, < 0 short
    entry: Decimal = ZERO  # average entry price; 0 when flat


@dataclass(frozen=True, slots=True)
class Income:
    """One ``/fapi/v1/income`` record (only FUNDING_FEE is emulated)."""

    tran_id: int
    symbol: str
    income_type: str
    amount: Decimal  # signed: > 0 received
    asset: str
    time: int  # the funding time, ms
    rate: Decimal
    mark: Decimal
    position: Decimal  # signed quantity that paid or received


# reason (Binance's ACCOUNT_UPDATE "m": ORDER, FUNDING_FEE) -> None
AccountListener = Callable[[str], None]


class FuturesExchange(SpotExchange):
    """One USD-M account on the symbols of ``rules``: a USDT wallet, a position per symbol."""

    order_types = ("LIMIT", "MARKET")
    # Binance futures error codes (derivatives "Error Codes" page): -4116 DUPLICATED_CLIENT_ORDER_ID.
    duplicate = ExchangeError(-4116, "ClientOrderId is duplicated.")
    # Same rule as spot (^[\.A-Z\:/a-z0-9_-]{1,36}$, "New Order" page), its own code: -4015.
    bad_client_id = ExchangeError(-4015, "Client order id is not valid.")

    def __init__(
        self,
        rules: Mapping[str, SymbolRules],
        books: Mapping[str, RawBook],
        wallet: Decimal | str | int,
        *,
        taker_fee: Decimal = Decimal("0.0004"),
        maker_fee: Decimal = Decimal("0.0002"),
        leverage: int = 20,
        clock: Callable[[], int],
    ) -> None:
        assets = {r.quote for r in rules.values()} or {"USDT"}
        if len(assets) != 1:
            raise ValueError(f"one margin asset per emulated account, got {sorted(assets)}")
        self.margin_asset = assets.pop()
        super().__init__(
            rules, books, {self.margin_asset: wallet}, taker_fee=taker_fee, maker_fee=maker_fee, clock=clock
        )
        self.leverage = leverage
        self.positions: dict[str, Position] = {symbol: Position() for symbol in rules}
        self.income: list[Income] = []
        self.funding_rates: list[tuple[str, int, Decimal, Decimal]] = []  # (symbol, time, rate, mark) applied
        self.account_listeners: list[AccountListener] = []
        self._mark: dict[str, Decimal] = {}
        self._funding: dict[str, tuple[int, Decimal]] = {}  # symbol -> (next funding time, its rate)
        self._next_tran = 1
        self.algo = AlgoDesk(self)  # stop-loss / take-profit orders (Binance's Algo Service)

    # --- the account ---------------------------------------------------------------------
    @property
    def wallet(self) -> Decimal:
        return self.balance(self.margin_asset).free

    def mark(self, symbol: str) -> Decimal | None:
        return self._mark.get(symbol)

    def unrealized(self, symbol: str) -> Decimal:
        position, mark = self.positions[symbol], self._mark.get(symbol)
        return ZERO if mark is None or not position.qty else position.qty * (mark - position.entry)

    def margin_used(self) -> Decimal:
        """Initial margin of the positions (at entry) and of the open orders (at their price)."""
        held = sum((abs(p.qty) * p.entry for p in self.positions.values()), ZERO)
        ordered = sum(((o.qty - o.executed) * o.price for o in self.open_orders(None) if not o.reduce_only), ZERO)
        return (held + ordered) / self.leverage

    def available(self) -> Decimal:
        return self.wallet - self.margin_used()

    # --- the hooks of the spot engine ----------------------------------------------------
    def _check_shape(
        self, type_: str, qty: Decimal | None, quote_qty: Decimal | None, price: Decimal | None, tif: str | None
    ) -> str:
        if quote_qty is not None:
            raise ExchangeError(-1106, "Parameter 'quoteOrderQty' sent when not required.")
        if type_ == "LIMIT" and tif == "GTX":  # post-only: shaped like a GTC limit
            super()._check_shape(type_, qty, None, price, "GTC")
            return "GTX"
        return super()._check_shape(type_, qty, None, price, tif)

    def _check_post_only(self, type_: str, tif: str) -> None:
        if tif == "GTX":
            msg = "Due to the order could not be executed as maker, the Post Only order will be rejected."
            raise ExchangeError(-5022, msg)

    def _check_reduce_only(self, symbol: str, side: str, qty: Decimal | None, reduce_only: bool) -> None:
        held = self.positions[symbol].qty
        reduces = (held > 0 and side == "SELL") or (held < 0 and side == "BUY")
        if reduce_only and (not reduces or (qty or ZERO) > abs(held)):
            raise ExchangeError(-2022, "ReduceOnly Order is rejected.")

    def _check_funds(
        self,
        rules: SymbolRules,
        side: str,
        type_: str,
        qty: Decimal | None,
        price: Decimal | None,
        fills: list[tuple[Decimal, Decimal]],
        reduce_only: bool,
    ) -> None:
        if reduce_only:
            return  # it can only free margin
        if type_ == "MARKET":
            size, notional = sum((q for _, q in fills), ZERO), sum((p * q for p, q in fills), ZERO)
        else:
            size, notional = qty or ZERO, (qty or ZERO) * (price or ZERO)
        if not size:
            return
        held = self.positions[rules.symbol].qty
        # Only what the order adds to the position's size needs margin (a closing order needs none).
        grows = max(ZERO, abs(held + (size if side == "BUY" else -size)) - abs(held))
        needed = notional * grows / size / self.leverage + notional * max(self.taker_fee, self.maker_fee)
        if needed > self.available():
            raise ExchangeError(-2019, "Margin is insufficient.")

    def _lock(self, rules: SymbolRules, order: Order) -> None:
        """Futures hold margin (``margin_used``), not assets."""

    def _unlock(self, rules: SymbolRules, order: Order, amount: Decimal) -> None:
        """Nothing was locked."""

    def _settle(self, rules: SymbolRules, order: Order, price: Decimal, qty: Decimal, commission: Decimal) -> Decimal:
        position = self.positions[order.symbol]
        signed = qty if order.side == "BUY" else -qty
        realized = ZERO
        if position.qty == 0 or (position.qty > 0) == (signed > 0):  # opens or adds: average the entry
            size = abs(position.qty) + qty
            position.entry = (abs(position.qty) * position.entry + qty * price) / size
        else:
            closed = min(abs(position.qty), qty)
            realized = closed * (price - position.entry) * (1 if position.qty > 0 else -1)
            if qty > closed:  # past zero: the rest opens the other side at this price
                position.entry = price
            elif abs(position.qty) == closed:
                position.entry = ZERO
        position.qty += signed
        self.balance(self.margin_asset).free += realized - commission
        return realized

    def _balances_changed(self, rules: SymbolRules) -> None:
        for listener in self.account_listeners:
            listener("ORDER")

    # --- the replay: marks and funding ---------------------------------------------------
    def on_market(self, message: Message) -> None:
        if message.symbol in self.rules and message.kind is StreamKind.MARK_PRICE:
            self._on_mark(message.symbol, message.data)
        super().on_market(message)
        if message.symbol in self.rules and message.kind is StreamKind.TRADE:
            self.algo.on_trade(message.symbol, message.data)  # after the resting orders met the print

    def _on_mark(self, symbol: str, data: Mapping[str, Any]) -> None:
        event_ms = int(data["E"])
        due = self._funding.get(symbol)
        if due is not None and event_ms >= due[0]:
            funding_ms, rate = due
            mark = Decimal(str(data["p"])) if event_ms == funding_ms else self._mark.get(symbol)
            del self._funding[symbol]
            if mark is not None:
                self.funding_rates.append((symbol, funding_ms, rate, mark))
                self._pay_funding(symbol, funding_ms, rate, mark)
        self._mark[symbol] = Decimal(str(data["p"]))
        if "T" in data and "r" in data and int(data["T"]) > event_ms:
            self._funding[symbol] = (int(data["T"]), Decimal(str(data["r"])))

    def _pay_funding(self, symbol: str, funding_ms: int, rate: Decimal, mark: Decimal) -> None:
        held = self.positions[symbol].qty
        if not held:
            return
        amount = (-held * mark * rate).quantize(EIGHT, ROUND_HALF_EVEN)
        self.balance(self.margin_asset).free += amount
        tran_id, self._next_tran = self._next_tran, self._next_tran + 1
        self.income.append(
            Income(tran_id, symbol, "FUNDING_FEE", amount, self.margin_asset, funding_ms, rate, mark, held)
        )
        for listener in self.account_listeners:
            listener("FUNDING_FEE")
