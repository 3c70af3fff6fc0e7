"""Instruments of the recordings in ``shared/data``, with the exchange rules of their time.

Symbols follow the CCXT unified form (``BTC/USDT`` spot, ``BTC/USDT:USDT`` linear perpetual), so the
same instrument id comes out of these factories and out of a live CCXT adapter. Tick and size steps are
the ones the recordings need (every price and size in them is an exact count; the readers' tests check
that); where the exchange changed its rules since, the docstring says which era the value is from.
"""

from __future__ import annotations

from decimal import Decimal

from spreadhawk.domain.instruments import Instrument, InstrumentKind

_BINANCE_SPOT_FEE = Decimal("0.001")  # VIP 0, no BNB discount
_BINANCE_USDM_MAKER = Decimal("0.0002")
_BINANCE_USDM_TAKER = Decimal("0.0005")


def _binance_spot(base: str, quote: str, tick: str, lot: str, min_notional: str) -> Instrument:
    return Instrument(
        venue="BINANCE",
        symbol=f"{base}/{quote}",
        kind=InstrumentKind.SPOT,
        base=base,
        quote=quote,
        tick_size=Decimal(tick),
        lot_size=Decimal(lot),
        maker_fee=_BINANCE_SPOT_FEE,
        taker_fee=_BINANCE_SPOT_FEE,
        min_notional=Decimal(min_notional),
        # Binance spot prints every quantity with 8 decimals ("baseAssetPrecision"), and books still hold
        # orders placed under older, finer lot steps (25.426189 BTC in the 2024 BTCUSDT capture).
        size_increment=Decimal("0.00000001"),
    )


def _binance_usdm(
    base: str, tick: str, lot: str, min_notional: str, taker: Decimal = _BINANCE_USDM_TAKER
) -> Instrument:
    return Instrument(
        venue="BINANCE",
        symbol=f"{base}/USDT:USDT",
        kind=InstrumentKind.PERPETUAL,
        base=base,
        quote="USDT",
        tick_size=Decimal(tick),
        lot_size=Decimal(lot),
        maker_fee=_BINANCE_USDM_MAKER,
        taker_fee=taker,
        min_notional=Decimal(min_notional),
        settlement="USDT",
    )


def binance_spot_btcusdt() -> Instrument:
    """Binance spot BTCUSDT (2024 rules: tick 0.01, step 0.00001, min notional 5 USDT)."""
    return _binance_spot("BTC", "USDT", "0.01", "0.00001", "5")


def binance_spot_ethusdt() -> Instrument:
    """Binance spot ETHUSDT (2024 rules: tick 0.01, step 0.0001, min notional 5 USDT)."""
    return _binance_spot("ETH", "USDT", "0.01", "0.0001", "5")


def binance_spot_xrpeth() -> Instrument:
    """Binance spot XRPETH as in freqtrade's 2019 trades (prices to 1e-8 ETH, whole XRP amounts)."""
    return _binance_spot("XRP", "ETH", "0.00000001", "1", "0.01")


def binance_link_usdt() -> Instrument:
    """Binance spot LINKUSDT as recorded on 2021-08-20: prices and sizes with 3 decimals.

    By 2021-10-12 Binance had coarsened LINKUSDT to tick 0.01 / step 0.01 (its exchangeInfo in
    ``cryptofeed/sample_data/BINANCE.0``); the August book still quotes 0.001 steps, so this is the
    rule of the recording's time.
    """
    return _binance_spot("LINK", "USDT", "0.001", "0.001", "10")


def huobi_link_usdt() -> Instrument:
    """Huobi spot linkusdt (2021): price precision 4, amount precision 2, min order value 5 USDT.

    Book sizes are finer than the order lot: Huobi's depth feed reports level amounts with up to 18
    decimals (amounts left over from orders placed by value, printed as doubles such as
    ``0.000701852007775578``), so ``size_increment`` is 1e-18 while ``lot_size`` stays 0.01. Size
    counts of large levels then exceed int64 (46,348.9 LINK = 4.6e22 units); Python ints are exact,
    and the Parquet catalog stores such columns as decimal128.
    """
    return Instrument(
        venue="HUOBI",
        symbol="LINK/USDT",
        kind=InstrumentKind.SPOT,
        base="LINK",
        quote="USDT",
        tick_size=Decimal("0.0001"),
        lot_size=Decimal("0.01"),
        maker_fee=Decimal("0.002"),
        taker_fee=Decimal("0.002"),
        min_notional=Decimal(5),
        size_increment=Decimal("1e-18"),
    )


def binance_usdm_btcusdt() -> Instrument:
    """Binance USD-M BTCUSDT perpetual (2023-2024 rules: tick 0.1, step 0.001, min notional 100)."""
    return _binance_usdm("BTC", "0.1", "0.001", "100")


def binance_usdm_ethusdt() -> Instrument:
    """Binance USD-M ETHUSDT perpetual (2024 rules: tick 0.01, step 0.001, min notional 20)."""
    return _binance_usdm("ETH", "0.01", "0.001", "20")


def binance_usdm_xrpusdt() -> Instrument:
    """Binance USD-M XRPUSDT perpetual (2021 rules: tick 0.0001, step 0.1, min notional 5, taker 0.04 %)."""
    return _binance_usdm("XRP", "0.0001", "0.1", "5", taker=Decimal("0.0004"))


def bittrex_btc_pair(base: str) -> Instrument:
    """A ``<base>/BTC`` pair of freqtrade's 2018 test data (most likely Bittrex; the files name no venue).

    Bittrex quoted alts to the satoshi, allowed 1e-8 amounts, charged 0.25 % and refused orders under
    50,000 satoshi (its ``DUST_TRADE_LIMIT``).
    """
    return Instrument(
        venue="BITTREX",
        symbol=f"{base}/BTC",
        kind=InstrumentKind.SPOT,
        base=base,
        quote="BTC",
        tick_size=Decimal("0.00000001"),
        lot_size=Decimal("0.00000001"),
        maker_fee=Decimal("0.0025"),
        taker_fee=Decimal("0.0025"),
        min_notional=Decimal("0.0005"),
    )


def _coinbase_usd(base: str) -> Instrument:
    # Coinbase Pro in April 2018: 0.01 USD ticks, 1e-8 base increments, 0 % maker / 0.30 % taker.
    # Its minimum order is a base size (0.001 BTC, 0.01 ETH/LTC), which Instrument has no field for.
    return Instrument(
        venue="COINBASE",
        symbol=f"{base}/USD",
        kind=InstrumentKind.SPOT,
        base=base,
        quote="USD",
        tick_size=Decimal("0.01"),
        lot_size=Decimal("0.00000001"),
        maker_fee=Decimal(0),
        taker_fee=Decimal("0.003"),
    )


def coinbase_btcusd() -> Instrument:
    """Coinbase Pro BTC-USD (2018 rules)."""
    return _coinbase_usd("BTC")


def coinbase_ethusd() -> Instrument:
    """Coinbase Pro ETH-USD (2018 rules)."""
    return _coinbase_usd("ETH")


def coinbase_ltcusd() -> Instrument:
    """Coinbase Pro LTC-USD (2018 rules)."""
    return _coinbase_usd("LTC")
