"""ccxt payloads -> domain records, on payloads recorded from Binance (hftbacktest capture, 2024-08-08)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from spreadhawk.data.readers.instruments import binance_spot_btcusdt, binance_usdm_btcusdt
from spreadhawk.domain.instruments import InstrumentKind
from spreadhawk.domain.market import Aggressor, BookDeltas, BookSnapshot, QuoteTick, TradeTick
from spreadhawk.venues.ccxt import BinanceRecords, MappingError, instrument_from_market

RECEIVED = 1_723_161_254_087_896_568
DIFF = {
    "e": "depthUpdate", "E": 1723161255408, "s": "BTCUSDT", "U": 50093239208, "u": 50093239224,
    "b": [["61837.63000000", "3.78826000"], ["61820.99000000", "0.00000000"]],
    "a": [["61837.64000000", "1.60520000"]],
}  # fmt: skip
TRADE = {
    "e": "trade", "E": 1723161255343, "s": "BTCUSDT", "t": 3735683259, "p": "61837.63000000",
    "q": "0.02000000", "T": 1723161255342, "m": True, "M": True,
}  # fmt: skip
TICKER = {"u": 50093239212, "s": "BTCUSDT", "b": "61837.63000000", "B": "3.78826000", "a": "61837.64000000", "A": "1"}
FUTURES_DIFF = {
    "e": "depthUpdate", "E": 1723161256299, "T": 1723161256298, "s": "BTCUSDT", "U": 5123107832006,
    "u": 5123107837557, "pu": 5123107831937, "b": [["61641.50", "1.211"]], "a": [],
}  # fmt: skip


def test_binance_objects_become_exact_records_with_exchange_times() -> None:
    instrument = binance_spot_btcusdt()
    mapper = BinanceRecords(instrument)
    assert mapper.records(RECEIVED, TICKER) == []  # no event time seen yet: cannot be stamped
    assert mapper.unstamped_dropped == 1
    [diff] = mapper.records(RECEIVED, DIFF)
    assert diff == BookDeltas(
        instrument.id, 1723161255408 * 10**6, 50093239208, 50093239224, 50093239207,
        ((6183763, 378826000), (6182099, 0)), ((6183764, 160520000),),
    )  # fmt: skip
    [trade] = mapper.records(RECEIVED, TRADE)
    assert trade == TradeTick(instrument.id, diff.ts_ns, 6183763, 2000000, Aggressor.SELLER, "3735683259")
    [quote] = mapper.records(RECEIVED + 1_000_000, TICKER)  # stamped with the latest E - arrival offset
    assert isinstance(quote, QuoteTick)
    assert quote.ts_ns >= diff.ts_ns
    snapshot = mapper.snapshot(RECEIVED, {"lastUpdateId": 7, "bids": [["1.00", "2"]], "asks": [["1.01", "3"]]})
    assert snapshot == BookSnapshot(instrument.id, snapshot.ts_ns, 7, ((100, 200000000),), ((101, 300000000),))


def test_futures_diffs_chain_by_pu() -> None:
    [diff] = BinanceRecords(binance_usdm_btcusdt()).records(RECEIVED, FUTURES_DIFF)
    assert isinstance(diff, BookDeltas)
    assert diff.prev_sequence == 5123107831937


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({**DIFF, "U": None}, "depthUpdate message"),
        ({k: v for k, v in DIFF.items() if k != "u"}, "missing field 'u'"),
        ({**DIFF, "b": [["61837.635", "1"]]}, "not a multiple of 0.01"),
        ({**DIFF, "E": "soon"}, "event time E='soon'"),
    ],
)
def test_malformed_payloads_raise_a_mapping_error_naming_the_problem(payload: dict[str, object], message: str) -> None:
    with pytest.raises(MappingError, match=message):
        BinanceRecords(binance_spot_btcusdt()).records(RECEIVED, payload)


def test_snapshot_must_be_a_depth_answer() -> None:
    mapper = BinanceRecords(binance_spot_btcusdt())
    with pytest.raises(MappingError, match="expected an object with lastUpdateId"):
        mapper.snapshot(RECEIVED, {"code": -1121, "msg": "Invalid symbol."})


def test_instrument_from_a_ccxt_market() -> None:
    market = {
        "symbol": "BTC/USDT:USDT", "base": "BTC", "quote": "USDT", "settle": "USDT", "type": "swap", "spot": False,
        "swap": True, "precision": {"price": 0.1, "amount": 0.001}, "limits": {"cost": {"min": 100.0}},
        "maker": 0.0002, "taker": 0.0005, "contractSize": 1.0,
    }  # fmt: skip
    instrument = instrument_from_market(market)
    assert instrument.id == binance_usdm_btcusdt().id
    assert instrument.kind is InstrumentKind.PERPETUAL
    assert (instrument.tick_size, instrument.lot_size, instrument.min_notional) == (
        Decimal("0.1"),
        Decimal("0.001"),
        Decimal(100),
    )
    with pytest.raises(MappingError, match="only spot and perpetual swap"):
        instrument_from_market({**market, "swap": False, "type": "future"})
