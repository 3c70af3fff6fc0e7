"""Breakers: loss limits on calendar windows, drawdown, losing streaks, venue health -> degradation mode.

Each is a small object fed by the risk engine (``limits.py``) with the injected clock's time; none
reads a clock. What a tripped breaker does to orders is decided in one place, ``RiskEngine``:

* **Loss limits** (daily 5 %, weekly 10 %, monthly 15 %): the loss is measured from the first equity
  seen in the current UTC calendar window (day; ISO week from Monday; month). Once hit, new risk is
  refused (only risk-reducing orders pass) until that window ends, even if equity recovers: a daily
  stop means no new positions today.
* **Drawdown** from the running equity peak: at 8 % sizes are halved, at 10 % the kill switch is
  engaged with flattening (cancel everything, close positions at market) and trading halts until
  someone resumes it.
* **Losing streaks**: a strategy's round trips, net of fees. A round trip is its whole book from
  flat to flat — every instrument it trades — so a hedged trade is judged with its hedge (a
  maker fill and its hedge on another venue, spot and perpetual legs), not leg by leg; a
  strategy trading one instrument also closes one on a flip. 3 losses in a row pause the
  strategy for an hour (again at 6 and 9), 10 pause it until it is resumed by hand. A winning trip
  resets the count. Strategies that never come back to flat (a spot arbitrage whose inventory
  drifts) close no round trip and never trip this.
* **Venue health** picks a degradation mode per venue: FULL, REDUCED (sizes halved), HEDGE_ONLY
  (only risk-reducing orders), HALTED (nothing but the risk engine's own flattening orders).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import IntEnum

from spreadhawk.domain.events import OrderFilled
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.positions import Position
from spreadhawk.risk.config import NS_PER_S, RiskLimits

ZERO = Decimal(0)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class Mode(IntEnum):
    """Degradation modes, ordered by severity (the stricter of two applies)."""

    FULL = 0
    REDUCED = 1
    HEDGE_ONLY = 2
    HALTED = 3


# --------------------------------------------------------------------------- calendar loss limits
def _to_ns(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * 1_000


def window_bounds(kind: str, ts_ns: int) -> tuple[int, int]:
    """[start, end) in ns of the UTC calendar ``kind`` ("day", "week", "month") holding ``ts_ns``."""
    moment = datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC)
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    if kind == "day":
        start, end = day, day + timedelta(days=1)
    elif kind == "week":
        start = day - timedelta(days=day.weekday())  # ISO weeks start on Monday
        end = start + timedelta(days=7)
    elif kind == "month":
        start = day.replace(day=1)
        end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    else:
        raise ValueError(f"unknown calendar window {kind!r}")
    return _to_ns(start), _to_ns(end)


@dataclass(slots=True)
class _Window:
    kind: str
    limit: Decimal
    start_ns: int = -1
    end_ns: int = -1
    start_equity: Decimal = ZERO
    tripped: bool = False


class LossLimits:
    """Daily / weekly / monthly loss limits; ``update`` returns the windows that trip now."""

    def __init__(self, limits: RiskLimits) -> None:
        pairs = (("day", limits.daily_loss), ("week", limits.weekly_loss), ("month", limits.monthly_loss))
        self._windows = [_Window(kind, limit) for kind, limit in pairs if limit is not None]

    def update(self, ts_ns: int, equity: Decimal) -> list[tuple[str, Decimal, int]]:
        """Tripped now: (window, loss fraction, end of window ns)."""
        tripped = []
        for window in self._windows:
            if ts_ns >= window.end_ns:  # a new window: its loss is measured from here
                window.start_ns, window.end_ns = window_bounds(window.kind, ts_ns)
                window.start_equity, window.tripped = equity, False
            if window.tripped or window.start_equity <= 0:
                continue
            loss = (window.start_equity - equity) / window.start_equity
            if loss >= window.limit:
                window.tripped = True
                tripped.append((window.kind, loss, window.end_ns))
        return tripped

    def active(self, ts_ns: int) -> tuple[str, int] | None:
        """The tripped window still in force at ``ts_ns`` (the one ending last), if any."""
        best: tuple[str, int] | None = None
        for window in self._windows:
            if window.tripped and ts_ns < window.end_ns and (best is None or window.end_ns > best[1]):
                best = (window.kind, window.end_ns)
        return best


# --------------------------------------------------------------------------- drawdown
class Drawdown:
    __slots__ = ("peak",)

    def __init__(self) -> None:
        self.peak = ZERO

    def update(self, equity: Decimal) -> Decimal:
        """The drawdown fraction from the running peak after seeing ``equity``."""
        self.peak = max(self.peak, equity)
        return (self.peak - equity) / self.peak if self.peak > 0 else ZERO


# --------------------------------------------------------------------------- losing streaks
@dataclass(slots=True)
class _Book:
    positions: dict[InstrumentId, Position]
    pnl: Decimal = ZERO


class LosingStreaks:
    """Consecutive losing round trips per strategy; ``on_fill`` says what the fill closed.

    Judging each instrument on its own would count the losing leg of every hedged trade as a
    loss (in the demo the maker-taker and YES/NO pair strategies were paused by winning trades).
    """

    def __init__(self) -> None:
        self._books: dict[str, _Book] = {}
        self.streak: dict[str, int] = {}

    def on_fill(self, strategy_id: str, fill: OrderFilled, contract_size: Decimal) -> Decimal | None:
        """The PnL (net of fees, settlement currency) of the round trip this fill closed, if any;
        the strategy's streak is updated."""
        book = self._books.setdefault(strategy_id, _Book({}))
        before = book.positions.get(fill.instrument_id) or Position(fill.instrument_id, contract_size=contract_size)
        after = before.apply_fill(fill)
        if after is before:
            return None  # the same fill reported twice
        book.pnl += after.realized_pnl - before.realized_pnl - fill.fee
        book.positions[fill.instrument_id] = after
        flipped = (
            len(book.positions) == 1
            and not before.is_flat
            and not after.is_flat
            and (before.quantity > 0) != (after.quantity > 0)
        )
        if not (flipped or all(p.is_flat for p in book.positions.values())):
            return None
        pnl, book.pnl = book.pnl, ZERO
        self.streak[strategy_id] = self.streak.get(strategy_id, 0) + 1 if pnl < 0 else 0
        return pnl


# --------------------------------------------------------------------------- venue health
class VenueHealth:
    """Rejections, submit-to-ack latency and disconnects per venue -> a degradation mode."""

    _LATENCY_SAMPLES = 5  # the slowest of the last few acknowledgements decides

    def __init__(self, limits: RiskLimits) -> None:
        self._limits = limits
        self._window_ns = int(limits.health_window_s * NS_PER_S)
        self._rejections: dict[str, deque[int]] = {}
        self._latencies: dict[str, deque[int]] = {}
        self.disconnected: set[str] = set()
        # venue -> source -> (mode, reason): an adapter (its circuit breaker, an IP ban), the node
        # (activity on the account it did not make); one source lifting its verdict leaves the others
        self.imposed: dict[str, dict[str, tuple[Mode, str]]] = {}

    def impose(self, venue: str, mode: Mode, reason: str, source: str = "adapter") -> None:
        """``source``'s verdict on ``venue`` (``Mode.FULL`` lifts it); the strictest verdict and the
        health checks applies. The adapter knows what the engine cannot see: a request circuit
        breaker open, an IP ban until a given time."""
        verdicts = self.imposed.setdefault(venue, {})
        if mode is Mode.FULL:
            verdicts.pop(source, None)
        else:
            verdicts[source] = (mode, reason)

    def on_rejected(self, venue: str, ts_ns: int) -> None:
        self._rejections.setdefault(venue, deque()).append(ts_ns)

    def on_acknowledged(self, venue: str, latency_ns: int) -> None:
        self._latencies.setdefault(venue, deque(maxlen=self._LATENCY_SAMPLES)).append(latency_ns)

    def rejections(self, venue: str, now_ns: int) -> int:
        times = self._rejections.get(venue)
        if not times:
            return 0
        while times and times[0] <= now_ns - self._window_ns:
            times.popleft()
        return len(times)

    def mode(self, venue: str, now_ns: int, data_age_s: float | None) -> tuple[Mode, str]:
        """The venue's mode and why (empty when FULL); ``data_age_s``: since its last book update."""
        worst = self._measured(venue, now_ns, data_age_s)
        for imposed in self.imposed.get(venue, {}).values():
            if imposed[0] > worst[0]:
                worst = imposed
        return worst

    def _measured(self, venue: str, now_ns: int, data_age_s: float | None) -> tuple[Mode, str]:
        lim = self._limits
        if venue in self.disconnected:
            return Mode.HEDGE_ONLY, f"{venue} disconnected"
        latencies = self._latencies.get(venue)
        checks = (
            (data_age_s, lim.stale_hedge_only_s, lim.stale_reduced_s, "no book update for {:.1f} s"),
            (
                float(self.rejections(venue, now_ns)),
                _f(lim.rejections_hedge_only),
                _f(lim.rejections_reduced),
                "{:.0f} rejections",
            ),
            (
                max(latencies) / 1e6 if latencies else 0.0,
                lim.latency_hedge_only_ms,
                lim.latency_reduced_ms,
                "ack latency {:.0f} ms",
            ),
        )
        return _worst(venue, checks)

    def staleness(self, subject: str, data_age_s: float) -> tuple[Mode, str]:
        """The mode one market's data allows (an order on a frozen book is priced on stale data)."""
        lim = self._limits
        return _worst(
            subject, ((data_age_s, lim.stale_hedge_only_s, lim.stale_reduced_s, "no book update for {:.1f} s"),)
        )


_Check = tuple[float | None, float | None, float | None, str]


def _worst(subject: str, checks: tuple[_Check, ...]) -> tuple[Mode, str]:
    worst, why = Mode.FULL, ""
    for value, hedge_at, reduce_at, text in checks:
        if value is None:
            continue
        if hedge_at is not None and value >= hedge_at:
            return Mode.HEDGE_ONLY, f"{subject}: {text.format(value)}"
        if reduce_at is not None and value >= reduce_at and worst is Mode.FULL:
            worst, why = Mode.REDUCED, f"{subject}: {text.format(value)}"
    return worst, why


def _f(value: int | None) -> float | None:
    return None if value is None else float(value)
