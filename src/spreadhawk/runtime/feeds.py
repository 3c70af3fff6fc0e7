"""The market data a config names, ready to replay: instruments (declared, and those a source
brings: the simulator's, a capture's markets), the sources in order, how many records they hold,
where the clock starts, and the simulated venues' own latencies. Backtests and scans share it.

Catalog sources stream: their records are read in batches while the run goes on (memory does not
grow with the data), and their count and time span come from the Parquet footers. The readers of
exchange formats (CSV, JSON, gzip captures) still read a whole file before the run; a source to be
sorted (``sort = true``) is read whole too. ``run.start``/``run.end`` (``--start``/``--end``) keep
the records inside that window; a catalog opens only the days it overlaps."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from spreadhawk.data.catalog_files import CatalogStream, Window
from spreadhawk.data.checks import BadMarketDataError, check_records, checked, sort_records
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import MarketData
from spreadhawk.runtime.config import ConfigError, DataSection, RunConfig
from spreadhawk.runtime.simulated_market import SimulatedMarket, simulated_market, with_bars
from spreadhawk.runtime.sources import (
    DECLARING,
    build_instruments,
    catalog_instruments,
    catalog_stream,
    load_source,
)

log = logging.getLogger(__name__)
_UNSORTED_HINT = " (set sort = true on this [[data]] to sort them)"


@dataclass
class LoadedFeed:
    instruments: dict[InstrumentId, Instrument]
    sources: list[Iterable[MarketData]]
    count: int  # records the sources hold (bars built on the way are not counted)
    start_ns: int
    end_ns: int  # the last record's time (a simulated market's end), for progress
    latency_ms: dict[str, float]  # simulated venues' own order latency, the default for [venues.NAME]
    funding_interval_h: float | None  # a simulated market's funding interval, when there is one


def load_feed(config: RunConfig) -> LoadedFeed:
    """Any problem is a one-line ``ConfigError``."""
    instruments = build_instruments(config)
    latency_ms: dict[str, float] = {}
    simulated: dict[int, SimulatedMarket] = {}
    preloaded: dict[int, list[MarketData]] = {}  # sources that declare their own instruments
    funding_interval_h = None
    for index, section in enumerate(config.data):
        own: list[Instrument] = []
        if section.format == "market_simulator":
            market = simulated[index] = simulated_market(config, section)
            latency_ms.update(market.latency_ms())
            funding_interval_h = section.funding_interval_h
            own = market.instruments()
        elif section.format in DECLARING:  # a capture that declares its own markets
            own, preloaded[index] = DECLARING[section.format](config, section)
        elif section.format == "catalog":
            # the definitions an import kept beside the data, for the instruments the config does
            # not declare (a config's own definition wins: a what-if on fees changes only it)
            own = [inst for inst in catalog_instruments(config, section) if inst.id not in instruments]
        _declare(instruments, own, section.format)
    if not instruments:
        raise ConfigError("no instruments: declare [[instruments]] or use a market_simulator or poloniex_books source")
    window = config.run.window()
    sources: list[Iterable[MarketData]] = []
    count = 0
    starts = [m.simulator.config.start_ns for m in simulated.values()]
    # a simulated market's hours (the binaries still open settle after them: progress shows 100 %)
    ends = [m.simulator.config.start_ns + int(m.simulator.config.hours * 3_600_000_000_000) for m in simulated.values()]
    for index, section in enumerate(config.data):
        simulator = simulated.get(index)
        where = f"data.{index} ({section.path or ', '.join(section.paths) or section.format})"
        if simulator is not None:
            if not window.is_open:
                raise ConfigError(f"{where}: --start/--end select recorded data; a market_simulator has 'hours'")
            sources.append(with_bars(simulator.simulator, section, instruments))
            count += simulator.count
        elif section.format == "catalog" and not section.sort:
            # streamed: read in record batches while the run goes on, checked on the way
            stream = catalog_stream(config, section, instruments, window)
            sources.append(with_bars(_checked(stream, where), section, instruments))
            count += stream.rows
            starts += [stream.first_ns] if stream.first_ns is not None else []
            ends += [stream.last_ns] if stream.last_ns is not None else []
        else:
            loaded = preloaded[index] if index in preloaded else load_source(config, section, instruments)
            loaded = _ready(loaded, section, where, window)
            sources.append(with_bars(loaded, section, instruments))
            count += len(loaded)
            starts.append(loaded[0].ts_ns)
            ends.append(loaded[-1].ts_ns)
    start = min(starts, default=0)
    return LoadedFeed(instruments, sources, count, start, max(ends, default=start), latency_ms, funding_interval_h)


def _ready(loaded: list[MarketData], section: DataSection, where: str, window: Window) -> list[MarketData]:
    """A source read whole: inside the window, sorted when asked, checked; never empty."""
    if not window.is_open:
        loaded = [record for record in loaded if window.overlaps(record.ts_ns, record.ts_ns)]
        if not loaded:
            raise ConfigError(f"{where}: no {section.format} records inside --start/--end")
    if not loaded:  # a file of another format or exchange read as this one (#11: it ran on, silently)
        raise ConfigError(f"{where}: no {section.format} records read: is it a {section.format} file?")
    if section.sort:
        loaded, moved = sort_records(loaded)
        if moved:
            log.warning("%s: %d record%s out of time order: sorted (sort = true)", where, moved, "s"[: moved - 1])
    try:
        check_records(loaded, where, disorder_hint=_UNSORTED_HINT)
    except BadMarketDataError as exc:
        raise ConfigError(str(exc)) from None
    return loaded


def _checked(stream: CatalogStream, where: str) -> Iterator[MarketData]:
    """``stream``'s records, checked as they are read: a bad one stops the run with a ``ConfigError``."""
    try:
        yield from checked(stream, where, disorder_hint=_UNSORTED_HINT)
    except BadMarketDataError as exc:
        raise ConfigError(str(exc)) from None
    except (pa.ArrowException, OSError) as exc:
        raise ConfigError(f"{where}: unreadable Parquet file: {exc}") from None


def _declare(instruments: dict[InstrumentId, Instrument], own: list[Instrument], source: str) -> None:
    """Add the instruments a source declares itself (a simulator's, a capture's markets)."""
    for inst in own:
        if inst.id in instruments and instruments[inst.id] == inst:
            # two recordings of one session quote the same reference (the BTC 15-minute and hourly
            # up/down markets both carry Binance's BTC/USDT mid), or [[instruments]] declares what a
            # recording does (a paper config that backtests too): one definition, nothing to choose
            continue
        if inst.id in instruments:
            raise ConfigError(f"instrument {inst.id} is declared and also read from {source}: declare it once")
        instruments[inst.id] = inst
