"""``MarketSimulator``: every venue, instrument and record of the simulated market, as one feed.

The simulator plans every stream up front (numpy: cheap, and it fixes ``records_count``), then
writes records lazily while they are iterated, merged in ``ts_ns`` order (``heapq.merge``: ties keep
the stream order below, so the merge is stable). A simulated day is about two million records; held
in lists, with their level tuples, they would take gigabytes, so no stream is materialised.

Streams, in tie order: per asset, each venue's spot book, then each perpetual's book and its
mark/funding records; then each cross pair's book per venue (``cross_pairs``); then the YES and the
NO tokens of the binary markets, then those of each longer horizon (``binary_horizons_min``).

A cross pair (ETH/BTC) shows, on each venue, that venue's displayed ETH/USDT over its displayed
BTC/USDT, plus dislocations of its own drawn from the venue's profile. So the triangle ETH/USDT -
ETH/BTC - BTC/USDT is consistent up to each book's spread, its publication grid (a book is up to
``requote_bps`` stale) and the cross book's own dislocations: triangular opportunities are occasional
and small, and on a venue without dislocations (ALPHA) they do not beat the fees.

Every stream draws from its own generator, seeded by (seed, the stream's name): the same config
gives the same records, and adding a venue or an asset leaves the other streams unchanged.
"""

from __future__ import annotations

import heapq
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial

import numpy as np

from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import MarketData
from spreadhawk.venues.simulated.market import binaries as bin_
from spreadhawk.venues.simulated.market.binaries import BinaryMarket, BinaryParams, Drift, Mispricing
from spreadhawk.venues.simulated.market.book_writer import BookWriter, BookWriterParams, writer_params
from spreadhawk.venues.simulated.market.books import (
    BookPlan,
    BoolArray,
    Dislocation,
    DisplayedPrice,
    FloatArray,
    IntArray,
    S,
    dislocation_offset,
    draw_dislocations,
    plan_book,
)
from spreadhawk.venues.simulated.market.paths import FairValuePaths
from spreadhawk.venues.simulated.market.perps import Basis, PerpParams, PerpPrices, funding_records, plan_funding
from spreadhawk.venues.simulated.market.prices import CALIBRATED, PriceProcessParams, simulate_paths
from spreadhawk.venues.simulated.market.venues import (
    DEFAULT_VENUES,
    VenueProfile,
    cross_book,
    cross_instrument,
    perp_instrument,
    spot_instrument,
)

DEFAULT_START_NS = 1_704_067_200 * S  # 2024-01-01 00:00 UTC
_ONE = Decimal(1)


@dataclass(frozen=True, slots=True)
class MarketSimulatorConfig:
    start_ns: int = DEFAULT_START_NS
    hours: float = 1.0
    seed: int = 0
    venues: tuple[VenueProfile, ...] = DEFAULT_VENUES
    assets: tuple[str, ...] = ("BTC", "ETH")  # spot on every venue (SOL is in the price process too)
    perps: bool = True  # on the venues whose profile has a perpetual book
    binaries: bool = True  # 15-minute up/down markets on binary_params.asset
    perp_params: PerpParams = field(default_factory=PerpParams)
    binary_params: BinaryParams = field(default_factory=BinaryParams)
    binary_horizons_min: tuple[int, ...] = ()  # more up/down horizons beside binary_params.period_min, e.g. (60,)
    price_params: PriceProcessParams = CALIBRATED
    cross_pairs: tuple[tuple[str, str], ...] = ()  # (base, quote) spot books, e.g. (("ETH", "BTC"),)
    cross_venues: tuple[str, ...] = ()  # the venues with the cross books; empty: every venue

    def __post_init__(self) -> None:
        if self.hours <= 0:
            raise ValueError(f"hours must be positive, got {self.hours}")
        names = [v.name for v in self.venues]
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"venue names must be unique and at least one is needed, got {names}")
        for pair in self.cross_pairs:
            if len(pair) != 2 or pair[0] == pair[1]:
                raise ValueError(f"a cross pair is two different assets (base, quote), got {list(pair)}")
            missing = [a for a in pair if a not in self.assets]
            if missing:
                raise ValueError(
                    f"cross pair {'/'.join(pair)}: {missing} not among the simulated assets {list(self.assets)}"
                )
        if len(set(self.cross_pairs)) != len(self.cross_pairs):
            raise ValueError(f"a cross pair is listed twice: {[list(p) for p in self.cross_pairs]}")
        periods = (self.binary_params.period_min, *self.binary_horizons_min)
        if len(set(periods)) != len(periods) or min(periods) <= 0:
            raise ValueError(f"binary horizons must be positive and distinct minutes, got {list(periods)}")
        unknown = [v for v in self.cross_venues if v not in names]
        if unknown:
            raise ValueError(f"cross_venues {unknown} are not simulated venues ({names})")
        unknown = [v for v, _ in self.perp_params.venue_premium_bps if v not in names]
        if unknown:
            raise ValueError(f"venue_premium_bps names {unknown}, which are not simulated venues ({names})")

    @property
    def end_ns(self) -> int:
        return self.start_ns + round(self.hours * 3600 * S)


@dataclass(frozen=True, slots=True)
class _Stream:
    name: str
    records: int
    open: Callable[[], Iterable[MarketData]]


class MarketSimulator:
    """A ``Feed`` (iterable of market data in time order) with its instruments and ground truth.

    ``paths`` replaces the price process (tests pin the fair values this way).
    """

    def __init__(self, config: MarketSimulatorConfig | None = None, *, paths: FairValuePaths | None = None) -> None:
        self.config = cfg = config or MarketSimulatorConfig()
        self.paths = paths or simulate_paths(cfg.price_params, start_ns=cfg.start_ns, hours=cfg.hours, seed=cfg.seed)
        missing = [a for a in cfg.assets if a not in self.paths.prices]
        if missing:
            raise ValueError(f"assets {missing} are not in the price paths ({sorted(self.paths.prices)})")
        self._instruments: list[Instrument] = []
        self._streams: list[_Stream] = []
        self.dislocations: list[Dislocation] = []  # ground truth of every injected dislocation
        self.binary_markets: list[BinaryMarket] = []
        self.mispricings: list[Mispricing] = []
        self.binary_drifts: list[Drift] = []  # ground truth of the longer horizons' directional misjudgements
        shown: dict[str, dict[str, DisplayedPrice]] = {}
        for asset in cfg.assets:
            displayed = shown[asset] = self._spot(asset)
            if cfg.perps:
                self._perps(asset, displayed)
        for base, quote in cfg.cross_pairs:
            self._cross(base, quote, shown[base], shown[quote])
        if cfg.binaries and cfg.binary_params.asset in self.paths.prices:
            self._binaries()

    # --------------------------------------------------------------------------- the feed
    def instruments(self) -> list[Instrument]:
        """Every instrument the feed has records for, with its venue's fees, tick and lot."""
        return list(self._instruments)

    @property
    def records_count(self) -> int:
        """Exact number of records ``__iter__`` yields (for progress bars and budgets)."""
        return sum(stream.records for stream in self._streams)

    def stream_counts(self) -> dict[str, int]:
        return {stream.name: stream.records for stream in self._streams}

    def __iter__(self) -> Iterator[MarketData]:
        return heapq.merge(*(stream.open() for stream in self._streams), key=_ts)

    # --------------------------------------------------------------------------- building
    def _rng(self, name: str) -> np.random.Generator:
        return np.random.default_rng([self.config.seed, zlib.crc32(name.encode())])

    def _spot(self, asset: str) -> dict[str, DisplayedPrice]:
        cfg = self.config
        price = float(self.paths.prices[asset][0])
        displayed = {}
        for venue in cfg.venues:
            rng = self._rng(f"spot/{venue.name}/{asset}")
            dislocations = draw_dislocations(venue.dislocations, venue.name, asset, cfg.start_ns, cfg.end_ns, rng)
            self.dislocations.extend(dislocations)
            shown = DisplayedPrice(
                self.paths,
                asset,
                lag_ms=venue.lag_ms,
                noise_bps=venue.noise_bps,
                noise_half_life_s=venue.noise_half_life_s,
                dislocations=dislocations,
                rng=rng,
            )
            displayed[venue.name] = shown
            inst = spot_instrument(venue, asset, price)
            plan = plan_book(venue.spot, inst, shown.mid, shown.stress, cfg.start_ns, cfg.end_ns, rng)
            params = writer_params(venue.spot, inst, price, rng)
            self._add(inst, f"spot/{inst.id}", plan.records, partial(BookWriter, inst, plan, params))
        self.dislocations.sort(key=lambda d: (d.start_ns, d.venue, d.asset))
        return displayed

    def _perps(self, asset: str, displayed: dict[str, DisplayedPrice]) -> None:
        cfg = self.config
        price = float(self.paths.prices[asset][0])
        basis = Basis(cfg.perp_params, cfg.start_ns, cfg.end_ns, self._rng(f"basis/{asset}"))
        for venue in cfg.venues:
            if venue.perp is None:
                continue
            rng = self._rng(f"perp/{venue.name}/{asset}")
            shown = displayed[venue.name]
            own_basis = basis.for_venue(cfg.perp_params, venue.name, self._rng(f"basis/{venue.name}/{asset}"))
            prices = PerpPrices(shown, own_basis, list(displayed.values()))
            inst = perp_instrument(venue, asset, price)
            plan = plan_book(venue.perp, inst, prices.mid, shown.stress, cfg.start_ns, cfg.end_ns, rng)
            params = writer_params(venue.perp, inst, price, rng)
            self._add(inst, f"perp/{inst.id}", plan.records, partial(BookWriter, inst, plan, params))
            funding = plan_funding(cfg.perp_params, inst, prices, cfg.start_ns, cfg.end_ns)
            self._streams.append(
                _Stream(f"funding/{inst.id}", funding.records, partial(funding_records, inst, funding))
            )

    def _cross(
        self, base: str, quote: str, base_shown: dict[str, DisplayedPrice], quote_shown: dict[str, DisplayedPrice]
    ) -> None:
        cfg = self.config
        quote_price = float(self.paths.prices[quote][0])
        price = float(self.paths.prices[base][0]) / quote_price
        for venue in cfg.venues:
            if cfg.cross_venues and venue.name not in cfg.cross_venues:
                continue
            rng = self._rng(f"cross/{venue.name}/{base}/{quote}")
            pair = f"{base}/{quote}"
            dislocations = draw_dislocations(venue.dislocations, venue.name, pair, cfg.start_ns, cfg.end_ns, rng)
            self.dislocations.extend(dislocations)
            ratio = CrossPrice(base_shown[venue.name], quote_shown[venue.name], dislocations)
            inst = cross_instrument(venue, base, quote, price)
            profile = cross_book(venue.spot, quote_price)
            plan = plan_book(profile, inst, ratio.mid, ratio.stress, cfg.start_ns, cfg.end_ns, rng)
            params = writer_params(profile, inst, price, rng)
            self._add(inst, f"cross/{inst.id}", plan.records, partial(BookWriter, inst, plan, params))
        self.dislocations.sort(key=lambda d: (d.start_ns, d.venue, d.asset))

    def _binaries(self) -> None:
        base = self.config.binary_params
        self._binary_horizon(base, f"binary/{base.venue}/{base.asset}", "binary")  # names as before horizons
        for period in self.config.binary_horizons_min:
            params = bin_.horizon(base, period)
            self._binary_horizon(params, f"binary/{base.venue}/{base.asset}/{period}m", f"binary/{period}m")
        self.mispricings.sort(key=lambda m: m.start_ns)
        self.binary_drifts.sort(key=lambda d: d.start_ns)

    def _binary_horizon(self, params: BinaryParams, rng_name: str, stream: str) -> None:
        cfg = self.config
        rng = self._rng(rng_name)
        markets = bin_.markets(params, self.paths, cfg.start_ns, cfg.end_ns)
        mispricings = bin_.draw_mispricings(params, markets, rng)
        drifts = bin_.draw_drifts(params, markets, rng)
        yes: list[tuple[Instrument, BookPlan, BookWriterParams, Decimal]] = []
        no: list[tuple[Instrument, BookPlan, BookWriterParams, Decimal]] = []
        for market in markets:
            yes_plan, no_plan = bin_.plan_market(params, self.paths, market, mispricings, rng, drifts)
            payout = _ONE if market.outcome_up else Decimal(0)
            yes.append((market.yes, yes_plan, bin_.writer_params(params, rng), payout))
            no.append((market.no, no_plan, bin_.writer_params(params, rng), _ONE - payout))
            self._instruments += [market.yes, market.no]
        for side, books in (("YES", yes), ("NO", no)):
            count = sum(plan.records + 1 for _, plan, _, _ in books)
            self._streams.append(_Stream(f"{stream}/{side}", count, partial(bin_.token_records, books)))
        self.binary_markets += markets
        self.mispricings += mispricings
        self.binary_drifts += drifts

    def _add(self, inst: Instrument, name: str, records: int, open_: Callable[[], Iterable[MarketData]]) -> None:
        self._instruments.append(inst)
        self._streams.append(_Stream(name, records, open_))


class CrossPrice:
    """What a venue shows of a cross pair: its displayed base over its displayed quote (both in
    ``QUOTE``), offset by the cross book's own dislocations; stress is the base's."""

    def __init__(self, base: DisplayedPrice, quote: DisplayedPrice, dislocations: list[Dislocation]) -> None:
        self.base = base
        self.quote = quote
        self.dislocations = dislocations

    def mid(self, ts: IntArray) -> FloatArray:
        ratio: FloatArray = self.base.mid(ts) / self.quote.mid(ts)
        if self.dislocations:
            ratio = ratio * (1.0 + dislocation_offset(self.dislocations, ts))
        return ratio

    def stress(self, ts: IntArray) -> tuple[FloatArray, BoolArray]:
        return self.base.stress(ts)


def _ts(record: MarketData) -> int:
    return record.ts_ns
