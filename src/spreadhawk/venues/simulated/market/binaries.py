"""Rolling "BTC up or down in the next 15 minutes" (and the next hour, ...) binary markets.

At each period boundary (UTC; 15 minutes by default, each horizon its own ``BinaryParams``) a market
opens with strike K = the fair value then, and two tokens:
YES pays 1 USDT if the fair value at expiry is at least K (ties resolve up, as Polymarket's up/down
markets do), NO pays 1 otherwise. The fair probability of YES is the lognormal ``N(d2)`` with
``d2 = (ln(S / K) - sigma^2 tau / 2) / (sigma sqrt(tau))``, sigma the process's current volatility.

The venue quotes YES around ``p + n`` and NO around ``1 - p - n``: n is a slow common noise (the crowd
misjudging the probability moves both books, mirrored, as a YES/NO pair does), plus a small
independent noise per book, so the two best asks normally sum to 1 + one spread. Occasionally a
*mispricing* lowers both books at once by a size decaying with a half-life: while it lasts, buying
YES and NO costs less than the 1 USDT the pair is certain to pay. At expiry an ``InstrumentSettled``
record pays each token 1 or 0.

Longer horizons (``horizon``: e.g. 1-hour markets beside the 15-minute ones) open on their own
boundaries, so the first 15-minute market of each hour shares the hour market's open and strike. Each
horizon draws from its own generator, so adding one leaves the others' records unchanged. Besides the
common noise, a longer horizon gets *drifts*: directional misjudgements of that market alone (YES up
and NO down by the same amount, or the reverse), of exponential size decaying with a half-life. A
drift moves the market away from what the shorter market on the same asset implies (both are priced
off the same path, strike and volatility), which is what a cross-market strategy trades; a drift
leaves YES + NO unchanged, so it is no pair arbitrage.

No recording of such a market exists in ``shared/data`` (the Polymarket fixtures are an election
market), so every number in ``BinaryParams`` is an assumption, and so is ``horizon``'s drift rate,
size and half-life. Stated assumptions of the book model: the crowd's misjudgement is mean-reverting
(OU) and shared by the two tokens of a market; the markets of different horizons misjudge
independently (no common crowd noise across horizons, which overstates how often they disagree if
real crowds err together); the books are quoted around the model probability computed from the
*true* path with the process's own volatility, i.e. the venue's crowd knows the volatility exactly and
sees the fair value without lag. So the binary books never lag the spot books: a signal read from a
spot venue cannot lead them, by construction.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.market import InstrumentSettled, MarketData
from spreadhawk.venues.simulated.market.book_writer import BookWriter, BookWriterParams
from spreadhawk.venues.simulated.market.books import (
    MS,
    BookPlan,
    FloatArray,
    IntArray,
    S,
    draw_trades,
    ou_path,
    publish_steps,
)
from spreadhawk.venues.simulated.market.paths import FairValuePaths

YEAR_S = 365 * 86400
_erf = np.frompyfunc(math.erf, 1, 1)


@dataclass(frozen=True, slots=True)
class BinaryParams:
    venue: str = "PREDICT"
    asset: str = "BTC"
    quote: str = "USDT"
    period_min: int = 15
    tick: Decimal = Decimal("0.01")
    lot: Decimal = Decimal(1)  # one token
    maker_fee: Decimal = Decimal(0)
    taker_fee: Decimal = Decimal(0)
    half_spread: float = 0.01  # in probability: the book is two ticks wide
    noise_std: float = 0.02  # common misjudgement of the probability (OU)
    noise_half_life_s: float = 30.0
    book_noise_std: float = 0.002  # each book's own noise
    mispricings_per_hour: float = 2.0
    mispricing_mean: float = 0.03  # exponential size; both books drop by it
    mispricing_half_life_s: float = 20.0
    levels: int = 10  # as many as fit between 0.01 and 0.99
    touch_shares: float = 400.0
    level_shares: float = 250.0
    size_sigma: float = 0.8
    cadence_ms: int = 500
    requote: float = 0.005  # republish when the displayed probability moved half a tick ...
    heartbeat_ms: int = 10_000
    trade_rate_per_s: float = 0.1  # per token
    trade_shares: float = 50.0
    trade_sigma: float = 1.0
    # Directional misjudgements of this horizon's markets alone (0 for the base horizon: its records
    # stay as they were before horizons existed); ``horizon`` turns them on for longer markets.
    drifts_per_hour: float = 0.0
    drift_mean: float = 0.05  # exponential size in probability; YES moves by +-size, NO by -+size
    drift_half_life_s: float = 60.0
    # assumption: a longer market is misjudged on its own for a minute or so a few times an hour
    long_drifts_per_hour: float = 3.0  # the drift rate of the longer horizons ``horizon`` builds

    def __post_init__(self) -> None:
        if self.period_min <= 0:
            raise ValueError(f"binary period_min must be positive, got {self.period_min}")
        if min(self.drifts_per_hour, self.long_drifts_per_hour, self.drift_mean) < 0 or self.drift_half_life_s <= 0:
            raise ValueError("binary drifts: rate and mean must be >= 0 and the half-life positive")


def horizon(base: BinaryParams, period_min: int) -> BinaryParams:
    """The params of ``period_min``-minute markets beside ``base``'s: the same book model, their own
    period, and (when longer than the base) drifts of their own (see the module docstring)."""
    if period_min == base.period_min:
        return base
    drifts = base.long_drifts_per_hour if period_min > base.period_min else base.drifts_per_hour
    return replace(base, period_min=period_min, drifts_per_hour=drifts)


@dataclass(frozen=True, slots=True)
class BinaryMarket:
    open_ns: int
    expiry_ns: int
    strike: float
    yes: Instrument
    no: Instrument
    outcome_up: bool  # ground truth: the fair value at expiry was >= strike

    @property
    def period_min(self) -> int:
        return (self.expiry_ns - self.open_ns) // (60 * S)


@dataclass(frozen=True, slots=True)
class Mispricing:
    """Ground truth: both books of the market expiring at ``expiry_ns`` were ``size`` too cheap at ``start_ns``."""

    expiry_ns: int
    start_ns: int
    size: float
    half_life_s: float
    period_min: int = 15  # with expiry_ns, which market: horizons share expiry instants


@dataclass(frozen=True, slots=True)
class Drift:
    """Ground truth: the YES book of the ``period_min`` market expiring at ``expiry_ns`` was ``size``
    (signed; NO by ``-size``) off its fair probability at ``start_ns``, decaying with the half-life."""

    period_min: int
    expiry_ns: int
    start_ns: int
    size: float
    half_life_s: float


def _token(params: BinaryParams, open_ns: int, expiry_ns: int, outcome: str) -> Instrument:
    stamp = datetime.fromtimestamp(open_ns / S, tz=UTC).strftime("%Y%m%dT%H%M")
    # The 15-minute markets keep their original names; other horizons say theirs, so that markets of
    # two horizons opening at the same instant have different symbols. The stamp is the open (UTC).
    tag = "" if params.period_min == 15 else f"-{params.period_min}M"
    symbol = f"{params.asset}-UPDOWN{tag}-{stamp}-{outcome}"
    return Instrument(
        venue=params.venue,
        symbol=symbol,
        kind=InstrumentKind.BINARY,
        base=symbol,  # the token is its own asset
        quote=params.quote,
        tick_size=params.tick,
        lot_size=params.lot,
        maker_fee=params.maker_fee,
        taker_fee=params.taker_fee,
        expiry_ns=expiry_ns,
    )


def markets(params: BinaryParams, paths: FairValuePaths, start_ns: int, end_ns: int) -> list[BinaryMarket]:
    """Every market that opens on a period boundary at or after ``start_ns`` and expires by ``end_ns``."""
    period = params.period_min * 60 * S
    t, logp = paths.ts_ns.astype(np.float64), np.log(paths.prices[params.asset])
    out = []
    open_ns = -(-start_ns // period) * period
    while open_ns + period <= end_ns:
        expiry = open_ns + period
        strike, final = np.exp(np.interp([float(open_ns), float(expiry)], t, logp))
        yes, no = _token(params, open_ns, expiry, "YES"), _token(params, open_ns, expiry, "NO")
        out.append(BinaryMarket(open_ns, expiry, float(strike), yes, no, bool(final >= strike)))
        open_ns = expiry
    return out


def fair_probability(paths: FairValuePaths, asset: str, market: BinaryMarket, ts: IntArray) -> FloatArray:
    t = ts.astype(np.float64)
    spot = np.exp(np.interp(t, paths.ts_ns.astype(np.float64), np.log(paths.prices[asset])))
    sigma = np.maximum(np.interp(t, paths.ts_ns.astype(np.float64), paths.volatility[asset]), 1e-6)
    tau = np.maximum((market.expiry_ns - ts) / S / YEAR_S, 1e-12)
    d2 = (np.log(spot / market.strike) - 0.5 * sigma**2 * tau) / (sigma * np.sqrt(tau))
    return np.asarray(0.5 * (1.0 + _erf(d2 / math.sqrt(2)).astype(np.float64)), dtype=np.float64)


def draw_mispricings(
    params: BinaryParams, all_markets: list[BinaryMarket], rng: np.random.Generator
) -> list[Mispricing]:
    out = []
    for market in all_markets:
        minutes = (market.expiry_ns - market.open_ns) / 60 / S
        for _ in range(int(rng.poisson(params.mispricings_per_hour * minutes / 60))):
            start = int(rng.integers(market.open_ns, market.expiry_ns))
            out.append(
                Mispricing(
                    market.expiry_ns,
                    start,
                    float(rng.exponential(params.mispricing_mean)),
                    params.mispricing_half_life_s,
                    params.period_min,
                )
            )
    return sorted(out, key=lambda m: m.start_ns)


def draw_drifts(params: BinaryParams, all_markets: list[BinaryMarket], rng: np.random.Generator) -> list[Drift]:
    """Directional misjudgements (none, and no draw at all, when ``drifts_per_hour`` is 0)."""
    out: list[Drift] = []
    if params.drifts_per_hour <= 0:
        return out
    for market in all_markets:
        minutes = (market.expiry_ns - market.open_ns) / 60 / S
        for _ in range(int(rng.poisson(params.drifts_per_hour * minutes / 60))):
            start = int(rng.integers(market.open_ns, market.expiry_ns))
            size = float(rng.exponential(params.drift_mean)) * (1.0 if rng.random() < 0.5 else -1.0)
            out.append(Drift(params.period_min, market.expiry_ns, start, size, params.drift_half_life_s))
    return sorted(out, key=lambda d: d.start_ns)


def _decaying(times: IntArray, start_ns: int, size: float, half_life_s: float) -> FloatArray:
    age = (times - start_ns) / S
    return np.where(age >= 0, size * np.exp2(-np.maximum(age, 0) / half_life_s), 0.0)


def plan_market(
    params: BinaryParams,
    paths: FairValuePaths,
    market: BinaryMarket,
    mispricings: list[Mispricing],
    rng: np.random.Generator,
    drifts: list[Drift] | None = None,
) -> tuple[BookPlan, BookPlan]:
    """Plans of the YES and NO books of one market (see the module docstring)."""
    cadence = params.cadence_ms * MS
    times = np.arange(market.open_ns, market.expiry_ns, cadence, dtype=np.int64)
    fair = fair_probability(paths, params.asset, market, times)
    seconds = (market.expiry_ns - market.open_ns) // S + 2
    grid = (times - market.open_ns) / S
    common = np.interp(grid, np.arange(seconds), ou_path(seconds, params.noise_std, params.noise_half_life_s, rng))
    cheap = np.zeros(len(times))
    for m in mispricings:
        if m.expiry_ns == market.expiry_ns and m.period_min == params.period_min:
            cheap += _decaying(times, m.start_ns, m.size, m.half_life_s)
    for d in drifts or ():
        if d.expiry_ns == market.expiry_ns and d.period_min == params.period_min:
            common = common + _decaying(times, d.start_ns, d.size, d.half_life_s)
    plans = []
    for sign, base in ((1.0, fair), (-1.0, 1.0 - fair)):
        own = np.interp(
            grid, np.arange(seconds), ou_path(seconds, params.book_noise_std, params.noise_half_life_s, rng)
        )
        plans.append(_plan_book(params, times, base + sign * common + own - cheap, market.expiry_ns, rng))
    return plans[0], plans[1]


def _plan_book(
    params: BinaryParams, times: IntArray, mid: FloatArray, end_ns: int, rng: np.random.Generator
) -> BookPlan:
    tick = float(params.tick)
    top = round(1 / tick) - 1  # the highest price a token can be quoted at: 0.99
    spread = max(1, round(2 * params.half_spread / tick))
    idx = publish_steps(times, mid, params.requote, params.heartbeat_ms * MS)
    best_bid = np.clip(np.floor(mid[idx] / tick - spread / 2 + 0.5), 1, top - spread).astype(np.int64)
    trade_ns, trade_buy = draw_trades(
        params.trade_rate_per_s, times[idx], mid[idx], lambda ts: np.interp(ts, times, mid), end_ns, rng
    )
    wanted = params.trade_shares * np.exp(np.clip(rng.standard_normal(len(trade_ns)), -3, 3) * params.trade_sigma)
    per_share = 1.0 / float(params.lot)
    return BookPlan(
        update_ns=times[idx],
        best_bid=best_bid,
        best_ask=best_bid + spread,
        size_scale=np.full(len(idx), per_share),
        refreshes=rng.poisson(1.0, len(idx)).astype(np.int64),
        trade_ns=trade_ns,
        trade_buy=trade_buy,
        trade_units=np.maximum(1, wanted * per_share).astype(np.int64),
    )


def writer_params(params: BinaryParams, rng: np.random.Generator) -> BookWriterParams:
    return BookWriterParams(
        levels=params.levels,
        spacing_ticks=1.0,  # every cent is quoted
        touch_notional=params.touch_shares,
        touch_sigma=params.size_sigma,
        level_notional=(params.touch_shares,) + (params.level_shares,) * (params.levels - 1),
        level_sigma=params.size_sigma,
        seed=int(rng.integers(2**63)),
        min_bid=1,
        max_ask=round(1 / float(params.tick)) - 1,
    )


def token_records(books: list[tuple[Instrument, BookPlan, BookWriterParams, Decimal]]) -> Iterator[MarketData]:
    """One token side (every YES, or every NO) of consecutive markets: each book, then its settlement."""
    for inst, plan, params, payout in books:
        yield from BookWriter(inst, plan, params)
        yield InstrumentSettled(inst.id, inst.expiry_ns or 0, payout)
