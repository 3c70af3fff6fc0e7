"""A catalog keeps its instruments' definitions beside its data: every field round-trips exactly, a
different definition of a stored id is refused, a damaged file is one line naming it."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from spreadhawk.data.catalog_instruments import INSTRUMENTS_FILE, read_instruments, write_instruments
from spreadhawk.data.readers._common import DataFormatError
from spreadhawk.domain.instruments import Instrument, InstrumentKind

TOKEN = Instrument(
    "POLYMARKET", "sol-updown-15m-1765450800-UP", InstrumentKind.BINARY, "sol-updown-15m-1765450800-UP", "USDC",
    tick_size=Decimal("0.01"), lot_size=Decimal("0.01"), size_increment=Decimal("0.000001"),
    taker_fee=Decimal("0.07"), expiry_ns=1_765_451_700_000_000_000,
)  # fmt: skip
PERP = Instrument(
    "BINANCE", "BTC/USDT:USDT", InstrumentKind.PERPETUAL, "BTC", "USDT", Decimal("0.1"), Decimal("0.001"),
    maker_fee=Decimal("-0.0001"), contract_size=Decimal(1), min_notional=Decimal(5), fee_precision=Decimal("1e-6"),
)  # fmt: skip


def test_definitions_round_trip_and_accumulate(tmp_path: Path) -> None:
    assert read_instruments(tmp_path) == []  # a catalog written before they were kept
    write_instruments(tmp_path, [TOKEN])
    write_instruments(tmp_path, [PERP, TOKEN])  # the same definition again: nothing to choose
    assert sorted(read_instruments(tmp_path), key=lambda i: i.id) == [PERP, TOKEN]


def test_another_definition_of_a_stored_id_is_refused(tmp_path: Path) -> None:
    write_instruments(tmp_path, [TOKEN])
    finer = Instrument(**{**{f: getattr(TOKEN, f) for f in ("venue", "symbol", "kind", "base", "quote")},
                          "tick_size": Decimal("0.001"), "lot_size": Decimal("0.01")})  # fmt: skip
    with pytest.raises(ValueError, match=r"already defines POLYMARKET:sol-updown-15m-1765450800-UP otherwise"):
        write_instruments(tmp_path, [finer])
    assert read_instruments(tmp_path) == [TOKEN]  # untouched


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", "invalid JSON"),
        ("{}", "expected a list of instruments"),
        ('[{"venue": "X"}]', "instrument 0: missing field"),
        ('[{"venue": "X", "colour": 1}]', "instrument 0: unknown field"),
    ],
)
def test_a_damaged_file_names_itself(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / INSTRUMENTS_FILE).write_text(text, encoding="utf-8")
    with pytest.raises(DataFormatError, match=message):
        read_instruments(tmp_path)
