"""Shared parsing helpers of the readers: the error type, exact decimal-string -> count conversion,
interval names and timestamp units."""

from __future__ import annotations

import gzip
import re
import zlib
from decimal import Decimal, InvalidOperation
from pathlib import Path

NS_PER_MS = 1_000_000
NS_PER_SECOND = 1_000_000_000

_UNIT_NS = {"s": NS_PER_SECOND, "m": 60 * NS_PER_SECOND, "h": 3600 * NS_PER_SECOND, "d": 86400 * NS_PER_SECOND}
# "ETH_BTC-1m.json", "XRP_USDT_USDT-8h-funding_rate.feather": the interval is a dash-delimited token.
_INTERVAL_IN_NAME = re.compile(r"-(\d+)([smhd])(?=[-.])")
# A float sum printed with 17 significant digits is off by a few ulps (2**-52 relative each);
# 2**-40 relative leaves room for a few thousand of them. Capped at a thousandth of the step, so
# snapping never hides a value that really lies off the grid.
_FLOAT_NOISE = Decimal(2) ** -40
_MAX_NOISE_IN_STEPS = Decimal("0.001")


class DataFormatError(ValueError):
    """A recording cannot be read: missing file or column, unparsable line, unrepresentable value."""


def require_file(path: Path) -> None:
    if not path.is_file():
        raise DataFormatError(f"{path}: file not found")


def read_text(path: Path) -> str:
    """A text file (UTF-8), gunzipped when its name ends in ``.gz``; a clear error otherwise."""
    require_file(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        return raw.decode("utf-8")
    except (OSError, EOFError, zlib.error) as exc:
        raise DataFormatError(f"{path}: not a readable gzip file: {exc}") from None
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"{path}: not UTF-8 text: {exc}") from None


def interval_ns(name: str) -> int:
    """Nanoseconds of an interval such as ``"1m"``, ``"5m"``, ``"1h"``, ``"8h"``."""
    match = re.fullmatch(r"(\d+)([smhd])", name)
    if match is None or int(match.group(1)) == 0:
        raise DataFormatError(f"invalid interval {name!r}: expected <n>s, <n>m, <n>h or <n>d")
    return int(match.group(1)) * _UNIT_NS[match.group(2)]


def interval_from_name(path: Path) -> int:
    """The interval in a freqtrade-style file name (``PAIR-<interval>[-kind].ext``), in ns."""
    match = _INTERVAL_IN_NAME.search(path.name)
    if match is None:
        raise DataFormatError(f"{path}: no interval (such as -1m or -8h) in the file name; pass interval=")
    return interval_ns(match.group(1) + match.group(2))


def to_ns(value: int) -> int:
    """Epoch timestamp in ns from ns, µs or ms, told apart by magnitude.

    Any epoch time after 1973 is >= 1e17 in ns and >= 1e14 in µs, and any before 2286 is < 1e13 in ms,
    so the three ranges do not overlap for real recordings.
    """
    if value >= 10**17:
        return value
    if value >= 10**14:
        return value * 1_000
    if value >= 10**11:
        return value * NS_PER_MS
    raise ValueError(f"timestamp {value} is not an epoch time in ns, µs or ms")


class Grid:
    """Exact conversion of decimal text to a count of ``step`` (a tick or size increment).

    Exchange payloads carry prices and sizes as decimal strings; a float round trip can be off by
    one unit for large counts and hides values that are not on the grid, so counts are computed in
    integer arithmetic: ``"61837.63000000"`` -> 6183763000000 * 10**-8 -> divide by the step's
    mantissa. This is also faster than ``Decimal`` for the hot loop of the hftbacktest reader.
    """

    __slots__ = ("_exp", "_mantissa", "_scales", "step")

    def __init__(self, step: Decimal) -> None:
        if step <= 0:
            raise ValueError(f"step must be positive, got {step}")
        _sign, digits, exponent = step.normalize().as_tuple()
        assert isinstance(exponent, int)  # a positive finite Decimal has an int exponent
        mantissa = int("".join(map(str, digits)))
        # step = mantissa * 10**-_exp with _exp >= 0 (steps such as 10 become 10 * 10**0).
        if exponent > 0:
            mantissa *= 10**exponent
            exponent = 0
        self.step = step
        self._mantissa = mantissa
        self._exp = -exponent
        # decimals in the text -> (multiplier, divisor) taking the scaled text to a step count
        self._scales: dict[int, tuple[int, int]] = {}

    def count(self, text: str) -> int:
        """``text / step`` exactly; ``ValueError`` when the value is not a multiple of the step."""
        whole, _dot, frac = text.partition(".")
        try:
            scaled = int(whole + frac)  # value * 10**len(frac); int() rejects "1e-05", "nan", ""
        except ValueError:
            return self._count_decimal(text)
        scale = self._scales.get(len(frac)) or self._scale(len(frac))
        units, rest = divmod(scaled * scale[0], scale[1])
        if rest:
            raise ValueError(f"{text} is not a multiple of {self.step}")
        return units

    def _scale(self, decimals: int) -> tuple[int, int]:
        shift = self._exp - decimals
        scale = (10**shift, self._mantissa) if shift >= 0 else (1, self._mantissa * 10**-shift)
        self._scales[decimals] = scale
        return scale

    def count_float(self, value: float) -> int:
        """Count of a float that was parsed from decimal text (read through its shortest repr)."""
        return self.count(repr(value))

    def count_noisy(self, text: str) -> int:
        """Like ``count`` but accepts binary-float noise in the last digits (``33.35399601000002``).

        Only for sources known to have summed values in double precision (Lean quote-bar sizes);
        a value farther from the grid than that noise is still an error.
        """
        value = _decimal(text)
        units = int((value / self.step).to_integral_value())
        tolerance = min(abs(value) * _FLOAT_NOISE, self.step * _MAX_NOISE_IN_STEPS)
        if abs(value - units * self.step) > tolerance:
            raise ValueError(f"{text} is not a multiple of {self.step}")
        return units

    def _count_decimal(self, text: str) -> int:
        value = _decimal(text)
        units = value / self.step
        if units != units.to_integral_value():
            raise ValueError(f"{text} is not a multiple of {self.step}")
        return int(units)


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{text!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"{text!r} is not a finite number")
    return value


def decimal_of(text: str) -> Decimal:
    """Exact ``Decimal`` of decimal text; ``ValueError`` for non-numbers, NaN and infinities."""
    return _decimal(text)


def decimal_of_float(value: float) -> Decimal:
    """Exact ``Decimal`` of a float through its shortest repr, so 0.0123 stays 0.0123."""
    return _decimal(repr(value))
