"""Turn the ``[[instruments]]`` and ``[[data]]`` sections of a config into domain objects."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pyarrow as pa

from spreadhawk.data.catalog import KINDS, ParquetCatalog
from spreadhawk.data.catalog_files import EVERYTHING, CatalogStream, Window
from spreadhawk.data.catalog_instruments import read_instruments
from spreadhawk.data.readers import (
    DataFormatError,
    iter_poloniex_books,
    read_freqtrade_funding,
    read_freqtrade_mark,
    read_freqtrade_ohlcv,
    read_freqtrade_trades,
    read_hftbacktest,
    read_lean_quotes,
    read_lean_trade_bars,
    read_link_books,
    read_poloniex_markets,
)
from spreadhawk.data.readers import instruments as presets
from spreadhawk.data.readers.polymarket import PolymarketMarket, read_polymarket_market, read_polymarket_markets
from spreadhawk.data.readers.polymarket_collector import read_polymarket_collector
from spreadhawk.data.readers.polymarket_gamma import GammaMarket, read_gamma_markets
from spreadhawk.data.readers.polymarket_session import read_polymarket_session
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import MarketData
from spreadhawk.runtime.config import ConfigError, DataSection, InstrumentSection, RunConfig
from spreadhawk.venues.simulated.synthetic import TwoVenueParams, generate_two_venue_books

_OVERRIDABLE = ("tick_size", "lot_size", "maker_fee", "taker_fee", "min_notional", "contract_size", "size_increment")


def preset_names() -> list[str]:
    return sorted(
        name
        for name, fn in inspect.getmembers(presets, inspect.isfunction)
        if not name.startswith("_") and fn.__module__ == presets.__name__
    )


def build_instrument(section: InstrumentSection) -> Instrument:
    if section.preset:
        name, _, arg = section.preset.partition(":")
        factory = getattr(presets, name, None) if name in preset_names() else None
        if factory is None:
            raise ConfigError(f"unknown instrument preset {section.preset!r}; known: {', '.join(preset_names())}")
        try:
            inst: Instrument = factory(arg) if arg else factory()
        except TypeError:
            raise ConfigError(f"instrument preset {name!r} needs an argument, e.g. '{name}:ETH'") from None
        changes = {k: getattr(section, k) for k in _OVERRIDABLE if getattr(section, k) is not None}
        return replace(inst, **changes) if changes else inst
    missing = [k for k in ("venue", "symbol", "base", "quote", "tick_size", "lot_size") if not getattr(section, k)]
    if missing:
        raise ConfigError(f"instrument needs a preset or these keys: {', '.join(missing)}")
    assert section.tick_size is not None
    assert section.lot_size is not None
    zero = Decimal(0)
    try:
        return Instrument(
            venue=section.venue,
            symbol=section.symbol,
            kind=section.kind,
            base=section.base,
            quote=section.quote,
            tick_size=section.tick_size,
            lot_size=section.lot_size,
            maker_fee=section.maker_fee or zero,
            taker_fee=section.taker_fee or zero,
            min_notional=section.min_notional or zero,
            contract_size=section.contract_size or Decimal(1),
            settlement=section.settlement,
            size_increment=section.size_increment or zero,
            expiry_ns=section.expiry_ns,
        )
    except ValueError as exc:
        raise ConfigError(f"instrument {section.venue}:{section.symbol}: {exc}") from None


def build_instruments(config: RunConfig) -> dict[InstrumentId, Instrument]:
    built: dict[InstrumentId, Instrument] = {}
    for section in config.instruments:
        inst = build_instrument(section)
        if inst.id in built:
            raise ConfigError(f"instrument {inst.id} is declared twice")
        built[inst.id] = inst
    return built


Loader = Callable[[Path, Instrument], list[MarketData]]


def _loaders(section: DataSection) -> dict[str, Loader]:
    interval = section.interval or None
    return {
        "freqtrade_ohlcv": lambda p, i: list(read_freqtrade_ohlcv(p, i, interval)),
        "freqtrade_funding": lambda p, i: list(read_freqtrade_funding(p, i)),
        "freqtrade_mark": lambda p, i: list(read_freqtrade_mark(p, i, interval)),
        "freqtrade_trades": lambda p, i: list(read_freqtrade_trades(p, i)),
        "lean_trade_bars": lambda p, i: list(read_lean_trade_bars(p, i)),
        "lean_quotes": lambda p, i: list(read_lean_quotes(p, i)),
        "link_books": lambda p, i: list(read_link_books(p, i)),
    }


def load_source(
    config: RunConfig, section: DataSection, instruments: dict[InstrumentId, Instrument]
) -> list[MarketData]:
    """The records of one ``[[data]]`` section; any problem becomes a one-line ``ConfigError``."""
    if section.format == "synthetic_two_venue":
        return _synthetic(config, section, instruments)
    declaring = DECLARING.get(section.format)
    if declaring is not None:  # a source that declares its own instruments
        return declaring(config, section)[1]
    if section.format == "catalog":
        stream = catalog_stream(config, section, instruments)
        try:
            return list(stream)
        except pa.ArrowException as exc:
            raise ConfigError(f"data catalog: unreadable Parquet file: {exc}") from None
    inst = _instrument(section, instruments)
    try:
        if section.format == "hftbacktest":
            paths = [_existing(config, p) for p in (section.paths or [section.path])]
            return read_hftbacktest(paths, inst)
        return _loaders(section)[section.format](_existing(config, section.path), inst)
    except (DataFormatError, FileNotFoundError) as exc:
        raise ConfigError(f"data error: {exc}") from None
    except ValueError as exc:
        raise ConfigError(f"data {section.format}: {exc}") from None
    except pa.ArrowException as exc:
        raise ConfigError(f"data {section.format}: unreadable Parquet file: {exc}") from None


def poloniex_books(config: RunConfig, section: DataSection) -> tuple[list[Instrument], list[MarketData]]:
    """A Poloniex ``book_lv2`` capture (``path``) and the instruments it has books for, read from the
    ``/markets`` capture ``markets_file`` (so the source declares its own instruments)."""
    if not section.markets_file:
        raise ConfigError("poloniex_books needs 'markets_file', the Poloniex /markets capture (POLONIEX.0)")
    try:
        markets = read_poloniex_markets(_existing(config, section.markets_file))
        records: list[MarketData] = list(iter_poloniex_books(_existing(config, section.path), markets))
    except (DataFormatError, FileNotFoundError) as exc:
        raise ConfigError(f"data error: {exc}") from None
    if not records:
        raise ConfigError(f"data poloniex_books: {section.path} holds no book of a market in {section.markets_file}")
    seen = {record.instrument_id for record in records}
    return [inst for inst in markets if inst.id in seen], records


def polymarket_collector(config: RunConfig, section: DataSection) -> tuple[list[Instrument], list[MarketData]]:
    """A recorded Polymarket up/down session (``data.readers.polymarket_collector``): its two tokens
    and the reference instrument are declared by the source."""
    try:
        session = read_polymarket_collector(
            _existing(config, section.path), winner=section.winner, taker_fee=section.taker_fee
        )
    except DataFormatError as exc:
        raise ConfigError(f"data error: {exc}") from None
    if not session.records:
        raise ConfigError(f"data polymarket_collector: {section.path} holds no book and no print")
    return [session.up, session.down, session.reference], session.records


def polymarket_session(config: RunConfig, section: DataSection) -> tuple[list[Instrument], list[MarketData]]:
    """A recorded market-channel session (``data.readers.polymarket_session``) and the tokens of the
    markets in ``markets_file`` (Gamma or CLOB payloads) it has data or a settlement for."""
    if not section.markets_file:
        raise ConfigError("polymarket needs 'markets_file': the Gamma or CLOB payload of its markets")
    markets = _polymarket_markets(_existing(config, section.markets_file))
    try:
        records = read_polymarket_session(_existing(config, section.path), markets)
    except DataFormatError as exc:
        raise ConfigError(f"data error: {exc}") from None
    seen = {record.instrument_id for record in records}
    tokens = [inst for m in markets for inst in (m.market if isinstance(m, GammaMarket) else m).instruments()]
    return [inst for inst in tokens if inst.id in seen], records


def _polymarket_markets(path: Path) -> list[PolymarketMarket | GammaMarket]:
    """The markets of a Gamma payload, a CLOB ``/markets`` page or one CLOB market, whichever it is
    (the error, when none reads it, is the Gamma reader's: the payload users record most)."""
    readers = (
        read_gamma_markets,
        read_polymarket_markets,
        lambda p: [read_polymarket_market(p)],
    )
    first_error: DataFormatError | None = None
    for reader in readers:
        try:
            return list(reader(path))
        except DataFormatError as exc:
            first_error = first_error or exc
    raise ConfigError(f"data error: {first_error}")


# The formats whose source declares its own instruments (a capture's markets), and how to read them.
DECLARING: dict[str, Callable[[RunConfig, DataSection], tuple[list[Instrument], list[MarketData]]]] = {
    "poloniex_books": poloniex_books,
    "polymarket_collector": polymarket_collector,
    "polymarket": polymarket_session,
}


def catalog_instruments(config: RunConfig, section: DataSection) -> list[Instrument]:
    """The instrument definitions kept in a catalog (``spreadhawk import`` writes them)."""
    try:
        return read_instruments(_existing(config, section.path))
    except DataFormatError as exc:
        raise ConfigError(f"data error: {exc}") from None


def catalog_stream(
    config: RunConfig, section: DataSection, instruments: dict[InstrumentId, Instrument], window: Window = EVERYTHING
) -> CatalogStream:
    """A ``catalog`` source, read lazily: one kind of one instrument, or (no ``instrument``) every
    record stored, merged by time (a simulated session written by ``simulate``), inside ``window``.

    Records of one kind and instrument keep their stored order; records of different kinds or
    instruments at the same instant come in catalog order (kind, then instrument), which the engine
    processes as one instant anyway. How many there are and their first and last times come from
    the files' footers, not from reading them.
    """
    catalog = ParquetCatalog(_existing(config, section.path))
    within = "" if window.is_open else " inside --start/--end"
    try:
        if not section.instrument:
            for _kind, iid in catalog.contents():
                if iid not in instruments:
                    raise ConfigError(f"catalog {section.path}: {iid} has data but is not a declared instrument")
            stream = catalog.stream_all(window)
            if not stream.rows:
                raise ConfigError(f"catalog {section.path}: no data stored{within}")
            return stream
        inst = _instrument(section, instruments)
        if not section.kind:
            raise ConfigError(f"catalog data needs 'kind', one of: {', '.join(sorted(KINDS.values()))}")
        stream = catalog.stream(section.kind, inst.id, window=window)
    except ValueError as exc:  # an unknown kind
        raise ConfigError(f"data {section.format}: {exc}") from None
    except (pa.ArrowException, OSError) as exc:
        raise ConfigError(f"data {section.format}: unreadable Parquet file: {exc}") from None
    if not stream.rows:
        raise ConfigError(f"catalog {section.path}: no {section.kind} data for {inst.id}{within}")
    return stream


def _instrument(section: DataSection, instruments: dict[InstrumentId, Instrument]) -> Instrument:
    inst = instruments.get(InstrumentId(section.instrument))
    if inst is None:
        known = ", ".join(sorted(instruments)) or "none"
        raise ConfigError(f"data {section.format}: unknown instrument {section.instrument!r} (declared: {known})")
    return inst


def _existing(config: RunConfig, path: str) -> Path:
    if not path:
        raise ConfigError("data section needs 'path'")
    resolved = config.resolve(path)
    if not resolved.exists():
        raise ConfigError(f"data file not found: {resolved}")
    return resolved


def _synthetic(
    config: RunConfig, section: DataSection, instruments: dict[InstrumentId, Instrument]
) -> list[MarketData]:
    ids = section.instruments
    if len(ids) != 2:
        raise ConfigError("synthetic_two_venue needs 'instruments' = [two instrument ids on different venues]")
    pair = [_instrument(replace_instrument(section, i), instruments) for i in ids]
    return list(generate_two_venue_books(pair, config.run.seed, TwoVenueParams(hours=section.hours)))


def replace_instrument(section: DataSection, instrument_id: str) -> DataSection:
    return section.model_copy(update={"instrument": instrument_id})
