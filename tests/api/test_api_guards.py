"""The API's start-up guards and its stream (RELIABILITY.md §5): no default or weak token (S2), no
bind beyond loopback without TLS (S1), the WebSocket's token in its first message and its Origin
checked (S8)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from api_node import BASE, TOKENS
from starlette.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from spreadhawk.api.app import create_app
from spreadhawk.api.auth import TokenError, load_or_create_tokens
from spreadhawk.api.server import ApiBindError, Listen, check_listen


def test_tokens_are_made_on_first_use_private_and_strong(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "api_tokens.json"
    tokens, created = load_or_create_tokens(path)
    assert created
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(tokens.read) >= 43
    assert len(tokens.trade) >= 43
    assert tokens.read != tokens.trade
    again, created = load_or_create_tokens(path)
    assert (again, created) == (tokens, False)
    assert "***" in repr(tokens)
    assert tokens.read not in repr(tokens)


@pytest.mark.parametrize(
    ("document", "mode", "message"),
    [
        ({"read": "super-secret", "trade": "t" * 40}, 0o600, "a default or shorter than 32"),
        ({"read": "r" * 40, "trade": "short"}, 0o600, "a default or shorter than 32"),
        ({"read": "s" * 40, "trade": "s" * 40}, 0o600, "must differ"),
        ({"read": "r" * 40}, 0o600, "no 'trade' token"),
        ({"read": "r" * 40, "trade": "t" * 40}, 0o644, "can be read by other users"),
    ],
)
def test_weak_default_or_exposed_tokens_are_refused(
    tmp_path: Path, document: dict[str, str], mode: int, message: str
) -> None:
    path = tmp_path / "tokens.json"
    path.write_text(json.dumps(document))
    path.chmod(mode)
    with pytest.raises(TokenError, match=message) as caught:
        load_or_create_tokens(path)
    for token in document.values():
        if len(token) >= 32:
            assert token not in str(caught.value)  # the error never shows a token


def test_a_bind_beyond_loopback_needs_tls(tmp_path: Path) -> None:
    check_listen(Listen("127.0.0.1", 8470))
    check_listen(Listen("::1", 8470))
    with pytest.raises(ApiBindError, match="without TLS"):
        check_listen(Listen("0.0.0.0", 8470))
    with pytest.raises(ApiBindError, match="go together"):
        check_listen(Listen("0.0.0.0", 8470, tls_cert=tmp_path / "c.pem"))
    cert, key = tmp_path / "c.pem", tmp_path / "k.pem"
    cert.write_text("x")
    key.write_text("x")
    check_listen(Listen("0.0.0.0", 8470, tls_cert=cert, tls_key=key))
    with pytest.raises(ApiBindError, match=r"1\.\.65535"):
        check_listen(Listen("127.0.0.1", 70_000))


def test_the_stream_wants_its_token_first_and_a_local_origin() -> None:
    app = create_app(TOKENS)
    with TestClient(app, base_url=BASE) as client:
        with client.websocket_connect("ws://127.0.0.1/api/v1/stream") as socket:
            socket.send_text(json.dumps({"token": TOKENS.read}))
            assert socket.receive_json() == {"type": "hello", "node": False}
        with client.websocket_connect("ws://127.0.0.1/api/v1/stream") as socket:
            socket.send_text(json.dumps({"token": "w" * 40}))
            with pytest.raises(WebSocketDisconnect) as closed:
                socket.receive_json()
            assert closed.value.code == 1008
        with client.websocket_connect("ws://127.0.0.1/api/v1/stream") as socket:
            socket.send_text("not json")
            with pytest.raises(WebSocketDisconnect):
                socket.receive_json()
        evil = {"Origin": "http://evil.test"}
        with (
            pytest.raises(WebSocketDisconnect) as refused,  # closed before it is accepted
            client.websocket_connect("ws://127.0.0.1/api/v1/stream", headers=evil) as socket,
        ):
            socket.receive_json()
        assert refused.value.code == 1008
        with client.websocket_connect(
            "ws://127.0.0.1/api/v1/stream", headers={"Origin": "http://localhost:8470"}
        ) as socket:
            socket.send_text(json.dumps({"token": TOKENS.trade}))
            assert socket.receive_json()["type"] == "hello"
