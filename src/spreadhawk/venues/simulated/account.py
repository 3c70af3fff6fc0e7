"""The simulated venue's account: balances it holds, funds reserved by resting orders, positions.

A real exchange refuses an order its balance cannot cover and locks the funds of a resting order;
so does this one. Spot and binary orders lock the asset they deliver (quote plus taker fee for a
buy, base for a sell). Perpetual orders lock initial margin (notional / leverage) plus fee in the
settlement currency.
"""

from __future__ import annotations

from decimal import Decimal

from spreadhawk.domain.accounts import AccountSnapshot, AssetBalance, FreeBalances, PositionReport
from spreadhawk.domain.events import BalancePosted, OrderFilled, OrderSide, PostingReason, SettlementPaid, SubmitOrder
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.ledger import Ledger, postings_for_fill, postings_for_settlement
from spreadhawk.domain.positions import Position
from spreadhawk.venues.simulated.matching import sweep_budget

ZERO = Decimal(0)


class SimAccount:
    def __init__(self, venue: str, leverage: Decimal) -> None:
        self.venue = venue
        self.leverage = leverage
        self.ledger = Ledger()
        self.reserved: dict[str, Decimal] = {}
        self.positions: dict[InstrumentId, Position] = {}
        self._settles_in: dict[InstrumentId, str] = {}  # perpetuals only: margin currency
        # Assets whose free balance may have changed since the venue last reported it.
        self.dirty: set[str] = set()

    def deposit(self, ts_ns: int, asset: str, amount: Decimal, reference: str) -> None:
        self.post(BalancePosted(ts_ns, self.venue, asset, amount, PostingReason.DEPOSIT, reference))

    def snapshot(self, ts_ns: int) -> AccountSnapshot:
        balances = tuple(
            AssetBalance(asset, total, self.free(asset))
            for asset, total in sorted(self.ledger.venue_balances(self.venue).items())
        )
        positions = tuple(
            PositionReport(iid, pos.quantity, pos.avg_price)
            for iid, pos in sorted(self.positions.items())
            if pos.quantity
        )
        return AccountSnapshot(ts_ns, self.venue, balances, positions)

    def take_free_report(self, ts_ns: int) -> FreeBalances | None:
        """The free balances that changed since the last report (``None`` when nothing did)."""
        if not self.dirty:
            return None
        free = tuple((asset, self.free(asset)) for asset in sorted(self.dirty))
        self.dirty.clear()
        return FreeBalances(ts_ns, self.venue, free)

    def free(self, asset: str) -> Decimal:
        """Balance not locked by resting orders nor held as margin of open perpetual positions."""
        return self.ledger.balance(self.venue, asset) - self.reserved.get(asset, ZERO) - self.margin_used(asset)

    def margin_used(self, asset: str) -> Decimal:
        used = ZERO
        for position in self.positions.values():
            if position.quantity and self._settles_in.get(position.instrument_id) == asset:
                used += abs(position.quantity) * position.avg_price * position.contract_size / self.leverage
        return used

    def requirement(
        self,
        inst: Instrument,
        side: OrderSide,
        quantity: Decimal,
        price: Decimal,
        fee_rate: Decimal,
        notional: Decimal | None = None,
    ) -> tuple[str, Decimal]:
        """(asset, amount) an order of ``quantity`` must have free to be accepted.

        ``notional`` (price × quantity summed over the levels an order sweeps) is passed when known,
        so the check uses the exact cost rather than quantity × an average price rounded to 28 digits.
        """
        if notional is None:
            notional = quantity * price * inst.contract_size
        fee = notional * fee_rate
        if inst.kind is InstrumentKind.PERPETUAL:
            position = self.position(inst)
            reducing = min(quantity, abs(position.quantity)) if position.quantity * side.sign < 0 else ZERO
            opening = notional * (quantity - reducing) / quantity if quantity else ZERO
            return inst.settlement, opening / self.leverage + fee
        if side is OrderSide.BUY:
            return inst.quote, notional + fee
        return inst.base, quantity * inst.contract_size

    def order_requirement(
        self, inst: Instrument, cmd: SubmitOrder, fills: list[tuple[int, int]], rest_qty: Decimal
    ) -> tuple[str, Decimal]:
        """Funds the taker part (exact notional of the levels swept) and the resting part need."""
        taker_qty = inst.size(sum(size for _, size in fills))
        notional = sum((inst.price(p) * inst.size(s) for p, s in fills), ZERO) * inst.contract_size
        asset, need = self.requirement(inst, cmd.side, taker_qty, ZERO, inst.taker_fee, notional)
        if rest_qty > 0 and cmd.price is not None:
            _, rest_need = self.requirement(inst, cmd.side, rest_qty, cmd.price, inst.maker_fee)
            need += rest_need
        return asset, need

    def shortfall(self, asset: str, amount: Decimal) -> str | None:
        free = self.free(asset)
        if amount > free:
            return f"insufficient balance: needs {amount} {asset}, {free} free on {self.venue}"
        return None

    def reserve(self, asset: str, amount: Decimal) -> None:
        self.reserved[asset] = self.reserved.get(asset, ZERO) + amount
        self.dirty.add(asset)

    def release(self, asset: str, amount: Decimal) -> None:
        left = self.reserved.get(asset, ZERO) - amount
        self.reserved[asset] = left if left > 0 else ZERO
        self.dirty.add(asset)

    def position(self, inst: Instrument) -> Position:
        return self.positions.get(inst.id) or Position(inst.id, contract_size=inst.contract_size)

    def adopt_position(self, inst: Instrument, quantity: Decimal, avg_price: Decimal) -> None:
        self.positions[inst.id] = Position(inst.id, inst.contract_size, quantity, avg_price)
        if inst.kind is InstrumentKind.PERPETUAL:
            self._settles_in[inst.id] = inst.settlement

    def apply_fill(self, fill: OrderFilled, inst: Instrument) -> None:
        before = self.position(inst)
        self.post_all(postings_for_fill(fill, inst, before))
        self.positions[inst.id] = before.apply_fill(fill)
        if inst.kind is InstrumentKind.PERPETUAL:
            self._settles_in[inst.id] = inst.settlement
            self.dirty.add(inst.settlement)  # the margin held changed

    def settle(self, event: SettlementPaid, inst: Instrument) -> None:
        self.post_all(postings_for_settlement(event, inst))
        self.positions[inst.id] = self.position(inst).settle(event.price)
        self.dirty.add(inst.settlement)

    def post(self, posting: BalancePosted) -> None:
        self.ledger.post(posting)
        self.dirty.add(posting.asset)

    def post_all(self, postings: list[BalancePosted]) -> None:
        self.ledger.post_all(postings)
        self.dirty.update(p.asset for p in postings)


def quantity_for_budget(
    inst: Instrument, budget: Decimal, levels: list[tuple[int, int]], consumed: dict[int, int]
) -> Decimal:
    """Base quantity a quote budget buys over ``levels``, taker fee included, rounded down to lots."""
    spend = budget / (1 + inst.taker_fee) / inst.contract_size
    tick_units = int(spend / (inst.tick_size * inst.size_increment))
    fills = sweep_budget(levels, tick_units, consumed=consumed)
    return inst.round_lot_down(inst.size(sum(size for _, size in fills)))
