"""The Polymarket trading emulator's state: accounts, our orders, matching, trades, resolution.

``PolymarketTradingExchange`` is pure state (no I/O): ``trading_api`` serves it over HTTP and
``user_channel`` pushes its events. Market data comes in through ``on_market_message`` in Polymarket's
wire format (see ``trading_book``).

Matching (conservative, so a backtest through it is never flattered):

* a marketable order takes the recorded levels it crosses, best first, at each level's price,
  partially when the book is thin; GTC/GTD rest the remainder, FOK fills completely or is refused
  (nothing changes), FAK fills what it can and cancels the rest (refused when nothing crosses);
* a resting order fills only when the market *trades through* its price (a ``last_trade_price``
  strictly below a resting buy, strictly above a resting sell), at its own price, for at most the
  printed size; touching the price or a book moving through it does not fill it (queue position is
  unknown);
* the taker pays ``polymarket.fees.taker_fee`` at the market's rate; makers pay nothing.

Not emulated: ``delayed`` matching (sports markets), GTD expiry, the matching of complementary
tokens (a YES buy against a NO buy) and trades failing on chain after ``MATCHED``.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from spreadhawk.venues.polymarket.eip712 import SignatureError, order_hash, order_signer
from spreadhawk.venues.polymarket.fees import taker_fee
from spreadhawk.venues.polymarket_emulator.trading_auth import ApiCredentials, Authenticator
from spreadhawk.venues.polymarket_emulator.trading_book import (
    MarketMessageError,
    Markets,
    TradePrint,
    TradingMarket,
)
from spreadhawk.venues.polymarket_emulator.trading_formats import (
    EmulatedOrder,
    Fill,
    order_event,
    trade_wire,
)

__all__ = ["OrderRefusedError", "PolymarketTradingExchange"]

log = logging.getLogger(__name__)

MICRO = Decimal(1_000_000)  # USDC and outcome tokens both have 6 decimals on chain
ORDER_TYPES = ("GTC", "GTD", "FOK", "FAK")
UserListener = Callable[[str, dict[str, Any]], None]  # (API key, user-channel event)


class OrderRefusedError(Exception):
    """An order Polymarket would refuse: HTTP 400 with the message as ``error``."""


def _wall_ns() -> int:
    return time.time_ns()  # noqa: TID251 -- the emulator stands in for a remote server's own clock


class PolymarketTradingExchange:
    """One emulated CLOB: the markets, every account's USDC and tokens, our orders and trades."""

    def __init__(self, *, chain_id: int = 137, clock: Callable[[], int] = _wall_ns) -> None:
        self.chain_id = chain_id
        self.clock = clock
        self.auth = Authenticator(chain_id)
        self.markets = Markets()
        self.usdc: dict[str, Decimal] = {}  # by wallet address (lower case)
        self.tokens: dict[str, dict[str, Decimal]] = {}  # address -> token id -> shares
        self.orders: dict[str, EmulatedOrder] = {}
        self.trades: list[Fill] = []
        self.user_listeners: list[UserListener] = []
        self._sequence = 0
        # A fault: trades are known to the matching engine before the trade feeds report them (the
        # answer says "matched", /data/trades and the user channel do not yet). ``release_trades`` ends it.
        self.hold_trades = False
        self._held: list[Fill] = []

    # --------------------------------------------------------------------------- set-up
    def add_market(self, market: TradingMarket) -> None:
        self.markets.add(market)

    def add_clob_market(self, payload: dict[str, Any], fee_rate_bps: int = 0) -> TradingMarket:
        """A market from its CLOB ``/markets`` record (``condition_id``, ``tokens``, tick, min size)."""
        market = TradingMarket(
            condition_id=str(payload["condition_id"]),
            outcomes={str(t["token_id"]): str(t["outcome"]) for t in payload["tokens"]},
            tick_size=Decimal(str(payload["minimum_tick_size"])),
            min_order_size=Decimal(str(payload["minimum_order_size"])),
            neg_risk=bool(payload.get("neg_risk", False)),
            fee_rate_bps=fee_rate_bps,
        )
        self.add_market(market)
        return market

    def fund(self, address: str, usdc: Decimal) -> None:
        """Deposit USDC to a wallet (the emulator's faucet)."""
        self.usdc[address.lower()] = self.usdc.get(address.lower(), Decimal(0)) + usdc

    def balance(self, address: str, token: str | None = None) -> Decimal:
        """USDC held (``token`` None) or the shares of ``token`` held by ``address``."""
        if token is None:
            return self.usdc.get(address.lower(), Decimal(0))
        return self.tokens.get(address.lower(), {}).get(token, Decimal(0))

    # --------------------------------------------------------------------------- market data
    def on_market_message(self, message: dict[str, Any]) -> None:
        """Apply one market-channel message; one that cannot be read is logged and changes nothing."""
        try:
            result = self.markets.apply(message)
        except MarketMessageError as exc:
            log.warning("polymarket emulator: market message skipped: %s", exc)
            return
        if isinstance(result, TradePrint):
            self._trade_through(result)
        elif isinstance(result, TradingMarket):
            for order in self._live(lambda o: o.market == result.condition_id):
                self._cancel(order, "market resolved")

    # --------------------------------------------------------------------------- orders
    def place(self, creds: ApiCredentials, body: Any) -> dict[str, Any]:
        """``POST /order``: check, match, rest; the answer as Polymarket gives it."""
        if not isinstance(body, dict) or not isinstance(body.get("order"), dict):
            raise OrderRefusedError("Invalid order payload")
        wire, order_type = body["order"], str(body.get("orderType", "GTC"))
        if body.get("owner") != creds.api_key:
            raise OrderRefusedError("the order owner has to be the owner of the API KEY")
        if order_type not in ORDER_TYPES:
            raise OrderRefusedError(f"invalid order type {order_type!r}")
        market = self.markets.by_token.get(str(wire.get("tokenId")))
        if market is None:
            raise OrderRefusedError(f"market not found for token {wire.get('tokenId')!r}")
        order = self._read_order(creds, wire, market, order_type)
        if market.resolved:
            raise OrderRefusedError(f"order {order.id} is invalid. The market is resolved and closed.")
        if order.id in self.orders:
            raise OrderRefusedError(f"order {order.id} is invalid. Duplicated.")
        self._check_rules(order, market, wire, bool(body.get("postOnly")))
        crossing = self._crossing(order)
        fillable = sum((size for _, size in crossing), Decimal(0))
        if order_type == "FOK" and fillable < order.original_size:
            raise OrderRefusedError("order couldn't be fully filled. FOK orders are fully filled or killed.")
        if order_type == "FAK" and fillable == 0:
            raise OrderRefusedError(
                "no orders found to match with FAK order. "
                "FAK orders are partially filled or killed if no match is found."
            )
        self._check_balance(order, market, crossing)
        return self._execute(order, market, crossing)

    def _read_order(
        self, creds: ApiCredentials, wire: dict[str, Any], market: TradingMarket, kind: str
    ) -> EmulatedOrder:
        try:
            signer = order_signer(wire, self.chain_id, market.neg_risk)
            order_id = order_hash(wire, self.chain_id, market.neg_risk)
        except SignatureError as exc:
            raise OrderRefusedError(f"Invalid order payload: {exc}") from None
        if signer.lower() != str(wire.get("signer", "")).lower() or signer.lower() != creds.address.lower():
            raise OrderRefusedError("invalid signature")
        maker_amount, taker_amount = Decimal(wire["makerAmount"]), Decimal(wire["takerAmount"])
        if maker_amount <= 0 or taker_amount <= 0:
            raise OrderRefusedError("invalid amounts: makerAmount and takerAmount must be positive")
        side = str(wire["side"])  # BUY pays USDC (maker amount) for shares (taker amount)
        usdc, shares = (maker_amount, taker_amount) if side == "BUY" else (taker_amount, maker_amount)
        return EmulatedOrder(
            id=order_id,
            owner=creds.api_key,
            maker_address=str(wire["maker"]),
            market=market.condition_id,
            asset_id=str(wire["tokenId"]),
            outcome=market.outcomes[str(wire["tokenId"])],
            side=side,
            price=(usdc / shares).normalize(),
            original_size=shares / MICRO,
            order_type=kind,
            created_ns=self.clock(),
            expiration=int(wire.get("expiration", 0)),
        )

    def _check_rules(self, order: EmulatedOrder, market: TradingMarket, wire: dict[str, Any], post_only: bool) -> None:
        tick = market.tick_size
        if order.price % tick != 0:
            raise OrderRefusedError(
                f"order {order.id} is invalid. Price ({order.price}) breaks minimum tick size rule: {tick}"
            )
        if not tick <= order.price <= 1 - tick:
            raise OrderRefusedError(f"invalid price ({order.price}), min: {tick} - max: {1 - tick}")
        if order.order_type in ("GTC", "GTD") and order.original_size < market.min_order_size:
            raise OrderRefusedError(
                f"order {order.id} is invalid. "
                f"Size ({order.original_size}) lower than the minimum: {market.min_order_size}"
            )
        signed_rate = int(wire.get("feeRateBps", 0))
        if market.fee_rate_bps and signed_rate != market.fee_rate_bps:
            raise OrderRefusedError(
                f"invalid fee rate ({signed_rate}), current market's taker fee: {market.fee_rate_bps}"
            )
        if post_only and self._crossing(order):
            raise OrderRefusedError("invalid post-only order: order crosses book")

    def _crossing(self, order: EmulatedOrder) -> list[tuple[Decimal, Decimal]]:
        """What the order would take, level by level (price, size), best first."""
        taken: list[tuple[Decimal, Decimal]] = []
        left = order.original_size
        for price, size in self.markets.books[order.asset_id].levels(order.side):
            crosses = price <= order.price if order.side == "BUY" else price >= order.price
            if not crosses or left <= 0:
                break
            taken.append((price, min(size, left)))
            left -= taken[-1][1]
        return taken

    def _reserved(self, address: str) -> tuple[Decimal, dict[str, Decimal]]:
        """USDC and shares held by the open orders of ``address``."""
        usdc, shares = Decimal(0), dict[str, Decimal]()
        for order in self._live(lambda o: o.maker_address.lower() == address.lower()):
            if order.side == "BUY":
                usdc += order.remaining * order.price
            else:
                shares[order.asset_id] = shares.get(order.asset_id, Decimal(0)) + order.remaining
        return usdc, shares

    def _check_balance(
        self, order: EmulatedOrder, market: TradingMarket, crossing: list[tuple[Decimal, Decimal]]
    ) -> None:
        address = order.maker_address
        usdc_held, shares_held = self._reserved(address)
        taken = sum((s for _, s in crossing), Decimal(0))
        if order.side == "BUY":
            cost = sum((p * s + taker_fee(s, p, market.fee_rate_bps) for p, s in crossing), Decimal(0))
            if order.order_type in ("GTC", "GTD"):
                cost += (order.original_size - taken) * order.price
            enough = self.balance(address) - usdc_held >= cost
        else:
            enough = self.balance(address, order.asset_id) - shares_held.get(order.asset_id, Decimal(0)) >= (
                order.original_size
            )
        if not enough:
            raise OrderRefusedError("not enough balance / allowance")

    def _execute(
        self, order: EmulatedOrder, market: TradingMarket, crossing: list[tuple[Decimal, Decimal]]
    ) -> dict[str, Any]:
        self.orders[order.id] = order
        now = self.clock()
        fills = [self._fill(order, p, s, market.fee_rate_bps, "TAKER", self._external_id(), now) for p, s in crossing]
        for price, size in crossing:
            self.markets.books[order.asset_id].take(order.side, price, size)
        usdc = sum((f.price * f.size for f in fills), Decimal(0))
        shares = sum((f.size for f in fills), Decimal(0))
        if order.remaining == 0:
            order.status = "MATCHED"
        elif order.order_type in ("FOK", "FAK"):
            order.status = "CANCELED"  # the unfilled rest of a FAK is canceled at once
        else:
            self.notify(order.owner, order_event(order, "PLACEMENT", now))
        for fill in fills:
            self._publish_trade(fill)
        making, taking = (usdc, shares) if order.side == "BUY" else (shares, usdc)
        return {
            "success": True,
            "errorMsg": "",
            "orderID": order.id,
            "transactionsHashes": [trade_wire(f, "MATCHED", False)["transaction_hash"] for f in fills],
            "status": "matched" if fills else "live",
            "makingAmount": str(making) if fills else "",
            "takingAmount": str(taking) if fills else "",
        }

    def _fill(
        self, order: EmulatedOrder, price: Decimal, size: Decimal, rate: int, role: str, other: str, now: int
    ) -> Fill:
        """Book one match of ``order``: balances, the order's progress, the trade record."""
        address = order.maker_address.lower()
        fee = taker_fee(size, price, rate)  # makers match at rate 0: Polymarket charges takers only
        tokens = self.tokens.setdefault(address, {})
        sign = 1 if order.side == "BUY" else -1
        self.usdc[address] = self.balance(address) - sign * price * size - fee
        tokens[order.asset_id] = tokens.get(order.asset_id, Decimal(0)) + sign * size
        order.size_matched += size
        self._sequence += 1
        trade_id = str(uuid.uuid5(uuid.NAMESPACE_OID, f"spreadhawk-polymarket-trade-{self._sequence}"))
        order.associate_trades.append(trade_id)
        fill = Fill(trade_id, order, size, price, rate, role, other, now)
        self.trades.append(fill)
        return fill

    def _external_id(self) -> str:
        self._sequence += 1
        return "0x" + uuid.uuid5(uuid.NAMESPACE_OID, f"recorded-liquidity-{self._sequence}").hex.ljust(64, "0")

    def _trade_through(self, trade: TradePrint) -> None:
        left = trade.size
        # price priority (the best bid or offer first), then time: the print reaches those first
        resting = self._live(lambda o: o.asset_id == trade.asset_id)
        resting.sort(key=lambda o: (-o.price if o.side == "BUY" else o.price, o.created_ns))
        for order in resting:
            through = trade.price < order.price if order.side == "BUY" else trade.price > order.price
            if not through or left <= 0:
                continue
            size = min(order.remaining, left)
            left -= size
            fill = self._fill(order, order.price, size, 0, "MAKER", self._external_id(), self.clock())
            if order.remaining == 0:
                order.status = "MATCHED"
            self._publish_trade(fill)
            self.notify(order.owner, order_event(order, "UPDATE", fill.ts_ns))

    def release_trades(self) -> int:
        """End the ``hold_trades`` fault: the held trades are listed and pushed; how many."""
        held, self._held, self.hold_trades = self._held, [], False
        for fill in held:
            self._publish_trade(fill)
        return len(held)

    def _publish_trade(self, fill: Fill) -> None:
        if self.hold_trades:
            self._held.append(fill)
            return
        for status in ("MATCHED", "MINED", "CONFIRMED"):
            self.notify(fill.order.owner, trade_wire(fill, status, True))

    # --------------------------------------------------------------------------- cancels, look-ups
    def cancel(self, creds: ApiCredentials, order_ids: list[str]) -> dict[str, Any]:
        canceled, not_canceled = [], {}
        for order_id in order_ids:
            order = self.orders.get(order_id)
            if order is None or order.owner != creds.api_key:
                not_canceled[order_id] = "order not found"
            elif order.status != "LIVE":
                not_canceled[order_id] = "order can't be found - already canceled or matched"
            else:
                self._cancel(order, "canceled by the user")
                canceled.append(order_id)
        return {"canceled": canceled, "not_canceled": not_canceled}

    def cancel_all(self, creds: ApiCredentials) -> dict[str, Any]:
        return self.cancel(creds, [o.id for o in self._live(lambda o: o.owner == creds.api_key)])

    def _cancel(self, order: EmulatedOrder, why: str) -> None:
        order.status = "CANCELED"
        log.debug("polymarket emulator: order %s %s", order.id, why)
        self.notify(order.owner, order_event(order, "CANCELLATION", self.clock()))

    def _live(self, keep: Callable[[EmulatedOrder], bool]) -> list[EmulatedOrder]:
        return [o for o in self.orders.values() if o.status == "LIVE" and keep(o)]

    def open_orders(self, creds: ApiCredentials, filters: dict[str, str]) -> list[EmulatedOrder]:
        return self._live(lambda o: o.owner == creds.api_key and _matches(o, filters))

    def user_trades(self, creds: ApiCredentials, filters: dict[str, str]) -> list[Fill]:
        after, before = int(filters.get("after") or 0), int(filters.get("before") or 2**62)
        return [
            f
            for f in self.trades
            if f.order.owner == creds.api_key
            and f not in self._held
            and _matches(f.order, {k: v for k, v in filters.items() if k != "id"})
            and filters.get("id", f.trade_id) == f.trade_id
            and after <= f.ts_ns // 1_000_000_000 <= before
        ]

    # --------------------------------------------------------------------------- resolution
    def redeem(self, creds: ApiCredentials, condition_id: str) -> dict[str, Any]:
        """The emulator's stand-in for redeeming positions through the CTF contract on chain: every
        share of the winning token pays 1 USDC, the losing token's shares are burnt for nothing."""
        market = self.markets.by_condition.get(condition_id)
        if market is None:
            raise OrderRefusedError(f"market {condition_id!r} not found")
        if market.winner is None:
            raise OrderRefusedError(f"market {condition_id} is not resolved: nothing to redeem")
        address = creds.address.lower()
        held = self.tokens.setdefault(address, {})
        redeemed = []
        for token in market.outcomes:
            size = held.pop(token, Decimal(0))
            payout = size if token == market.winner else Decimal(0)
            if size:
                redeemed.append({"asset_id": token, "size": str(size), "payout": str(payout)})
        total = sum((Decimal(r["payout"]) for r in redeemed), Decimal(0))
        self.usdc[address] = self.balance(address) + total
        return {
            "condition_id": condition_id,
            "winning_asset_id": market.winner,
            "payout": str(total),
            "redeemed": redeemed,
        }

    def notify(self, api_key: str, event: dict[str, Any]) -> None:
        """Push a user-channel event to ``api_key``'s subscribers (tests push malformed ones too)."""
        for listener in list(self.user_listeners):
            listener(api_key, event)


def _matches(order: EmulatedOrder, filters: dict[str, str]) -> bool:
    return (
        filters.get("id", order.id) == order.id
        and filters.get("market", order.market) == order.market
        and filters.get("asset_id", order.asset_id) == order.asset_id
    )
