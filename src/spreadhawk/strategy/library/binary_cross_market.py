"""Cross-market binaries: a long-horizon up/down market priced against the short one it contains.

Take a 15-minute and a 1-hour "BTC up or down" market that open at the same instant ``t0``: both
strikes are the reference price at ``t0`` (``K``), and the short market's window is the first
quarter of the long one's. At any ``t`` before the short expiry, both fair probabilities depend on
the same unknown, ``x = ln(S_t / K)``, through the lognormal ``N(d2)`` with their own remaining
times ``tau_s < tau_l`` (``s = sigma sqrt(tau)``):

    P_s = N((x - s_s^2 / 2) / s_s),   P_l = N((x - s_l^2 / 2) / s_l).

So the short market's price *implies* the long one's: ``x = s_s N^-1(P_s) + s_s^2 / 2`` and
``P_l* = N((x - s_l^2 / 2) / s_l)`` (``implied_long_probability``). It is the same number as the
tower property gives, ``P_l = E_t[ N(d2 at the short expiry, with tau_l - tau_s left) ]``: the
long market is the short window followed by the rest, and ``N(d2)`` of a lognormal composes
(``tests/strategy/test_binary_cross_market.py`` checks the two by quadrature). The mapping barely
depends on ``sigma``: ``d2_l = d2_s sqrt(tau_s / tau_l) - (s_l - s_s^2 / s_l) / 2`` and the second
term is ~0.003 for ``sigma`` = 0.5 over an hour, a tenth of a cent of probability, so a configured
``annual_vol`` serves and no reference feed is needed. It does need the strikes to be equal:
markets are only paired when their opens coincide (``binary_guards.updown_market``).

Rule (``cross_market_signal``): with the short market's mid as its fair value, buying the long YES
and hedging with ``h`` short NO is worth ``(P_l* - ask_lY (1 + fee)) - h (ask_sN (1 + fee) - (1 -
P_s))`` per long token; the mirror (long NO, short YES) likewise. ``h = dP_l/dx / dP_s/dx`` makes the
pair insensitive to small moves of the reference; buying the short *opposite* token is how a
binary venue without shorting sells the dear side. Enter when the better of the two beats
``min_edge``. Exit on convergence: sell a slice of both legs at the bids when that beats holding
them, ``sum over the legs of size x (bid (1 - fee) - fair) >= -exit_slack x long tokens``, fair being
``P_l*`` for the long token and the short mid for the hedge; otherwise both legs are held to their
settlements (the hedge ends at the short expiry: what is left is a long-market bet bought below its
implied value). The default ``exit_slack`` = -0.02 asks selling to beat holding by 2 cents a long
token: the fair values are noisy estimates, and on the simulator exits at the bare break-even (0), or
as soon as the long mid met ``P_l*``, gave back much of the entry edge (selection on estimation noise).

The short mid must lie within ``[short_mid_band, 1 - short_mid_band]``, for entries and exits:
``N^-1`` turns a tick of it into a large error of ``x`` near 0 or 1, where the books are also clipped
at one tick (on the simulator, entries off a 0.98 short mid of a market really at 0.999 lost money).
Entries repeat while the signal lasts, up to ``max_long_per_pair`` long tokens per outcome; holdings
are the strategy's own position (other strategies may trade the same tokens), and liquidity its fills
took stays subtracted until the venue republishes that level. Guards (``strategy.binary_guards``):
``stale_book`` (any of the four books), ``near_expiry`` (short market), ``leg_in_flight`` (one unit
at a time), ``position_limit``; ``insufficient_balance`` / ``below_lot_size`` for sizes.

Discovery: ``cross_market_pairs`` pairs the tokens of a short and a long up/down market on one venue
and asset with the same open (the scanner's ``runtime.scan_prediction`` uses it too, with
``cross_quotes`` and ``cross_market_signal``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal
from functools import partial
from statistics import NormalDist
from typing import Any

from pydantic import Field

from spreadhawk.analytics.binary_pricing import YEAR_S
from spreadhawk.domain.events import OrderFilled, OrderSide
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot, InstrumentSettled
from spreadhawk.domain.orderbook import OrderBook
from spreadhawk.execution.paired import Leg
from spreadhawk.strategy.binary_guards import near_expiry, stale_books, updown_market
from spreadhawk.strategy.legs import PairedLegsConfig, PairedLegsStrategy
from spreadhawk.strategy.skips import Skip, counted
from spreadhawk.strategy.taken import TakenLiquidity

MS, S = 1_000_000, 1_000_000_000
ZERO = Decimal(0)
_N = NormalDist()
_EPS = 1e-6


def implied_long_probability(p_short: float, tau_short_s: float, tau_long_s: float, annual_vol: float) -> float:
    """``P_l*`` given the short market's ``P_s`` (same strike, see the module docstring)."""
    s_s, s_l = (annual_vol * math.sqrt(max(t, 1e-9) / YEAR_S) for t in (tau_short_s, tau_long_s))
    x = s_s * _N.inv_cdf(min(max(p_short, _EPS), 1 - _EPS)) + s_s * s_s / 2
    return _N.cdf((x - s_l * s_l / 2) / s_l)


def hedge_ratio(p_short: float, tau_short_s: float, tau_long_s: float, annual_vol: float) -> float:
    """Short tokens per long token that cancel a small move of ``x``: ``(phi(d2_l)/s_l) / (phi(d2_s)/s_s)``."""
    s_s, s_l = (annual_vol * math.sqrt(max(t, 1e-9) / YEAR_S) for t in (tau_short_s, tau_long_s))
    d2_s = _N.inv_cdf(min(max(p_short, _EPS), 1 - _EPS))
    d2_l = _N.inv_cdf(implied_long_probability(p_short, tau_short_s, tau_long_s, annual_vol))
    return (_N.pdf(d2_l) / s_l) / max(_N.pdf(d2_s) / s_s, 1e-12)


@dataclass(frozen=True, slots=True)
class CrossQuotes:
    """Touch of the four books (asks; the short market's mid), fees, and remaining times."""

    short_mid: float
    long_yes_ask: Decimal
    long_no_ask: Decimal
    short_yes_ask: Decimal
    short_no_ask: Decimal
    long_fee: Decimal
    short_fee: Decimal
    tau_short_s: float
    tau_long_s: float


@dataclass(frozen=True, slots=True)
class CrossSignal:
    long_outcome: str  # the long token to buy: "YES" or "NO"; the hedge is the short's other token
    implied: float  # P_l* of the long YES
    hedge_ratio: float
    edge: float  # per long token, after fees and the hedge's cost over its mid


def cross_market_signal(q: CrossQuotes, annual_vol: float, min_edge: float, max_hedge: float) -> CrossSignal | None:
    """The better of the two trades when it beats ``min_edge``, else ``None`` (see the module docstring)."""
    implied = implied_long_probability(q.short_mid, q.tau_short_s, q.tau_long_s, annual_vol)
    h = min(hedge_ratio(q.short_mid, q.tau_short_s, q.tau_long_s, annual_vol), max_hedge)
    lf, sf = float(q.long_fee), float(q.short_fee)
    yes = (implied - float(q.long_yes_ask) * (1 + lf)) - h * (float(q.short_no_ask) * (1 + sf) - (1 - q.short_mid))
    no = ((1 - implied) - float(q.long_no_ask) * (1 + lf)) - h * (float(q.short_yes_ask) * (1 + sf) - q.short_mid)
    outcome, edge = ("YES", yes) if yes >= no else ("NO", no)
    return CrossSignal(outcome, implied, h, edge) if edge > min_edge else None


@dataclass(frozen=True, slots=True)
class CrossPair:
    """The two tokens (by outcome) of a short market and of the long market opening with it."""

    short: dict[str, Instrument]
    long: dict[str, Instrument]

    @property
    def key(self) -> str:
        long, short = (m["YES"].symbol.rpartition("-")[0] for m in (self.long, self.short))
        return f"{self.long['YES'].venue}:{long}~{short}"


def cross_market_pairs(instruments: Iterable[Instrument], short_min: int = 15, long_min: int = 60) -> list[CrossPair]:
    """Every (short, long) pair of up/down markets on one venue and asset that open at the same instant."""
    markets: dict[tuple[str, str, int, int], dict[str, Instrument]] = {}
    for inst in instruments:
        if (m := updown_market(inst)) is not None and m.period_min in (short_min, long_min):
            markets.setdefault((inst.venue, m.asset, m.open_ns, m.period_min), {})[m.outcome] = inst
    pairs = []
    for (venue, asset, opened, period), tokens in sorted(markets.items()):
        partner = markets.get((venue, asset, opened, long_min))
        if period == short_min and len(tokens) == 2 and partner is not None and len(partner) == 2:
            pairs.append(CrossPair(tokens, partner))
    return pairs


def cross_quotes(pair: CrossPair, book: Callable[[InstrumentId], OrderBook | None], now: int) -> CrossQuotes | None:
    """The touch of the pair's four books, or ``None`` while any is missing, invalid or one-sided."""
    tokens = (*pair.short.values(), *pair.long.values())
    books = {t.id: book(t.id) for t in tokens}
    if not all(b is not None and b.is_valid for b in books.values()):
        return None
    short_yes = pair.short["YES"]
    mid = books[short_yes.id].mid_ticks()  # type: ignore[union-attr]
    asks = {t.id: books[t.id].best_ask() for t in tokens}  # type: ignore[union-attr]
    if mid is None or any(a is None for a in asks.values()):
        return None

    def ask(token: Instrument) -> Decimal:
        level = asks[token.id]
        return token.price(level[0]) if level is not None else ZERO

    return CrossQuotes(
        short_mid=mid * float(short_yes.tick_size),
        long_yes_ask=ask(pair.long["YES"]),
        long_no_ask=ask(pair.long["NO"]),
        short_yes_ask=ask(short_yes),
        short_no_ask=ask(pair.short["NO"]),
        long_fee=pair.long["YES"].taker_fee,
        short_fee=short_yes.taker_fee,
        tau_short_s=((short_yes.expiry_ns or 0) - now) / S,
        tau_long_s=((pair.long["YES"].expiry_ns or 0) - now) / S,
    )


class BinaryCrossMarketConfig(PairedLegsConfig):
    venue: str = Field(default="PREDICT", description="venue of the up/down markets")
    short_period_min: int = Field(default=15, gt=0, description="the short market's length")
    long_period_min: int = Field(default=60, gt=0, description="the long market's length (same open)")
    annual_vol: float = Field(default=0.5, gt=0, description="sigma of the mapping; it matters little")
    min_edge: float = Field(default=0.01, ge=0, description="per long token, after fees and hedge cost")
    exit_slack: float = Field(default=-0.02, description="per long token: exit if selling loses at most this")
    max_hedge_ratio: float = Field(default=2.0, gt=0, description="short tokens per long token, at most")
    # N^-1 turns one tick of the short mid into a large error of x near 0 or 1, and the books there
    # are clipped at 0.01 / 0.99: a 0.98 mid can be a 0.999 market. Only the middle is inverted.
    short_mid_band: float = Field(default=0.1, ge=0, lt=0.5, description="trade while short mid in [b, 1 - b]")
    order_shares: Decimal = Field(default=Decimal(100), gt=0, description="long tokens per entry, at most")
    max_long_per_pair: Decimal = Field(default=Decimal(500), gt=0, description="long tokens held per outcome")
    max_book_age_ms: int = Field(default=15_000, gt=0, description="any of the four books older: skip")
    min_time_to_expiry_s: float = Field(default=60.0, ge=0, description="no entry this close to the short expiry")
    max_legging_loss: Decimal = Field(default=Decimal(10), ge=0, description="quote; costlier completions unwind")


class BinaryCrossMarket(PairedLegsStrategy):
    config_class = BinaryCrossMarketConfig

    def __init__(self, config: BinaryCrossMarketConfig, strategy_id: str | None = None) -> None:
        super().__init__(config, strategy_id)
        self.cfg = config
        self._pairs: dict[InstrumentId, CrossPair | None] = {}  # any of the four tokens -> its pair
        self._taken = TakenLiquidity()
        self._settled: set[InstrumentId] = set()  # short YES of the pairs whose short market has settled
        self._pending: set[int] = set()
        self._counts = dict.fromkeys(("opportunities_seen", "entries", "exits"), 0)
        self._skipped: dict[Skip, int] = {}
        self._expected_edge = 0.0

    def _held(self, token: InstrumentId) -> Decimal:
        """Tokens of ``token`` this strategy holds: its own position (settled: none)."""
        return self.ctx.position(token).quantity

    def subscriptions(self) -> Iterable[InstrumentId]:
        return [inst.id for inst in self.ctx.instruments(self.cfg.venue)]  # markets roll: every one listed

    # --------------------------------------------------------------------------- discovery
    def _pair(self, iid: InstrumentId) -> CrossPair | None:
        if iid not in self._pairs:  # a new instrument: index the venue's pairs again (markets roll)
            cfg = self.cfg
            for pair in cross_market_pairs(self.ctx.instruments(cfg.venue), cfg.short_period_min, cfg.long_period_min):
                if pair.short["YES"].id not in self._settled:
                    for token in (*pair.short.values(), *pair.long.values()):
                        self._pairs.setdefault(token.id, pair)
            self._pairs.setdefault(iid, None)
        return self._pairs[iid]

    # --------------------------------------------------------------------------- market data
    def on_book_snapshot(self, snapshot: BookSnapshot) -> None:
        self._taken.on_book(snapshot)
        self._book_changed(snapshot.instrument_id)

    def on_book_deltas(self, deltas: BookDeltas) -> None:
        self._taken.on_book(deltas)
        self._book_changed(deltas.instrument_id)

    def _left(self, token: Instrument, side: BookSide, level: tuple[int, int] | None) -> Decimal:
        """Size shown at a touch level less what our fills took since the venue last updated it."""
        return ZERO if level is None else token.size(self._taken.left(token.id, side, level))

    def on_instrument_settled(self, settled: InstrumentSettled) -> None:
        pair = self._pairs.get(settled.instrument_id)
        if pair is not None and settled.instrument_id in {t.id for t in pair.short.values()}:
            self._settled.add(pair.short["YES"].id)
            for token in pair.short.values():  # the hedge is gone: the long legs ride to their settlement
                self._pairs.pop(token.id, None)

    def _book_changed(self, iid: InstrumentId) -> None:
        pair = self._pair(iid)
        if pair is not None and id(pair) not in self._pending:  # once per instant, after all its records
            self._pending.add(id(pair))
            self.ctx.schedule(self.ctx.now_ns() + 1, partial(self._decide, pair))

    # --------------------------------------------------------------------------- deciding
    def quotes(self, pair: CrossPair, now: int) -> CrossQuotes | None:
        return cross_quotes(pair, self.ctx.book, now)

    def _decide(self, pair: CrossPair) -> None:
        self._pending.discard(id(pair))
        now = self.ctx.now_ns()
        q = self.quotes(pair, now) if pair.short["YES"].id in self._pairs else None
        band = self.cfg.short_mid_band
        if q is None or q.tau_short_s <= 0 or not band <= q.short_mid <= 1 - band:
            return  # outside the band the implied value is not to be trusted, for entries or exits
        for outcome in ("YES", "NO"):
            if self._held(pair.long[outcome].id) > 0 and self._maybe_exit(pair, q, outcome):
                return
        signal = cross_market_signal(q, self.cfg.annual_vol, self.cfg.min_edge, self.cfg.max_hedge_ratio)
        if signal is None:
            return
        self._counts["opportunities_seen"] += 1
        tokens = (*pair.short.values(), *pair.long.values())
        held = self._held(pair.long[signal.long_outcome].id)
        reason = (
            stale_books(now, (self.ctx.book(t.id).ts_ns for t in tokens), self.cfg.max_book_age_ms * MS)
            or near_expiry(now, pair.short["YES"].expiry_ns, round(self.cfg.min_time_to_expiry_s * S))
            or (Skip.LEG_IN_FLIGHT if self.executor.is_busy else None)
            or (Skip.POSITION_LIMIT if held >= self.cfg.max_long_per_pair else None)
            or self._enter(pair, q, signal, self.cfg.max_long_per_pair - held)
        )
        if reason:
            self._skipped[reason] = self._skipped.get(reason, 0) + 1

    def _enter(self, pair: CrossPair, q: CrossQuotes, signal: CrossSignal, room: Decimal) -> Skip | None:
        other = "NO" if signal.long_outcome == "YES" else "YES"
        long_tok, short_tok = pair.long[signal.long_outcome], pair.short[other]
        long_ask = q.long_yes_ask if signal.long_outcome == "YES" else q.long_no_ask
        short_ask = q.short_no_ask if other == "NO" else q.short_yes_ask
        ratio = Decimal(repr(round(signal.hedge_ratio, 4)))
        unit_cost = long_ask * (1 + long_tok.taker_fee) + ratio * short_ask * (1 + short_tok.taker_fee)
        shown = [self.ctx.book(t.id).best_ask() for t in (long_tok, short_tok)]
        sizes = [self._left(t, BookSide.ASK, level) for t, level in zip((long_tok, short_tok), shown, strict=True)]
        affordable = self.ctx.available(self.cfg.venue, long_tok.quote) / unit_cost if unit_cost > 0 else ZERO
        hedge_room = sizes[1] / ratio if ratio > 0 else sizes[0]
        qty = long_tok.round_lot_down(min(self.cfg.order_shares, room, sizes[0], hedge_room, affordable))
        hedge = short_tok.round_lot_down((qty * ratio).to_integral_value(rounding=ROUND_DOWN))
        if qty <= 0 or hedge <= 0:
            return Skip.INSUFFICIENT_BALANCE if affordable < self.cfg.order_shares else Skip.BELOW_LOT_SIZE
        self._counts["entries"] += 1
        self._expected_edge += signal.edge * float(qty)
        self.executor.submit(
            [
                Leg(long_tok.id, OrderSide.BUY, qty, long_ask, long_ask),
                Leg(short_tok.id, OrderSide.BUY, hedge, short_ask, short_ask),
            ],
            tag=long_tok.symbol.rpartition("-")[0],
        )
        return None

    def _maybe_exit(self, pair: CrossPair, q: CrossQuotes, outcome: str) -> bool:
        """Sell a slice of the long ``outcome`` and of its hedge, in the proportion held, at the best bids
        when that beats holding them (see the module docstring); True if sent. A slice is at most
        ``order_shares`` long tokens and what both touches show, so the IOC legs fill together."""
        long_tok, short_tok = pair.long[outcome], pair.short["NO" if outcome == "YES" else "YES"]
        held = [self._held(t.id) for t in (long_tok, short_tok)]
        bids = [self.ctx.book(t.id).best_bid() for t in (long_tok, short_tok)]
        if self.executor.is_busy or held[0] <= 0 or held[1] <= 0 or bids[0] is None or bids[1] is None:
            return False  # busy, or the hedge is gone: the long leg rides to settlement
        ratio = held[1] / held[0]
        shown = [self._left(long_tok, BookSide.BID, bids[0]), self._left(short_tok, BookSide.BID, bids[1])]
        qty = long_tok.round_lot_down(min(held[0], self.cfg.order_shares, shown[0], shown[1] / ratio))
        hedge = short_tok.round_lot_down(min(held[1], qty * ratio))
        if qty <= 0 or hedge <= 0:
            return False
        implied = implied_long_probability(q.short_mid, q.tau_short_s, q.tau_long_s, self.cfg.annual_vol)
        fairs = (implied, 1 - q.short_mid) if outcome == "YES" else (1 - implied, q.short_mid)
        prices = [long_tok.price(bids[0][0]), short_tok.price(bids[1][0])]
        value = sum(
            float(size) * (float(price * (1 - tok.taker_fee)) - fair)
            for tok, size, price, fair in zip((long_tok, short_tok), (qty, hedge), prices, fairs, strict=True)
        )
        if value < -self.cfg.exit_slack * float(qty):
            return False  # holding is worth more than selling at the bids
        self._counts["exits"] += 1
        self.executor.submit(
            [
                Leg(long_tok.id, OrderSide.SELL, qty, prices[0], prices[0]),
                Leg(short_tok.id, OrderSide.SELL, hedge, prices[1], prices[1]),
            ],
            tag="exit",
        )
        return True

    # --------------------------------------------------------------------------- order events
    def on_order_filled(self, event: OrderFilled) -> None:
        self._taken.on_fill(event, self.ctx.instrument(event.instrument_id), self.ctx.book(event.instrument_id))

    def stats(self) -> dict[str, Any]:
        return {
            **self._counts,
            "skipped": counted(self._skipped),
            "expected_edge": round(self._expected_edge, 6),
            "execution": self.executor.stats() if self._ctx is not None else {},
        }
