"""The emulated spot exchange: accounts, orders and a deterministic matching engine on the replayed book.

Matching rules — the simulated venue's (``venues/simulated``), written again here in Binance's terms so
that a backtest and a live session on this emulator can be compared fill for fill (scenario 25):

* a MARKET order, and the marketable part of a LIMIT order, sweeps the current replayed book, best level
  first, at the levels' prices, paying the taker fee. The recording is not changed by our fills (the
  replay goes on as recorded), so what our orders took from a level stays taken until the replay next
  updates that price;
* IOC: what the sweep does not fill expires; FOK: nothing fills unless the whole quantity can; a MARKET
  remainder (book exhausted) expires; LIMIT_MAKER is rejected (-2010) when its price reaches the best
  displayed level on the other side;
* a resting LIMIT order joins the back of its price level (the quantity displayed there when it
  arrived is ahead of it; later book updates can only shrink that queue) and fills, at its own price,
  paying the maker fee:
  - when the book moves through its price: the displayed quantity at or beyond its price (less what
    we took already) trades with it, up to what it has left;
  - when a public trade reaches it: a trade whose aggressor is on the other side, at its price (after
    the queue ahead of it has traded) or through it. One trade's quantity is shared once among our
    resting orders, best price first, then arrival;
* commissions are charged in the quote asset (``quote notional * fee``, rounded to 8 decimals);
* a BUY locks ``qty * price`` of the quote asset (a MARKET buy locks nothing: it fills at once), a SELL
  locks ``qty`` of the base asset; fills release the lock.

The futures exchange (``futures_exchange``) is this engine with its hooks overridden: what an order may
be (``_check_shape``, ``_check_post_only``, ``_check_reduce_only``, ``_check_funds``) and what a fill
does to the account (``_settle``); the sweep, the resting-order matching and the order book-keeping are
shared.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from typing import Any

from spreadhawk.venues.emulator.captures import Message, RawBook, StreamKind

__all__ = ["CLIENT_ID", "ExchangeError", "Order", "SpotExchange", "SymbolRules", "Trade", "symbol_rules"]

EIGHT = Decimal("1e-8")
CLIENT_ID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")  # rest-api.md, newClientOrderId
ORDER_TYPES = ("LIMIT", "MARKET", "LIMIT_MAKER")
INSUFFICIENT = "Account has insufficient balance for requested action."


class ExchangeError(Exception):
    """A Binance error answer: ``{"code": code, "msg": msg}`` with HTTP ``status``."""

    def __init__(self, code: int, msg: str, status: int = 400) -> None:
        super().__init__(f"{code}: {msg}")
        self.code, self.msg, self.status = code, msg, status


@dataclass(frozen=True, slots=True)
class SymbolRules:
    symbol: str
    base: str
    quote: str
    step: Decimal  # LOT_SIZE stepSize
    tick: Decimal  # PRICE_FILTER tickSize


def symbol_rules(exchange_info: Mapping[str, Any], symbols: list[str]) -> dict[str, SymbolRules]:
    """The rules of ``symbols`` from a recorded exchangeInfo answer."""
    found: dict[str, SymbolRules] = {}
    for entry in exchange_info["symbols"]:
        if entry["symbol"] in symbols:
            filters = {f["filterType"]: f for f in entry.get("filters", [])}
            step = Decimal(filters.get("LOT_SIZE", {}).get("stepSize", "0.00000001"))
            tick = Decimal(filters.get("PRICE_FILTER", {}).get("tickSize", "0.00000001"))
            found[entry["symbol"]] = SymbolRules(entry["symbol"], entry["baseAsset"], entry["quoteAsset"], step, tick)
    return found


@dataclass(slots=True)
class Order:
    order_id: int
    client_id: str
    symbol: str
    side: str  # BUY / SELL
    type: str  # LIMIT / MARKET / LIMIT_MAKER
    time_in_force: str  # GTC / IOC / FOK ("GTC" for MARKET, as Binance answers)
    price: Decimal  # 0 for MARKET
    qty: Decimal  # for a quoteOrderQty MARKET: what was filled
    quote_qty: Decimal  # quoteOrderQty, 0 otherwise
    time: int
    executed: Decimal = Decimal(0)
    cumulative_quote: Decimal = Decimal(0)
    status: str = "NEW"
    update_time: int = 0
    locked: Decimal = Decimal(0)  # what this order still holds locked (quote for BUY, base for SELL)
    reduce_only: bool = False  # futures only
    queue_ahead: Decimal = Decimal(0)  # resting: displayed quantity ahead of it at its price, not yet traded

    @property
    def leaves(self) -> Decimal:
        return self.qty - self.executed

    @property
    def is_open(self) -> bool:
        return self.status in ("NEW", "PARTIALLY_FILLED")


@dataclass(frozen=True, slots=True)
class Trade:
    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    time: int
    maker: bool
    realized_pnl: Decimal = Decimal(0)  # futures: the PnL this fill closed; 0 on spot

    @property
    def quote_qty(self) -> Decimal:
        return self.price * self.qty


@dataclass(slots=True)
class Balance:
    free: Decimal = Decimal(0)
    locked: Decimal = Decimal(0)


# (order, execution type, the trade of a TRADE report) -> None; then the assets whose balance changed
ExecutionListener = Callable[[Order, str, Trade | None], None]
BalanceListener = Callable[[dict[str, Balance]], None]


@dataclass(slots=True)
class _Listeners:
    executions: list[ExecutionListener] = field(default_factory=list)
    balances: list[BalanceListener] = field(default_factory=list)


class SpotExchange:
    """One account (every api key trades it) on the symbols of ``rules``, matching against ``books``."""

    order_types: tuple[str, ...] = ORDER_TYPES
    duplicate = ExchangeError(-2010, "Duplicate order sent.")  # rest-api.md, newClientOrderId
    bad_client_id = ExchangeError(
        -1100, f"Illegal characters found in parameter 'newClientOrderId'; legal range is '{CLIENT_ID.pattern}'."
    )

    def __init__(
        self,
        rules: Mapping[str, SymbolRules],
        books: Mapping[str, RawBook],
        balances: Mapping[str, Decimal | str | int],
        *,
        taker_fee: Decimal = Decimal("0.001"),
        maker_fee: Decimal = Decimal("0.001"),
        clock: Callable[[], int],
    ) -> None:
        self.rules = dict(rules)
        self.books = books
        self.balances = {asset: Balance(Decimal(amount)) for asset, amount in balances.items()}
        self.taker_fee, self.maker_fee = taker_fee, maker_fee
        self.clock = clock
        self.orders: dict[int, Order] = {}
        self.trades: list[Trade] = []
        self.listeners = _Listeners()
        self._by_client: dict[tuple[str, str], int] = {}  # (symbol, client id) -> latest order id
        self._taken: dict[str, dict[Decimal, Decimal]] = {}  # symbol -> price -> quantity our orders took
        self._next_order = 1
        self._next_trade = 1

    # --- queries ------------------------------------------------------------------------
    def _rules(self, symbol: str) -> SymbolRules:
        if symbol not in self.rules:
            raise ExchangeError(-1121, "Invalid symbol.")
        return self.rules[symbol]

    def find(self, symbol: str, order_id: int | None, client_id: str | None) -> Order:
        """An order by exchange id or (the latest with) client id; -2013 when there is none."""
        self._rules(symbol)
        if order_id is None and client_id is not None:
            order_id = self._by_client.get((symbol, client_id))
        order = self.orders.get(order_id) if order_id is not None else None
        if order is None or order.symbol != symbol or (client_id is not None and order.client_id != client_id):
            raise ExchangeError(-2013, "Order does not exist.")
        return order

    def open_orders(self, symbol: str | None) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open and symbol in (None, o.symbol)]

    def balance(self, asset: str) -> Balance:
        return self.balances.setdefault(asset, Balance())

    # --- placing ------------------------------------------------------------------------
    def place(
        self,
        symbol: str,
        side: str,
        type_: str,
        *,
        qty: Decimal | None,
        quote_qty: Decimal | None = None,
        price: Decimal | None = None,
        time_in_force: str | None = None,
        client_id: str | None = None,
        reduce_only: bool = False,
    ) -> tuple[Order, list[Trade]]:
        """Validate, commit and match a new order; ExchangeError (nothing committed) when it is refused."""
        rules = self._rules(symbol)
        if side not in ("BUY", "SELL"):
            raise ExchangeError(-1100, "Illegal characters found in parameter 'side'; legal range is 'BUY, SELL'.")
        if type_ not in self.order_types:
            raise ExchangeError(-1116, "Invalid orderType.")
        if client_id is not None and not CLIENT_ID.match(client_id):
            raise self.bad_client_id
        if client_id is not None and any(o.client_id == client_id for o in self.open_orders(symbol)):
            raise self.duplicate
        tif = self._check_shape(type_, qty, quote_qty, price, time_in_force)
        self._check_reduce_only(symbol, side, qty, reduce_only)
        book = self.books[symbol]
        book_side = book.levels(bids=side == "SELL")
        best = book_side[0][0] if book_side else None
        if best is not None and price is not None and (price >= best if side == "BUY" else price <= best):
            self._check_post_only(type_, tif)
        taken = self._taken.setdefault(symbol, {})
        limit = price if type_ != "MARKET" else None
        fills = [] if type_ == "LIMIT_MAKER" else _sweep(book_side, side, limit, qty, quote_qty, rules.step, taken)
        if tif == "FOK" and sum(q for _, q in fills) < (qty or 0):
            fills = []  # all or nothing: it expires untouched
        self._check_funds(rules, side, type_, qty, price, fills, reduce_only)
        order_id, self._next_order = self._next_order, self._next_order + 1
        now = self.clock()
        order = Order(
            order_id,
            client_id if client_id is not None else f"emulator-{order_id}",
            symbol,
            side,
            type_,
            tif,
            price or Decimal(0),
            qty if qty is not None else Decimal(0),
            quote_qty or Decimal(0),
            now,
            update_time=now,
            reduce_only=reduce_only,
        )
        self.orders[order_id] = order
        self._by_client[(symbol, order.client_id)] = order_id
        if type_ != "MARKET":
            self._lock(rules, order)
            order.queue_ahead = book.size_at(bids=side == "BUY", price=order.price)
        self._emit(order, "NEW", None)
        for p, q in fills:
            taken[p] = taken.get(p, Decimal(0)) + q
        trades = [self._fill(rules, order, p, q, maker=False) for p, q in fills]
        if order.quote_qty:  # quoteOrderQty: the order's quantity is what it could buy/sell
            order.qty = order.executed
        if order.is_open and (type_ == "MARKET" or tif in ("IOC", "FOK")):
            self._close(rules, order, "EXPIRED", "EXPIRED")
        self._balances_changed(rules)
        return order, trades

    def _check_shape(
        self, type_: str, qty: Decimal | None, quote_qty: Decimal | None, price: Decimal | None, tif: str | None
    ) -> str:
        if type_ == "MARKET":
            if (qty is None) == (quote_qty is None):
                raise ExchangeError(-1102, "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty!")
            if (qty or quote_qty or 0) <= 0:
                raise ExchangeError(-1013, "Invalid quantity.")
            return "GTC"
        if qty is None or price is None:
            raise ExchangeError(-1102, "Mandatory parameter 'quantity' or 'price' was not sent, was empty/null.")
        if qty <= 0 or price <= 0:
            raise ExchangeError(-1013, "Invalid quantity or price.")
        if type_ == "LIMIT_MAKER":
            return "GTC"
        if tif not in ("GTC", "IOC", "FOK"):
            raise ExchangeError(-1102, "Mandatory parameter 'timeInForce' was not sent, was empty/null.")
        return tif

    def _check_post_only(self, type_: str, tif: str) -> None:
        """The order would take liquidity (it has fills): refused if it was post-only."""
        if type_ == "LIMIT_MAKER":
            raise ExchangeError(-2010, "Order would immediately match and take.")

    def _check_reduce_only(self, symbol: str, side: str, qty: Decimal | None, reduce_only: bool) -> None:
        if reduce_only:  # spot has no positions to reduce
            raise ExchangeError(-1106, "Parameter 'reduceOnly' sent when not required.")

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
        if side == "SELL":
            needed, asset = (qty or sum(q for _, q in fills)), rules.base
        else:
            fee = max(self.taker_fee, self.maker_fee)
            cost = sum(p * q for p, q in fills) if type_ == "MARKET" else (qty or 0) * (price or 0)
            needed, asset = cost * (1 + fee), rules.quote
        if self.balance(asset).free < needed:
            raise ExchangeError(-2010, INSUFFICIENT)

    def _lock(self, rules: SymbolRules, order: Order) -> None:
        asset, amount = (rules.quote, order.qty * order.price) if order.side == "BUY" else (rules.base, order.qty)
        balance = self.balance(asset)
        balance.free -= amount
        balance.locked += amount
        order.locked = amount

    def _unlock(self, rules: SymbolRules, order: Order, amount: Decimal) -> None:
        balance = self.balance(rules.quote if order.side == "BUY" else rules.base)
        amount = min(amount, order.locked)
        balance.locked -= amount
        balance.free += amount
        order.locked -= amount

    def _fill(self, rules: SymbolRules, order: Order, price: Decimal, qty: Decimal, *, maker: bool) -> Trade:
        notional = price * qty
        commission = (notional * (self.maker_fee if maker else self.taker_fee)).quantize(EIGHT, ROUND_HALF_EVEN)
        realized = self._settle(rules, order, price, qty, commission)
        order.executed += qty
        order.cumulative_quote += notional
        if order.qty:
            done = order.executed >= order.qty
        else:  # quoteOrderQty: done when what is left buys less than one lot step
            done = order.quote_qty - order.cumulative_quote < price * rules.step
        order.status = "FILLED" if done else "PARTIALLY_FILLED"
        order.update_time = self.clock()
        trade_id, self._next_trade = self._next_trade, self._next_trade + 1
        trade = Trade(
            trade_id,
            order.order_id,
            order.symbol,
            order.side,
            price,
            qty,
            commission,
            rules.quote,
            self.clock(),
            maker,
            realized,
        )
        self.trades.append(trade)
        self._emit(order, "TRADE", trade)
        return trade

    def _settle(self, rules: SymbolRules, order: Order, price: Decimal, qty: Decimal, commission: Decimal) -> Decimal:
        """Move the account for one fill; returns the PnL it realized (none on spot: assets change hands)."""
        notional = price * qty
        base, quote = self.balance(rules.base), self.balance(rules.quote)
        if order.side == "BUY":
            self._unlock(rules, order, qty * order.price)  # release the lock at the order's price ...
            quote.free -= notional + commission  # ... and pay the fill's price
            base.free += qty
        else:
            self._unlock(rules, order, qty)
            base.free -= qty
            quote.free += notional - commission
        return Decimal(0)

    def _close(self, rules: SymbolRules, order: Order, status: str, exec_type: str) -> None:
        self._unlock(rules, order, order.locked)
        order.status = status
        order.update_time = self.clock()
        self._emit(order, exec_type, None)

    # --- canceling and the replay ------------------------------------------------------
    def cancel(self, symbol: str, order_id: int | None, client_id: str | None) -> Order:
        order = self.find(symbol, order_id, client_id)
        if not order.is_open:
            raise ExchangeError(-2011, "Unknown order sent.")
        rules = self._rules(symbol)
        self._close(rules, order, "CANCELED", "CANCELED")
        self._balances_changed(rules)
        return order

    def counterparty_fill(self, symbol: str, client_id: str, qty: Decimal) -> Trade:
        """Someone else's order trades ``qty`` against our resting order, at its price (admin: a
        partial fill the replayed book alone would not make; RELIABILITY.md scenario 7)."""
        order = self.find(symbol, None, client_id)
        if not order.is_open or order.type == "MARKET":
            raise ExchangeError(-2011, "Unknown order sent.")
        if not Decimal(0) < qty <= order.qty - order.executed:
            raise ExchangeError(-1013, f"fill quantity {qty} outside (0, {order.qty - order.executed}]")
        rules = self._rules(symbol)
        trade = self._fill(rules, order, order.price, qty, maker=True)
        self._balances_changed(rules)
        return trade

    def on_market(self, message: Message) -> None:
        """Fill the resting orders of the message's symbol that the replay has reached (module docstring)."""
        symbol = message.symbol
        if symbol not in self.rules:
            return
        if message.kind is StreamKind.DEPTH:
            taken = self._taken.get(symbol)
            if taken:  # the exchange has shown these levels afresh: what we took is in the new quantity
                for price, _ in (*message.data["b"], *message.data["a"]):
                    taken.pop(Decimal(price), None)
        elif message.kind is not StreamKind.TRADE:
            return
        resting = [o for o in self.open_orders(symbol) if o.type != "MARKET"]
        if not resting:
            return
        rules = self.rules[symbol]
        if message.kind is StreamKind.DEPTH:
            touched = self._book_reached(rules, resting)
        else:
            touched = self._trade_reached(rules, resting, message.data)
        if touched:
            self._balances_changed(rules)

    def _book_reached(self, rules: SymbolRules, resting: list[Order]) -> bool:
        """The book moved through resting prices: what it shows there trades with us, at our price."""
        book = self.books[rules.symbol]
        taken = self._taken.setdefault(rules.symbol, {})
        touched = False
        for order in resting:
            is_buy = order.side == "BUY"
            order.queue_ahead = min(order.queue_ahead, book.size_at(bids=is_buy, price=order.price))
            opposite = book.levels(bids=not is_buy)
            through = _sweep(opposite, order.side, order.price, order.leaves, None, rules.step, taken)
            if through:
                for price, qty in through:
                    taken[price] = taken.get(price, Decimal(0)) + qty
                self._fill(rules, order, order.price, sum((q for _, q in through), Decimal(0)), maker=True)
                touched = True
        return touched

    def _trade_reached(self, rules: SymbolRules, resting: list[Order], trade: Mapping[str, Any]) -> bool:
        """Share one public trade among the resting orders it reached, best price first, then arrival."""
        price, volume = Decimal(trade["p"]), Decimal(trade["q"])
        buyer_is_maker = bool(trade["m"])  # the aggressor was the seller: it traded with bids
        reached = [
            o
            for o in resting
            if (o.side == "BUY") == buyer_is_maker and (price <= o.price if o.side == "BUY" else price >= o.price)
        ]
        reached.sort(key=lambda o: -o.price if o.side == "BUY" else o.price)  # stable: arrival order kept
        touched = False
        for order in reached:
            if volume <= 0:
                break
            if price == order.price:
                ahead = min(order.queue_ahead, volume)
                order.queue_ahead -= ahead
                volume -= ahead
            take = min(volume, order.leaves)
            if take > 0:
                volume -= take
                self._fill(rules, order, order.price, take, maker=True)
                touched = True
        return touched

    def _emit(self, order: Order, exec_type: str, trade: Trade | None) -> None:
        for listener in self.listeners.executions:
            listener(order, exec_type, trade)

    def _balances_changed(self, rules: SymbolRules) -> None:
        changed = {asset: self.balance(asset) for asset in (rules.base, rules.quote)}
        for listener in self.listeners.balances:
            listener(changed)


def _sweep(
    levels: list[tuple[Decimal, Decimal]],
    side: str,
    limit: Decimal | None,
    qty: Decimal | None,
    quote_qty: Decimal | None,
    step: Decimal,
    taken: Mapping[Decimal, Decimal],
) -> list[tuple[Decimal, Decimal]]:
    """The fills ``(price, qty)`` taking ``levels`` (best first, less what ``taken`` says our orders
    took already) up to ``limit`` for ``qty`` (or ``quote_qty``)."""
    fills: list[tuple[Decimal, Decimal]] = []
    left_qty, left_quote = qty, quote_qty
    for price, displayed in levels:
        if limit is not None and (price > limit if side == "BUY" else price < limit):
            break
        available = displayed - taken.get(price, Decimal(0))
        if available <= 0:
            continue
        if left_quote is not None:  # spend quote: whole lot steps only
            take = min(available, (left_quote / price / step).to_integral_value(ROUND_DOWN) * step)
        else:
            take = min(available, left_qty or Decimal(0))
        if take <= 0:
            break
        fills.append((price, take))
        if left_quote is not None:
            left_quote -= price * take
        else:
            left_qty = (left_qty or Decimal(0)) - take
    return fills
