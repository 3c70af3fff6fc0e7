"""The journal: its codec (same bytes as the format's definition, typed and exact round trips), the
file it keeps (append-only continuation, torn-tail recovery, corruption found), and its fsync policy."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
import subprocess
import sys
import types
import typing
from dataclasses import dataclass
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any, NewType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spreadhawk.domain import events, market
from spreadhawk.domain.events import BalancePosted, OrderFilled, OrderSide, OrderType, PostingReason, SubmitOrder
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.domain.market import Aggressor, TradeTick
from spreadhawk.engine.journal import (
    Durability,
    Journal,
    JournalError,
    JournalReader,
    decode,
    encode,
    read_journal,
    reference_encode,
    register_record,
    registered_records,
)

D = Decimal


# --------------------------------------------------------------------------- records the engine could add
class TimerKind(Enum):
    ONCE = "once"
    EVERY = "every"


@register_record
@dataclass(frozen=True, slots=True)
class JournalTestTimer:
    """An engine-side record: a frozenset, nested tuples of Decimals, an optional, a plain Enum."""

    ts_ns: int
    names: frozenset[str]
    kind: TimerKind
    steps: tuple[tuple[Decimal, ...], ...]
    limit: Decimal | None = None


@register_record
@dataclass(frozen=True, slots=True)
class JournalTestRun:
    """Keys on both sides of "type" and a mapping that can hold one of them (the encoder's slow path)."""

    a_meta: dict[str, str]
    ts_ns: int
    venue: str
    zone: str


TEST_RECORDS = (JournalTestTimer, JournalTestRun)


def exact(a: object, b: object) -> bool:  # noqa: PLR0911 (one return per kind of type reads best)
    """Equal and of the same types all the way down, Decimals digit for digit and exponent for exponent
    (``Decimal('1.10') == Decimal('1.1')``, so ``==`` on records cannot see a lost trailing zero)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, Decimal):
        assert isinstance(b, Decimal)
        return a.as_tuple() == b.as_tuple()
    if dataclasses.is_dataclass(a):
        return all(exact(getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(a))
    if isinstance(a, tuple):
        assert isinstance(b, tuple)
        return len(a) == len(b) and all(exact(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, frozenset):
        assert isinstance(b, frozenset)
        return a == b and exact(tuple(sorted(a, key=repr)), tuple(sorted(b, key=repr)))
    if isinstance(a, dict):
        assert isinstance(b, dict)
        return a.keys() == b.keys() and all(exact(a[k], b[k]) for k in a)
    return a == b


# --------------------------------------------------------------------------- one non-trivial instance per type
NASTY = 'µ "quoted" \\ ,"venue": \U0001f600 \x7f \n'  # escapes, a key look-alike, non-ASCII, DEL
DECIMALS = [D("1.10"), D("-0.000100"), D("1E+3"), D("-12345678901234567890.123456789000"), D("-0"), D("0E-8")]


def sample_value(tp: Any, i: int) -> Any:  # noqa: PLR0911 (one return per kind of type reads best)
    """A non-trivial value of a field type; ``i`` varies it between fields."""
    if isinstance(tp, NewType):
        return sample_value(tp.__supertype__, i)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return sample_value(next(a for a in args if a is not type(None)), i)
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(sample_value(args[0], i + k) for k in range(3))
        return tuple(sample_value(a, i + k) for k, a in enumerate(args))
    if origin is frozenset:
        return frozenset(sample_value(args[0], i + k) for k in range(5))
    if origin is dict:
        return {"a": "1", "venue": NASTY}
    if isinstance(tp, type) and issubclass(tp, Enum):
        members = list(tp)
        return members[(i + 1) % len(members)]
    if dataclasses.is_dataclass(tp):  # a nested record (an account snapshot's balances)
        return sample(tp)  # type: ignore[arg-type]
    simple: dict[Any, Any] = {
        bool: True,
        int: [-7, 1_700_000_000_123_456_789, 2**63 - 1][i % 3],
        Decimal: DECIMALS[i % len(DECIMALS)],
        str: f"{NASTY}{i}",
    }
    return simple[tp]


def sample(cls: type, *, optional_none: bool = False) -> Any:
    hints = typing.get_type_hints(cls)
    values = {}
    for i, field in enumerate(dataclasses.fields(cls)):
        tp = hints[field.name]
        optional = typing.get_origin(tp) in (typing.Union, types.UnionType) and type(None) in typing.get_args(tp)
        values[field.name] = None if optional and optional_none else sample_value(tp, i)
    return cls(**values)


def samples() -> list[Any]:
    return [sample(cls, optional_none=none) for cls in registered_records().values() for none in (False, True)]


def test_every_dataclass_of_the_domain_records_is_registered() -> None:
    registry = registered_records()
    for module in (events, market):
        for value in vars(module).values():
            if isinstance(value, type) and dataclasses.is_dataclass(value) and value.__module__ == module.__name__:
                assert registry[value.__name__] is value


@pytest.mark.parametrize("record", samples(), ids=lambda r: type(r).__name__)
def test_every_record_type_round_trips_exactly(record: Any) -> None:
    line = encode(record)
    assert line == reference_encode(record).encode()  # the format the journal has always written
    assert line.isascii()
    assert b"\n" not in line
    back = decode(line)
    assert back == record
    assert exact(back, record)
    assert encode(back) == line


def test_the_line_format_is_pinned() -> None:
    fill = OrderFilled(
        1, ClientOrderId("c1"), "v", "t", InstrumentId("B:X/Y"), OrderSide.BUY, D("1.10"), D("2E+3"), D("-0.0"), "Y",
        events.Liquidity.MAKER,
    )  # fmt: skip
    assert encode(fill) == (
        b'{"client_order_id":"c1","fee":"-0.0","fee_currency":"Y","instrument_id":"B:X/Y","leaves_quantity":null,'
        b'"liquidity":"maker","price":"2E+3","quantity":"1.10","side":"buy","trade_id":"t","ts_ns":1,'
        b'"type":"OrderFilled","venue_order_id":"v"}'
    )
    tick = TradeTick(InstrumentId("B:X/Y"), 5, 100, 3, Aggressor.SELLER, "é")
    assert encode(tick) == (
        b'{"aggressor":1,"instrument_id":"B:X/Y","price":100,"size":3,"trade_id":"\\u00e9","ts_ns":5,"type":"TradeTick"}'
    )


def test_a_rejection_journaled_before_it_had_a_code_reads_back_as_other() -> None:
    old = b'{"client_order_id":"c1","reason":"post-only order would take liquidity","ts_ns":1,"type":"OrderRejected"}'
    record = decode(old)
    assert record == events.OrderRejected(1, ClientOrderId("c1"), "post-only order would take liquidity")
    assert isinstance(record, events.OrderRejected)
    assert record.code is events.RejectCode.OTHER  # never guessed from the text
    new = events.OrderRejected(1, ClientOrderId("c1"), "x", events.RejectCode.POST_ONLY)
    assert encode(new) == b'{"client_order_id":"c1","code":"post_only","reason":"x","ts_ns":1,"type":"OrderRejected"}'


def test_decoded_decimals_keep_their_exponent() -> None:
    record = decode(encode(BalancePosted(1, "V", "USDT", D("1.10"), PostingReason.FEE, "r")))
    assert isinstance(record, BalancePosted)
    assert str(record.amount) == "1.10"
    assert not exact(record, BalancePosted(1, "V", "USDT", D("1.1"), PostingReason.FEE, "r"))  # exact() can tell


def test_a_nested_key_like_the_one_after_type_takes_the_slow_path_with_the_same_bytes() -> None:
    record = JournalTestRun({"a": "1", "venue": "x", "zone": ',"venue":'}, 3, "V", "z")
    assert encode(record) == reference_encode(record).encode()
    assert exact(decode(encode(record)), record)


def test_a_string_that_is_not_unicode_is_refused_rather_than_written_unreadable(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.jsonl")
    with pytest.raises(JournalError, match="not valid Unicode"):
        journal.append(BalancePosted(1, "V", "USDT", D(1), PostingReason.FEE, "\ud800"))
    journal.close()
    assert (journal.count, (tmp_path / "j.jsonl").read_bytes()) == (0, b"")


# --------------------------------------------------------------------------- property: any values
def strategy_for(tp: Any) -> st.SearchStrategy[Any]:  # noqa: PLR0911 (one return per kind of type reads best)
    if isinstance(tp, NewType):
        return strategy_for(tp.__supertype__)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return st.one_of([st.none() if a is type(None) else strategy_for(a) for a in args])
    if origin is tuple:
        if len(args) == 2 and args[1] is Ellipsis:
            return st.lists(strategy_for(args[0]), max_size=4).map(tuple)
        return st.tuples(*(strategy_for(a) for a in args))
    if origin is frozenset:
        return st.frozensets(strategy_for(args[0]), max_size=6)
    if origin is dict:
        return st.dictionaries(st.text(max_size=8), st.text(max_size=8), max_size=4)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return st.sampled_from(list(tp))
    if dataclasses.is_dataclass(tp):  # a nested record (an account snapshot's balances)
        return record_strategy(tp)  # type: ignore[arg-type]
    simple: dict[Any, st.SearchStrategy[Any]] = {
        bool: st.booleans(),
        int: st.integers(-(2**63), 2**64 - 1),
        Decimal: st.decimals(allow_nan=False),  # NaN != NaN: a record holding one is not equal to itself
        str: st.text(max_size=12),
    }
    return simple[tp]


def record_strategy(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    return st.builds(cls, **{f.name: strategy_for(hints[f.name]) for f in dataclasses.fields(cls)})


@pytest.mark.parametrize("cls", list(registered_records().values()), ids=lambda c: c.__name__)
def test_any_record_round_trips_exactly_and_is_written_as_defined(cls: type) -> None:
    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(record_strategy(cls))
    def check(record: Any) -> None:
        line = encode(record)
        assert line == reference_encode(record).encode()
        assert exact(decode(line), record)

    check()


# --------------------------------------------------------------------------- determinism across processes
def test_bytes_do_not_depend_on_the_hash_seed() -> None:
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import test_journal as t; "
        "from spreadhawk.engine.journal import encode; "
        "print(list(t.sample(t.JournalTestTimer).names)); "
        "print(b''.join(encode(r) + b'\\n' for r in t.samples()).hex())"
    )

    def run(seed: str) -> list[str]:
        env = {**os.environ, "PYTHONHASHSEED": seed}
        done = subprocess.run(
            [sys.executable, "-c", script, str(Path(__file__).parent)],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        return done.stdout.splitlines()

    outputs = [run(seed) for seed in ("1", "2", "3")]
    assert len({out[0] for out in outputs}) > 1  # the frozenset's own order did change between seeds...
    assert len({out[1] for out in outputs}) == 1  # ...and the bytes did not


# --------------------------------------------------------------------------- the file
def some_records(n: int, start: int = 0) -> list[Any]:
    records: list[Any] = []
    for i in range(start, start + n):
        cid = ClientOrderId(f"s-{i}")
        records.append(
            SubmitOrder(i, cid, "s", InstrumentId("B:X/Y"), OrderSide.BUY, OrderType.LIMIT, D("0.10"), D("100.0"))
        )
        records.append(BalancePosted(i, "B", "Y", D("-10.00"), PostingReason.TRADE, f"t{i}"))
    return records


def write(path: Path, records: list[Any], **kwargs: Any) -> Journal:
    journal = Journal(path, **kwargs)
    for record in records:
        journal.append(record)
    journal.close()
    return journal


def test_reopening_continues_the_journal_and_the_digest_covers_the_whole_file(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    first, second = some_records(3), some_records(2, start=3)
    write(path, first)
    journal = Journal(path)
    assert journal.count == len(first)
    assert not journal.recovery.torn
    assert journal.recovery.records == len(first)
    for record in second:
        journal.append(record)
    journal.close()
    assert journal.count == len(first) + len(second)
    assert journal.digest == hashlib.sha256(path.read_bytes()).hexdigest()
    in_one_go = Journal()
    for record in first + second:
        in_one_go.append(record)
    assert journal.digest == in_one_go.digest
    assert list(read_journal(path)) == first + second


@pytest.mark.parametrize(
    "tail",
    [b'{"asset":"Y","amou', b'{"asset":"Y","type":"OrderExpired"}', b"\x00\x00\x00\x00\n", b"\n"],
    ids=["cut-mid-record", "complete-but-no-newline", "zeros", "empty-line"],
)
def test_a_torn_last_line_is_reported_and_dropped_before_appending(tmp_path: Path, tail: bytes) -> None:
    path = tmp_path / "j.jsonl"
    records = some_records(3)
    write(path, records)
    intact = path.read_bytes()
    with path.open("ab") as file:
        file.write(tail)

    reader = JournalReader(path)
    before = reader.recovery
    assert before is None  # known only once the end is reached
    assert list(reader) == records  # a reader leaves the torn line out too
    assert reader.recovery is not None
    assert reader.recovery.bytes_dropped == len(tail)

    journal = Journal(path, durability=Durability.SYNC_INTENTS, fsync=lambda fd: None)
    assert journal.recovery.torn
    assert (journal.recovery.records, journal.recovery.bytes_dropped) == (len(records), len(tail))
    assert journal.recovery.bytes_kept == len(intact)
    assert path.read_bytes() == intact  # truncated at open, before anything is appended
    more = some_records(1, start=9)
    journal.append(more[0])
    journal.close()
    assert list(read_journal(path)) == [*records, more[0]]
    assert journal.digest == hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("bad", "message"),
    [(b'{"asset":"Y","amou\n', "malformed"), (b"\n", "malformed"), (b'{"type":"NoSuchRecord"}\n', "NoSuchRecord")],
)
def test_a_bad_line_before_the_last_is_corruption_naming_file_and_line(
    tmp_path: Path, bad: bytes, message: str
) -> None:
    path = tmp_path / "j.jsonl"
    write(path, some_records(3))
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join([*lines[:2], bad, *lines[2:]]))
    with pytest.raises(JournalError, match=message) as raised:
        list(read_journal(path))
    assert (raised.value.path, raised.value.line) == (path, 3)
    assert f"{path}:3:" in str(raised.value)
    if message == "malformed":  # the writer checks structure only: it need not know every record type
        with pytest.raises(JournalError, match=f"{path}:3:"):
            Journal(path)
    assert path.read_bytes().count(b"\n") == 7  # nothing was cut


def test_a_complete_last_line_of_an_unknown_type_is_an_error_not_a_torn_write(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    write(path, some_records(1))
    with path.open("ab") as file:
        file.write(b'{"type":"NoSuchRecord"}\n')
    with pytest.raises(JournalError, match=r"j\.jsonl:3: unknown record type 'NoSuchRecord'"):
        list(read_journal(path))
    journal = Journal(path)  # structurally sound: the writer keeps it
    assert (journal.count, journal.recovery.torn) == (3, False)
    journal.close()


def test_a_record_that_does_not_fit_its_class_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    path.write_bytes(encode(some_records(1)[0]) + b"\n" + b'{"ts_ns":"soon","type":"OrderExpired"}\n')
    with pytest.raises(JournalError, match=r"j\.jsonl:2: malformed OrderExpired record"):
        list(read_journal(path))


def test_a_closed_journal_refuses_appends(tmp_path: Path) -> None:
    journal = write(tmp_path / "j.jsonl", some_records(1))
    with pytest.raises(JournalError, match="closed"):
        journal.append(some_records(1)[0])


# --------------------------------------------------------------------------- durability
class FsyncRecorder:
    """The fsync port: records each call with what the file held on disk at that moment."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.calls: list[int] = []  # bytes in the file when fsync was called
        self.directory_calls = 0

    def __call__(self, fd: int) -> None:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            assert os.fstat(fd).st_ino == self.path.parent.stat().st_ino
            self.directory_calls += 1
            return
        assert os.fstat(fd).st_ino == self.path.stat().st_ino
        self.calls.append(len(self.path.read_bytes()))


def test_sync_intents_fsyncs_an_intent_after_flushing_it(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    fsync = FsyncRecorder(path)
    journal = Journal(path, durability=Durability.SYNC_INTENTS, fsync=fsync)
    assert fsync.directory_calls == 1  # the new file's name is durable before its first record
    posting, intent = BalancePosted(1, "B", "Y", D(5), PostingReason.DEPOSIT, "d"), some_records(1)[0]
    journal.append(posting)
    assert fsync.calls == []  # not an intent: buffered
    journal.append(intent, sync=True)
    written = len(encode(posting)) + len(encode(intent)) + 2
    assert fsync.calls == [written]  # both lines were flushed before the fsync
    journal.append(posting)
    journal.sync()
    assert fsync.calls == [written, written + len(encode(posting)) + 1]
    journal.close()
    assert len(fsync.calls) == 3  # close makes the tail durable too


def test_buffered_never_fsyncs(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    fsync = FsyncRecorder(path)
    journal = Journal(path, fsync=fsync)
    for record in some_records(3):
        journal.append(record, sync=True)
    journal.sync()
    journal.close()
    assert (fsync.calls, fsync.directory_calls) == ([], 0)
    assert path.read_bytes().count(b"\n") == 6


def test_sync_intents_makes_a_torn_tail_cut_durable_before_appending(tmp_path: Path) -> None:
    path = tmp_path / "j.jsonl"
    write(path, some_records(1))
    with path.open("ab") as file:
        file.write(b"{")
    fsync = FsyncRecorder(path)
    journal = Journal(path, durability=Durability.SYNC_INTENTS, fsync=fsync)
    assert fsync.calls == [journal.recovery.bytes_kept]
    assert fsync.directory_calls == 0  # an existing file: its name is already on disk
    journal.close()


# --------------------------------------------------------------------------- the registry
def test_unknown_types_and_bad_registrations_are_refused() -> None:
    with pytest.raises(JournalError, match="unknown record type 'Nope'"):
        decode(b'{"type":"Nope"}')
    with pytest.raises(JournalError, match="malformed"):
        decode(b"[1,2]")

    @dataclass(frozen=True)
    class BalancePosted:  # same name as a domain record: a line could not tell them apart
        ts_ns: int

    with pytest.raises(JournalError, match="taken"):
        register_record(BalancePosted)
    with pytest.raises(JournalError, match="taken"):
        encode(BalancePosted(1))

    @dataclass(frozen=True)
    class Typed:
        type: str

    with pytest.raises(JournalError, match="field named 'type'"):
        register_record(Typed)
    with pytest.raises(TypeError):
        encode({"type": "dict"})
