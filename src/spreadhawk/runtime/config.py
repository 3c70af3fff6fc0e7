"""Typed run configuration, validated at the edge.

A run is described by one TOML file (examples under ``examples/``). Every section is a frozen
pydantic model that rejects unknown keys, so a typo is an error that names the key rather than a
setting silently ignored. ``load_config`` turns any problem (missing file, bad TOML, unknown key,
wrong type, missing data file, bad ``--set`` override) into a ``ConfigError`` whose message is one
line naming the problem. Paths in the file are relative to the file's directory.
"""

from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from spreadhawk.data.catalog_files import Window
from spreadhawk.data.times import to_ns
from spreadhawk.domain.instruments import InstrumentKind
from spreadhawk.runtime.risk_config import RiskSection


class ConfigError(ValueError):
    """A configuration problem, with a one-line message for the user."""


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RunSection(_Section):
    name: str = ""
    seed: int = 0
    valuation_currency: str = "USDT"
    equity_interval_s: float = Field(default=60.0, gt=0)
    journal: str = ""  # write the event journal to this path when set
    # replay only the recorded data at or after start and before end (ISO dates or times, UTC unless
    # an offset is given; `--start`/`--end` on the command line); empty: all of it
    start: str = ""
    end: str = ""

    @field_validator("start", "end", mode="before")
    @classmethod
    def _iso_text(cls, value: Any) -> Any:
        # an unquoted TOML date or time (start = 2024-08-08) arrives as a date/datetime
        return value.isoformat() if hasattr(value, "isoformat") else value

    @model_validator(mode="after")
    def _start_before_end(self) -> RunSection:
        for key in ("start", "end"):
            try:
                to_ns(getattr(self, key) or "1970-01-01")
            except ValueError as exc:
                raise ValueError(f"{key}: {exc}") from None
        window = self.window()
        if window.start_ns is not None and window.end_ns is not None and window.end_ns <= window.start_ns:
            raise ValueError(f"end {self.end!r} must be after start {self.start!r}")
        return self

    def window(self) -> Window:
        """The time window of the data to replay (``start <= ts_ns < end``)."""
        return Window(to_ns(self.start) if self.start else None, to_ns(self.end) if self.end else None)


class InstrumentSection(_Section):
    """An instrument, either a named preset (see ``spreadhawk.data.readers.instruments``) or inline."""

    preset: str = ""
    venue: str = ""
    symbol: str = ""
    kind: InstrumentKind = InstrumentKind.SPOT
    base: str = ""
    quote: str = ""
    tick_size: Decimal | None = None
    lot_size: Decimal | None = None
    # Fee rates as fractions of the notional (0.001 = 0.1 %). A maker rebate is a small negative rate;
    # a negative taker fee or a rate above 10 % is a typo (a fee in percent or in bps), not a venue.
    maker_fee: Decimal | None = Field(default=None, ge=Decimal("-0.01"), le=Decimal("0.1"))
    taker_fee: Decimal | None = Field(default=None, ge=Decimal(0), le=Decimal("0.1"))
    min_notional: Decimal | None = None
    contract_size: Decimal | None = None
    settlement: str = ""
    size_increment: Decimal | None = None
    expiry_ns: int | None = None


DataFormat = Literal[
    "freqtrade_ohlcv",
    "freqtrade_funding",
    "freqtrade_mark",
    "freqtrade_trades",
    "lean_trade_bars",
    "lean_quotes",
    "link_books",
    "hftbacktest",
    "catalog",
    "synthetic_two_venue",
    "market_simulator",
    "poloniex_books",
    "polymarket_collector",
    "polymarket",
]


class DataSection(_Section):
    format: DataFormat
    instrument: str = ""  # instrument id (VENUE:SYMBOL) the file belongs to
    path: str = ""
    paths: list[str] = []  # several consecutive files of one capture (hftbacktest)
    interval: str = ""  # bar interval when the file name does not say it
    kind: str = ""  # catalog record kind
    hours: float = Field(default=1.0, gt=0)  # simulated market length
    instruments: list[str] = []  # synthetic two-venue market: one instrument per venue
    # market_simulator: what the embedded market simulates (its own instruments are declared for you)
    assets: list[str] = ["BTC", "ETH"]
    perps: bool = True
    binaries: bool = True
    # up/down market lengths in minutes, each its own rolling markets on PREDICT; the first is the base
    binary_horizons_min: list[int] = [15, 60]
    funding_interval_h: float = Field(default=8.0, gt=0)
    basis_mean_bps: float | None = None  # perp over spot; default: the calibrated -4.5 bps
    # per venue perp premium (assumptions, see venues.simulated.market.perps): offsets, e.g. {BETA = 20.0},
    # and the std of each venue's own basis noise (default 1 bp)
    venue_premium_bps: dict[str, float] = {}
    venue_basis_std_bps: float | None = Field(default=None, ge=0)
    cross_pairs: list[list[str]] = []  # [[base, quote]] spot books besides X/USDT, e.g. [["ETH", "BTC"]]
    cross_venues: list[str] = []  # the venues with the cross books; empty: every venue
    # poloniex_books: path = the POLONIEX.ws capture; its markets (those with books in the capture)
    # are declared for you from this /markets capture
    markets_file: str = ""
    # bars built from the trades of these instruments (any source), e.g. bars = "1m"
    bars: str = ""
    bar_instruments: list[str] = []
    # records whose timestamps go back are an error; true: sorted by time instead, with a warning
    sort: bool = False
    # polymarket_collector: path = the folder of one market (.../15m/sol); its resolution, "Up" or
    # "Down" (the recorder did not keep it; empty: not settled), and a what-if taker fee
    winner: Literal["", "Up", "Down"] = ""
    taker_fee: Decimal = Field(default=Decimal(0), ge=0, le=Decimal("0.1"))


class WithdrawalSection(_Section):
    """One withdrawal route out of a venue: ``BTC = { fee = "0.0002", minutes = 30 }``."""

    fee: Decimal = Field(ge=0)  # flat, in the asset withdrawn
    minutes: float = Field(ge=0)  # from the withdrawal to the deposit being credited at the destination


MAX_BALANCE = 10**15  # more than any account holds; 1e308 passed here and overflowed far downstream


# A minute: a venue's book normally changes many times a second, and recordings sampled once a
# second or once a minute stay usable; a book an hour old (a recording that stopped) is not.
DEFAULT_MAX_BOOK_AGE_S = 60.0


class VenueSection(_Section):
    latency_ms: float | None = Field(default=None, ge=0)  # default: the simulated venue's own, else 0
    ack_latency_ms: float = Field(default=0.0, ge=0)
    # a book of this venue not updated for longer is stale: no detector, strategy or match uses it
    max_book_age_s: float = Field(default=DEFAULT_MAX_BOOK_AGE_S, gt=0, le=86_400)
    leverage: Decimal = Field(default=Decimal(1), gt=0)
    balances: dict[str, Decimal] = {}
    # by asset; replaces the simulated venue's default route for that asset (see venues.simulated.transfers)
    withdrawals: dict[str, WithdrawalSection] = {}

    @field_validator("balances")
    @classmethod
    def _non_negative(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for asset, amount in value.items():
            if not amount.is_finite() or amount < 0 or amount > MAX_BALANCE:
                raise ValueError(f"balance of {asset} must be a number from 0 to {MAX_BALANCE:,}, got {amount}")
        return value


class LiveFeedSection(_Section):
    """A live market-data feed for paper (and live) trading; backtests read ``[[data]]`` instead."""

    venue: str  # the venue name of the instruments it feeds (e.g. BINANCE)
    exchange: str  # ccxt exchange id: binance (spot) | binanceusdm (USD-M perpetuals) | polymarket
    instruments: list[str] = []  # instrument ids fed, e.g. "BINANCE:BTC/USDT"
    # polymarket: the markets fed, by slug or condition id; their tokens are the instruments, asked of
    # the CLOB when the node is built (runtime.polymarket_live)
    markets: list[str] = []
    host: str = ""  # "http://127.0.0.1:9001": a local emulator (spreadhawk emulate); empty: the exchange
    staleness_s: float = Field(default=5.0, gt=0)  # no message for this long marks the book stale
    account: str = ""  # live trading: the key store account whose API key trades this venue

    @model_validator(mode="after")
    def _what_it_feeds(self) -> LiveFeedSection:
        if self.exchange == "polymarket":
            if not (self.markets or self.instruments):
                raise ValueError(
                    "a polymarket feed names its markets (markets = [slug or condition id, ...]) or its "
                    "tokens declared in [[instruments]] (instruments = [...], base = the token id)"
                )
        elif not self.instruments:
            raise ValueError("instruments: name at least one instrument id fed, e.g. BINANCE:BTC/USDT")
        elif self.markets:
            raise ValueError(f"markets: only a polymarket feed names markets, not {self.exchange}")
        return self


class LiveTradingSection(_Section):
    """``[live_trading]``: how ``spreadhawk live`` treats the exchange accounts it trades."""

    cancel_on_exit: bool = True  # on SIGTERM/Ctrl-C, cancel every open order of ours and wait for the venue
    keystore: str = ""  # key store file (default: $SPREADHAWK_KEYSTORE, else ~/.spreadhawk/keys.json)
    visibility_window_s: float = Field(default=3.0, gt=0)  # how long a new order may be invisible to look-ups
    allow_unrestricted_ip: bool = False  # accept a key without an IP allow-list (never one allowing withdrawals)
    allow_unverified_key: bool = False  # trade on an exchange whose key permissions this node cannot read
    exit_timeout_s: float = Field(default=15.0, gt=0)  # how long cancel-on-exit waits for the venue
    trade_poll_s: float = Field(default=10.0, gt=0)  # REST trade catch-up while the stream is live (lost reports)


class StrategySection(_Section):
    path: str  # "package.module:Class"
    id: str = ""
    params: dict[str, Any] = {}


class RunConfig(_Section):
    run: RunSection = RunSection()
    instruments: list[InstrumentSection] = []  # a market_simulator source declares its own
    data: list[DataSection] = Field(min_length=1)
    venues: dict[str, VenueSection] = {}
    strategy: StrategySection | None = None  # one strategy ...
    strategies: list[StrategySection] = []  # ... or several, sharing the venues' balances
    risk: RiskSection = RiskSection()  # pre-trade limits, breakers, kill switch (off unless enabled)
    live: list[LiveFeedSection] = []  # paper/live: where market data comes from ([[data]] is the backtest's)
    live_trading: LiveTradingSection = LiveTradingSection()
    base_dir: str = "."  # set by the loader: directory of the config file

    @model_validator(mode="after")
    def _one_way_to_name_strategies(self) -> RunConfig:
        if (self.strategy is None) == (not self.strategies):
            raise ValueError("give either [strategy] or [[strategies]] (one or more), not both and not neither")
        return self

    @property
    def strategy_sections(self) -> list[StrategySection]:
        return [self.strategy] if self.strategy is not None else list(self.strategies)

    def max_book_age_ns(self, venue: str) -> int:
        """How old a book of ``venue`` may be (its ``[venues.NAME]`` section, else the default)."""
        section = self.venues.get(venue)
        age_s = section.max_book_age_s if section is not None else DEFAULT_MAX_BOOK_AGE_S
        return round(age_s * 1_000_000_000)

    def resolve(self, path: str) -> Path:
        candidate = Path(path)
        return candidate if candidate.is_absolute() else (Path(self.base_dir) / candidate).resolve()

    def canonical_json(self) -> str:
        """The config as canonical JSON, without where it was loaded from (for hashing and storage)."""
        body = self.model_dump(mode="json", exclude={"base_dir"})
        for key in ("start", "end"):  # left out unless set: a config without a window keeps its hash and run ids
            if not body["run"][key]:
                del body["run"][key]
        return json.dumps(body, sort_keys=True, separators=(",", ":"))

    def config_hash(self) -> str:
        return hashlib.sha256(self.canonical_json().encode()).hexdigest()[:16]


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b.c=value`` -> (["a","b","c"], value); the value is read as TOML, else as a string."""
    if "=" not in text:
        raise ConfigError(f"--set {text!r}: expected KEY=VALUE, e.g. --set strategy.params.fast=5")
    key, raw = text.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set {text!r}: empty key")
    try:
        value = tomllib.loads(f"v = {raw.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw.strip()
    return parts, value


def apply_override(body: dict[str, Any], parts: list[str], value: Any) -> None:
    node: Any = body
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            node = _list_item(node, part, parts[: i + 1])
            continue
        if not isinstance(node, dict):
            raise ConfigError(f"--set {'.'.join(parts)}: {'.'.join(parts[:i])} is not a table")
        node = node.setdefault(part, {})
    last = parts[-1]
    if isinstance(node, list):
        index = int(last) if last.isdigit() else -1
        if not 0 <= index < len(node):
            raise ConfigError(f"--set {'.'.join(parts)}: no item {last} in that list")
        node[index] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise ConfigError(f"--set {'.'.join(parts)}: {'.'.join(parts[:-1])} is not a table")


def _list_item(node: list[Any], part: str, where: list[str]) -> Any:
    if not part.isdigit() or int(part) >= len(node):
        raise ConfigError(f"--set: {'.'.join(where)}: expected an index below {len(node)}")
    return node[int(part)]


def read_config_file(path: Path) -> dict[str, Any]:
    """The config file as TOML gives it, unvalidated (``load_config`` validates it)."""
    if not path.is_file():
        raise ConfigError(f"config file not found: {path}")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: not a UTF-8 text file") from None


def load_config(path: Path, overrides: list[str] | None = None, values: Mapping[str, Any] | None = None) -> RunConfig:
    """``overrides``: ``--set`` texts; ``values``: key path -> value already parsed (a sweep's point)."""
    body = read_config_file(path)
    # [sweep] is read by `spreadhawk sweep` (runtime.sweep_spec); every other command runs the base config
    body.pop("sweep", None)
    for text in overrides or []:
        parts, value = parse_override(text)
        apply_override(body, parts, value)
    for key, value in (values or {}).items():
        apply_override(body, key.split("."), copy.deepcopy(value))  # a point's lists are not the body's
    if "base_dir" in body:
        raise ConfigError(f"{path}: unknown key 'base_dir'")
    body["base_dir"] = str(path.resolve().parent)
    try:
        return RunConfig.model_validate(body)
    except ValidationError as exc:
        raise ConfigError(f"{path}: {describe_validation_error(exc)}") from None


def describe_validation_error(exc: ValidationError) -> str:
    """The first error of a pydantic validation, as one line naming the key."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "config"
    if not first["loc"] and first["type"] == "value_error":
        return str(first["msg"]).removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        return f"unknown key '{where}'"
    if first["type"] == "missing":
        return f"missing required key '{where}'"
    given = first.get("input")
    shown = "" if isinstance(given, dict | list) else f" (got {given!r})"
    more = f" (+{exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {first['msg']}{shown}{more}"
