"""Commands (imperative) and events (past tense). Immutable; exact Decimals for quantities and money.

Every message carries ``ts_ns``: when it happened according to the injected clock (or, for venue
events, the time the venue says it happened).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def sign(self) -> int:
        return 1 if self is OrderSide.BUY else -1


class OrderType(StrEnum):
    MARKET = "market"
    LIMIT = "limit"
    # Conditional (protective) orders: they rest off the book until the last traded price reaches
    # ``trigger_price``, then go in as a market order (Binance USD-M STOP_MARKET / TAKE_PROFIT_MARKET).
    STOP_MARKET = "stop_market"  # sell: last <= trigger; buy: last >= trigger (a stop-loss)
    TAKE_PROFIT_MARKET = "take_profit_market"  # sell: last >= trigger; buy: last <= trigger

    @property
    def is_conditional(self) -> bool:
        return self in (OrderType.STOP_MARKET, OrderType.TAKE_PROFIT_MARKET)

    def triggered(self, is_buy: bool, last: Decimal, trigger: Decimal) -> bool:
        """Whether a conditional order of this type fires when the market last traded at ``last``."""
        rising = is_buy if self is OrderType.STOP_MARKET else not is_buy
        return last >= trigger if rising else last <= trigger


class TimeInForce(StrEnum):
    GTC = "gtc"  # rests until filled or canceled
    IOC = "ioc"  # fills what it can at once, the rest is canceled
    FOK = "fok"  # fills completely at once or not at all


class Liquidity(StrEnum):
    MAKER = "maker"
    TAKER = "taker"


class RejectCode(StrEnum):
    """What kind of refusal a venue's ``OrderRejected`` is. The ``reason`` text is for people; code
    compares this, so rewording a message never changes what a strategy does."""

    POST_ONLY = "post_only"  # a post-only order would have taken liquidity (Binance -2010)
    INSUFFICIENT_BALANCE = "insufficient_balance"  # the free balance does not cover the order
    BOOK_UNAVAILABLE = "book_unavailable"  # the venue's book is invalid: it cannot match
    SETTLED = "settled"  # the instrument has settled and no longer trades
    BELOW_ONE_LOT = "below_one_lot"  # a quote-sized order buys less than one lot
    REDUCE_ONLY = "reduce_only"  # a reduce-only order would grow the position or reverse it (-2022)
    # refused locally: the venue's user stream is down or its REST catch-up is running, so the
    # node's view of the account may be behind (NautilusTrader's STREAM_RECONCILING)
    STREAM_RECONCILING = "stream_reconciling"
    OTHER = "other"  # anything else, or a venue that does not say


# --------------------------------------------------------------------------- commands
@dataclass(frozen=True, slots=True)
class SubmitOrder:
    ts_ns: int
    client_order_id: ClientOrderId
    strategy_id: str
    instrument_id: InstrumentId
    side: OrderSide
    order_type: OrderType
    quantity: Decimal  # base quantity (contracts for derivatives); 0 when quote_quantity is used
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    post_only: bool = False
    # Market buy spending this much quote currency, fee included (Binance ``quoteOrderQty``).
    quote_quantity: Decimal | None = None
    reduce_only: bool = False
    trigger_price: Decimal | None = None  # conditional orders only (``OrderType.is_conditional``)


@dataclass(frozen=True, slots=True)
class CancelOrder:
    ts_ns: int
    client_order_id: ClientOrderId
    instrument_id: InstrumentId
    strategy_id: str


Command = SubmitOrder | CancelOrder


# --------------------------------------------------------------------------- order events
@dataclass(frozen=True, slots=True)
class OrderDenied:
    """Refused before leaving the process (risk or exchange-rule check)."""

    ts_ns: int
    client_order_id: ClientOrderId
    reason: str


@dataclass(frozen=True, slots=True)
class OrderSubmitted:
    ts_ns: int
    client_order_id: ClientOrderId


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    ts_ns: int
    client_order_id: ClientOrderId
    venue_order_id: str


@dataclass(frozen=True, slots=True)
class OrderRejected:
    ts_ns: int
    client_order_id: ClientOrderId
    reason: str
    code: RejectCode = RejectCode.OTHER


@dataclass(frozen=True, slots=True)
class OrderFilled:
    ts_ns: int
    client_order_id: ClientOrderId
    venue_order_id: str
    trade_id: str  # unique per venue: a fill is applied once however often it is reported
    instrument_id: InstrumentId
    side: OrderSide
    quantity: Decimal
    price: Decimal
    fee: Decimal  # positive = paid, in ``fee_currency``
    fee_currency: str
    liquidity: Liquidity
    # What remains to fill after this fill, as the venue reports it. Needed for quote-sized market
    # orders, whose base quantity is known only at the venue; ``None`` = derive from the order.
    leaves_quantity: Decimal | None = None


@dataclass(frozen=True, slots=True)
class OrderPendingCancel:
    ts_ns: int
    client_order_id: ClientOrderId


@dataclass(frozen=True, slots=True)
class OrderCanceled:
    ts_ns: int
    client_order_id: ClientOrderId
    reason: str = ""


@dataclass(frozen=True, slots=True)
class OrderCancelRejected:
    ts_ns: int
    client_order_id: ClientOrderId
    reason: str


@dataclass(frozen=True, slots=True)
class OrderExpired:
    ts_ns: int
    client_order_id: ClientOrderId


@dataclass(frozen=True, slots=True)
class OrderStatusUnknown:
    """The venue's answer was lost (timeout, 5xx): the order may or may not exist.

    Resolved by a later report or by reconciliation, never by re-sending.
    """

    ts_ns: int
    client_order_id: ClientOrderId
    reason: str


OrderEvent = (
    OrderDenied
    | OrderSubmitted
    | OrderAccepted
    | OrderRejected
    | OrderFilled
    | OrderPendingCancel
    | OrderCanceled
    | OrderCancelRejected
    | OrderExpired
    | OrderStatusUnknown
)


# --------------------------------------------------------------------------- account events
class PostingReason(StrEnum):
    DEPOSIT = "deposit"  # initial capital or an external deposit
    TRADE = "trade"  # the asset legs of a spot fill, or realised PnL of a derivative fill
    FEE = "fee"
    FUNDING = "funding"
    SETTLEMENT = "settlement"  # a binary outcome paying out at expiry
    TRANSFER_OUT = "transfer_out"  # an asset leaving a venue for another venue (in transit until credited)
    TRANSFER_IN = "transfer_in"  # the same asset credited at its destination venue
    WITHDRAWAL_FEE = "withdrawal_fee"  # what the source venue charged for sending it


@dataclass(frozen=True, slots=True)
class BalancePosted:
    """One change of one balance; the ledger is the sum of its postings."""

    ts_ns: int
    venue: str
    asset: str
    amount: Decimal
    reason: PostingReason
    reference: str  # trade id, funding time, ...


@dataclass(frozen=True, slots=True)
class FundingPaid:
    ts_ns: int
    instrument_id: InstrumentId
    position: Decimal  # signed contracts held at the funding time
    mark: Decimal
    rate: Decimal
    amount: Decimal  # signed: positive received, negative paid
    currency: str
    funding_ts_ns: int  # the funding time paid for (a record may arrive after it)


@dataclass(frozen=True, slots=True)
class SettlementPaid:
    """A settled instrument paid out on the units held at the venue."""

    ts_ns: int
    instrument_id: InstrumentId
    quantity: Decimal  # units held (signed)
    price: Decimal  # settlement price
    amount: Decimal  # quantity * price * contract size, in ``currency``
    currency: str


@dataclass(frozen=True, slots=True)
class PositionChanged:
    ts_ns: int
    instrument_id: InstrumentId
    quantity: Decimal  # signed
    avg_price: Decimal
    realized_pnl: Decimal


# --------------------------------------------------------------------------- transfers
@dataclass(frozen=True, slots=True)
class RequestTransfer:
    """Move ``amount`` of ``asset`` from one venue to another (a withdrawal, then a deposit).

    ``amount`` is what leaves the source's balance for the destination; the source venue's
    withdrawal fee is charged on top of it, in the same asset.
    """

    ts_ns: int
    transfer_id: str  # unique and deterministic (``<strategy id>-tr<n>``): a retry never moves money twice
    strategy_id: str
    asset: str
    amount: Decimal
    from_venue: str
    to_venue: str


@dataclass(frozen=True, slots=True)
class WithdrawalSent:
    """The source venue debited ``amount + fee`` and sent ``amount`` on its way."""

    ts_ns: int
    transfer_id: str
    asset: str
    amount: Decimal
    fee: Decimal  # in ``asset``
    from_venue: str
    to_venue: str
    arrives_ns: int  # when the destination will credit it (the route's delay)


@dataclass(frozen=True, slots=True)
class DepositCredited:
    """The destination venue credited the transferred amount."""

    ts_ns: int
    transfer_id: str
    asset: str
    amount: Decimal
    to_venue: str


@dataclass(frozen=True, slots=True)
class TransferFailed:
    """Refused (no route, not enough free balance, ...): nothing left the source venue."""

    ts_ns: int
    transfer_id: str
    reason: str


TransferEvent = WithdrawalSent | DepositCredited | TransferFailed
