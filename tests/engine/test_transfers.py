"""Transfers between venues: a withdrawal (amount + fee leave the source), time in transit, a deposit.

Two simulated venues list BTC/USDT; a strategy moves BTC between them through ``ctx.transfer``. The
engine's ledger must agree with each venue's at every step, the fee must be posted once, the asset
in flight must keep its value in equity, and the deposit must land exactly the route's delay after
the withdrawal, once, however often it is reported.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from spreadhawk.domain.events import (
    DepositCredited,
    PostingReason,
    RequestTransfer,
    TransferFailed,
    WithdrawalSent,
)
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookSnapshot
from spreadhawk.domain.transfers import Transfer, TransferStateError, TransferStatus, WithdrawalTerms
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.journal import Journal
from spreadhawk.runtime.config import ConfigError, load_config
from spreadhawk.runtime.modes import build_backtest
from spreadhawk.runtime.results import transfer_summary
from spreadhawk.strategy.base import Strategy, StrategyConfig, attach_strategy
from spreadhawk.venues.simulated.venue import SimulatedVenue, connect_simulated

D = Decimal
MIN = 60_000_000_000
FEE, DELAY = D("0.0002"), 30 * MIN
PRICE = D(50_000)


def _inst(venue: str) -> Instrument:
    return Instrument(
        venue=venue,
        symbol="BTC/USDT",
        kind=InstrumentKind.SPOT,
        base="BTC",
        quote="USDT",
        tick_size=D("0.01"),
        lot_size=D("0.00001"),
        maker_fee=D("0.001"),
        taker_fee=D("0.001"),
        min_notional=D(0),
        size_increment=D("0.00001"),
    )


class Mover(Strategy):
    """Records the transfer events it receives (only its own should arrive)."""

    def __init__(self, strategy_id: str) -> None:
        super().__init__(StrategyConfig(), strategy_id)
        self.events: list[object] = []

    def on_withdrawal_sent(self, event: WithdrawalSent) -> None:
        self.events.append(event)

    def on_deposit_credited(self, event: DepositCredited) -> None:
        self.events.append(event)

    def on_transfer_failed(self, event: TransferFailed) -> None:
        self.events.append(event)


class World:
    def __init__(self, *, ack_latency_ns: int = 0, journal: Journal | None = None) -> None:
        self.instruments = [_inst("A"), _inst("B")]
        self.engine = Engine(self.instruments, journal=journal)
        terms = {"BTC": WithdrawalTerms(FEE, DELAY)}
        self.venues = {
            name: SimulatedVenue(name, ack_latency_ns=ack_latency_ns, withdrawals=terms) for name in ("A", "B")
        }
        for venue in self.venues.values():
            connect_simulated(self.engine, venue)
        for _name, venue in sorted(self.venues.items()):
            for asset, amount in (("BTC", D(1)), ("USDT", D(10_000))):
                venue.deposit(asset, amount)
        self.movers = [Mover("mover"), Mover("other")]
        for mover in self.movers:
            attach_strategy(self.engine, mover)
        self.attribution = self.engine.attribution  # the engine's own: strategies register as they attach
        self.mover = self.movers[0]
        self.engine.run_until(ack_latency_ns)  # the venues' account reports (opening, deposits) arrive
        self.book_at(ack_latency_ns)

    def book_at(self, ts_ns: int) -> None:
        """Both books quoting PRICE +- 1 tick (the mid values BTC at exactly PRICE)."""
        self.engine.run_until(ts_ns)
        tick = D("0.01")
        for inst in self.instruments:
            bid, ask = inst.ticks(PRICE - tick), inst.ticks(PRICE + tick)
            self.engine.process(BookSnapshot(inst.id, ts_ns, 1, ((bid, 100_000),), ((ask, 100_000),)))

    def equity(self) -> Decimal:
        return self.engine.portfolio.equity(self.engine.price)

    def assert_ledgers_agree(self) -> None:
        for name, venue in self.venues.items():
            engine_view = {a: v for a, v in self.engine.portfolio.ledger.venue_balances(name).items() if v}
            assert engine_view == {a: v for a, v in venue.balances().items() if v}, name


def test_deposit_lands_after_exactly_the_route_delay_and_the_fee_is_posted_once() -> None:
    world = World()
    start = world.equity()
    transfer_id = world.mover.ctx.transfer("BTC", D("0.4"), "A", "B")
    world.engine.drain()  # the test is the driver: reports arrive after the call returns
    ledger = world.engine.portfolio.ledger
    assert ledger.balance("A", "BTC") == D(1) - D("0.4") - FEE
    assert ledger.balance("B", "BTC") == D(1)  # not there yet
    world.assert_ledgers_agree()
    # In flight: owned, still counted; equity lost only the fee.
    assert world.equity() == start - FEE * PRICE
    assert world.engine.portfolio.transit_amounts() == {"BTC": D("0.4")}
    world.book_at(DELAY - 1)
    assert ledger.balance("B", "BTC") == D(1)
    assert world.equity() == start - FEE * PRICE
    world.book_at(DELAY + 5)
    assert ledger.balance("B", "BTC") == D("1.4")
    assert world.equity() == start - FEE * PRICE
    assert world.engine.portfolio.in_transit == {}
    world.assert_ledgers_agree()
    sent, credited = world.mover.events
    assert isinstance(sent, WithdrawalSent)
    assert isinstance(credited, DepositCredited)
    assert credited.ts_ns - sent.ts_ns == DELAY  # exactly the delay, not the next market-data time
    assert (credited.transfer_id, credited.amount, credited.to_venue) == (transfer_id, D("0.4"), "B")
    reasons = [(p.venue, p.reason, p.amount) for p in ledger.postings if p.reference == transfer_id]
    assert reasons == [
        ("A", PostingReason.TRANSFER_OUT, D("-0.4")),
        ("A", PostingReason.WITHDRAWAL_FEE, -FEE),
        ("B", PostingReason.TRANSFER_IN, D("0.4")),
    ]
    assert world.engine.transfers[transfer_id].status is TransferStatus.CREDITED
    assert world.movers[1].events == []  # another strategy's transfer is not its business


def test_a_transfer_the_free_balance_cannot_cover_fails_with_a_reason_and_moves_nothing() -> None:
    world = World()
    before = world.engine.portfolio.ledger.balances()
    postings = len(world.engine.portfolio.ledger.postings)
    transfer_id = world.mover.ctx.transfer("BTC", D(1), "A", "B")  # 1 BTC + fee > 1 BTC held
    world.engine.drain()  # the test is the driver: reports arrive after the call returns
    (failed,) = world.mover.events
    assert isinstance(failed, TransferFailed)
    assert failed.transfer_id == transfer_id
    assert "insufficient balance" in failed.reason
    assert "withdrawal fee" in failed.reason
    assert world.engine.portfolio.ledger.balances() == before
    assert len(world.engine.portfolio.ledger.postings) == postings
    assert world.engine.transfers[transfer_id].status is TransferStatus.FAILED
    world.book_at(2 * DELAY)
    assert world.engine.portfolio.ledger.balances() == before
    world.assert_ledgers_agree()


@pytest.mark.parametrize(
    ("asset", "amount", "source", "destination", "reason"),
    [
        ("USDT", D(10), "A", "B", "no withdrawal route for USDT"),
        ("BTC", D(0), "A", "B", "must be positive"),
        ("BTC", D("0.1"), "A", "A", "same venue"),
        ("BTC", D("0.1"), "A", "NOWHERE", "no venue connected"),
    ],
)
def test_transfers_nobody_can_send_fail_with_a_reason(
    asset: str, amount: Decimal, source: str, destination: str, reason: str
) -> None:
    world = World()
    before = world.engine.portfolio.ledger.balances()
    world.mover.ctx.transfer(asset, amount, source, destination)
    world.engine.drain()  # the test is the driver: reports arrive after the call returns
    (failed,) = world.mover.events
    assert isinstance(failed, TransferFailed)
    assert reason in failed.reason
    assert world.engine.portfolio.ledger.balances() == before


def test_a_repeated_report_or_notice_never_credits_twice() -> None:
    world = World()
    transfer_id = world.mover.ctx.transfer("BTC", D("0.4"), "A", "B")
    world.engine.drain()  # the test is the driver: reports arrive after the call returns
    sent = world.mover.events[0]
    assert isinstance(sent, WithdrawalSent)
    world.engine.on_venue_event(sent)  # the venue repeats its report
    world.venues["B"].transfer(sent)  # and the destination is told twice
    world.book_at(DELAY + 1)
    world.engine.on_venue_event(DepositCredited(DELAY + 1, transfer_id, "BTC", D("0.4"), "B"))
    ledger = world.engine.portfolio.ledger
    assert ledger.balance("B", "BTC") == D("1.4")
    assert ledger.balance("A", "BTC") == D("0.6") - FEE
    assert sum(1 for p in ledger.postings if p.reason is PostingReason.WITHDRAWAL_FEE) == 1
    world.assert_ledgers_agree()


def test_reports_arrive_late_with_ack_latency_and_the_ledgers_still_agree() -> None:
    world = World(ack_latency_ns=500_000_000)
    world.mover.ctx.transfer("BTC", D("0.25"), "A", "B")
    world.engine.drain()  # the test is the driver: reports arrive after the call returns
    assert world.engine.portfolio.ledger.balance("A", "BTC") == D(1)  # the engine has not heard yet
    world.book_at(DELAY + MIN)
    assert [type(e) for e in world.mover.events] == [WithdrawalSent, DepositCredited]
    world.assert_ledgers_agree()


def test_the_fee_is_charged_to_the_strategy_that_asked() -> None:
    world = World()
    world.mover.ctx.transfer("BTC", D("0.4"), "A", "B")
    world.engine.drain()  # the test is the driver: reports arrive after the call returns
    world.book_at(DELAY // 2)
    assert world.attribution.pnl("mover") == -FEE * PRICE  # in transit, the amount is still its own
    world.book_at(DELAY + 1)
    assert world.attribution.pnl("mover") == -FEE * PRICE
    assert world.attribution.withdrawal_fees("mover") == FEE * PRICE
    assert world.attribution.pnl("other") == 0


def test_a_transfer_in_flight_when_the_run_ends_is_reported_in_transit() -> None:
    world = World()
    transfer_id = world.mover.ctx.transfer("BTC", D("0.3"), "B", "A")
    world.engine.drain()  # the test is the driver: reports arrive after the call returns
    world.book_at(MIN)
    summary = transfer_summary(world.engine)
    assert summary["by_status"] == {"in_transit": 1}
    (flight,) = summary["in_transit_at_end"]
    assert (flight["transfer_id"], flight["amount"], flight["from_venue"]) == (transfer_id, "0.3", "B")
    assert flight["credited_after_end"] is False
    assert D(summary["in_transit_value"]) == D("0.3") * PRICE
    # A replay drains its timers after the last record: the deposit lands after the session, and the
    # results still say it was in transit when the session ended.
    world.engine.run_until(2**63 - 1)
    assert world.engine.portfolio.ledger.balance("A", "BTC") == D("1.3")
    (flight,) = transfer_summary(world.engine)["in_transit_at_end"]
    assert flight["credited_after_end"] is True
    world.assert_ledgers_agree()


def test_the_journal_records_the_request_before_the_venue_reports(tmp_path: Path) -> None:
    world = World(journal=Journal(tmp_path / "journal.jsonl"))
    world.mover.ctx.transfer("BTC", D("0.1"), "A", "B")
    world.engine.drain()  # the test is the driver: reports arrive after the call returns
    world.book_at(DELAY)
    world.engine.journal.close()
    records = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    account_reports = ("AccountSnapshot", "BalanceAdjusted", "FreeBalances")
    kinds = [
        r["type"]
        for r in records
        if r["type"] not in account_reports and (r["type"] != "BalancePosted" or r["reason"] != "deposit")
    ]
    assert kinds == [
        "RequestTransfer",
        "WithdrawalSent",
        "BalancePosted",
        "BalancePosted",
        "DepositCredited",
        "BalancePosted",
    ]
    assert [r["reason"] for r in records if r["type"] == "BalancePosted"][-3:] == [
        PostingReason.TRANSFER_OUT.value,
        PostingReason.WITHDRAWAL_FEE.value,
        PostingReason.TRANSFER_IN.value,
    ]


def test_same_scenario_same_journal() -> None:
    def digest() -> str:
        world = World(ack_latency_ns=1_000)
        world.mover.ctx.transfer("BTC", D("0.4"), "A", "B")
        world.engine.drain()  # the test is the driver: reports arrive after the call returns
        world.movers[1].ctx.transfer("BTC", D("0.2"), "B", "A")
        world.engine.drain()  # the test is the driver: reports arrive after the call returns
        world.book_at(DELAY + 10)
        return world.engine.journal.digest

    assert digest() == digest()


# --------------------------------------------------------------------------- config at the edge
CONFIG = """
[run]
seed = 1

[[data]]
format = "market_simulator"
hours = 0.02
assets = ["BTC"]
perps = false
binaries = false

[venues.ALPHA]
balances = {{ USDT = "1000", BTC = "1" }}
{withdrawals}

[strategy]
path = "spreadhawk.strategy.library.sma_cross:SmaCross"
params = {{ instrument_id = "ALPHA:BTC/USDT" }}
"""


def _config(tmp_path: Path, withdrawals: str) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(CONFIG.format(withdrawals=withdrawals), encoding="utf-8")
    return path


def test_a_negative_withdrawal_fee_is_a_clear_config_error(tmp_path: Path) -> None:
    path = _config(tmp_path, '[venues.ALPHA.withdrawals]\nBTC = { fee = "-0.1", minutes = 30 }')
    with pytest.raises(ConfigError, match=r"venues\.ALPHA\.withdrawals\.BTC\.fee: .*greater than or equal to 0"):
        load_config(path)


def test_a_withdrawal_route_for_an_asset_the_venue_does_not_trade_is_a_clear_error(tmp_path: Path) -> None:
    path = _config(tmp_path, '[venues.ALPHA.withdrawals]\nDOGE = { fee = "5", minutes = 1 }')
    with pytest.raises(ConfigError, match=r"venues\.ALPHA\.withdrawals\.DOGE: no instrument on ALPHA trades DOGE"):
        build_backtest(load_config(path))


def test_configured_routes_replace_the_defaults(tmp_path: Path) -> None:
    path = _config(tmp_path, '[venues.ALPHA.withdrawals]\nBTC = { fee = "0.001", minutes = 45 }')
    node = build_backtest(load_config(path))
    assert node.venues["ALPHA"].withdrawals["BTC"] == WithdrawalTerms(D("0.001"), 45 * MIN)
    assert node.venues["BETA"].withdrawals["BTC"] == WithdrawalTerms(D("0.0002"), 30 * MIN)  # the default


def test_the_transfer_state_table_refuses_reports_out_of_order() -> None:
    command = RequestTransfer(0, "s-tr1", "s", "BTC", D(1), "A", "B")
    requested = Transfer.from_command(command)
    credited = DepositCredited(5, "s-tr1", "BTC", D(1), "B")
    with pytest.raises(TransferStateError, match="requested: cannot apply DepositCredited"):
        requested.apply(credited)  # credited before it was sent
    failed = requested.apply(TransferFailed(1, "s-tr1", "no route"))
    with pytest.raises(TransferStateError):
        failed.apply(WithdrawalSent(2, "s-tr1", "BTC", D(1), FEE, "A", "B", 3))  # sent after it failed
    sent = requested.apply(WithdrawalSent(2, "s-tr1", "BTC", D(1), FEE, "A", "B", 3))
    with pytest.raises(TransferStateError, match="venue sent"):
        requested.apply(WithdrawalSent(2, "s-tr1", "BTC", D(2), FEE, "A", "B", 3))  # not what was asked
    done = sent.apply(credited)
    assert (done.status, done.fee, done.sent_ns, done.credited_ns) == (TransferStatus.CREDITED, FEE, 2, 5)
    assert done.apply(credited) is done  # a repeated report changes nothing
