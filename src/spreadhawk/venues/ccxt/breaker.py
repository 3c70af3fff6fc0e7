"""The request circuit breaker of a ccxt client (``venues.circuit``), raising ccxt's own error type
when open: ``CircuitOpenError`` is an ``ExchangeError``, which the adapter treats as a definite
rejection (nothing was sent), never as an unknown outcome."""

from __future__ import annotations

from typing import Any

from ccxt.base.errors import ExchangeError

from spreadhawk.venues import circuit
from spreadhawk.venues.circuit import CircuitState, mode_for

__all__ = ["CircuitBreaker", "CircuitOpenError", "CircuitState", "mode_for"]


class CircuitOpenError(ExchangeError, circuit.CircuitOpen):  # type: ignore[misc]  # ccxt is untyped
    """A request refused locally because the connection's breaker is open (nothing was sent)."""


class CircuitBreaker(circuit.CircuitBreaker):
    def __init__(self, name: str, **options: Any) -> None:
        super().__init__(name, open_error=CircuitOpenError, **options)
