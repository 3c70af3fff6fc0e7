"""The narrow view of the engine a strategy gets: read state, submit and cancel, move assets between
venues. Nothing else.

Positions are the strategy's own (``position``: what its fills bought and sold, from the engine's
per-strategy attribution), so two strategies trading one instrument never close or count each
other's holdings. The account's views, shared by every strategy on a venue, say so in their names
(``account_position``, ``account_balance``); ``available`` is the account's too, since that is what
the venue will let the next order use."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import get_args

from spreadhawk.domain.events import (
    CancelOrder,
    OrderEvent,
    OrderSide,
    OrderType,
    RequestTransfer,
    SubmitOrder,
    TimeInForce,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.domain.orders import Order
from spreadhawk.domain.positions import Position
from spreadhawk.domain.transfers import Transfer, WithdrawalTerms
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.records import TimerSet

ONE = Decimal(1)
ORDER_EVENTS: tuple[type, ...] = get_args(OrderEvent)


class StrategyContext:
    __slots__ = ("_engine", "_own", "logs", "strategy_id")

    def __init__(self, engine: Engine, strategy_id: str) -> None:
        self._engine = engine
        self.strategy_id = strategy_id
        self._own = engine.attribution.register(strategy_id)  # from here on, its fills are booked to it
        self.logs: list[tuple[int, str]] = []

    # --- reading ---------------------------------------------------------------------
    def now_ns(self) -> int:
        return self._engine.clock.now_ns()

    def instrument(self, instrument_id: InstrumentId) -> Instrument:
        return self._engine.instruments[instrument_id]

    def instruments(self, venue: str | None = None) -> list[Instrument]:
        """Every instrument the engine knows (on ``venue`` when given), sorted by id."""
        return [i for _, i in sorted(self._engine.instruments.items()) if venue is None or i.venue == venue]

    def book(self, instrument_id: InstrumentId) -> OrderBook:
        return self._engine.books[instrument_id]

    def position(self, instrument_id: InstrumentId) -> Position:
        """This strategy's own position: the sum of its own fills (less what settled)."""
        return self._own.position(instrument_id)

    def account_position(self, instrument_id: InstrumentId) -> Position:
        """The account's position: every strategy's fills, the risk engine's and external ones."""
        return self._engine.portfolio.position(instrument_id)

    def account_balance(self, venue: str, asset: str) -> Decimal:
        """The account's balance of ``asset`` on ``venue`` (shared by every strategy there)."""
        return self._engine.portfolio.ledger.balance(venue, asset)

    def available(self, venue: str, asset: str) -> Decimal:
        """What a new order may use: the balance less what open orders lock and margin holds."""
        return self._engine.available(venue, asset)

    def capital_scale(self, instrument_id: InstrumentId | None = None) -> Decimal:
        """The share of its configured capital this strategy should commit now (regime, correlation to
        the book, drawdown halving): exactly 1 when no capital allocator is configured. Pass the
        instrument a new position is about to be taken in; ``None`` for a hedged trade."""
        capital = self._engine.capital
        return ONE if capital is None else capital.scale(self.strategy_id, instrument_id)

    def withdrawal_terms(self, venue: str, asset: str) -> WithdrawalTerms | None:
        """Fee and delay of sending ``asset`` out of ``venue``; ``None`` when the venue has no route for it
        (or withdrawals are not enabled there)."""
        port = self._engine.withdrawal_ports.get(venue)
        return port.withdrawals.get(asset) if port is not None else None

    def transfer_state(self, transfer_id: str) -> Transfer:
        return self._engine.transfers[transfer_id]

    def order(self, client_order_id: ClientOrderId) -> Order:
        return self._engine.orders[client_order_id]

    def open_orders(self, instrument_id: InstrumentId | None = None) -> list[Order]:
        return [
            o
            for o in self._engine.orders.values()
            if o.strategy_id == self.strategy_id
            and o.is_open
            and (instrument_id is None or o.instrument_id == instrument_id)
        ]

    # --- acting ----------------------------------------------------------------------
    def submit(
        self,
        instrument_id: InstrumentId,
        side: OrderSide,
        quantity: Decimal,
        *,
        price: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        quote_quantity: Decimal | None = None,
        reduce_only: bool = False,
    ) -> Order:
        """Submit a limit order when ``price`` is given, else a market order.

        Client order ids are ``<run prefix><strategy id>-<n>`` (``spreadhawk.engine.order_ids``):
        deterministic, so a replay produces the same ids, unique across restarts, and a restarted
        node can look its orders up at the venue.
        """
        return self._send(
            instrument_id,
            side,
            OrderType.MARKET if price is None else OrderType.LIMIT,
            quantity,
            price=price,
            time_in_force=time_in_force,
            post_only=post_only,
            quote_quantity=quote_quantity,
            reduce_only=reduce_only,
        )

    def protect(
        self,
        instrument_id: InstrumentId,
        side: OrderSide,
        quantity: Decimal,
        trigger_price: Decimal,
        *,
        take_profit: bool = False,
    ) -> Order:
        """A protective order for a position: a reduce-only stop-loss (or take-profit) market order
        resting at the venue until the last price reaches ``trigger_price``.

        Reduce-only, so it can close the position but never open a new one; the engine cancels it
        when the position it protects is closed (``engine.protective``)."""
        order_type = OrderType.TAKE_PROFIT_MARKET if take_profit else OrderType.STOP_MARKET
        return self._send(instrument_id, side, order_type, quantity, reduce_only=True, trigger_price=trigger_price)

    def _send(
        self,
        instrument_id: InstrumentId,
        side: OrderSide,
        order_type: OrderType,
        quantity: Decimal,
        *,
        price: Decimal | None = None,
        time_in_force: TimeInForce = TimeInForce.GTC,
        post_only: bool = False,
        quote_quantity: Decimal | None = None,
        reduce_only: bool = False,
        trigger_price: Decimal | None = None,
    ) -> Order:
        """One order of this strategy, stamped now and named by the next client order id."""
        command = SubmitOrder(
            ts_ns=self.now_ns(),
            client_order_id=self._engine.order_ids.next(self.strategy_id),
            strategy_id=self.strategy_id,
            instrument_id=instrument_id,
            side=side,
            order_type=order_type,
            quantity=quantity,
            price=price,
            time_in_force=time_in_force,
            post_only=post_only,
            quote_quantity=quote_quantity,
            reduce_only=reduce_only,
            trigger_price=trigger_price,
        )
        return self._engine.submit(command)

    def cancel(self, client_order_id: ClientOrderId) -> None:
        order = self._engine.orders[client_order_id]
        self._engine.cancel(CancelOrder(self.now_ns(), client_order_id, order.instrument_id, self.strategy_id))

    def transfer(self, asset: str, amount: Decimal, from_venue: str, to_venue: str) -> str:
        """Withdraw ``amount`` of ``asset`` from one venue to another; returns the transfer id.

        The source venue charges its withdrawal fee on top of ``amount``. The outcome arrives as
        ``on_withdrawal_sent``, then ``on_deposit_credited`` (or ``on_transfer_failed``). Ids are
        ``<strategy id>-tr<n>``: deterministic, like client order ids.
        """
        transfer_id = self._engine.order_ids.next_transfer(self.strategy_id)
        command = RequestTransfer(self.now_ns(), transfer_id, self.strategy_id, asset, amount, from_venue, to_venue)
        self._engine.request_transfer(command)
        return transfer_id

    def schedule(self, ts_ns: int, callback: Callable[[], None]) -> None:
        """Call ``callback`` at ``ts_ns`` (journaled, so the journal says why the strategy acted then)."""
        self._engine.journal.append(TimerSet(self.now_ns(), self.strategy_id, ts_ns))
        self._engine.schedule(ts_ns, callback)

    def subscribe_orders(self, handler: Callable[[OrderEvent], None]) -> None:
        """Deliver every event of this strategy's orders to ``handler`` too: a helper that trades for
        the strategy (the paired-leg executor) hears of its orders itself. Subscribed before the
        strategy's own handlers (from ``Strategy.attach``), it runs before them."""
        for event_type in ORDER_EVENTS:
            self._engine.bus.subscribe(event_type, handler, key=self.strategy_id)

    def log(self, message: str) -> None:
        self.logs.append((self.now_ns(), message))
