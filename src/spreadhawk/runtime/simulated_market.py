"""The ``market_simulator`` data source: the embedded market, its instruments and venue latencies."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from spreadhawk.data.bars import with_trade_bars
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument
from spreadhawk.domain.market import MarketData
from spreadhawk.runtime.config import ConfigError, DataSection, RunConfig
from spreadhawk.venues.simulated.market.binaries import BinaryParams
from spreadhawk.venues.simulated.market.feed import MarketSimulator, MarketSimulatorConfig
from spreadhawk.venues.simulated.market.perps import PerpParams

NS_PER_S = 1_000_000_000
_UNITS = {"s": 1, "m": 60, "h": 3600}


@dataclass
class SimulatedMarket:
    simulator: MarketSimulator

    def instruments(self) -> list[Instrument]:
        return self.simulator.instruments()

    def latency_ms(self) -> dict[str, float]:
        """Each simulated venue's order latency, the default for its ``[venues.NAME]`` section."""
        return {profile.name: float(profile.latency_ms) for profile in self.simulator.config.venues}

    @property
    def count(self) -> int:
        return self.simulator.records_count


def simulated_market(config: RunConfig, section: DataSection) -> SimulatedMarket:
    try:
        sim_config = MarketSimulatorConfig(
            hours=section.hours,
            seed=config.run.seed,
            assets=tuple(section.assets),
            perps=section.perps,
            binaries=section.binaries,
            binary_params=_binary_params(section),
            binary_horizons_min=tuple(section.binary_horizons_min[1:]),
            perp_params=_perp_params(section),
            cross_pairs=_cross_pairs(section),
            cross_venues=tuple(section.cross_venues),
        )
        return SimulatedMarket(MarketSimulator(sim_config))
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"data market_simulator: {exc}") from None


def _binary_params(section: DataSection) -> BinaryParams:
    if not section.binary_horizons_min:
        raise ValueError("binary_horizons_min: at least one market length (minutes) is needed")
    return BinaryParams(period_min=section.binary_horizons_min[0])


def _cross_pairs(section: DataSection) -> tuple[tuple[str, str], ...]:
    for pair in section.cross_pairs:
        if len(pair) != 2:
            raise ValueError(f"cross_pairs: expected [base, quote] pairs, got {pair}")
    return tuple((base, quote) for base, quote in section.cross_pairs)


def _perp_params(section: DataSection) -> PerpParams:
    params = PerpParams(funding_interval_h=section.funding_interval_h)
    if section.basis_mean_bps is not None:
        params = replace(params, basis_mean_bps=section.basis_mean_bps)
    if section.venue_basis_std_bps is not None:
        params = replace(params, venue_basis_std_bps=section.venue_basis_std_bps)
    return replace(params, venue_premium_bps=tuple(sorted(section.venue_premium_bps.items())))


def bar_interval_ns(text: str) -> int:
    """``"1m"`` -> 60 s in ns; ``"15s"``, ``"1h"`` likewise."""
    number, unit = text[:-1], text[-1:]
    if unit not in _UNITS or not number.isdigit() or int(number) <= 0:
        raise ConfigError(f"bars = {text!r}: expected a positive count and a unit s, m or h, e.g. '1m'")
    return int(number) * _UNITS[unit] * NS_PER_S


def with_bars(
    records: Iterable[MarketData], section: DataSection, instruments: dict[InstrumentId, Instrument]
) -> Iterable[MarketData]:
    """``records`` with trade bars of the section's ``bar_instruments`` inserted (when ``bars`` is set)."""
    if not section.bars:
        return records
    wanted = []
    for iid in section.bar_instruments:
        inst = instruments.get(InstrumentId(iid))
        if inst is None:
            raise ConfigError(f"bar_instruments: unknown instrument {iid!r}")
        wanted.append(inst)
    if not wanted:
        raise ConfigError("bars is set but bar_instruments names no instrument")
    return with_trade_bars(records, wanted, bar_interval_ns(section.bars))
