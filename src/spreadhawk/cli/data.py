"""``spreadhawk data download``: exchange history through ccxt into the Parquet catalog (runtime/download.py).

ccxt and the service are imported inside the command: importing ccxt takes most of a second, and
``spreadhawk --help`` should not pay for it. A rich progress bar is drawn when stdout is a terminal;
otherwise a plain line is printed every few seconds, so logs of scheduled runs stay readable.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

_PLAIN_EVERY_S = 5.0
data_app = typer.Typer(no_args_is_help=True, help="Market data: download exchange history into the catalog.")
_out = Console()
_err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    app.add_typer(data_app, name="data")


def _fail(message: str, code: int = 2) -> None:
    _err.print(f"[red]error:[/red] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


@contextmanager
def _progress(since_ms: int, until_ms: int, label: str) -> Iterator[Callable[[int, int], None]]:
    span = max(until_ms - since_ms, 1)
    if sys.stdout.isatty():
        columns = (
            TextColumn(label),
            BarColumn(),
            TextColumn("{task.percentage:>5.1f}%"),
            TextColumn("{task.fields[rows]} rows"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=_out, transient=True) as bar:
            task = bar.add_task(label, total=span, rows="0")
            yield lambda at, rows: bar.update(task, completed=at - since_ms, rows=f"{rows:,}")
        return
    last = [time.monotonic()]

    def plain(at: int, rows: int) -> None:
        if time.monotonic() - last[0] >= _PLAIN_EVERY_S:
            last[0] = time.monotonic()
            print(f"{label}: {100 * (at - since_ms) / span:.1f}% ({rows:,} rows)", flush=True)

    yield plain


@data_app.command("download")
def download(
    symbol: Annotated[str, typer.Option("--symbol", help="ccxt symbol: BTC/USDT (spot), BTC/USDT:USDT (usdm)")],
    since: Annotated[str, typer.Option("--since", help="start, UTC: 2024-08-08T00:00 or epoch ms")],
    until: Annotated[str | None, typer.Option("--until", help="end (exclusive), UTC; default now")] = None,
    kind: Annotated[str, typer.Option("--kind", help="ohlcv, trades or funding")] = "ohlcv",
    timeframe: Annotated[str, typer.Option("--timeframe", help="candle length for ohlcv (1m, 5m, 1h...)")] = "1m",
    exchange: Annotated[str, typer.Option("--exchange", help="ccxt exchange id")] = "binance",
    market: Annotated[str, typer.Option("--market", help="spot or usdm")] = "spot",
    host: Annotated[str | None, typer.Option("--host", help="local emulator, e.g. 127.0.0.1:9001")] = None,
    catalog: Annotated[Path, typer.Option("--catalog", help="catalog folder")] = Path("catalog"),
    max_pages: Annotated[int | None, typer.Option("--max-pages", min=1, help="stop after N pages")] = None,
    page_size: Annotated[int, typer.Option("--page-size", min=1, max=1000, help="records per request")] = 1000,
) -> None:
    """Download OHLCV, trades or funding history into the catalog; a rerun resumes where the last one stopped."""
    from spreadhawk.data.catalog import ParquetCatalog  # noqa: PLC0415 (deferred: see the module docstring)
    from spreadhawk.runtime.download import (  # noqa: PLC0415
        DownloadError,
        DownloadRequest,
        DownloadService,
        parse_time,
    )
    from spreadhawk.venues.ccxt.history import CcxtHistory, HistoryError  # noqa: PLC0415 (ccxt loads slowly)

    try:
        request = DownloadRequest(
            kind=kind,
            symbol=symbol,
            since_ms=parse_time(since, "--since"),
            until_ms=parse_time(until, "--until") if until is not None else None,
            timeframe=timeframe,
            max_pages=max_pages,
            page_limit=page_size,
        )
        source = CcxtHistory(exchange, market, host)
    except (DownloadError, HistoryError) as exc:
        _fail(str(exc))
        return
    service = DownloadService(ParquetCatalog(catalog), source)
    label = f"{symbol} {timeframe if kind == 'ohlcv' else kind}"
    try:
        until_ms = request.until_ms if request.until_ms is not None else source.now_ms()
        with _progress(request.since_ms, min(until_ms, source.now_ms()), label) as progress:
            result = service.run(request, progress)
    except DownloadError as exc:
        _fail(str(exc), 1)
        return
    except KeyboardInterrupt:
        _fail("interrupted: the pages already written are kept; run the same command again to resume", 130)
        return
    finally:
        source.close()
    if result.resumed_after:
        _out.print(f"resumed after {escape(result.resumed_after)}", highlight=False)
    span = ""
    if result.first_ts_ns is not None and result.last_ts_ns is not None:
        span = f", {_iso(result.first_ts_ns)} .. {_iso(result.last_ts_ns)}"
    state = "complete" if result.complete else "stopped at --max-pages: run again to continue"
    _out.print(
        f"{result.rows:,} {result.catalog_kind} rows of {escape(result.instrument_id)} in {result.pages} page(s)"
        f"{span} -> {escape(str(catalog))} ({state})",
        highlight=False,
        soft_wrap=True,
    )
    if source.waits:
        _out.print(f"waited {sum(source.waits):.1f} s in {len(source.waits)} retry pause(s) (rate limit / network)")


def _iso(ts_ns: int) -> str:
    return datetime.fromtimestamp(ts_ns / 1e9, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
