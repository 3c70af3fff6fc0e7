"""The composition root: the one place that knows which mode is running.

Modes are rows of one table (``MODES``); everything else is the same object graph:

| mode     | clock     | feed                      | venue          | journal                  | unknown orders |
|----------|-----------|---------------------------|----------------|--------------------------|----------------|
| backtest | SimClock  | replay (files, simulator) | SimulatedVenue | fresh, buffered          | fail fast      |
| paper    | WallClock | live (ccxt websockets)    | SimulatedVenue | resumed, fsync/intent    | adopt, report  |
| live     | WallClock | live (ccxt websockets)    | CcxtVenue      | resumed, fsync/intent    | adopt, report  |

``build_backtest`` wires the backtest row here; ``runtime.paper.build_paper`` wires the paper row
and ``runtime.live_node.build_live`` the live row, with the same helpers. Nothing below this module
knows which row it runs in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import MarketData
from spreadhawk.domain.transfers import WithdrawalTerms
from spreadhawk.engine.attribution import StrategyAttribution
from spreadhawk.engine.clock import Clock, SimClock, WallClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.journal import Durability, Journal
from spreadhawk.engine.order_ids import ClientOrderIds, run_prefix
from spreadhawk.engine.records import UnknownOrders
from spreadhawk.engine.replay import ReplayFeed, run_replay
from spreadhawk.persistence.kill_switch import SqlKillSwitchStore
from spreadhawk.risk.allocation import CapitalAllocator
from spreadhawk.risk.kill_switch import KillSwitchStore
from spreadhawk.risk.limits import RiskEngine
from spreadhawk.runtime.config import ConfigError, RunConfig, VenueSection
from spreadhawk.runtime.feeds import load_feed
from spreadhawk.runtime.recorders import PriceRecorder
from spreadhawk.strategy.base import Strategy, attach_strategy
from spreadhawk.strategy.loader import StrategyLoadError, build_strategy
from spreadhawk.venues.simulated.transfers import DEFAULT_WITHDRAWALS
from spreadhawk.venues.simulated.venue import SimulatedVenue, VenueResume, connect_simulated

NS_PER_MS = 1_000_000


@dataclass(frozen=True)
class Mode:
    name: str
    clock: Callable[[int], Clock]  # the start time -> the clock
    feed: str  # "replay" ([[data]]) or "live" ([[live]])
    durability: Durability
    unknown_orders: UnknownOrders
    prefixed_ids: bool  # client order ids carry the run's prefix (unique across restarts)
    resumes: bool  # an existing journal is continued and the state restored from it (else started afresh)


def _wall_clock(_start_ns: int) -> Clock:
    return WallClock()


MODES: dict[str, Mode] = {
    "backtest": Mode("backtest", SimClock, "replay", Durability.BUFFERED, UnknownOrders.FAIL, False, False),
    "paper": Mode("paper", _wall_clock, "live", Durability.SYNC_INTENTS, UnknownOrders.ADOPT, True, True),
    "live": Mode("live", _wall_clock, "live", Durability.SYNC_INTENTS, UnknownOrders.ADOPT, True, True),
}


def build_engine(
    mode: Mode,
    config: RunConfig,
    instruments: dict[InstrumentId, Instrument],
    clock: Clock,
    journal: Journal,
    started_ns: int | None = None,
) -> Engine:
    """The engine of every mode: only the row's clock, journal policy and order policies differ."""
    engine = Engine(
        instruments.values(),
        clock=clock,
        valuation_currency=config.run.valuation_currency,
        equity_interval_ns=int(config.run.equity_interval_s * 1e9),
        journal=journal,
        benchmark=_btc_benchmark(instruments, config.run.valuation_currency),
        unknown_orders=mode.unknown_orders,
        order_ids=ClientOrderIds(run_prefix(started_ns or clock.now_ns()) if mode.prefixed_ids else ""),
    )
    engine.limit_book_ages(config.max_book_age_ns)  # a book that stopped updating is not traded on
    return engine


@dataclass
class BacktestNode:
    engine: Engine
    strategies: list[Strategy]
    venues: dict[str, SimulatedVenue]
    sources: list[Iterable[MarketData]]
    attribution: StrategyAttribution
    prices: PriceRecorder
    event_count: int  # records the sources hold (bars built on the way are not counted)
    span_ns: tuple[int, int]  # the data's first and last timestamps: how far a replay has got
    risk: RiskEngine | None = None  # the pre-trade risk engine, when [risk] is enabled
    allocator: CapitalAllocator | None = None  # the capital allocator, when [risk.allocation] is enabled

    def run(self, progress: Callable[[int, int], None] | None = None) -> None:
        for strategy in self.strategies:
            strategy.on_start()
        run_replay(self.engine, ReplayFeed(self.sources), progress=progress)
        for strategy in self.strategies:
            strategy.on_stop()
        self.engine.journal.close()
        if self.risk is not None:
            self.risk.kill_switch.close()
        differences = self.reconcile()
        if differences:
            raise ReconciliationError("engine and venue balances disagree: " + "; ".join(differences))

    def reconcile(self) -> list[str]:
        """Differences between each venue's balances and the engine's view of them (none expected).

        The engine learns balances only from venue reports; a difference means a report was lost,
        duplicated or misapplied, and the run's results cannot be trusted.
        """
        ledger = self.engine.portfolio.ledger
        differences = []
        for name, venue in sorted(self.venues.items()):
            held = {a: v for a, v in venue.balances().items() if v}
            seen = {a: v for a, v in ledger.venue_balances(name).items() if v}
            for asset in sorted(set(held) | set(seen)):
                if held.get(asset, Decimal(0)) != seen.get(asset, Decimal(0)):
                    differences.append(f"{name} {asset}: venue {held.get(asset, 0)} vs engine {seen.get(asset, 0)}")
        return differences


class ReconciliationError(Exception):
    pass


def build_backtest(config: RunConfig) -> BacktestNode:
    """Wire a backtest from a validated config; any problem is a one-line ``ConfigError``."""
    feed = load_feed(config)
    instruments = feed.instruments
    strategies = _strategies(config)
    mode = MODES["backtest"]
    journal = Journal()
    if config.run.journal:
        path = config.resolve(config.run.journal)
        path.unlink(missing_ok=True)  # a backtest is a fresh run: its journal starts empty (paper resumes one)
        journal = Journal(path, durability=mode.durability)
    engine = build_engine(mode, config, instruments, mode.clock(feed.start_ns), journal)
    venues = _venues(config, instruments, feed.latency_ms)
    for venue in venues.values():
        connect_simulated(engine, venue)  # each venue reports its opening balances to the engine
    for strategy in strategies:
        attach_strategy(engine, strategy)
    node = BacktestNode(
        engine, strategies, venues, feed.sources, engine.attribution, PriceRecorder(engine), feed.count,
        (feed.start_ns, feed.end_ns),
    )  # fmt: skip
    node.risk = _risk(config, engine)
    node.allocator = _allocator(config, engine, strategies, node.risk)
    return node


def _allocator(
    config: RunConfig, engine: Engine, strategies: list[Strategy], risk: RiskEngine | None
) -> CapitalAllocator | None:
    """The capital allocator strategies read through ``ctx.capital_scale``, when ``[risk.allocation]
    enabled``; a strategy's family is the config's ``families`` entry, else its class's ``family``."""
    section = config.risk.allocation
    if not section.enabled:
        return None
    settings = section.settings(config.run.seed)
    unknown = sorted(set(settings.families) - {s.id for s in strategies})
    if unknown:
        raise ConfigError(f"risk.allocation.families: no strategy has the id {unknown[0]!r}")
    families: dict[str, str] = {}
    for strategy in strategies:
        family = getattr(type(strategy), "family", None)  # an optional class attribute
        if isinstance(family, str):
            families[strategy.id] = family
    families.update(settings.families)
    allocator = CapitalAllocator(settings, risk)
    try:
        allocator.attach(engine, families)
    except ValueError as exc:
        raise ConfigError(f"risk.allocation: {exc}") from None
    engine.use_capital(allocator)
    return allocator


KILL_SWITCH_POLL_NS = 1_000_000_000


def watch_kill_switch(config: RunConfig, risk: RiskEngine | None) -> None:
    """Paper and live: a kill switch kept in ``risk.kill_switch_db`` is read every second, so an
    operator's ``spreadhawk kill on`` reaches a running node (a backtest reads it once)."""
    if risk is not None and config.risk.kill_switch_db:
        risk.watch_kill_switch(KILL_SWITCH_POLL_NS)


def _risk(config: RunConfig, engine: Engine) -> RiskEngine | None:
    """The risk engine every order passes through, when ``[risk] enabled``; its kill switch is read
    from ``risk.kill_switch_db`` (a SQLite file or a database URL) before the first order."""
    section = config.risk
    if not section.enabled:
        return None
    store: KillSwitchStore | None = None
    if section.kill_switch_db:
        target = section.kill_switch_db
        store = SqlKillSwitchStore(target if "://" in target else f"sqlite:///{config.resolve(target)}")
    risk = RiskEngine(section.limits(), store)
    risk.attach(engine)
    engine.use_risk(risk)
    return risk


def _strategies(config: RunConfig) -> list[Strategy]:
    built: list[Strategy] = []
    for index, section in enumerate(config.strategy_sections):
        try:
            strategy = build_strategy(section.path, section.params, section.id)
        except StrategyLoadError as exc:
            where = "" if config.strategy is not None else f"strategies.{index}: "
            raise ConfigError(f"{where}{exc}") from None
        if any(s.id == strategy.id for s in built):
            raise ConfigError(f"two strategies have the id {strategy.id!r}: give each an 'id'")
        built.append(strategy)
    return built


@dataclass(frozen=True)
class VenueSettings:
    """How one simulated venue behaves, from ``[venues.NAME]`` and the data's own defaults."""

    latency_ns: int
    ack_latency_ns: int
    leverage: Decimal
    withdrawals: dict[str, WithdrawalTerms]
    balances: dict[str, Decimal]

    def venue(
        self,
        name: str,
        *,
        balances: dict[str, Decimal] | None = None,
        id_prefix: str = "",
        resume: VenueResume | None = None,
    ) -> SimulatedVenue:
        """The simulated venue these settings describe (a resumed paper node overrides the balances)."""
        return SimulatedVenue(
            name,
            latency_ns=self.latency_ns,
            ack_latency_ns=self.ack_latency_ns,
            leverage=self.leverage,
            withdrawals=self.withdrawals,
            balances=self.balances if balances is None else balances,
            id_prefix=id_prefix,
            resume=resume,
        )


def _venue_settings(
    config: RunConfig, instruments: dict[InstrumentId, Instrument], latency_defaults: dict[str, float]
) -> dict[str, VenueSettings]:
    names = sorted({inst.venue for inst in instruments.values()})
    unknown = sorted(set(config.venues) - set(names))
    if unknown:
        raise ConfigError(f"venues.{unknown[0]}: no instrument is declared on venue {unknown[0]!r}")
    settings = {}
    for name in names:
        section = config.venues.get(name)
        latency_ms = section.latency_ms if section and section.latency_ms is not None else None
        if latency_ms is None:
            latency_ms = latency_defaults.get(name, 0.0)
        settings[name] = VenueSettings(
            latency_ns=int(latency_ms * NS_PER_MS),
            ack_latency_ns=int((section.ack_latency_ms if section else 0) * NS_PER_MS),
            leverage=section.leverage if section else Decimal(1),
            withdrawals=_withdrawals(name, section, instruments),
            balances=dict(section.balances) if section else {},
        )
    return settings


def _venues(
    config: RunConfig, instruments: dict[InstrumentId, Instrument], latency_defaults: dict[str, float]
) -> dict[str, SimulatedVenue]:
    return {
        name: settings.venue(name) for name, settings in _venue_settings(config, instruments, latency_defaults).items()
    }


def _withdrawals(
    name: str, section: VenueSection | None, instruments: dict[InstrumentId, Instrument]
) -> dict[str, WithdrawalTerms]:
    """The simulator's default routes, each replaced by the config's route for the same asset."""
    routes = dict(DEFAULT_WITHDRAWALS)
    if section is None:
        return routes
    held = {a for i in instruments.values() if i.venue == name for a in (i.base, i.quote, i.settlement)}
    for asset, route in sorted(section.withdrawals.items()):
        if asset not in held:
            raise ConfigError(
                f"venues.{name}.withdrawals.{asset}: no instrument on {name} trades {asset} "
                f"(assets there: {', '.join(sorted(held))})"
            )
        routes[asset] = WithdrawalTerms(route.fee, round(route.minutes * 60_000_000_000))
    return routes


def _btc_benchmark(instruments: dict[InstrumentId, Instrument], valuation: str) -> InstrumentId | None:
    for iid, inst in sorted(instruments.items()):
        if inst.base in ("BTC", "XBT") and inst.quote == valuation:
            return iid
    return None


def journal_path(config: RunConfig) -> Path | None:
    return config.resolve(config.run.journal) if config.run.journal else None
