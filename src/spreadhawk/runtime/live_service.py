"""The live-trading service ``spreadhawk live`` calls: build the node, connect, check the keys,
reconcile, trade until asked to stop (or, dry, only connect and reconcile), store the session."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spreadhawk.alerts import AlertSink
from spreadhawk.domain.identifiers import venue_of
from spreadhawk.engine.clock import WallClock
from spreadhawk.persistence import RunStore
from spreadhawk.runtime.config import ConfigError, RunConfig
from spreadhawk.runtime.live_node import FeedFactory, KeyPermissionError, LiveNode, VenueFactory, build_live
from spreadhawk.runtime.paper import NotReconciledError
from spreadhawk.runtime.paper_service import Companion, PaperOutcome, run_with, store_session


@dataclass
class LivePlan:
    """What a dry run found: the accounts as the exchanges hold them and what would trade there."""

    venues: dict[str, dict[str, Any]]  # by venue: exchange, balances, open orders, key permissions
    strategies: list[str]
    instruments: list[str]
    differences: list[str]
    explained: list[str]


class LiveService:
    def __init__(self, store: RunStore) -> None:
        self._store = store

    def run(
        self,
        config: RunConfig,
        journal: Path,
        feeds: FeedFactory,
        venues: VenueFactory,
        stop: Callable[[asyncio.Event], None],
        *,
        acknowledge_external: bool = False,
        alerts: AlertSink | None = None,
        companion: Companion | None = None,
    ) -> tuple[PaperOutcome, list[str]]:
        """Trade until ``stop``'s event is set; the outcome and the orders left open at the exchanges.
        ``alerts``: where the node sends its alerts (it closes it when it stops)."""
        journal.parent.mkdir(parents=True, exist_ok=True)
        clock = WallClock()
        node = build_live(
            config,
            journal,
            feeds,
            venues,
            clock=clock,
            started_ns=clock.now_ns(),
            acknowledge_external=acknowledge_external,
            alerts=alerts,
        )
        started = time.perf_counter()

        async def trade() -> None:
            event = asyncio.Event()
            stop(event)
            await run_with(node, event, companion)

        refused = _session(node, trade)
        extra = {"permissions": node.permissions, "left_open": node.left_open}
        outcome = store_session(
            self._store, config, node, journal, time.perf_counter() - started, "live", refused=refused, extra=extra
        )
        return outcome, node.left_open

    @staticmethod
    def plan(
        config: RunConfig,
        journal: Path,
        feeds: FeedFactory,
        venues: VenueFactory,
        *,
        acknowledge_external: bool = False,
    ) -> LivePlan:
        """Connect, check the keys and reconcile; send nothing. Raises nothing for differences: they are
        part of the plan (a live start would refuse them)."""
        node = build_live(config, journal, feeds, venues, acknowledge_external=acknowledge_external)
        _session(node, node.look)
        accounts: dict[str, dict[str, Any]] = {}
        engine = node.engine
        for name, venue in sorted(node.venues.items()):
            balances = {a: str(v) for a, v in sorted(engine.portfolio.ledger.venue_balances(name).items()) if v}
            working = sorted(engine.orders.items())
            orders = [cid for cid, o in working if o.is_open and venue_of(o.instrument_id) == name]
            accounts[name] = {
                "exchange": venue.exchange_id,
                "balances": balances,
                "open_orders": orders,
                "permissions": node.permissions.get(name, {}),
            }
        return LivePlan(
            accounts,
            [s.id for s in node.strategies],
            sorted(str(i) for i in engine.instruments),
            node.differences,
            node.explained,
        )


def _session(node: LiveNode, work: Callable[[], Coroutine[Any, Any, None]]) -> bool:
    """Run ``work`` (the node's session or dry run); True when the node refused to trade because of
    differences (they are on the node)."""
    from ccxt.base.errors import BaseError as CcxtError  # noqa: PLC0415 (ccxt loads slowly)

    from spreadhawk.venues.ccxt.feed import FeedConfigError  # noqa: PLC0415

    try:
        asyncio.run(work())
    except NotReconciledError as exc:
        if not node.differences:  # timed out settling: no comparison was made
            node.differences = [str(exc)]
        return True
    except KeyPermissionError as exc:
        raise ConfigError(str(exc)) from None
    except FeedConfigError as exc:
        raise ConfigError(f"live feed: {exc}") from None
    except (CcxtError, OSError) as exc:  # the exchange unreachable or refusing the key at start
        raise ConfigError(f"exchange: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}") from None
    return False
