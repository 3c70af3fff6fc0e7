"""A local Binance exchange that replays raw captures, with injectable feed faults. With ``trading`` set it
is also the market's order side (spot, or USD-M perpetuals with positions and funding): signed order
endpoints, matching on the replayed book, the user stream, order faults and the ground truth."""

from spreadhawk.venues.emulator.captures import Capture, Market, capture_paths, load_capture
from spreadhawk.venues.emulator.exchange import SpotExchange
from spreadhawk.venues.emulator.faults import Fault, FaultError, FaultKind, FiredFault, parse_fault
from spreadhawk.venues.emulator.futures_exchange import FuturesExchange
from spreadhawk.venues.emulator.order_faults import OrderFault, OrderFaultKind
from spreadhawk.venues.emulator.orders_api import ApiKey, TradingConfig
from spreadhawk.venues.emulator.rate_limits import RateLimitConfig
from spreadhawk.venues.emulator.server import BinanceEmulator

__all__ = [
    "ApiKey",
    "BinanceEmulator",
    "Capture",
    "Fault",
    "FaultError",
    "FaultKind",
    "FiredFault",
    "FuturesExchange",
    "Market",
    "OrderFault",
    "OrderFaultKind",
    "RateLimitConfig",
    "SpotExchange",
    "TradingConfig",
    "capture_paths",
    "load_capture",
    "parse_fault",
]
