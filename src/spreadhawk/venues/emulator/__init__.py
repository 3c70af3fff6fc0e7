"""A local Binance exchange (market data) that replays raw captures, with injectable feed faults."""

from spreadhawk.venues.emulator.captures import Capture, Market, capture_paths, load_capture
from spreadhawk.venues.emulator.faults import Fault, FaultError, FaultKind, FiredFault, parse_fault
from spreadhawk.venues.emulator.server import BinanceEmulator

__all__ = [
    "BinanceEmulator",
    "Capture",
    "Fault",
    "FaultError",
    "FaultKind",
    "FiredFault",
    "Market",
    "capture_paths",
    "load_capture",
    "parse_fault",
]
