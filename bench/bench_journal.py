"""Journal throughput: appends/s and decodes/s on a mix of SubmitOrder / OrderFilled / BalancePosted.

Run: ``uv run python bench/bench_journal.py [records]``. Appends are timed in memory, to a buffered
file (backtest), and under SYNC_INTENTS with every SubmitOrder appended ``sync=True`` (one real
fsync per intent: paper/live; its figure depends on the disk, so it runs on fewer records). The
previous implementation (the stdlib ``json.dumps`` encoder, ``reference_encode``) is timed the same
way as the baseline. Decodes are timed line by line and through ``read_journal`` (the file), and
reopening is timed too (it reads and hashes the whole file once). Best of three; no assertions.
"""

from __future__ import annotations

import hashlib
import sys
import tempfile
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from time import perf_counter

from spreadhawk.domain.events import (
    BalancePosted,
    Liquidity,
    OrderFilled,
    OrderSide,
    OrderType,
    PostingReason,
    SubmitOrder,
)
from spreadhawk.domain.identifiers import ClientOrderId, InstrumentId
from spreadhawk.engine.journal import Durability, Journal, decode, encode, read_journal, reference_encode

D = Decimal
IID = InstrumentId("BINANCE:BTC/USDT")


def records(n: int) -> list[object]:
    out: list[object] = []
    for i in range(n // 3):
        ts = 1_700_000_000_000_000_000 + i * 1_000_000
        cid = ClientOrderId(f"xarb_btc-{i}")
        out.append(SubmitOrder(ts, cid, "xarb_btc", IID, OrderSide.BUY, OrderType.LIMIT, D("0.0150"), D("43125.10")))
        out.append(
            OrderFilled(
                ts, cid, f"v{i}", f"t{i}", IID, OrderSide.BUY, D("0.0150"), D("43125.10"), D("0.00001500"), "BTC",
                Liquidity.TAKER,
            )
        )  # fmt: skip
        out.append(BalancePosted(ts, "BINANCE", "USDT", D("-646.876500"), PostingReason.TRADE, f"t{i}"))
    return out


def best_of(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        start = perf_counter()
        work()
        best = min(best, perf_counter() - start)
    return best


def report(label: str, count: int, seconds: float, unit: str) -> None:
    print(f"{label:<52} {count / seconds:>12,.0f} {unit}/s   {seconds / count * 1e6:8.2f} µs each")


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 90_000
    mix = records(n)
    folder = Path(tempfile.mkdtemp(prefix="bench_journal_"))
    path = folder / "journal.jsonl"

    def previous(to_file: bool) -> None:  # the journal's append before msgspec, as it was
        digest = hashlib.sha256()
        file = path.open("w", encoding="utf-8") if to_file else None
        for record in mix:
            line = reference_encode(record) + "\n"
            digest.update(line.encode())
            if file is not None:
                file.write(line)
        if file is not None:
            file.close()

    def current(target: Path | None, durability: Durability = Durability.BUFFERED, items: list[object] = mix) -> None:
        if target is not None and target.exists():
            target.unlink()
        journal = Journal(target, durability=durability)
        for record in items:
            journal.append(record, sync=type(record) is SubmitOrder)
        journal.close()

    report("append, previous (json.dumps), in memory", n, best_of(3, lambda: previous(False)), "appends")
    report("append, previous (json.dumps), file", n, best_of(3, lambda: previous(True)), "appends")
    report("append, in memory", n, best_of(3, lambda: current(None)), "appends")
    report("append, BUFFERED file", n, best_of(3, lambda: current(path)), "appends")
    synced = mix[: min(n, 3_000)]
    seconds = best_of(3, lambda: current(folder / "synced.jsonl", Durability.SYNC_INTENTS, synced))
    report(f"append, SYNC_INTENTS (fsync per intent, 1 in 3; {len(synced)})", len(synced), seconds, "appends")

    current(path)
    lines = path.read_bytes().splitlines()
    assert all(decode(line) == record for line, record in zip(lines, mix, strict=True))
    report("encode only", n, best_of(3, lambda: [encode(r) for r in mix]), "encodes")
    report("decode only (decode(line))", n, best_of(3, lambda: [decode(line) for line in lines]), "decodes")
    report(
        "read_journal (file, typed, streamed)",
        n,
        best_of(3, lambda: sum(1 for _ in read_journal(path))),
        "decodes",
    )
    report("reopen (check and hash every line)", n, best_of(3, lambda: Journal(path).close()), "lines")


if __name__ == "__main__":
    main()
