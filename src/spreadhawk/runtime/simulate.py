"""``spreadhawk simulate``: write a simulated session to the Parquet catalog, with a config to replay it.

The session is the demo's market (same preset, same venues); the records go to the catalog in parts
of ``PART_RECORDS`` so a whole day never sits in memory, and ``replay.toml`` beside them declares
every simulated instrument inline, so ``spreadhawk backtest DIR/replay.toml`` replays the session
like recorded data (with the demo's strategies; edit it to try others).
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from importlib import resources
from itertools import islice
from pathlib import Path
from typing import Any

import tomli_w

from spreadhawk.data.catalog import ParquetCatalog
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import MarketData
from spreadhawk.runtime.config import load_config
from spreadhawk.runtime.simulated_market import SimulatedMarket, simulated_market

PART_RECORDS = 250_000
DEMO_PRESET = "demo_market.toml"


@dataclass(frozen=True)
class SimulatedSession:
    records: int
    parts: int
    instruments: int
    config_path: Path


def simulate_to_catalog(
    out: Path, *, hours: float, seed: int, progress: Callable[[int, int], None] | None = None
) -> SimulatedSession:
    preset = resources.files("spreadhawk.runtime.presets").joinpath(DEMO_PRESET)
    with resources.as_file(preset) as path:
        config = load_config(path, [f"run.seed={seed}", f"data.0.hours={hours}"])
        body = tomllib.loads(path.read_text(encoding="utf-8"))
    market = simulated_market(config, config.data[0])
    catalog = ParquetCatalog(out)
    written = parts = 0
    stream: Iterator[MarketData] = iter(market.simulator)
    while chunk := list(islice(stream, PART_RECORDS)):
        parts += 1
        catalog.write(chunk, f"part-{parts:04d}")
        written += len(chunk)
        if progress is not None:
            progress(written, market.count)
    config_path = out / "replay.toml"
    config_path.write_text(_replay_config(body, market, hours, seed), encoding="utf-8")
    return SimulatedSession(written, parts, len(market.instruments()), config_path)


def _replay_config(preset: dict[str, Any], market: SimulatedMarket, hours: float, seed: int) -> str:
    simulated = preset["data"][0]
    preset["run"]["name"] = f"replay of a simulated session ({hours} h, seed {seed})"
    preset["run"]["seed"] = seed
    preset["data"] = [
        {
            "format": "catalog",
            "path": ".",
            **{key: simulated[key] for key in ("bars", "bar_instruments") if key in simulated},
        }
    ]
    preset["instruments"] = [_instrument_table(inst) for inst in market.instruments()]
    for name, latency in market.latency_ms().items():
        preset.setdefault("venues", {}).setdefault(name, {}).setdefault("latency_ms", latency)
    header = "# Written by `spreadhawk simulate`: replay with `spreadhawk backtest <this file>`.\n"
    return header + tomli_w.dumps(preset)


def _instrument_table(inst: Instrument) -> dict[str, Any]:
    table: dict[str, Any] = {
        "venue": inst.venue,
        "symbol": inst.symbol,
        "kind": str(inst.kind),
        "base": inst.base,
        "quote": inst.quote,
        "settlement": inst.settlement,
    }
    for key in ("tick_size", "lot_size", "maker_fee", "taker_fee", "min_notional", "contract_size", "size_increment"):
        table[key] = str(getattr(inst, key))
    if inst.expiry_ns is not None:
        table["expiry_ns"] = inst.expiry_ns
    return table
