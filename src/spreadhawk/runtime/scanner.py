"""The opportunity scanner behind ``spreadhawk scan``: every kind of arbitrage the strategies trade,
watched on every venue of a feed, with no venue attached and no strategy (a scan never trades).

The scanner listens to an ``Engine``'s market data on its bus. After each instant (every record of
one timestamp applied, as strategies see them) it re-evaluates only the candidates touching the
instruments that changed, with the detection code the strategies use
(``spreadhawk.strategy.detectors`` and ``spreadhawk.analytics.triangular``):

* ``cross_exchange``: every ordered pair of spot instruments of one base/quote on two venues, asks
  of the buy venue against bids of the sell venue, both taker fees, lots and min notionals;
* ``triangular``: every 3-leg cycle of each venue's spot markets, started at the asset most markets
  quote in (so the profit is in e.g. USDT), quoted at the touch then sized along the whole path;
* ``binary_pair``: YES and NO of one market bought together for less than their payout of 1;
* ``funding``: long spot / short the perpetual of the same venue, expected funding over a horizon
  (latest estimate × periods) minus the taker round trip; an expectation, not a locked profit.

Sizes come from depth alone: a scanner knows no balances, so ``executable_size`` is what the books
give (base, pairs, or the start asset of a cycle; for funding, the touch of the spot ask and the
perp bid), not what an account could take. An opportunity is live from the first instant it is
seen until the first re-evaluation that no longer finds it (``closed_ns``); closed ones keep their
largest edge and their largest expected profit (with the size that gave it).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Set
from dataclasses import dataclass, field, replace
from decimal import Decimal
from itertools import combinations
from pathlib import Path
from typing import Any, Protocol, Self

from pydantic import ValidationError, model_validator

from spreadhawk.analytics.triangular import ConversionGraph, Cycle, cycle_index, evaluate, size
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot, FundingRate, InstrumentSettled, MarketData
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.engine.clock import SimClock
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.replay import ReplayFeed, run_replay
from spreadhawk.runtime.config import (
    ConfigError,
    RunConfig,
    apply_override,
    describe_validation_error,
    parse_override,
)
from spreadhawk.runtime.feeds import load_feed
from spreadhawk.strategy.detectors import (
    BinaryPair,
    binary_pairs,
    common_lot,
    cross_pays,
    funding_edge_bps,
    plan_binary_pair,
    plan_cross_exchange,
)
from spreadhawk.strategy.paired_walk import round_down

KINDS = ("cross_exchange", "triangular", "binary_pair", "funding")
ZERO = Decimal(0)
BPS = Decimal(10_000)
HOUR_NS = 3_600_000_000_000
WALK_DEPTH = 100  # levels per side a cross-exchange walk may sweep (as the strategy)
UNBOUNDED = Decimal("Infinity")  # no balance limits the start amount of a cycle
Level = tuple[Decimal, Decimal]  # (price, size)


@dataclass(frozen=True, slots=True)
class Sighting:
    """What a detector finds at one instant."""

    net_edge_bps: Decimal
    executable_size: Decimal
    expected_profit: Decimal
    profit_asset: str


@dataclass(frozen=True, slots=True)
class Opportunity:
    """A live opportunity as last seen; ``age_ns(now)`` is how long it has persisted."""

    kind: str
    key: str
    net_edge_bps: Decimal
    executable_size: Decimal
    expected_profit: Decimal
    profit_asset: str
    first_seen_ns: int
    last_seen_ns: int
    max_edge_bps: Decimal
    peak_profit: Decimal  # largest expected profit while live, and the size that gave it
    peak_size: Decimal

    def age_ns(self, now_ns: int) -> int:
        return now_ns - self.first_seen_ns


@dataclass(frozen=True, slots=True)
class ClosedOpportunity:
    kind: str
    key: str
    first_seen_ns: int
    last_seen_ns: int
    closed_ns: int  # the first instant it was no longer found (or the end of the data)
    max_edge_bps: Decimal
    executable_size: Decimal  # at the peak expected profit
    expected_profit: Decimal  # the peak
    profit_asset: str

    @property
    def duration_ns(self) -> int:
        return self.closed_ns - self.first_seen_ns


@dataclass
class MarketView:
    """What detectors read: the engine's books, funding estimates and the time."""

    books: Mapping[InstrumentId, OrderBook]
    funding: dict[InstrumentId, Decimal] = field(default_factory=dict)  # latest estimate per perpetual
    funding_interval_ns: dict[InstrumentId, int] = field(default_factory=dict)  # observed per perpetual
    settled: set[InstrumentId] = field(default_factory=set)
    now_ns: int = 0


class Detector(Protocol):
    kind: str

    def watched(self) -> Set[InstrumentId]:
        """Instruments whose updates may change what this detector finds."""
        ...

    def scan(self, changed: Set[InstrumentId], market: MarketView) -> dict[str, Sighting | None]:
        """Every candidate touching ``changed``, by key: what it shows now (None: nothing)."""
        ...


def _levels(
    inst: Instrument, book: OrderBook, side: BookSide, depth: int | None = None
) -> list[tuple[Decimal, Decimal]]:
    return [(inst.price(p), inst.size(s)) for p, s in book.levels(side, depth)]


def _valid(market: MarketView, *insts: Instrument) -> bool:
    return all((book := market.books.get(i.id)) is not None and book.is_valid for i in insts)


# =========================================================================== detectors
class CrossExchangeDetector:
    kind = "cross_exchange"

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        groups: dict[tuple[str, str], list[Instrument]] = {}
        for inst in sorted(instruments, key=lambda i: i.id):
            if inst.kind is InstrumentKind.SPOT:
                groups.setdefault((inst.base, inst.quote), []).append(inst)
        self._index: dict[InstrumentId, list[tuple[Instrument, Instrument]]] = {}
        for group in groups.values():
            for a, b in combinations(group, 2):
                if a.venue != b.venue:
                    for buy, sell in ((a, b), (b, a)):
                        self._index.setdefault(buy.id, []).append((buy, sell))
                        self._index.setdefault(sell.id, []).append((buy, sell))

    def watched(self) -> Set[InstrumentId]:
        return self._index.keys()

    def scan(self, changed: Set[InstrumentId], market: MarketView) -> dict[str, Sighting | None]:
        found: dict[str, Sighting | None] = {}
        for iid in sorted(changed & self._index.keys()):
            for buy, sell in self._index[iid]:
                key = f"{buy.id}->{sell.id}"
                if key not in found:
                    found[key] = self._look(buy, sell, market)
        return found

    @staticmethod
    def _look(buy: Instrument, sell: Instrument, market: MarketView) -> Sighting | None:
        if not _valid(market, buy, sell):
            return None
        buy_book, sell_book = market.books[buy.id], market.books[sell.id]
        ask, bid = buy_book.best_ask(), sell_book.best_bid()
        # The touch first: converting deep books to Decimals on every update would dominate the scan.
        if ask is None or bid is None or not cross_pays(buy, sell, buy.price(ask[0]), sell.price(bid[0])):
            return None
        asks = _levels(buy, buy_book, BookSide.ASK, WALK_DEPTH)
        bids = _levels(sell, sell_book, BookSide.BID, WALK_DEPTH)
        plan = plan_cross_exchange(buy, sell, asks, bids)
        if isinstance(plan, str):
            return None
        return Sighting(plan.net_edge_bps, plan.quantity, plan.net_edge, buy.quote)


class TriangularDetector:
    kind = "triangular"

    def __init__(self, instruments: Iterable[Instrument], max_legs: int = 3) -> None:
        by_venue: dict[str, list[Instrument]] = {}
        for inst in instruments:
            if inst.kind is InstrumentKind.SPOT:
                by_venue.setdefault(inst.venue, []).append(inst)
        self._index: dict[InstrumentId, list[Cycle]] = {}
        for venue_instruments in by_venue.values():
            if len(venue_instruments) < 3:
                continue
            for iid, cycles in cycle_index(self._cycles(venue_instruments, max_legs)).items():
                self._index.setdefault(iid, []).extend(cycles)

    @staticmethod
    def _cycles(instruments: list[Instrument], max_legs: int) -> list[Cycle]:
        # Start each cycle at the asset most markets quote in (USDT before BTC), so profits are in it.
        quoted: dict[str, int] = {}
        for inst in instruments:
            quoted[inst.quote] = quoted.get(inst.quote, 0) + 1
            quoted.setdefault(inst.base, 0)
        starts = sorted(quoted, key=lambda asset: (-quoted[asset], asset))
        return ConversionGraph.from_instruments(instruments).cycles(max_legs, starts)

    def watched(self) -> Set[InstrumentId]:
        return self._index.keys()

    def scan(self, changed: Set[InstrumentId], market: MarketView) -> dict[str, Sighting | None]:
        found: dict[str, Sighting | None] = {}
        for iid in sorted(changed & self._index.keys()):
            for cycle in self._index[iid]:
                key = cycle_key(cycle)
                if key not in found:
                    found[key] = self._look(cycle, market)
        return found

    @staticmethod
    def _look(cycle: Cycle, market: MarketView) -> Sighting | None:
        quote = evaluate(cycle, market.books)  # floats at the touch: cheap, on every update
        if quote is None or quote.net_rate <= 1.0:
            return None
        plan = size(cycle, market.books, UNBOUNDED)
        if isinstance(plan, str):
            return None
        return Sighting(plan.profit_bps, plan.start_amount, plan.profit, plan.start_asset)


def cycle_key(cycle: Cycle) -> str:
    """``ALPHA:USDT->BTC->ETH->USDT``."""
    assets = [cycle[0].source, *(edge.target for edge in cycle)]
    return f"{cycle[0].instrument.venue}:{'->'.join(assets)}"


class BinaryPairDetector:
    kind = "binary_pair"

    def __init__(self, instruments: Iterable[Instrument]) -> None:
        self._index: dict[InstrumentId, BinaryPair] = {}
        for pair in binary_pairs(instruments):
            self._index[pair.yes.id] = self._index[pair.no.id] = pair

    def watched(self) -> Set[InstrumentId]:
        return self._index.keys()

    def scan(self, changed: Set[InstrumentId], market: MarketView) -> dict[str, Sighting | None]:
        found: dict[str, Sighting | None] = {}
        for iid in sorted(changed & self._index.keys()):
            pair = self._index[iid]
            key = f"{pair.yes.venue}:{pair.market} YES+NO"
            if key not in found:
                found[key] = self._look(pair, market)
        return found

    @staticmethod
    def _look(pair: BinaryPair, market: MarketView) -> Sighting | None:
        expired = market.now_ns >= (pair.yes.expiry_ns or 0) or {pair.yes.id, pair.no.id} & market.settled
        if expired or not _valid(market, pair.yes, pair.no):
            return None
        yes_asks = _levels(pair.yes, market.books[pair.yes.id], BookSide.ASK)
        no_asks = _levels(pair.no, market.books[pair.no.id], BookSide.ASK)
        plan = plan_binary_pair(pair, yes_asks, no_asks) if yes_asks and no_asks else "empty"
        if isinstance(plan, str):
            return None
        return Sighting(plan.edge_bps, plan.quantity, plan.edge, pair.yes.quote)


class FundingDetector:
    kind = "funding"

    def __init__(
        self, instruments: Iterable[Instrument], *, horizon_hours: float = 24.0, interval_hours: float = 8.0
    ) -> None:
        listed = list(instruments)
        spots = {(i.venue, i.base, i.quote): i for i in listed if i.kind is InstrumentKind.SPOT}
        self._horizon_ns = round(horizon_hours * HOUR_NS)
        self._default_interval_ns = round(interval_hours * HOUR_NS)
        self._index: dict[InstrumentId, tuple[Instrument, Instrument]] = {}
        for perp in listed:
            spot = spots.get((perp.venue, perp.base, perp.quote))
            if perp.kind is InstrumentKind.PERPETUAL and spot is not None:
                self._index[perp.id] = self._index[spot.id] = (spot, perp)

    def watched(self) -> Set[InstrumentId]:
        return self._index.keys()

    def scan(self, changed: Set[InstrumentId], market: MarketView) -> dict[str, Sighting | None]:
        found: dict[str, Sighting | None] = {}
        for iid in sorted(changed & self._index.keys()):
            spot, perp = self._index[iid]
            key = f"long {spot.id} / short {perp.id}"
            if key not in found:
                found[key] = self._look(spot, perp, market)
        return found

    def _look(self, spot: Instrument, perp: Instrument, market: MarketView) -> Sighting | None:
        rate = market.funding.get(perp.id)
        if rate is None or not _valid(market, spot, perp):
            return None
        spot_book, perp_book = market.books[spot.id], market.books[perp.id]
        touches = (spot_book.best_bid(), spot_book.best_ask(), perp_book.best_bid(), perp_book.best_ask())
        if any(t is None for t in touches):
            return None
        sb, sa, pb, pa = (t for t in touches if t is not None)
        interval = market.funding_interval_ns.get(perp.id, self._default_interval_ns)
        periods = Decimal(self._horizon_ns) / Decimal(interval)
        spot_touch, perp_touch = (spot.price(sb[0]), spot.price(sa[0])), (perp.price(pb[0]), perp.price(pa[0]))
        edge = funding_edge_bps(rate, periods, spot, spot_touch, perp, perp_touch)
        if edge <= 0:
            return None
        # The touch only: buy the spot ask, sell the perp bid, the same base quantity on both legs.
        lot = common_lot(spot.lot_size * spot.contract_size, perp.lot_size * perp.contract_size)
        base = min(spot.size(sa[1]) * spot.contract_size, perp.size(pb[1]) * perp.contract_size)
        base = round_down(base, lot)
        if base == 0:
            return None
        mid = (spot_touch[0] + spot_touch[1]) / 2
        return Sighting(edge, base, edge / BPS * base * mid, spot.quote)


def default_detectors(
    instruments: Iterable[Instrument], *, funding_horizon_hours: float = 24.0, funding_interval_hours: float = 8.0
) -> list[Detector]:
    listed = list(instruments)
    return [
        CrossExchangeDetector(listed),
        TriangularDetector(listed),
        BinaryPairDetector(listed),
        FundingDetector(listed, horizon_hours=funding_horizon_hours, interval_hours=funding_interval_hours),
    ]


# =========================================================================== the scanner
class Scanner:
    """Live and closed opportunities of ``detectors`` over an engine's books (see the module docstring)."""

    def __init__(self, detectors: Iterable[Detector]) -> None:
        self.detectors = list(detectors)
        self.live: dict[str, Opportunity] = {}
        self.history: list[ClosedOpportunity] = []
        self.evaluations = 0
        self._market: MarketView | None = None
        self._engine: Engine | None = None
        self._changed: set[InstrumentId] = set()
        self._watched = set().union(*(d.watched() for d in self.detectors))
        self._next_funding: dict[InstrumentId, int] = {}

    def attach(self, engine: Engine) -> None:
        self._engine = engine
        self._market = MarketView(engine.books)
        for kind in (BookSnapshot, BookDeltas, FundingRate, InstrumentSettled):
            engine.bus.subscribe(kind, self._on_record)

    @property
    def market(self) -> MarketView:
        if self._market is None:
            raise RuntimeError("the scanner is not attached to an engine")
        return self._market

    def _on_record(self, record: MarketData) -> None:
        iid = record.instrument_id
        if iid not in self._watched:
            return
        if isinstance(record, FundingRate):
            self._on_funding(record)
        elif isinstance(record, InstrumentSettled):
            self.market.settled.add(iid)
        if not self._changed:
            # Evaluate once the whole instant is applied: the timer fires before the next instant.
            assert self._engine is not None
            self._engine.schedule(self._engine.clock.now_ns(), self._evaluate)
        self._changed.add(iid)

    def _on_funding(self, funding: FundingRate) -> None:
        if funding.ts_ns >= funding.funding_ts_ns:
            return  # a realised rate: what was paid, not what is expected
        self.market.funding[funding.instrument_id] = funding.rate
        previous = self._next_funding.get(funding.instrument_id)
        if previous is not None and funding.funding_ts_ns > previous:
            self.market.funding_interval_ns[funding.instrument_id] = funding.funding_ts_ns - previous
        self._next_funding[funding.instrument_id] = funding.funding_ts_ns

    def _evaluate(self) -> None:
        assert self._engine is not None
        now = self.market.now_ns = self._engine.clock.now_ns()
        changed, self._changed = self._changed, set()
        self.evaluations += 1
        for detector in self.detectors:
            if changed.isdisjoint(detector.watched()):
                continue
            for key, sighting in detector.scan(changed, self.market).items():
                if sighting is None:
                    self._close(key, now)
                else:
                    self._see(detector.kind, key, sighting, now)

    def _see(self, kind: str, key: str, s: Sighting, now: int) -> None:
        old = self.live.get(key)
        if old is None:
            self.live[key] = Opportunity(
                kind, key, s.net_edge_bps, s.executable_size, s.expected_profit, s.profit_asset,
                now, now, s.net_edge_bps, s.expected_profit, s.executable_size,
            )  # fmt: skip
            return
        peak = s.expected_profit > old.peak_profit
        self.live[key] = replace(
            old,
            net_edge_bps=s.net_edge_bps,
            executable_size=s.executable_size,
            expected_profit=s.expected_profit,
            last_seen_ns=now,
            max_edge_bps=max(old.max_edge_bps, s.net_edge_bps),
            peak_profit=s.expected_profit if peak else old.peak_profit,
            peak_size=s.executable_size if peak else old.peak_size,
        )

    def _close(self, key: str, now: int) -> None:
        o = self.live.pop(key, None)
        if o is None:
            return
        closed = ClosedOpportunity(
            kind=o.kind,
            key=o.key,
            first_seen_ns=o.first_seen_ns,
            last_seen_ns=o.last_seen_ns,
            closed_ns=now,
            max_edge_bps=o.max_edge_bps,
            executable_size=o.peak_size,
            expected_profit=o.peak_profit,
            profit_asset=o.profit_asset,
        )
        self.history.append(closed)

    def finish(self, now_ns: int) -> None:
        """Close what is still live at the end of the data (its duration is cut there)."""
        for key in sorted(self.live):
            self._close(key, now_ns)

    def top(self, n: int) -> list[Opportunity]:
        """The ``n`` live opportunities with the largest edge."""
        return sorted(self.live.values(), key=lambda o: (-o.net_edge_bps, o.key))[:n]


# =========================================================================== from a config
class ScanConfig(RunConfig):
    """A run config whose strategies, if any, are ignored: a scan needs only data and instruments."""

    @model_validator(mode="after")
    def _one_way_to_name_strategies(self) -> Self:  # replaces RunConfig's: strategies are optional here
        return self


def load_scan_config(path: Path, overrides: list[str] | None = None) -> ScanConfig:
    """As ``runtime.config.load_config``, without requiring a strategy; problems are one-line ``ConfigError``s."""
    import tomllib  # noqa: PLC0415  (only the loader needs it)

    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        body: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None
    for text in overrides or []:
        apply_override(body, *parse_override(text))
    if "base_dir" in body:
        raise ConfigError(f"{path}: unknown key 'base_dir'")
    body["base_dir"] = str(path.resolve().parent)
    try:
        return ScanConfig.model_validate(body)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_validation_error(exc)}") from None


@dataclass
class ScanNode:
    engine: Engine
    scanner: Scanner
    sources: list[Iterable[MarketData]]
    event_count: int

    def run(self, progress: Callable[[int], None] | None = None, progress_every: int = 50_000) -> Scanner:
        run_replay(self.engine, ReplayFeed(self.sources), progress=progress, progress_every=progress_every)
        self.scanner.finish(self.engine.clock.now_ns())
        return self.scanner


def build_scan(config: RunConfig, *, funding_horizon_hours: float = 24.0) -> ScanNode:
    """An engine with no venue and no strategy over the config's data, and a scanner attached."""
    feed = load_feed(config)
    instruments, sources, count = feed.instruments, feed.sources, feed.count
    interval_h = feed.funding_interval_h or 8.0  # until two funding times are seen
    engine = Engine(instruments.values(), clock=SimClock(feed.start_ns))
    detectors = default_detectors(
        instruments.values(), funding_horizon_hours=funding_horizon_hours, funding_interval_hours=interval_h
    )
    scanner = Scanner(detectors)
    scanner.attach(engine)
    return ScanNode(engine, scanner, sources, count)
