"""The liquidity a strategy's own fills took, until the venue publishes those levels again.

The engine's books are the venue's market data, so a fill of ours does not change them: the level
it emptied is still shown until the venue next updates it (a snapshot: every level; deltas: the
levels they list). A strategy walking those levels again at once would plan on liquidity that is
gone, so what each fill took stays subtracted from its level until then. The simulated venue keeps
the same rule for its own matching (its ``_consumed``): that is the exchange's state, not ours.

Kept per instrument and side, in the book's integer units (price ticks -> size units): a buy takes
from the asks, a sell from the bids. A fill stamped before the book's last update is already in
that update, so it is not subtracted again.
"""

from __future__ import annotations

from spreadhawk.domain.events import OrderFilled, OrderSide
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import BookDeltas, BookSide, BookSnapshot, QuoteTick
from spreadhawk.domain.orderbook import OrderBook

Level = tuple[int, int]  # (price ticks, size units)


class TakenLiquidity:
    """Size units taken per (instrument, side, price level); see the module docstring."""

    __slots__ = ("_taken",)

    def __init__(self) -> None:
        # instrument -> (bids taken, asks taken); a pair per instrument keeps a book update to one lookup
        self._taken: dict[InstrumentId, tuple[dict[int, int], dict[int, int]]] = {}

    def on_book(self, data: BookSnapshot | BookDeltas | QuoteTick) -> None:
        """The venue published the book again: what it now shows already lacks what we took."""
        sides = self._taken.get(data.instrument_id)
        if sides is None:
            return
        if type(data) is not BookDeltas:  # a snapshot, or a quote (the whole of a quote-kept book)
            del self._taken[data.instrument_id]
            return
        assert isinstance(data, BookDeltas)
        bids, asks = sides
        if bids:
            for price, _ in data.bids:
                bids.pop(price, None)
        if asks:
            for price, _ in data.asks:
                asks.pop(price, None)

    def on_fill(self, fill: OrderFilled, inst: Instrument, book: OrderBook) -> None:
        """Subtract a fill of ours from the level it took, unless ``book`` was updated since."""
        if fill.ts_ns < book.ts_ns:
            return
        sides = self._taken.setdefault(inst.id, ({}, {}))
        taken = sides[1] if fill.side is OrderSide.BUY else sides[0]
        ticks = inst.ticks(fill.price)
        taken[ticks] = taken.get(ticks, 0) + inst.units(fill.quantity)

    def forget(self, instrument_id: InstrumentId) -> None:
        """Nothing taken on either side (the instrument settled: its book is gone)."""
        self._taken.pop(instrument_id, None)

    def _side(self, instrument_id: InstrumentId, side: BookSide) -> dict[int, int] | None:
        sides = self._taken.get(instrument_id)
        if sides is None:
            return None
        return sides[0] if side is BookSide.BID else sides[1]

    def left(self, instrument_id: InstrumentId, side: BookSide, level: Level | None) -> int:
        """Units still there at ``level`` of ``side`` (0 for no level)."""
        if level is None:
            return 0
        taken = self._side(instrument_id, side)
        return level[1] if not taken else max(0, level[1] - taken.get(level[0], 0))

    def levels(self, book: OrderBook, side: BookSide, depth: int | None = None) -> list[Level]:
        """Up to ``depth`` of ``side``'s levels (all when None), best first, less what we took;
        levels we emptied are left out."""
        taken = self._side(book.instrument_id, side)
        shown = book.levels(side, depth)
        if not taken:
            return shown
        left = ((price, size - taken.get(price, 0)) for price, size in shown)
        return [(price, size) for price, size in left if size > 0]

    def best(self, book: OrderBook, side: BookSide, depth: int) -> Level | None:
        """The best level of ``side`` with something left, looking ``depth`` levels deep."""
        taken = self._side(book.instrument_id, side)
        if not taken:  # the common case, and a cheap one: the touch as shown
            return book.best_bid() if side is BookSide.BID else book.best_ask()
        for price, size in book.levels(side, depth):
            if size > taken.get(price, 0):
                return price, size - taken.get(price, 0)
        return None
