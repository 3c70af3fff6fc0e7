"""The user stream's guard on its own: which frames ccxt may see, and what it does with the others."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import pytest

from spreadhawk.venues.ccxt.stream_guard import StreamGuard, unusable_report

REPORT: dict[str, Any] = {
    "e": "executionReport",
    "s": "BTCUSDT",
    "c": "cid-1",
    "S": "BUY",
    "x": "TRADE",
    "X": "FILLED",
    "i": 7,
    "t": 11,
    "q": "0.01000000",
    "l": "0.01000000",
    "L": "60000.00000000",
    "z": "0.01000000",
    "n": "0.60000000",
}


class FakeClient:
    """What the guard touches of a ccxt websocket client: its frame handler and ``send``."""

    def __init__(self) -> None:
        self.handled: list[Any] = []
        self.sent: list[dict[str, Any]] = []

    def handle_text_or_binary_message(self, data: Any) -> None:
        self.handled.append(data)

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)


def test_a_sound_report_is_usable_and_every_broken_field_is_named() -> None:
    assert unusable_report(REPORT, {"BTCUSDT"}) is None
    assert unusable_report({**REPORT, "zz": [1]}, {"BTCUSDT"}) is None  # unknown fields are ignored
    for broken, named in (
        ({"s": "NOSUCHUSDT"}, "symbol"),
        ({"t": "11"}, "'t'"),
        ({"i": True}, "'i'"),
        ({"c": None}, "'c'"),
        ({"l": "one"}, "'l'"),
        ({"L": [1]}, "'L'"),
        ({"z": "NaN"}, "'z'"),
    ):
        why = unusable_report({**REPORT, **broken}, {"BTCUSDT"})
        assert why is not None
        assert named in why
    assert "'i'" in (unusable_report({k: v for k, v in REPORT.items() if k != "i"}, {"BTCUSDT"}) or "")


def test_bad_frames_are_logged_raw_and_kept_from_ccxt(caplog: pytest.LogCaptureFixture) -> None:
    client = FakeClient()
    guard = StreamGuard("binance", {"BTCUSDT"})
    guard.install(client)
    good = json.dumps({"subscriptionId": 0, "event": REPORT})
    bad = json.dumps({"subscriptionId": 0, "event": {**REPORT, "l": "one"}})
    with caplog.at_level(logging.WARNING):
        for frame in (good, "{not json", bad, json.dumps([1, 2])):
            client.handle_text_or_binary_message(frame)
    assert client.handled == [good, json.dumps([1, 2])]
    assert guard.skipped == 2
    assert "{not json" in caplog.text
    assert '"l": "one"' in caplog.text


def test_an_error_inside_ccxt_is_logged_and_the_next_frame_still_handled(caplog: pytest.LogCaptureFixture) -> None:
    client = FakeClient()
    seen: list[Any] = []

    def fragile(data: Any) -> None:
        if "boom" in data:
            raise TypeError("ccxt could not parse it")
        seen.append(data)

    client.handle_text_or_binary_message = fragile  # type: ignore[method-assign]
    StreamGuard("binance", {"BTCUSDT"}).install(client)
    with caplog.at_level(logging.WARNING):
        client.handle_text_or_binary_message('{"e": "boom"}')
        client.handle_text_or_binary_message('{"e": "fine"}')
    assert seen == ['{"e": "fine"}']
    assert '{"e": "boom"}' in caplog.text


def test_stream_ends_and_probe_answers_are_the_guards_business() -> None:
    async def scenario() -> None:
        client = FakeClient()
        guard = StreamGuard("binance", {"BTCUSDT"})
        guard.install(client)
        probe = asyncio.ensure_future(guard.probe(client, 1.0))
        await asyncio.sleep(0)  # noqa: TID251 -- let the probe send its request
        request_id = client.sent[0]["id"]
        assert client.sent[0]["method"] == "session.subscriptions"
        client.handle_text_or_binary_message(json.dumps({"id": request_id, "status": 200, "result": []}))
        assert await probe is False  # answered, and no subscription is alive
        with pytest.raises(TimeoutError):
            await guard.probe(client, 0.05)  # nobody answers: a stalled connection
        assert not guard.ended.is_set()
        client.handle_text_or_binary_message('{"subscriptionId":0,"event":{"e":"eventStreamTerminated","E":1}}')
        assert guard.ended.is_set()
        assert "eventStreamTerminated" in guard.reason
        assert client.handled == []  # none of it reached ccxt

    asyncio.run(scenario())
