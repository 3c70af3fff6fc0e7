"""The paper-trading service the CLI (and later the API) calls: build the node, run it until asked to
stop, store the session as a run, and say what happened — including, when the node refuses to
trade, every difference it found."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from spreadhawk.alerts import AlertSink
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.engine.clock import SimClock, WallClock
from spreadhawk.engine.live import LiveFeed
from spreadhawk.engine.restore import RestoreSummary
from spreadhawk.persistence import RunRecord, RunStore
from spreadhawk.persistence.run_store import RunStatus
from spreadhawk.runtime.config import ConfigError, RunConfig
from spreadhawk.runtime.paper import NotReconciledError, PaperNode, build_paper
from spreadhawk.runtime.polymarket_live import EXCHANGE as POLYMARKET
from spreadhawk.runtime.polymarket_live import polymarket_feed
from spreadhawk.runtime.results import NoEquityError, RunNode, result_json, summarise
from spreadhawk.runtime.services import run_record

FeedFactory = Callable[[RunConfig, dict[InstrumentId, Instrument]], Sequence[LiveFeed]]
# What runs beside a node for the whole session, on its event loop (the API: ``paper --api``); given
# the node before it handles its first message. The runtime knows nothing of what it is.
Companion = Callable[[Any], AbstractAsyncContextManager[object]]


@dataclass
class PaperOutcome:
    run_id: str | None  # None: nothing was stored (no market data arrived)
    result: dict[str, Any]
    resumed_records: int  # journal records the node restored (0: a fresh start)
    explained: list[str] = field(default_factory=list)
    differences: list[str] = field(default_factory=list)  # non-empty: the node refused to trade


class PaperService:
    def __init__(self, store: RunStore) -> None:
        self._store = store

    def run(
        self,
        config: RunConfig,
        journal: Path,
        feeds: FeedFactory,
        stop: Callable[[asyncio.Event], None],
        *,
        exchange_clock: bool = False,
        alerts: AlertSink | None = None,
        companion: Companion | None = None,
    ) -> PaperOutcome:
        """Run a paper session; ``stop`` receives the event that ends it (signal handlers, a timer).
        ``exchange_clock``: time follows the feed's exchange timestamps (an accelerated replay).
        ``alerts``: where the node sends its alerts (it closes it when it stops)."""
        journal.parent.mkdir(parents=True, exist_ok=True)
        wall_clock = WallClock()
        clock = SimClock() if exchange_clock else wall_clock
        node = build_paper(config, journal, feeds, clock=clock, started_ns=wall_clock.now_ns(), alerts=alerts)
        started = time.perf_counter()
        refused = False
        from spreadhawk.venues.ccxt.feed import FeedConfigError  # noqa: PLC0415 (ccxt loads slowly)

        try:
            asyncio.run(self._session(node, stop, companion))
        except NotReconciledError:
            refused = True  # the node's differences say why
        except FeedConfigError as exc:  # e.g. an instrument the exchange does not list
            raise ConfigError(f"live feed: {exc}") from None
        wall = time.perf_counter() - started
        return store_session(self._store, config, node, journal, wall, "paper", refused=refused)

    @staticmethod
    async def _session(node: PaperNode, stop: Callable[[asyncio.Event], None], companion: Companion | None) -> None:
        event = asyncio.Event()
        stop(event)
        await run_with(node, event, companion)


async def run_with(node: Any, stop: asyncio.Event, companion: Companion | None) -> None:
    """``node.run(stop)``, with ``companion`` (if any) running beside it for the whole session."""
    if companion is None:
        await node.run(stop)
        return
    async with companion(node):
        await node.run(stop)


class SessionNode(RunNode, Protocol):
    """What a paper or live node tells the service about its session."""

    explained: list[str]
    differences: list[str]
    restored: RestoreSummary | None


def store_session(
    store: RunStore,
    config: RunConfig,
    node: SessionNode,
    journal: Path,
    wall: float,
    mode: str,
    *,
    refused: bool,
    extra: dict[str, Any] | None = None,
) -> PaperOutcome:
    """The session as a stored run: a refused one (status failed, with every difference: the operator
    must see why nothing traded), or one that traded (status stopped: a session ends when stopped)."""
    resumed = node.restored.records if node.restored is not None else 0
    outcome = PaperOutcome(None, {}, resumed, list(node.explained), list(node.differences))
    reconciliation = {"explained": outcome.explained, "differences": outcome.differences}
    if refused:
        outcome.result = {"mode": mode, "journal": str(journal), "traded": False, "reconciliation": reconciliation}
        outcome.result.update(extra or {})

        def refused_run(run_id: str) -> RunRecord:
            return run_record(config, node.engine, run_id, outcome.result, {}, wall, RunStatus.FAILED)

        outcome.run_id = store.save_next_run(refused_run, config.config_hash(), config.run.seed)
        return outcome
    try:
        figures = summarise(node.engine)
    except NoEquityError:
        return outcome  # stopped before any market data: nothing to store
    external = [dataclasses.asdict(report) for report in node.engine.external_reports]
    metrics = figures.metrics.as_dict()

    def traded_run(run_id: str) -> RunRecord:
        outcome.result = result_json(run_id, figures, node, wall)
        outcome.result.update(
            mode=mode, journal=str(journal), traded=True, reconciliation=reconciliation, external_orders=external
        )
        outcome.result.update(extra or {})
        return run_record(config, node.engine, run_id, outcome.result, metrics, wall, RunStatus.STOPPED)

    outcome.run_id = store.save_next_run(traded_run, config.config_hash(), config.run.seed)
    return outcome


def live_feeds(config: RunConfig, instruments: dict[InstrumentId, Instrument]) -> list[LiveFeed]:
    """One feed per ``[[live]]`` section, pointed at ``host`` when it names a local emulator: ccxt's, or
    Polymarket's market channel (``runtime.polymarket_live``)."""
    from spreadhawk.venues.ccxt.feed import CcxtLiveFeed, FeedConfigError  # noqa: PLC0415 (ccxt loads slowly)
    from spreadhawk.venues.ccxt.urls import local_urls  # noqa: PLC0415

    if not config.live:
        raise ConfigError("paper trading needs at least one [[live]] feed (venue, exchange, instruments)")
    feeds: list[LiveFeed] = []
    for index, section in enumerate(config.live):
        missing = [iid for iid in section.instruments if iid not in instruments]
        if missing:
            raise ConfigError(f"live.{index}.instruments: {missing[0]} is not declared in [[instruments]]")
        wrong = [iid for iid in section.instruments if instruments[InstrumentId(iid)].venue != section.venue]
        if wrong:
            raise ConfigError(f"live.{index}.instruments: {wrong[0]} is not on venue {section.venue}")
        if section.exchange == POLYMARKET:  # also the tokens of the markets it names
            feeds.append(polymarket_feed(section, index, instruments, config.run.seed))
            continue
        try:
            urls = local_urls(section.exchange, section.host) if section.host else None
            feeds.append(
                CcxtLiveFeed(
                    section.exchange,
                    [instruments[InstrumentId(iid)] for iid in section.instruments],
                    urls=urls,
                    staleness_s=section.staleness_s,
                    seed=config.run.seed,
                )
            )
        except (FeedConfigError, ValueError) as exc:
            raise ConfigError(f"live.{index}: {exc}") from None
    return feeds
