"""Scanner detector for prediction-market cross-market gaps (see ``runtime.scanner`` for the protocol).

``binary_cross_market``: a long up/down market (1 hour) against the short one (15 minutes) opening
with it, on the same venue and asset. The rule, the pricing and the pairing are the strategy's
(``strategy.library.binary_cross_market``: ``cross_market_pairs``, ``cross_quotes``,
``cross_market_signal``), so the scanner and the strategy agree on what an opportunity is; the same
short-mid band applies. The scanner knows no balance: the size is what the two touches show (long
tokens, the hedge at ``hedge_ratio`` short tokens each), and the edge an expectation (the long
market priced off the short one), not a locked profit.

The order-flow signal (``binary_order_flow``) has no detector: it needs the reference venue's
trades and an online fit, and the scanner's ``MarketView`` carries books only.

Registration (``runtime.scan_detectors.DETECTORS``), for the lead:
``"binary_cross_market": lambda instruments, _: CrossMarketDetector(instruments)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Set
from decimal import Decimal

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.runtime.scanner import MarketView, Sighting
from spreadhawk.strategy.library.binary_cross_market import (
    CrossPair,
    cross_market_pairs,
    cross_market_signal,
    cross_quotes,
)

BPS = Decimal(10_000)


class CrossMarketDetector:
    kind = "binary_cross_market"

    def __init__(
        self,
        instruments: Iterable[Instrument],
        *,
        short_min: int = 15,
        long_min: int = 60,
        annual_vol: float = 0.5,
        min_edge: float = 0.0,
        max_hedge_ratio: float = 2.0,
        short_mid_band: float = 0.1,
    ) -> None:
        self._index: dict[InstrumentId, list[CrossPair]] = {}
        for pair in cross_market_pairs(instruments, short_min, long_min):
            for token in (*pair.short.values(), *pair.long.values()):
                self._index.setdefault(token.id, []).append(pair)
        self._vol, self._min_edge, self._max_hedge = annual_vol, min_edge, max_hedge_ratio
        self._band = short_mid_band

    def watched(self) -> Set[InstrumentId]:
        return self._index.keys()

    def scan(self, changed: Set[InstrumentId], market: MarketView) -> dict[str, Sighting | None]:
        found: dict[str, Sighting | None] = {}
        for iid in sorted(changed & self._index.keys()):
            for pair in self._index[iid]:
                if pair.key not in found:
                    found[pair.key] = self._look(pair, market)
        return found

    def _look(self, pair: CrossPair, market: MarketView) -> Sighting | None:
        short_yes = pair.short["YES"]
        if market.now_ns >= (short_yes.expiry_ns or 0) or short_yes.id in market.settled:
            return None
        q = cross_quotes(pair, market.books.get, market.now_ns)
        if q is None or not self._band <= q.short_mid <= 1 - self._band:
            return None
        signal = cross_market_signal(q, self._vol, self._min_edge, self._max_hedge)
        if signal is None:
            return None
        other = "NO" if signal.long_outcome == "YES" else "YES"
        long_tok, short_tok = pair.long[signal.long_outcome], pair.short[other]
        long_book, short_book = market.books[long_tok.id], market.books[short_tok.id]
        long_ask, short_ask = long_book.best_ask(), short_book.best_ask()
        if long_ask is None or short_ask is None or signal.hedge_ratio <= 0:
            return None
        size = min(long_tok.size(long_ask[1]), short_tok.size(short_ask[1]) / Decimal(repr(signal.hedge_ratio)))
        size = long_tok.round_lot_down(size)
        cost = long_tok.price(long_ask[0]) * (1 + long_tok.taker_fee) + Decimal(repr(signal.hedge_ratio)) * (
            short_tok.price(short_ask[0]) * (1 + short_tok.taker_fee)
        )
        edge = Decimal(repr(round(signal.edge, 6)))
        return Sighting(edge / cost * BPS if cost > 0 else Decimal(0), size, edge * size, long_tok.quote)
