"""CcxtLiveFeed through the real ccxt library against the Binance emulator on 127.0.0.1 (no mocks): the book
it builds equals the capture replayed offline, and every feed fault is said at once with a FeedStatus, makes
the book invalid right then, and is repaired by a resync to the offline book at the same update id."""

from __future__ import annotations

from pathlib import Path

import pytest
from feed_harness import FeedRun, assert_matches_offline, replay_posted, run_feed

from spreadhawk.domain.market import BookDeltas, BookSnapshot, FeedState, FeedStatus, QuoteTick, TradeTick
from spreadhawk.venues.ccxt import CcxtLiveFeed, FeedConfigError
from spreadhawk.venues.emulator import Fault, FaultKind, Market

pytestmark = pytest.mark.real_data

CAPTURE_START_NS = 1_723_161_250_000_000_000  # 2024-08-08 23:54:10 UTC
CAPTURE_END_NS = 1_723_161_601_000_000_000  # 2024-08-09 00:00:01 UTC


def _first_fault_status(run: FeedRun) -> tuple[int, FeedStatus]:
    assert run.fault_index is not None
    found = [(i, s) for i, s in run.statuses() if i >= run.fault_index and s.state is not FeedState.LIVE]
    assert found, f"no FeedStatus after the fault; fired: {run.fired}"
    return found[0]


def _assert_said_at_once(run: FeedRun, state: FeedState) -> FeedStatus:
    """The fault's status comes before any diff from beyond the fault is posted, and the book is invalid
    right after it; then the feed resyncs (a snapshot, LIVE) and the book is right again."""
    assert len(run.fired) == 1, run.fired
    index, status = _first_fault_status(run)
    assert status.state is state, status
    assert run.fault_index is not None
    at = run.fired[0].update_id
    before = [r for r in run.records[run.fault_index : index] if isinstance(r, BookDeltas)]
    assert all(d.sequence < at for d in before), "diffs past the fault were posted before the status"
    replayed = replay_posted(run)
    assert (state, True) in replayed.invalid_at_status
    after = run.records[index:]
    assert any(isinstance(r, BookSnapshot) for r in after), "no resync snapshot after the fault"
    resynced = [r for r in after if isinstance(r, FeedStatus) and r.state is FeedState.LIVE]
    assert any(r.reason.startswith("resynced from snapshot") for r in resynced)
    assert_matches_offline(run)
    return status


@pytest.mark.parametrize("market", [Market.SPOT, Market.USDM])
def test_feed_builds_the_same_book_as_the_capture_replayed_offline(shared_data: Path, market: Market) -> None:
    run = run_feed(shared_data, market, warmup_diffs=0, done=lambda r: r.diffs() >= 150)
    assert run.diffs() >= 150
    replayed = assert_matches_offline(run)
    assert [state for state, _ in replayed.invalid_at_status] == [FeedState.LIVE]  # the first sync only
    assert run.counts is not None
    assert (run.counts.resyncs, run.counts.gaps, run.counts.duplicates) == (1, 0, 0)
    trades = [r for r in run.records if isinstance(r, TradeTick)]
    quotes = [r for r in run.records if isinstance(r, QuoteTick)]
    assert trades
    assert quotes
    assert all(CAPTURE_START_NS < r.ts_ns < CAPTURE_END_NS for r in run.records)  # exchange event times
    assert all(q.bid < q.ask for q in quotes)


def test_dropped_diff_is_a_gap(shared_data: Path) -> None:
    run = run_feed(shared_data, fault=Fault(FaultKind.DROP))
    status = _assert_said_at_once(run, FeedState.GAP)
    assert "sequence gap" in status.reason


@pytest.mark.parametrize("market", [Market.SPOT, Market.USDM])
def test_sequence_gap_is_a_gap(shared_data: Path, market: Market) -> None:
    run = run_feed(shared_data, market, fault=Fault(FaultKind.GAP, count=5))
    status = _assert_said_at_once(run, FeedState.GAP)
    assert "sequence gap" in status.reason


def test_reordered_diffs_are_a_gap(shared_data: Path) -> None:
    run = run_feed(shared_data, fault=Fault(FaultKind.REORDER))
    _assert_said_at_once(run, FeedState.GAP)


def test_duplicated_diff_is_dropped_counted_and_said_without_invalidating(shared_data: Path) -> None:
    run = run_feed(shared_data, fault=Fault(FaultKind.DUPLICATE))
    assert len(run.fired) == 1
    assert run.counts is not None
    assert run.counts.duplicates == 1
    assert run.counts.resyncs == 1
    said = [s for _, s in run.statuses() if "duplicate" in s.reason]
    assert len(said) == 1
    assert said[0].state is FeedState.LIVE
    assert str(run.fired[0].update_id) in said[0].reason
    replayed = assert_matches_offline(run)
    assert all(not invalid for _, invalid in replayed.invalid_at_status)


def test_diff_delayed_within_the_staleness_limit_is_applied(shared_data: Path) -> None:
    run = run_feed(
        shared_data,
        fault=Fault(FaultKind.DELAY, seconds=0.1),
        done=lambda r: bool(r.fault_index) and r.diffs() >= 120,
    )
    assert len(run.fired) == 1
    assert [s.state for _, s in run.statuses()] == [FeedState.LIVE]  # the first sync only
    assert_matches_offline(run)


def test_diff_delayed_beyond_the_staleness_limit_is_stale(shared_data: Path) -> None:
    run = run_feed(shared_data, fault=Fault(FaultKind.DELAY, seconds=2.0))
    status = _assert_said_at_once(run, FeedState.STALE)
    assert "no depth update for" in status.reason


def test_frozen_stream_is_stale_then_resynced_when_data_resumes(shared_data: Path) -> None:
    run = run_feed(shared_data, fault=Fault(FaultKind.FREEZE, seconds=2.0))
    _assert_said_at_once(run, FeedState.STALE)


def test_disconnect_is_said_and_the_feed_reconnects_and_resyncs(shared_data: Path) -> None:
    run = run_feed(shared_data, fault=Fault(FaultKind.DISCONNECT))
    status = _assert_said_at_once(run, FeedState.DISCONNECTED)
    assert "websocket" in status.reason
    assert run.counts is not None
    assert run.counts.disconnects == 1


def test_malformed_diff_is_a_gap_naming_the_problem(shared_data: Path) -> None:
    run = run_feed(shared_data, fault=Fault(FaultKind.CORRUPT))
    status = _assert_said_at_once(run, FeedState.GAP)
    assert "malformed depth diff" in status.reason
    assert "not-a-price" in status.reason


def test_unknown_exchange_is_refused_up_front() -> None:
    with pytest.raises(FeedConfigError, match="no live feed profile for 'kraken'"):
        CcxtLiveFeed("kraken", [])
