"""``[[live]]`` sections with ``exchange = "polymarket"`` build a ``PolymarketVenue``; the others stay ccxt's."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from spreadhawk.keystore import ApiCredentials, Secret
from spreadhawk.runtime.config import ConfigError, RunConfig
from spreadhawk.runtime.live_venues import live_venues
from spreadhawk.runtime.sources import build_instruments
from spreadhawk.venues.ccxt.venue import CcxtVenue
from spreadhawk.venues.polymarket.venue import PolymarketVenue

WALLET_KEY = "0x" + "4c" * 32
WALLET = "0xdB00079cad3e665853Bf766eFe26F4C38cdbdCDA"  # the address of WALLET_KEY (eth_account)
TOKEN = str(10**70 + 1)


def _config(tmp_path: Path) -> RunConfig:
    raw: dict[str, Any] = {
        "instruments": [
            {"preset": "binance_spot_btcusdt"},
            {
                "venue": "POLYMARKET",
                "symbol": "sol-updown-UP",
                "kind": "binary",
                "base": TOKEN,
                "quote": "USDC",
                "tick_size": "0.01",
                "lot_size": "0.01",
            },
        ],
        "data": [{"format": "hftbacktest", "instrument": "BINANCE:BTC/USDT", "path": "x.gz"}],
        "live": [
            {
                "venue": "BINANCE",
                "exchange": "binance",
                "instruments": ["BINANCE:BTC/USDT"],
                "account": "b",
                "host": "http://127.0.0.1:8765",
            },
            {
                "venue": "POLYMARKET",
                "exchange": "polymarket",
                "instruments": ["POLYMARKET:sol-updown-UP"],
                "account": "wallet",
                "host": "http://127.0.0.1:9001",
            },
        ],
        "live_trading": {"keystore": str(tmp_path / "keys.json")},
        "strategy": {"path": "spreadhawk.strategy.library.book_probe:BookProbe"},
    }
    return RunConfig.model_validate(raw)


def _credentials(wallet: str, secret: str) -> Any:
    def read(exchange: str, account: str) -> ApiCredentials:
        if exchange == "polymarket":
            return ApiCredentials(exchange, account, Secret(wallet), Secret(secret))
        return ApiCredentials(exchange, account, Secret("key"), Secret("secret"))

    return read


def test_a_polymarket_section_builds_a_polymarket_venue_beside_the_ccxt_one(tmp_path: Path) -> None:
    config = _config(tmp_path)
    venues = live_venues(config, build_instruments(config), _credentials(WALLET, WALLET_KEY))
    assert isinstance(venues["BINANCE"], CcxtVenue)
    venue = venues["POLYMARKET"]
    assert isinstance(venue, PolymarketVenue)
    assert venue.address == WALLET
    assert venue.clob.client.host == "http://127.0.0.1:9001"
    assert venue.stream.url == "ws://127.0.0.1:9001/ws/user"
    assert venue.ids.path == tmp_path / "polymarket-POLYMARKET.ids"
    assert [i.base for i in venue._instruments.values()] == [TOKEN]
    assert venue._instruments[next(iter(venue._instruments))].tick_size == Decimal("0.01")


def test_a_key_store_entry_whose_address_is_not_the_wallets_is_a_config_error(tmp_path: Path) -> None:
    config = _config(tmp_path)
    other = "0x" + "00" * 19 + "01"
    with pytest.raises(ConfigError, match=r"polymarket/wallet: the API key must be the address of the secret's wallet"):
        live_venues(config, build_instruments(config), _credentials(other, WALLET_KEY))
    with pytest.raises(ConfigError, match=r"polymarket/wallet: the secret is not a wallet private key"):
        live_venues(config, build_instruments(config), _credentials(WALLET, "not-a-key"))
