"""Venue profiles: what distinguishes one simulated venue's market from another's.

Every number below is either fitted by ``calibration_venues.calibrate_venues(shared/data)`` — the
comment names the ``VenueCalibration`` field — or a stated assumption where no recording says
anything (fees, order latency, dislocations, the third venue). Refit with
``uv run python -m spreadhawk.venues.simulated.market.calibration_venues ../shared/data``.

* ``ALPHA`` is the leading, deep venue: Binance BTCUSDT spot and USD-M (2024-08-08) fitted directly.
* ``BETA`` is a second-tier venue modelled on Huobi in the LINK/USDT recording (2021-08-20), the only
  recording of two venues at once: it follows Binance by ~190 ms; spreads and level spacing are
  Huobi's own (bps), notional depth is ALPHA's scaled by the Huobi/Binance LINK depth ratio.
* ``GAMMA`` (no recording): a smaller venue, twice BETA's spread, a third of its depth, slower, with
  rarer but larger dislocations.

Publication and trade intensity are cut to the record budget (about 2.4 million records per simulated
day for three venues, two assets, perpetuals and binaries). A venue republishes its book when its
displayed mid has moved ``requote_bps`` (1 bp for ALPHA, whose recorded feed updates every 100 ms),
so a published book can be up to that stale. Prints keep the recorded size distribution but ALPHA
prints once a second where Binance printed 28 times, so traded volume, and with it the queue progress
of resting orders, is understated: conservative for passive strategies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from decimal import Decimal

from spreadhawk.domain.instruments import Instrument, InstrumentKind

QUOTE = "USDT"


@dataclass(frozen=True, slots=True)
class BookProfile:
    """Spread, depth, publication cadence and trade flow of one book (quote notional, bps of the mid)."""

    half_spread_bps: float  # median half spread in calm markets; the spread is at least one tick
    spread_sigma: float  # lognormal dispersion of the spread from one update to the next
    touch_notional: float  # median size at the best price, each side
    touch_sigma: float
    level_notional: float  # median size of the first level behind the touch
    level_growth: float  # factor per level further out
    level_sigma: float
    level_spacing_bps: float  # mean distance between consecutive levels behind the touch (>= 1 tick)
    levels: int = 10  # per side
    cadence_ms: int = 100  # the venue publishes at most this often ...
    requote_bps: float = 0.5  # ... when its displayed mid has moved by this much (log grid) ...
    heartbeat_ms: int = 5_000  # ... or when this long has passed
    refresh_per_update: float = 1.0  # mean number of levels re-sized per update (orders added, canceled)
    trade_rate_per_s: float = 1.0
    trade_notional: float = 100.0  # median print, lognormal
    trade_sigma: float = 2.0
    vol_elasticity: float = 1.0  # spread x (vol / median vol) ** e, depth / the same
    crisis_spread_mult: float = 2.0  # in the CRISIS regime
    crisis_depth_mult: float = 0.4

    def __post_init__(self) -> None:
        if self.levels < 10:
            raise ValueError(f"a book shows at least 10 levels a side, got {self.levels}")
        if self.cadence_ms <= 0 or self.heartbeat_ms < self.cadence_ms:
            raise ValueError("cadence_ms must be positive and heartbeat_ms at least cadence_ms")


@dataclass(frozen=True, slots=True)
class DislocationProfile:
    """Transient dislocations: at Poisson times the venue's prices jump away from fair value by an
    exponentially distributed size (random sign) and decay back with a half-life."""

    per_hour: float = 0.0
    mean_bps: float = 0.0
    half_life_s: float = 1.0


@dataclass(frozen=True, slots=True)
class VenueProfile:
    name: str
    maker_fee: Decimal
    taker_fee: Decimal
    latency_ms: int  # order latency of the simulated venue (wired by the runtime into SimulatedVenue)
    lag_ms: float  # the venue shows the fair value this late (lead-lag; 0 for the leader)
    noise_bps: float  # the venue's own slow price noise (OU), standard deviation ...
    noise_half_life_s: float  # ... and half-life
    spot: BookProfile
    dislocations: DislocationProfile = field(default_factory=DislocationProfile)
    perp: BookProfile | None = None  # None: no perpetuals on this venue
    perp_maker_fee: Decimal = Decimal("0.0002")
    perp_taker_fee: Decimal = Decimal("0.0005")
    tick_multiplier: int = 1  # a coarser price grid than the asset's default tick


@dataclass(frozen=True, slots=True)
class AssetSpec:
    """Exchange rules of one asset, spot and perpetual (Binance's where the readers document them)."""

    spot_tick: Decimal
    spot_lot: Decimal
    perp_tick: Decimal
    perp_lot: Decimal


ASSET_SPECS: dict[str, AssetSpec] = {
    # spreadhawk.data.readers.instruments.binance_spot_btcusdt / binance_usdm_btcusdt
    "BTC": AssetSpec(Decimal("0.01"), Decimal("0.00001"), Decimal("0.1"), Decimal("0.001")),
    # binance_spot_ethusdt / binance_usdm_ethusdt
    "ETH": AssetSpec(Decimal("0.01"), Decimal("0.0001"), Decimal("0.01"), Decimal("0.001")),
}


def asset_spec(asset: str, price: float) -> AssetSpec:
    """The rules of ``asset``; an unknown asset gets a tick of ~1e-6 of its price and a lot worth ~1 USDT."""
    known = ASSET_SPECS.get(asset)
    if known is not None:
        return known
    magnitude = math.floor(math.log10(price))
    tick = Decimal(1).scaleb(magnitude - 6)
    lot = Decimal(1).scaleb(-magnitude)
    return AssetSpec(tick, lot, tick * 10, lot)


@dataclass(frozen=True, slots=True)
class CrossSpec:
    """Exchange rules of a cross pair (neither side the venue's ``QUOTE``); min notional in its quote."""

    tick: Decimal
    lot: Decimal
    min_notional: Decimal


CROSS_SPECS: dict[tuple[str, str], CrossSpec] = {
    # Binance ETHBTC (exchangeInfo, cryptofeed sample): tick 0.00001, step 0.0001, min notional 0.0001 BTC
    ("ETH", "BTC"): CrossSpec(Decimal("0.00001"), Decimal("0.0001"), Decimal("0.0001")),
}
# Assumption (no recording of a cross book in shared/data): a cross book holds this fraction of the
# venue's spot depth and prints, in quote-notional terms (Binance ETHBTC is far thinner than BTCUSDT).
CROSS_DEPTH_RATIO = 0.5


def cross_spec(base: str, quote: str, price: float) -> CrossSpec:
    """The rules of ``base/quote``; an unknown pair gets a tick of ~1e-4 of its price and a lot of ~1e-4
    of a quote unit's worth, min notional 1e-4 quote units."""
    known = CROSS_SPECS.get((base, quote))
    if known is not None:
        return known
    magnitude = math.floor(math.log10(price))
    return CrossSpec(Decimal(1).scaleb(magnitude - 4), Decimal(1).scaleb(-magnitude - 4), Decimal("0.0001"))


def cross_instrument(venue: VenueProfile, base: str, quote: str, price: float) -> Instrument:
    """A spot market of ``base`` in ``quote`` (e.g. ETH/BTC) on ``venue``, with the venue's spot fees.

    The venue's ``tick_multiplier`` is not applied: it coarsens a USDT grid of ~0.04 bps, but the
    cross tick is already ~2 bps of the price."""
    spec = cross_spec(base, quote, price)
    return Instrument(
        venue=venue.name,
        symbol=f"{base}/{quote}",
        kind=InstrumentKind.SPOT,
        base=base,
        quote=quote,
        tick_size=spec.tick,
        lot_size=spec.lot,
        maker_fee=venue.maker_fee,
        taker_fee=venue.taker_fee,
        min_notional=spec.min_notional,
    )


def cross_book(spot: BookProfile, quote_price: float) -> BookProfile:
    """The venue's spot book profile for a cross pair: notionals converted from ``QUOTE`` into the cross
    pair's quote at ``quote_price`` and scaled by ``CROSS_DEPTH_RATIO``."""
    factor = CROSS_DEPTH_RATIO / quote_price
    return replace(
        spot,
        touch_notional=spot.touch_notional * factor,
        level_notional=spot.level_notional * factor,
        trade_notional=spot.trade_notional * factor,
        trade_rate_per_s=spot.trade_rate_per_s * CROSS_DEPTH_RATIO,
    )


def spot_instrument(venue: VenueProfile, asset: str, price: float) -> Instrument:
    spec = asset_spec(asset, price)
    return Instrument(
        venue=venue.name,
        symbol=f"{asset}/{QUOTE}",
        kind=InstrumentKind.SPOT,
        base=asset,
        quote=QUOTE,
        tick_size=spec.spot_tick * venue.tick_multiplier,
        lot_size=spec.spot_lot,
        maker_fee=venue.maker_fee,
        taker_fee=venue.taker_fee,
        min_notional=Decimal(5),
    )


def perp_instrument(venue: VenueProfile, asset: str, price: float) -> Instrument:
    spec = asset_spec(asset, price)
    return Instrument(
        venue=venue.name,
        symbol=f"{asset}/{QUOTE}:{QUOTE}",
        kind=InstrumentKind.PERPETUAL,
        base=asset,
        quote=QUOTE,
        tick_size=spec.perp_tick * venue.tick_multiplier,
        lot_size=spec.perp_lot,
        maker_fee=venue.perp_maker_fee,
        taker_fee=venue.perp_taker_fee,
        min_notional=Decimal(5),
        settlement=QUOTE,
    )


# --------------------------------------------------------------------------- defaults
# binance_btc_spot: spread 1 tick at p10/p50/p90 (0.00162 bps); touch deciles -> lognormal median
# 92,963 USDT, sigma 1.24; level 1 median 1,251 USDT, growth 1.276/level, sigma 2.89; spacing 0.0591 bps;
# prints: median 73 USDT, sigma 2.85 (28.2/s recorded).
ALPHA_SPOT = BookProfile(
    half_spread_bps=0.00081,
    spread_sigma=0.0,
    touch_notional=92_963.0,
    touch_sigma=1.237,
    level_notional=1_251.0,
    level_growth=1.276,
    level_sigma=2.885,
    level_spacing_bps=0.0591,
    cadence_ms=100,  # Binance depth@100ms
    requote_bps=1.0,
    trade_rate_per_s=1.0,
    trade_notional=73.0,
    trade_sigma=2.855,
)
# binance_btc_usdm: spread 1 tick of 0.1 (0.0162 bps); touch median 151,688 USDT, sigma 1.05; level 1
# 2,703 USDT, growth 1.079, sigma 2.34; spacing 0.0728 bps; prints median 1,030 USDT, sigma 2.11 (62/s).
ALPHA_PERP = BookProfile(
    half_spread_bps=0.0081,
    spread_sigma=0.0,
    touch_notional=151_688.0,
    touch_sigma=1.050,
    level_notional=2_703.0,
    level_growth=1.079,
    level_sigma=2.344,
    level_spacing_bps=0.0728,
    cadence_ms=100,
    requote_bps=1.0,
    trade_rate_per_s=1.5,
    trade_notional=1_030.0,
    trade_sigma=2.111,
)
# huobi_link vs binance_link: spread lognormal median 1.755 bps (half 0.878), sigma 1.03; spacing 0.398 bps;
# touch depth ratio 338.6 / 607.6 = 0.557 and level ratio 873 / 1,328 = 0.658 of ALPHA's; growth 1.031,
# touch sigma 1.84, level sigma 1.66.
# The LINK books have no trades: BETA's prints are ALPHA's scaled by the same depth ratio.
BETA_SPOT = BookProfile(
    half_spread_bps=0.878,
    spread_sigma=1.029,
    touch_notional=92_963.0 * 0.557,
    touch_sigma=1.841,
    level_notional=1_251.0 * 0.658,
    level_growth=1.031,
    level_sigma=1.657,
    level_spacing_bps=0.398,
    cadence_ms=250,
    requote_bps=0.8,
    trade_rate_per_s=0.5,
    trade_notional=73.0 * 0.557,
    trade_sigma=2.855,
)
# Assumption (no recording): twice BETA's spread and spacing, a third of its depth, slower updates.
GAMMA_SPOT = replace(
    BETA_SPOT,
    half_spread_bps=2 * BETA_SPOT.half_spread_bps,
    touch_notional=BETA_SPOT.touch_notional / 3,
    level_notional=BETA_SPOT.level_notional / 3,
    level_spacing_bps=2 * BETA_SPOT.level_spacing_bps,
    cadence_ms=500,
    requote_bps=1.5,
    trade_rate_per_s=0.2,
    trade_notional=BETA_SPOT.trade_notional / 3,
)
# Assumption: BETA's perpetual book is ALPHA's scaled like its spot book, published less often.
BETA_PERP = replace(
    ALPHA_PERP,
    touch_notional=ALPHA_PERP.touch_notional * 0.557,
    level_notional=ALPHA_PERP.level_notional * 0.658,
    cadence_ms=250,
    requote_bps=1.0,
    trade_rate_per_s=0.5,
)

DEFAULT_VENUES: tuple[VenueProfile, ...] = (
    VenueProfile(
        name="ALPHA",
        # Fees are an assumption: a professional tier. Retail schedules (Binance spot 0.1 %, Huobi 0.2 %:
        # spreadhawk.data.readers.instruments) leave no dislocation of the sizes below worth taking.
        maker_fee=Decimal("0.0002"),
        taker_fee=Decimal("0.0004"),
        latency_ms=5,  # assumption: co-located
        lag_ms=0.0,  # the leader
        noise_bps=0.0,
        noise_half_life_s=1.0,
        spot=ALPHA_SPOT,
        perp=ALPHA_PERP,  # Binance USD-M fees (binance_usdm_btcusdt): 0.02 % / 0.05 %
    ),
    VenueProfile(
        name="BETA",
        maker_fee=Decimal("0.0004"),
        taker_fee=Decimal("0.0006"),
        latency_ms=30,  # assumption
        lag_ms=193.0,  # lead_lag.lag_ms: Huobi follows Binance by 193 ms (1 s return correlations 0.82 / 0.20)
        noise_bps=0.868,  # lead_lag.noise_bps: slow part of the Huobi - Binance mid difference ...
        noise_half_life_s=43.8,  # ... lead_lag.noise_half_life_s
        spot=BETA_SPOT,
        # Assumption: the LINK pair's mids stayed within ±1.6 bps of each other 80 % of the time
        # (lead_lag.residual_bps p10/p90), far inside its 30 bps of fees: the recording holds no
        # dislocation to fit. These exist to be arbitraged; their sizes and rates are the knobs.
        dislocations=DislocationProfile(per_hour=4.0, mean_bps=12.0, half_life_s=3.0),
        perp=BETA_PERP,
    ),
    VenueProfile(
        name="GAMMA",
        maker_fee=Decimal("0.0005"),
        taker_fee=Decimal("0.0010"),
        latency_ms=80,  # assumption
        lag_ms=400.0,  # assumption: twice BETA's
        noise_bps=1.5 * 0.868,
        noise_half_life_s=43.8,
        spot=GAMMA_SPOT,
        dislocations=DislocationProfile(per_hour=2.0, mean_bps=25.0, half_life_s=8.0),
        tick_multiplier=10,
    ),
)


def venue(name: str, venues: tuple[VenueProfile, ...] = DEFAULT_VENUES) -> VenueProfile:
    for profile in venues:
        if profile.name == name:
            return profile
    raise KeyError(f"no venue profile named {name!r}; have {[v.name for v in venues]}")
