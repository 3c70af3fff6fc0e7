"""The trading ``Venue`` port on Polymarket's CLOB, through py-clob-client.

``PolymarketVenue(name, instruments, markets=..., private_key=..., host=..., ws_url=...)`` trades the
outcome tokens ``instruments`` name (BINARY, ``base`` = the token id, as ``data.readers.polymarket``
makes them); ``markets`` (``PolymarketMarket``) add the condition ids the user channel subscribes to
(none: every market of the account) and the neg-risk flag (also asked of the CLOB at start). The
wallet key comes from the key store (``runtime.live_venues``); the API credentials are created or
derived from it at ``start`` (L1) unless given. py-clob-client is synchronous: its calls run in a
thread pool (``clob``), never on the engine's loop. Orders are signed here (``orders``), with a salt
derived from the client order id, so the ``orderID`` is known and journaled before the send (``ids``).

Outcomes are reported through ``VenueHub.post`` (``outcomes``): accepted, fills (user channel,
``user_stream``, and REST catch-ups after every (re)connect and every matching submit), then the
end. Submits are refused locally (``RejectCode.STREAM_RECONCILING``) while the user channel is not
live and caught up.

Refused here, before anything is sent:

* orders on a **neg-risk** market: pair arbitrage (YES + NO of one market) is refused on them -- their
  tokens belong to a multi-outcome negative-risk event, whose baskets are not a locked payout
  (``analytics.binary_pricing``), and their orders sign for a different exchange contract;
* orders Polymarket cannot express (quote-sized, reduce-only, conditional, unpriced).

Resolution: Polymarket does not pay out by itself: winning tokens are **redeemed on chain** (the
Conditional Tokens contract's ``redeemPositions``, or the NegRiskAdapter's, sent from the wallet
with gas; the CLOB API has no redeem endpoint). ``redeem(condition_id)`` calls the emulator's stand-in
``POST /emulator/redeem`` and reports a ``SettlementPaid`` per token redeemed (1 USDC a winning share,
0 a losing one); a live deployment plugs an on-chain redeemer in with ``redeemer=``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from eth_account import Account
from py_clob_client.clob_types import (  # type: ignore[import-untyped]
    ApiCreds,
    OpenOrderParams,
    TradeParams,
)

from spreadhawk.domain.accounts import AccountSnapshot, OrderReport
from spreadhawk.domain.events import (
    CancelOrder,
    OrderPendingCancel,
    OrderRejected,
    OrderSide,
    OrderStatusUnknown,
    RejectCode,
    SettlementPaid,
    SubmitOrder,
)
from spreadhawk.domain.identifiers import ClientOrderId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.engine.ports import VenueEvent, VenueHub
from spreadhawk.venues.circuit import CircuitState, mode_for
from spreadhawk.venues.polymarket.account import account_snapshot, settlements
from spreadhawk.venues.polymarket.clob import (
    REDEEM_PATH,
    AsyncClob,
    PolymarketApiError,
    PolymarketAuthError,
    PolymarketCircuitOpenError,
)
from spreadhawk.venues.polymarket.ids import IdJournal
from spreadhawk.venues.polymarket.orders import (
    MarketRules,
    OrderMappingError,
    answer_shares,
    order_report,
    order_type_of,
    signed_order,
)
from spreadhawk.venues.polymarket.outcomes import Reports, Tracked, reject_code
from spreadhawk.venues.polymarket.user_stream import UserChannel

if TYPE_CHECKING:
    from spreadhawk.data.readers.polymarket import PolymarketMarket

__all__ = ["PolymarketVenue"]

log = logging.getLogger(__name__)

POLYGON = 137
Redeemer = Callable[[str], Awaitable[Any]]  # condition id -> the redeem answer (see ``redeem``)


class _Quirks:
    """The live node checks a key's permissions through ``quirks.key_permissions``: a wallet key has
    none to read (it can always move its funds), so the operator must accept an unverified key."""

    key_permissions: str | None = None


class PolymarketVenue:
    """Trading ``instruments`` on the Polymarket CLOB at ``host`` (see the module docstring)."""

    def __init__(
        self,
        name: str,
        instruments: Sequence[Instrument],
        *,
        markets: Sequence[PolymarketMarket] = (),
        private_key: str,
        host: str,
        ws_url: str,
        chain_id: int = POLYGON,
        signature_type: int = 0,  # 0 EOA; 1/2: Polymarket proxy / Gnosis safe, with ``funder``
        funder: str | None = None,
        api_creds: tuple[str, str, str] | None = None,  # (key, secret, passphrase); else from L1
        id_journal: Path | None = None,
        redeemer: Redeemer | None = None,
        backoff: tuple[float, float] = (0.05, 2.0),
    ) -> None:
        self.name = name
        self.exchange_id = "polymarket"
        self.chain_id = chain_id
        self._key = private_key
        self.address = str(Account.from_key(private_key).address)
        self.funder = funder or self.address
        self.signature_type = signature_type
        creds = ApiCreds(*api_creds) if api_creds else None
        self.clob = AsyncClob(host.rstrip("/"), chain_id, private_key, creds, signature_type, self.funder)
        strangers = [i.id for i in instruments if i.venue != name or i.kind is not InstrumentKind.BINARY]
        if strangers:
            raise ValueError(f"not BINARY instruments of venue {name!r}: {', '.join(strangers)}")
        self.markets = {m.condition_id: m for m in markets}
        self._instruments = {i.id: i for i in instruments}
        self._by_token = {i.base: i for i in instruments}
        self._market_of = {t.token_id: m for m in markets for t in m.tokens}
        self.quirks = _Quirks()  # what the live node asks of every venue (see ``resume``)
        self._in_flight_at_resume: dict[ClientOrderId, Instrument] = {}
        self.rules: dict[str, MarketRules] = {}  # by token id, read at start
        self.ids = IdJournal(id_journal)
        self._redeemer = redeemer
        self._hub: VenueHub | None = None
        self.reports = Reports(name, self.ids, self._by_token.get, self._post, lambda: self.hub.now_ns())  # noqa: PLW0108 (bound later)
        self.stream = UserChannel(
            name, ws_url, self._subscription, self.reports.on_event, self._catch_up, backoff=backoff
        )
        self._tasks: set[asyncio.Task[None]] = set()
        self._stream_task: asyncio.Task[None] | None = None

    # --------------------------------------------------------------------------- lifecycle
    def bind(self, hub: VenueHub) -> None:
        self._hub = hub

    @property
    def hub(self) -> VenueHub:
        if self._hub is None:
            raise RuntimeError(f"venue {self.name} is not bound to an engine")
        return self._hub

    @property
    def stream_live(self) -> bool:
        return self.stream.live

    async def start(self) -> None:
        """Credentials (L1), each token's rules, the opening account, then the user channel.

        Raises ``PolymarketAuthError`` (one line, naming the cause) when the CLOB refuses the wallet
        or the API credentials."""
        await self.clob.authenticate()
        client = self.clob.client
        for token in self._by_token:
            tick = Decimal(str(await self.clob.call(client.get_tick_size, token)))
            neg_risk = bool(await self.clob.call(client.get_neg_risk, token))
            fee = int(await self.clob.call(client.get_fee_rate_bps, token))
            self.rules[token] = MarketRules(tick, neg_risk, fee)
        self.hub.post(await self.account_snapshot())  # also proves the L2 credentials
        loop = asyncio.get_running_loop()
        self._stream_task = loop.create_task(self.stream.run(), name=f"{self.name}-user")
        for cid in self._in_flight_at_resume:
            order_id = self.ids.order_of.get(cid)
            if order_id is None:  # the id is journaled before the send: without it, nothing was sent
                self.reports.reject(cid, "never sent (no orderID in the id journal)")
            else:
                self._spawn(self._look_up(cid, order_id), f"look-up-{cid}")

    def resume(
        self,
        last_trade_ids: Mapping[str, int],
        in_flight: Mapping[ClientOrderId, Instrument],
        conditional: Mapping[ClientOrderId, Instrument] | None = None,
    ) -> None:
        """Before ``start``: each order in ``in_flight`` (sent, its outcome never journaled) is looked up
        by the ``orderID`` the id journal holds (trade ids need no resume point: fills apply once)."""
        del last_trade_ids, conditional
        for cid, instrument in in_flight.items():
            self.reports.orders[cid] = Tracked(instrument, OrderSide.BUY, Decimal(0), "GTC")  # read at look-up
            self._in_flight_at_resume[cid] = instrument

    def report_modes(self, on_mode: Callable[..., None]) -> None:
        """Before ``start``: who hears the mode the client's breaker puts the venue in (the risk
        engine's ``impose_venue_mode``: OPEN halts it, HALF_OPEN lets only hedges out)."""

        def on_change(state: CircuitState, reason: str) -> None:
            on_mode(self.name, mode_for(state), f"circuit {state}: {reason}")

        self.clob.breaker.on_change = on_change

    async def close(self) -> None:
        tasks = [*self._tasks, *([self._stream_task] if self._stream_task else [])]
        self._stream_task = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.clob.close()

    def _subscription(self) -> dict[str, Any]:
        creds = self.clob.creds
        auth = {"apiKey": creds.api_key, "secret": creds.api_secret, "passphrase": creds.api_passphrase}
        return {"auth": auth, "type": "user", "markets": sorted(self.markets)}

    # --------------------------------------------------------------------------- port: commands
    def submit(self, command: SubmitOrder) -> None:
        cid = command.client_order_id
        instrument = self._instruments.get(command.instrument_id)
        refusal = self._refusal(instrument)
        if refusal is not None:
            self._post(OrderRejected(self.hub.now_ns(), cid, refusal[0], refusal[1]))
            return
        assert instrument is not None  # _refusal says so
        self.reports.orders[cid] = Tracked(instrument, command.side, command.quantity, order_type_of(command))
        self._spawn(self._submit(command, instrument), f"submit-{cid}")

    def _refusal(self, instrument: Instrument | None) -> tuple[str, RejectCode] | None:
        if instrument is None:
            return "instrument not traded here", RejectCode.OTHER
        market = self._market_of.get(instrument.base)
        rules = self.rules.get(instrument.base)
        if (market is not None and market.neg_risk) or (rules is not None and rules.neg_risk):
            where = market.condition_id if market is not None else f"of token {instrument.base}"
            why = (
                f"neg-risk market {where}: refused for pair arbitrage (its tokens belong to a "
                "multi-outcome negative-risk event, whose baskets are not a locked payout)"
            )
            return why, RejectCode.OTHER
        if rules is None or not self.stream_live:
            why = f"user channel {self.stream.state}: submits are refused until it is live and caught up"
            return why, RejectCode.STREAM_RECONCILING
        return None

    async def _submit(self, command: SubmitOrder, instrument: Instrument) -> None:
        cid, tracked = command.client_order_id, self.reports.orders[command.client_order_id]
        try:
            signed, order_id = signed_order(
                command, instrument.base, self.rules[instrument.base], self._key, self.chain_id, self.funder,
                self.signature_type,
            )  # fmt: skip
        except OrderMappingError as exc:  # nothing was sent
            self.reports.reject(cid, str(exc))
            return
        self.ids.record(cid, order_id)  # before the send: a crash after it still finds the order
        try:
            answer = await self.clob.call(self.clob.client.post_order, signed, tracked.order_type)
        except PolymarketCircuitOpenError as exc:  # refused here: nothing was sent
            self.reports.reject(cid, str(exc))
            return
        except PolymarketApiError as exc:
            if isinstance(exc, PolymarketAuthError) or (exc.status is not None and exc.status < 500):
                self.reports.reject(cid, str(exc), reject_code(exc.message))
                return
            self._post(OrderStatusUnknown(self.hub.now_ns(), cid, str(exc)))
            await self._look_up(cid, order_id)
            return
        if not isinstance(answer, dict):  # sent, and something came back that says nothing: look it up
            self._post(OrderStatusUnknown(self.hub.now_ns(), cid, f"unreadable answer {str(answer)[:100]!r}"))
            await self._look_up(cid, order_id)
        elif answer.get("success") is False:
            why = str(answer.get("errorMsg") or "refused")
            self.reports.reject(cid, why, reject_code(why))
        else:
            filled = answer_shares(answer, command.side)
            await self._report(cid, order_id, matched=answer.get("status") == "matched", shares=filled)

    async def _report(self, cid: ClientOrderId, order_id: str, *, matched: bool, shares: Decimal) -> None:
        """Accepted, the fills so far, and (FOK/FAK) the end of what did not fill once the ``shares``
        the answer says it filled are reported."""
        tracked = self.reports.orders[cid]
        self.reports.accept(cid, order_id)
        if matched:
            await self._catch_up_trades(tracked.instrument.base)
        if tracked.order_type in ("FOK", "FAK"):
            self.reports.expire_when_filled(cid, shares)
        elif cid in self.reports.cancel_after:
            self.reports.cancel_after.discard(cid)
            await self._cancel(cid)

    async def _look_up(self, cid: ClientOrderId, order_id: str) -> None:
        record = await self.clob.call(self.clob.client.get_order, order_id)
        if not record:
            self.reports.reject(cid, "not found at the venue after a lost answer: it never arrived")
            return
        tracked = self.reports.orders[cid]  # a resumed order is known by its record only
        tracked.side = OrderSide.BUY if record.get("side") == "BUY" else OrderSide.SELL
        tracked.quantity = Decimal(str(record["original_size"]))
        tracked.order_type = str(record.get("order_type", tracked.order_type))
        matched = Decimal(str(record.get("size_matched", 0)))
        await self._report(cid, order_id, matched=matched > 0, shares=matched)
        if record.get("status") == "CANCELED":
            self.reports.end_canceled(cid, "canceled at the venue")

    def cancel(self, command: CancelOrder) -> None:
        cid = command.client_order_id
        tracked = self.reports.orders.get(cid)
        instrument = self._instruments.get(command.instrument_id)
        if tracked is None and cid in self.ids.order_of and instrument is not None:  # sent by an earlier run
            tracked = self.reports.adopt(cid, instrument, OrderSide.BUY, Decimal("Infinity"))
        if tracked is None:
            self.reports.cancel_refused(cid, "not an order of this venue")
            return
        if not tracked.accepted:
            self.reports.cancel_after.add(cid)  # sent once the submit's outcome is reported
            return
        self._post(OrderPendingCancel(self.hub.now_ns(), cid))
        self._spawn(self._cancel(cid), f"cancel-{cid}")

    async def _cancel(self, cid: ClientOrderId) -> None:
        order_id = self.ids.order_of[cid]
        try:
            answer = await self.clob.call(self.clob.client.cancel, order_id)
        except PolymarketApiError as exc:
            self.reports.cancel_refused(cid, str(exc))
            return
        if order_id in answer.get("canceled", []):
            self.reports.end_canceled(cid, "canceled")
            return
        reason = str(answer.get("not_canceled", {}).get(order_id, "not canceled"))
        record = await self.clob.call(self.clob.client.get_order, order_id)
        if record and record.get("status") == "CANCELED":
            self.reports.end_canceled(cid, "canceled at the venue")
        else:
            self.reports.cancel_refused(cid, reason)

    # --------------------------------------------------------------------------- catch-up
    async def _catch_up(self) -> None:
        """After every (re)connect: trades missed while down, then orders that ended meanwhile."""
        for token in self._by_token:
            await self._catch_up_trades(token)
        open_ids = {row["id"] for row in await self.clob.call(self.clob.client.get_orders, OpenOrderParams())}
        for cid, tracked in list(self.reports.orders.items()):
            order_id = self.ids.order_of.get(cid)
            if tracked.accepted and not tracked.ended and order_id is not None and order_id not in open_ids:
                record = await self.clob.call(self.clob.client.get_order, order_id)
                if record and record.get("status") == "CANCELED":
                    self.reports.end_canceled(cid, "canceled at the venue")

    async def _catch_up_trades(self, token: str) -> None:
        # from a second before the newest match seen (trades of that second again: applied once, by id)
        last = self.reports.last_match_s.get(token)
        params = TradeParams(asset_id=token, after=last - 1 if last else None)
        for trade in await self.clob.call(self.clob.client.get_trades, params):
            try:
                self.reports.on_trade(trade)
            except ValueError as exc:
                log.error("venue %s: trade skipped in the catch-up: %s", self.name, exc)

    # --------------------------------------------------------------------------- port: look-ups
    async def query_order(self, client_order_id: ClientOrderId) -> OrderReport | None:
        order_id = self.ids.order_of.get(client_order_id)
        if order_id is None:
            return None  # never sent: the id is journaled before every send
        record = await self.clob.call(self.clob.client.get_order, order_id)
        if not record:
            return None
        instrument = self._by_token[str(record["asset_id"])]
        return order_report(record, client_order_id, instrument.id, self.hub.now_ns())

    async def open_orders(self) -> list[OrderReport]:
        reports = []
        for record in await self.clob.call(self.clob.client.get_orders, OpenOrderParams()):
            instrument = self._by_token.get(str(record.get("asset_id")))
            if instrument is None:
                continue  # another market's order: not this venue's business
            cid = self.ids.client_of.get(str(record["id"]), ClientOrderId(f"polymarket-{record['id']}"))
            report = order_report(record, cid, instrument.id, self.hub.now_ns())
            if cid in self.ids.order_of:  # ours, maybe of an earlier run: its fills and end are reported
                self.reports.adopt(cid, instrument, report.side, report.quantity)
            reports.append(report)
        return sorted(reports, key=lambda r: r.client_order_id)

    async def account_snapshot(self) -> AccountSnapshot:
        return await account_snapshot(self.clob, self.name, list(self._by_token), self.hub.now_ns())

    # --------------------------------------------------------------------------- resolution
    async def redeem(self, condition_id: str) -> list[SettlementPaid]:
        """Redeem our tokens of a resolved market; each token redeemed is reported as ``SettlementPaid``."""
        if self._redeemer is not None:
            answer = await self._redeemer(condition_id)
        else:
            answer = await self.clob.post_l2(REDEEM_PATH, {"condition_id": condition_id})
        paid = settlements(answer, self._by_token, self.hub.now_ns())
        for event in paid:
            self._post(event)
        return paid

    # --------------------------------------------------------------------------- helpers
    def _post(self, event: VenueEvent) -> None:
        self.hub.post(event)

    def _spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        task = asyncio.get_running_loop().create_task(work, name=f"{self.name}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._finished)

    @property
    def busy(self) -> bool:
        """Requests (submits, cancels, look-ups) are in flight."""
        return bool(self._tasks)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("venue %s: task %s failed: %s", self.name, task.get_name(), task.exception())
