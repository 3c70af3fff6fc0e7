"""Where a ccxt client talks to: the exchange itself, or a local emulator at ``host``.

ccxt keeps an exchange's endpoints in ``exchange.urls['api']``; pointing a client at an emulator
means replacing the REST bases and the websocket address (../shared/EMULATOR-NOTES.md). Kept as
data per exchange id, like the rest of the exchange quirks.
"""

from __future__ import annotations

from typing import Any

_REST_PATHS: dict[str, dict[str, str]] = {
    "binance": {"public": "/api/v3", "private": "/api/v3", "v1": "/api/v1", "sapi": "/sapi/v1"},
    "binanceusdm": {
        "fapiPublic": "/fapi/v1",
        "fapiPublicV2": "/fapi/v2",
        "fapiPublicV3": "/fapi/v3",
        "fapiPrivate": "/fapi/v1",
        "fapiPrivateV2": "/fapi/v2",
        "fapiPrivateV3": "/fapi/v3",
        "fapiData": "/futures/data",
        "sapi": "/sapi/v1",  # the key's permissions
    },
}
_WS_KEYS: dict[str, tuple[str, ...]] = {"binance": ("spot",), "binanceusdm": ("linear", "future")}


def local_urls(exchange_id: str, host: str) -> dict[str, Any]:
    """The ``urls`` override that points a ccxt ``exchange_id`` client at ``host`` (``http://127.0.0.1:9001``)."""
    if exchange_id not in _REST_PATHS:
        raise ValueError(f"no local endpoint layout for {exchange_id!r} (known: {', '.join(sorted(_REST_PATHS))})")
    base = host.rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise ValueError(f"host {host!r} must start with http:// or https://")
    ws = "ws" + base.removeprefix("http") + "/ws"
    api: dict[str, Any] = {key: base + path for key, path in _REST_PATHS[exchange_id].items()}
    api["ws"] = dict.fromkeys(_WS_KEYS[exchange_id], ws)
    if exchange_id == "binance":  # spot's user data (watch_orders) goes over the WebSocket API
        api["ws"]["ws-api"] = {"spot": ws + "-api/v3"}
    return {"api": api}
