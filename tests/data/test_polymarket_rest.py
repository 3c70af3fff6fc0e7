"""Recorded Polymarket REST answers: CLOB trades (the real payload of ``nautilus_trader/polymarket``),
Data API trades and ``/prices`` (no recorded payload of either exists in ``shared/data``: those
fixtures are built here from the shapes Polymarket documents, and say so)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from spreadhawk.data.readers._common import DataFormatError
from spreadhawk.data.readers.polymarket import read_polymarket_market
from spreadhawk.data.readers.polymarket_rest import TokenPrices, read_polymarket_prices, read_polymarket_trades
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import Aggressor

POLY = Path("nautilus_trader/polymarket")
YES = "21742633143463906290569050155826241533067272736897614950488156847949938836455"
NO = "48331043336612883890938759509493159234755048973500640148014422747788308965732"


def _trump(shared_data: Path) -> list[Instrument]:
    return read_polymarket_market(shared_data / POLY / "http_responses" / "market.json").instruments()


@pytest.mark.real_data
def test_the_real_clob_trade_payload_as_one_object_a_page_or_a_list(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / POLY / "ws_messages" / "trades.json"
    instruments = _trump(shared_data)
    yes = next(inst for inst in instruments if inst.base == YES)
    (trade,) = read_polymarket_trades(path, instruments)
    # By hand from the file: 5 shares at 0.489 (tick 0.001, sizes in millionths of a share), matched
    # 1726043102 s, a taker BUY.
    assert (trade.instrument_id, trade.price, trade.size) == (yes.id, 489, 5_000_000)
    assert (trade.ts_ns, trade.aggressor, trade.trade_id) == (
        1_726_043_102 * 10**9,
        Aggressor.BUYER,
        "0c357886-b9d3-44bb-9aa9-72d8abc90e6e",
    )
    raw = json.loads(path.read_text())
    as_maker = {k: v for k, v in raw.items() if k not in ("trader_side", "id")} | {"new_field": [1]}
    page = tmp_path / "page.json"
    page.write_text(json.dumps({"data": [raw, as_maker], "next_cursor": "LTE="}))
    first, second = read_polymarket_trades(page, instruments)
    assert first == trade
    assert second.aggressor is Aggressor.UNKNOWN  # no trader_side: whose side it is is not known
    assert second.trade_id == f"{YES}-1726043102"
    assert read_polymarket_trades([raw], [i for i in instruments if i.base == NO]) == []  # other token: skipped


@pytest.mark.real_data
def test_data_api_trades_built_from_the_documented_shape(shared_data: Path, tmp_path: Path) -> None:
    # Fixture from Polymarket's documented Data API /trades shape (no recorded answer exists here).
    rows = [
        {"proxyWallet": "0x1", "side": "SELL", "asset": YES, "conditionId": "0xdd", "size": 12.5, "price": 0.491,
         "timestamp": 1724564137, "transactionHash": "0xaa", "outcome": "Yes", "outcomeIndex": 0},
        {"side": "BUY", "asset": NO, "size": 3, "price": 0.51, "timestamp": 1724564136, "transactionHash": "0xbb"},
        {"side": "BUY", "asset": NO, "size": 100.0, "price": "0.512", "timestamp": 1724564136,
         "transactionHash": "0xbb"},
        {"side": "BUY", "asset": "999", "size": 1, "price": 0.5, "timestamp": 1},
    ]  # fmt: skip
    path = tmp_path / "trades.json"
    path.write_text(json.dumps(rows))
    instruments = _trump(shared_data)
    trades = read_polymarket_trades(path, instruments)
    no = next(inst for inst in instruments if inst.base == NO)
    assert [(t.instrument_id == no.id, t.price, t.size, t.aggressor, t.trade_id) for t in trades] == [
        (True, 510, 3_000_000, Aggressor.BUYER, "0xbb-1"),  # sizes in millionths of a share
        (True, 512, 100_000_000, Aggressor.BUYER, "0xbb-2"),
        (False, 491, 12_500_000, Aggressor.SELLER, "0xaa-1"),  # later in time: last
    ]
    rows[1] = {"side": "BUY", "asset": NO, "size": 3, "timestamp": 1}
    path.write_text(json.dumps(rows))
    with pytest.raises(DataFormatError, match=r"trades\.json: item 1: missing field 'price'"):
        read_polymarket_trades(path, instruments)
    rows[1] = {"side": "HOLD", "asset": NO, "size": 3, "price": 0.5, "timestamp": 1}
    path.write_text(json.dumps(rows))
    with pytest.raises(DataFormatError, match=r"item 1: field 'side': expected BUY or SELL, got 'HOLD'"):
        read_polymarket_trades(path, instruments)
    rows[1] = {"side": "BUY", "asset": NO, "size": 3, "price": 0.5005, "timestamp": 1}
    path.write_text(json.dumps(rows))
    with pytest.raises(DataFormatError, match=r"item 1: 0\.5005 is not a multiple of 0\.001"):
        read_polymarket_trades(path, instruments)


def test_prices_built_from_the_documented_shape(tmp_path: Path) -> None:
    # Fixture from Polymarket's documented POST/GET /prices answer (no recorded answer exists here).
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"111": {"BUY": "0.45", "SELL": 0.52}, "222": {"SELL": 0.1}, "333": {}}))
    assert read_polymarket_prices(path) == {
        "111": TokenPrices("111", Decimal("0.45"), Decimal("0.52")),
        "222": TokenPrices("222", None, Decimal("0.1")),
        "333": TokenPrices("333", None, None),
    }
    for bad, message in [
        ({"111": {"HOLD": "0.5"}}, r"token 111: unknown side\(s\) \['HOLD'\]"),
        ({"111": {"BUY": 1.5}}, r"token 111: a price outside \[0, 1\]"),
        ({"111": {"BUY": "abc"}}, r"token 111: 'abc' is not a number"),
        ({"111": "0.5"}, r"token 111: expected an object of side -> price"),
        (["0.5"], r"expected a JSON object of token id"),
    ]:
        path.write_text(json.dumps(bad))
        with pytest.raises(DataFormatError, match=rf"prices\.json: {message}"):
            read_polymarket_prices(path)
    path.write_text("{not json")
    with pytest.raises(DataFormatError, match=r"prices\.json: invalid JSON"):
        read_polymarket_prices(path)
