"""When to move inventory between venues: a small rule any cross-venue strategy can reuse.

A cross-venue strategy that keeps buying on one venue and selling on the other ends with the base
piled up where it buys and the quote where it sells; one direction is then blocked. Moving the
asset back costs a withdrawal fee and takes the route's delay. The rule moves it only when that
pays, judged on the strategy's own recent opportunity flow:

* the strategy reports each opportunity it sees, per direction, sized as if inventory were no
  limit (``observe``: net edge in quote, base quantity);
* from the last ``lookback_minutes`` it estimates the direction's edge per hour and its edge per
  unit of base;
* when the venue a direction needs an asset on holds less than ``low_water`` full-sized trades of
  it (``Need``), the rule proposes moving enough to leave ``target_split`` of the asset's total
  (on both venues) there;
* the expected benefit is ``min(edge per hour × horizon, edge per unit × units the move enables)``
  (the horizon is the route's delay unless configured: the edge the direction would earn over the
  transfer time; and no more than the moved units can earn once each, as in a one-way market);
* it sends the transfer only if benefit ≥ ``min_benefit_to_cost`` × the withdrawal fee valued in
  quote (and is positive), and only one transfer per asset at a time.

The flow counts every sighting: an opportunity still standing at the next decision (the venue
republished the same prices) counts again, as the simulated venue would let a taker take it again.
Over a long horizon that overstates a brief dislocation's worth; the per-unit bound does not
depend on it. The estimate assumes the recent flow persists: where dislocations come in both
directions at random (the embedded market), a blocked direction often does not return before the
transfer lands, and rebalancing then costs its fees for nothing (see the example's figures).

Each asset is judged on its own: a direction short of both base (on the sell venue) and quote (on
the buy venue) gets two separate decisions. The rule decides; the strategy sends
(``ctx.transfer``), then tells the rule the transfer id (``record``) and every transfer event
(``on_transfer_event``); ``stats`` reports requests, fees, declines and time in transit.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from typing import Any

from pydantic import Field, model_validator

from spreadhawk.domain.events import DepositCredited, TransferEvent, TransferFailed, WithdrawalSent
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.transfers import WithdrawalTerms
from spreadhawk.engine.context import StrategyContext
from spreadhawk.strategy.base import StrategyConfig

ZERO = Decimal(0)
NS_PER_HOUR = 3_600_000_000_000
NS_PER_MINUTE = 60_000_000_000


class RebalanceSettings(StrategyConfig):
    """``rebalance = { enabled = true, min_benefit_to_cost = 3 }`` in a strategy's params (or ``rebalance = true``)."""

    enabled: bool = False
    target_split: float = Field(default=0.5, gt=0, lt=1, description="share of the asset's total to leave where needed")
    low_water: float = Field(default=1.0, ge=0, description="act below this many full-sized trades on the short venue")
    min_benefit_to_cost: float = Field(default=2.0, gt=0, description="expected edge over the fee, at least")
    lookback_minutes: float = Field(default=60.0, gt=0, description="opportunity flow window")
    horizon_minutes: float | None = Field(default=None, gt=0, description="benefit horizon; default: the delay")
    episode_gap_ms: float = Field(
        default=1_000, ge=0, description="a direction's sightings within this of the first are one opportunity"
    )

    @model_validator(mode="before")
    @classmethod
    def _switch(cls, value: Any) -> Any:
        return {"enabled": value} if isinstance(value, bool) else value


@dataclass(frozen=True, slots=True)
class Need:
    """An asset a direction needs on ``short_venue``, and where it piled up instead."""

    direction: str  # the direction this asset would unblock, as the strategy names it ("A->B")
    asset: str
    short_venue: str
    short_balance: Decimal
    long_venue: str
    long_balance: Decimal
    per_trade: Decimal  # how much of the asset one full-sized trade of the direction uses
    quote_value: Decimal  # one unit of the asset, in quote (1 for the quote itself)
    base_per_unit: Decimal  # units of base one unit of the asset lets the direction trade (1, or 1 / price)
    step: Decimal  # amounts are rounded down to this (the lot for a base asset)


def direction_needs(
    ctx: StrategyContext, buy: Instrument, sell: Instrument, per_trade: Decimal, price: Decimal, lot: Decimal
) -> tuple[Need, Need]:
    """What buying on ``buy``'s venue and selling on ``sell``'s keeps using up, per full trade of
    ``per_trade`` base at ``price``: base on the sell venue (it piles up where we buy) and quote on
    the buy venue (it piles up where we sell). Balances are what orders may still use there."""
    direction, free = f"{buy.venue}->{sell.venue}", ctx.available
    base = Need(
        direction,
        buy.base,
        sell.venue,
        free(sell.venue, sell.base),
        buy.venue,
        free(buy.venue, buy.base),
        per_trade,
        price,
        Decimal(1),
        lot,
    )
    quote = Need(
        direction,
        buy.quote,
        buy.venue,
        free(buy.venue, buy.quote),
        sell.venue,
        free(sell.venue, sell.quote),
        per_trade * price * (1 + buy.taker_fee),
        Decimal(1),
        1 / price,
        buy.tick_size,
    )
    return base, quote  # fmt: skip


@dataclass(frozen=True, slots=True)
class Rebalance:
    asset: str
    amount: Decimal
    from_venue: str
    to_venue: str
    benefit: Decimal  # expected, quote
    cost: Decimal  # withdrawal fee, quote


@dataclass
class _Pending:
    rebalance: Rebalance
    requested_ns: int
    fee: Decimal = ZERO


class Rebalancer:
    def __init__(self, settings: RebalanceSettings) -> None:
        self.settings = settings
        self._flow: dict[str, deque[tuple[int, Decimal, Decimal]]] = {}
        self._first_ns: int | None = None
        self._pending: dict[str, _Pending] = {}  # transfer id -> what it carries
        # Events of a transfer not recorded yet: a venue with no latency reports before ``ctx.transfer``
        # has even returned the id.
        self._early: dict[str, list[TransferEvent]] = {}
        self._busy: set[str] = set()  # assets with a transfer in flight
        self._counts = {"requested": 0, "credited": 0, "failed": 0, "declined_not_worth": 0, "no_route": 0}
        self._fees: dict[str, Decimal] = {}
        self._fees_quote = ZERO
        self._moved: dict[str, Decimal] = {}
        self._transit_ns: list[int] = []
        self._last_ratio: Decimal | None = None

    @property
    def enabled(self) -> bool:
        return self.settings.enabled

    # --------------------------------------------------------------------------- the flow
    def observe(self, direction: str, now_ns: int, edge: Decimal, quantity: Decimal) -> None:
        """An opportunity of ``direction`` seen, sized without inventory limits: net edge (quote), base quantity."""
        if self._first_ns is None:
            self._first_ns = now_ns
        if edge <= 0 or quantity <= 0:
            return
        # A standing opportunity is seen again at every decision (every book update) while it
        # lasts: counting each sighting would multiply its edge by the update rate. A direction is
        # counted at most once per episode gap (about as often as the strategy could trade it),
        # worth the best edge seen in that episode.
        seen = self._flow.setdefault(direction, deque())
        if seen and now_ns - seen[-1][0] < self.settings.episode_gap_ms * 1_000_000:
            started, best_edge, best_qty = seen[-1]
            seen[-1] = (started, max(best_edge, edge), max(best_qty, quantity))
        else:
            seen.append((now_ns, edge, quantity))

    def flow(self, direction: str, now_ns: int) -> tuple[Decimal, Decimal]:
        """(edge per hour, edge per unit of base) of ``direction`` over the lookback window."""
        window_ns = int(self.settings.lookback_minutes * NS_PER_MINUTE)
        seen = self._flow.get(direction, deque())
        while seen and seen[0][0] < now_ns - window_ns:
            seen.popleft()
        edge = sum((e for _, e, _ in seen), ZERO)
        quantity = sum((q for _, _, q in seen), ZERO)
        # Rate over the window, or over the time the strategy has watched if shorter (at least a minute).
        watched = now_ns - self._first_ns if self._first_ns is not None else 0
        hours = Decimal(max(min(window_ns, watched), NS_PER_MINUTE)) / NS_PER_HOUR
        return edge / hours, (edge / quantity if quantity else ZERO)

    # --------------------------------------------------------------------------- deciding
    def decide(self, need: Need, terms: WithdrawalTerms | None, now_ns: int) -> Rebalance | None:
        """The transfer that would unblock ``need``, if it is needed, possible and worth its fee."""
        if not self.enabled or need.asset in self._busy:
            return None
        if need.short_balance >= Decimal(repr(self.settings.low_water)) * need.per_trade:
            return None
        if terms is None:
            self._counts["no_route"] += 1
            return None
        total = need.short_balance + need.long_balance
        amount = min(
            Decimal(repr(self.settings.target_split)) * total - need.short_balance, need.long_balance - terms.fee
        )
        amount = (amount / need.step).to_integral_value(ROUND_DOWN) * need.step if need.step > 0 else amount
        if amount <= 0:
            return None
        per_hour, per_unit = self.flow(need.direction, now_ns)
        horizon_ns = (
            int(self.settings.horizon_minutes * NS_PER_MINUTE) if self.settings.horizon_minutes else terms.delay_ns
        )
        benefit = min(per_hour * Decimal(horizon_ns) / NS_PER_HOUR, per_unit * amount * need.base_per_unit)
        cost = terms.fee * need.quote_value
        self._last_ratio = benefit / cost if cost else None
        if benefit <= 0 or benefit < Decimal(repr(self.settings.min_benefit_to_cost)) * cost:
            self._counts["declined_not_worth"] += 1
            return None
        return Rebalance(need.asset, amount, need.long_venue, need.short_venue, benefit, cost)

    # --------------------------------------------------------------------------- bookkeeping
    def act(self, ctx: StrategyContext, needs: tuple[Need, ...]) -> None:
        """Send the transfers the rule decides for ``needs`` (each at most once in flight per asset)."""
        now = ctx.now_ns()
        for need in needs:
            move = self.decide(need, ctx.withdrawal_terms(need.long_venue, need.asset), now)
            if move is not None:
                self.record(move, ctx.transfer(move.asset, move.amount, move.from_venue, move.to_venue), now)

    def record(self, rebalance: Rebalance, transfer_id: str, now_ns: int) -> None:
        """The strategy sent ``rebalance`` as ``transfer_id``."""
        self._pending[transfer_id] = _Pending(rebalance, now_ns)
        self._busy.add(rebalance.asset)
        self._counts["requested"] += 1
        early, self._early = self._early.get(transfer_id, []), {}
        for event in early:
            self.on_transfer_event(event)

    def on_transfer_event(self, event: TransferEvent) -> None:
        pending = self._pending.get(event.transfer_id)
        if pending is None:
            self._early.setdefault(event.transfer_id, []).append(event)
            return
        asset = pending.rebalance.asset
        if isinstance(event, WithdrawalSent):
            pending.fee = event.fee
            self._fees[asset] = self._fees.get(asset, ZERO) + event.fee
            self._fees_quote += pending.rebalance.cost
        elif isinstance(event, DepositCredited):
            self._counts["credited"] += 1
            self._moved[asset] = self._moved.get(asset, ZERO) + event.amount
            self._transit_ns.append(event.ts_ns - pending.requested_ns)
            self._finish(event.transfer_id, asset)
        elif isinstance(event, TransferFailed):
            self._counts["failed"] += 1
            self._finish(event.transfer_id, asset)

    def _finish(self, transfer_id: str, asset: str) -> None:
        del self._pending[transfer_id]
        self._busy.discard(asset)

    def stats(self) -> dict[str, Any]:
        transit = self._transit_ns
        return {
            **self._counts,
            "in_flight": len(self._pending),
            "fees": dict(sorted(self._fees.items())),
            "fees_quote": self._fees_quote,
            "moved": dict(sorted(self._moved.items())),
            "mean_transit_s": sum(transit) / len(transit) / 1e9 if transit else None,
            "last_benefit_to_cost": self._last_ratio,
        }
