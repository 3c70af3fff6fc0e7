"""The API over a running paper node: what it reads agrees with the fills, every command goes through
the risk engine and the audit trail, the kill switch halts trading at once (scenario 16, in
process), concurrent commands take effect once (scenario 22), and the guards of RELIABILITY.md §5
hold (S3 tokens on every route, S4 scopes, S7 Host and CORS, S10 body and page limits)."""

from __future__ import annotations

import asyncio
import json
import re
from decimal import Decimal
from pathlib import Path

import pytest
from api_node import BASE, READ, TOKENS, TRADE, node_config, resync, running_node, tape

from spreadhawk.api.app import ApiSettings, create_app
from spreadhawk.api.audit import AuditError, verify
from spreadhawk.domain.events import Liquidity, OrderSide
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.market import MarketData
from spreadhawk.domain.orders import OrderStatus

pytestmark = pytest.mark.real_data
RECORDS = 12_000
REPO = Path(__file__).resolve().parents[2]
BTC = InstrumentId("BINANCE:BTC/USDT")


@pytest.fixture(scope="module")
def records(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> list[MarketData]:
    return tape(node_config(shared_data, tmp_path_factory.mktemp("tape")), RECORDS)


def test_reads_agree_with_the_fills(shared_data: Path, tmp_path: Path, records: list[MarketData]) -> None:
    async def body() -> None:
        async with running_node(node_config(shared_data, tmp_path), records, tmp_path) as run:
            engine = run.node.engine
            assert len(engine.fills) >= 10, "the probe must have traded on the tape"
            fills = (await run.client.get("/api/v1/fills?limit=500", headers=READ)).json()
            assert len(fills) == len(engine.fills)
            # the position, worked out from the API's own list of fills
            held = sum(Decimal(f["quantity"]) * (1 if f["side"] == "buy" else -1) for f in fills)
            positions = (await run.client.get("/api/v1/positions", headers=READ)).json()
            listed = {p["instrument"]: Decimal(p["quantity"]) for p in positions["positions"]}
            assert listed.get(str(BTC), Decimal(0)) == held
            # BTC balance: the opening 0.01 BTC plus what the fills bought (spot: the position is the trades)
            assert Decimal(positions["balances"]["BINANCE"].get("BTC", "0")) == Decimal("0.01") + held
            costs = (await run.client.get("/api/v1/execution/costs", headers=READ)).json()
            (venue,) = costs["venues"]
            assert venue["maker_fills"] == sum(f["liquidity"] == "maker" for f in fills)
            assert venue["taker_fills"] == sum(f["liquidity"] == "taker" for f in fills)
            paid = sum((Decimal(f["fee"]) for f in fills if f["fee_currency"] == "USDT"), Decimal(0))
            assert Decimal(venue["fees"].get("USDT", "0")) == paid
            profits = (await run.client.get("/api/arbitrage/profits", headers=READ)).json()
            strategies = sum((Decimal(row["pnl"]) for row in profits["strategies"]), Decimal(0))
            assert Decimal(profits["pnl_vs_holding"]) == strategies  # the account's trading PnL, split exactly
            status = (await run.client.get("/api/arbitrage/status", headers=READ)).json()
            assert status["mode"] == "paper"
            assert status["trading"] is True
            assert status["fills"] == len(fills)
            assert [s["id"] for s in status["strategies"]] == ["probe"]
            metrics = (await run.client.get("/metrics", headers=READ)).text
            taker = sum(f.liquidity is Liquidity.TAKER for f in engine.fills)
            assert f'spreadhawk_fills_total{{liquidity="taker",venue="BINANCE"}} {float(taker)}' in metrics
            assert "spreadhawk_kill_switch_engaged 0.0" in metrics
            assert "spreadhawk_order_ack_latency_seconds_bucket" in metrics
            # every metric the Grafana dashboard in the repository plots is one the node exports
            grafana = json.loads((REPO / "deploy" / "grafana" / "spreadhawk.json").read_text())
            plotted = {
                re.sub(r"_(total|bucket|count|sum)$", "", name)
                for panel in grafana["panels"]
                for target in panel["targets"]
                for name in re.findall(r"spreadhawk_[a-z_]+", target["expr"])
            }
            assert len(plotted) >= 10
            exported = set(re.findall(r"^# TYPE (spreadhawk_[a-z_]+?)(?:_total)? ", metrics, re.MULTILINE))
            assert plotted - exported == set()

    asyncio.run(body())


def test_the_kill_switch_halts_trading_at_once_and_only_once(
    shared_data: Path, tmp_path: Path, records: list[MarketData]
) -> None:
    async def body() -> None:
        async with running_node(node_config(shared_data, tmp_path), records, tmp_path) as run:
            engine = run.node.engine
            resting = [o for o in engine.orders.values() if o.status is OrderStatus.ACCEPTED]
            assert resting, "the probe keeps a post-only bid resting"
            refused = await run.client.post("/api/v1/kill-switch/engage", json={"reason": "test"}, headers=READ)
            assert refused.status_code == 403  # the read token only reads
            # two operators at once: one takes effect, the other is told it already has (scenario 22)
            first, second = await asyncio.gather(
                run.client.post("/api/v1/kill-switch/engage", json={"reason": "a", "flatten": False}, headers=TRADE),
                run.client.post("/api/v1/kill-switch/engage", json={"reason": "b", "flatten": False}, headers=TRADE),
            )
            assert sorted([first.status_code, second.status_code]) == [200, 409]
            await run.settle()
            assert all(engine.orders[o.client_order_id].status is OrderStatus.CANCELED for o in resting)
            assert [o for o in engine.orders.values() if o.status is OrderStatus.ACCEPTED] == []
            probe = run.node.strategies[0]
            order = probe.ctx.submit(BTC, OrderSide.BUY, Decimal("0.002"))  # a strategy's next order
            assert order.status is OrderStatus.DENIED
            status = (await run.client.get("/api/v1/status", headers=READ)).json()
            assert status["trading"] is False
            assert status["kill_switch"]["engaged"] is True
            assert status["kill_switch"]["by"].startswith("api:trade@")
            resumed = await run.client.post("/api/v1/kill-switch/resume", json={"reason": "ok"}, headers=TRADE)
            assert resumed.status_code == 200
            assert (
                await run.client.post("/api/v1/kill-switch/resume", json={"reason": "x"}, headers=TRADE)
            ).status_code == 409
            # the trail: every command, in order, chained
            lines = (run.journal.parent / "node.journal.audit.jsonl").read_text().splitlines()
            assert [line.count('"command":"kill_switch.engage"') for line in lines] == [1, 1, 0, 0]
            verify(run.journal.parent / "node.journal.audit.jsonl")

    asyncio.run(body())


def test_pausing_a_strategy_and_changing_a_limit_go_through_the_risk_engine(
    shared_data: Path, tmp_path: Path, records: list[MarketData]
) -> None:
    async def body() -> None:
        async with running_node(node_config(shared_data, tmp_path), records, tmp_path) as run:
            probe = run.node.strategies[0]
            pause = {"strategy": "probe", "enabled": False, "reason": "looks wrong"}
            assert (await run.client.post("/api/v1/strategies/toggle", json=pause, headers=TRADE)).status_code == 200
            assert (await run.client.post("/api/v1/strategies/toggle", json=pause, headers=TRADE)).status_code == 409
            denied = probe.ctx.submit(BTC, OrderSide.BUY, Decimal("0.002"))
            assert denied.status is OrderStatus.DENIED
            performance = (await run.client.get("/api/v1/strategies/performance", headers=READ)).json()
            assert performance["strategies"][0]["enabled"] is False
            deploy = await run.client.post("/api/arbitrage/deploy", json={"strategy": "probe"}, headers=TRADE)
            assert deploy.status_code == 200
            assert probe.ctx.submit(BTC, OrderSide.BUY, Decimal("0.002")).status is not OrderStatus.DENIED
            unknown = {"strategy": "nope", "enabled": False, "reason": "x"}
            assert (await run.client.post("/api/v1/strategies/toggle", json=unknown, headers=TRADE)).status_code == 404
            # an order of ~118 USDT passes under the default limit and is denied under a 100 USDT one
            limit = {"max_order_notional": 100, "reason": "tighten"}
            changed = await run.client.post("/api/v1/risk/limits", json=limit, headers=TRADE)
            assert changed.status_code == 200
            assert changed.json()["limits"]["max_order_notional"] == "100"
            assert probe.ctx.submit(BTC, OrderSide.SELL, Decimal("0.002")).status is OrderStatus.DENIED
            for bad in (
                {"changes": {"max_leverage": "1"}, "reason": "x"},
                {"changes": {"price_band": "-1"}, "reason": "x"},
            ):
                assert (await run.client.post("/api/v1/risk/limits", json=bad, headers=TRADE)).status_code == 422

    asyncio.run(body())


def test_every_route_needs_a_token_and_state_changes_need_the_trade_token(tmp_path: Path) -> None:
    """S3/S4 over the app's own route table, so a route added later is covered without editing this."""
    # no node, no store: the guard answers before the handler (and this one client may fail often)
    app = create_app(TOKENS, settings=ApiSettings(max_token_failures=1_000))
    from starlette.testclient import TestClient

    # every operation the OpenAPI document lists (what a client can find), but /health
    operations = [(m.upper(), p) for p, ops in app.openapi()["paths"].items() for m in ops if p != "/health"]
    assert len(operations) >= 20
    # S11: no way to move money out through the API
    assert [p for _, p in operations if "withdraw" in p or "transfer" in p or "deposit" in p] == []
    with TestClient(app, base_url=BASE) as client:
        for method, template in operations:
            path = template.replace("{run_id}", "x")
            assert client.request(method, path).status_code == 401, (method, path)
            wrong = {"Authorization": "Bearer " + "w" * 40}
            assert client.request(method, path, headers=wrong).status_code == 401, (method, path)
            if method == "POST":
                assert client.request(method, path, json={}, headers=READ).status_code == 403, path
        assert client.get("/health").status_code == 200


def test_host_cors_body_and_page_limits(tmp_path: Path) -> None:
    from starlette.testclient import TestClient

    app = create_app(TOKENS)
    with TestClient(app, base_url=BASE) as client:
        assert client.get("/health", headers={"Host": "attacker.test"}).status_code == 400  # DNS rebinding
        preflight = client.options(
            "/api/v1/status",
            headers={"Origin": "http://evil.test", "Access-Control-Request-Method": "GET"},
        )
        assert "access-control-allow-origin" not in preflight.headers
        big = client.post("/api/v1/kill-switch/engage", content=b"x" * 70_000, headers=TRADE)
        assert big.status_code == 413
        assert client.get("/api/v1/runs?limit=100000", headers=READ).status_code == 422


def test_a_damaged_audit_trail_is_found(tmp_path: Path) -> None:
    from spreadhawk.api.audit import AuditLog, AuditRecord

    path = tmp_path / "audit.jsonl"
    log = AuditLog(path)
    for n in range(3):
        log.append(AuditRecord(n, "api:trade@127.0.0.1", "api", "kill_switch.engage", {"reason": str(n)}, "requested"))
    verify(path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0], lines[1].replace('"reason":"1"', '"reason":"9"'), lines[2]]) + "\n")
    with pytest.raises(AuditError, match="line 3"):
        verify(path)
    path.write_text("\n".join([lines[0], lines[2]]) + "\n")  # a line removed
    with pytest.raises(AuditError, match="line 2"):
        verify(path)


def test_flattening_after_a_restart_never_reuses_an_order_id(
    shared_data: Path, tmp_path: Path, records: list[MarketData]
) -> None:
    """Each session buys, then the kill switch flattens the position; the second session (the same
    journal, the switch resumed in between) must flatten under an id of its own run: the first
    flatten's id is in the journal, and the exchange would refuse a client id it has seen."""
    config = node_config(shared_data, tmp_path)
    half = len(records) // 2

    async def session(tape: list[MarketData], resume_first: bool) -> list[tuple[str, OrderStatus]]:
        async with running_node(config, tape, tmp_path) as run:
            if resume_first:
                resumed = await run.client.post("/api/v1/kill-switch/resume", json={"reason": "ok"}, headers=TRADE)
                assert resumed.status_code == 200
            probe = run.node.strategies[0]
            assert probe.ctx.submit(BTC, OrderSide.BUY, Decimal("0.004")).status is not OrderStatus.DENIED
            await run.settle()
            engage = {"reason": "test", "flatten": True}
            assert (await run.client.post("/api/v1/kill-switch/engage", json=engage, headers=TRADE)).status_code == 200
            await run.settle()
            assert run.node.engine.portfolio.position(BTC).quantity == 0
            engine = run.node.engine
            return [(str(c), o.status) for c, o in engine.orders.items() if o.strategy_id == "risk"]

    first = asyncio.run(session(records[:half], resume_first=False))
    second = asyncio.run(session([resync(records[:half]), *records[half:]], resume_first=True))
    assert [status for _, status in first] == [OrderStatus.FILLED]
    assert second[: len(first)] == first  # restored from the journal
    ((new_id, new_status),) = second[len(first) :]
    assert new_status is OrderStatus.FILLED
    assert new_id != first[0][0]


def test_concurrent_exits_give_one_exit_order(shared_data: Path, tmp_path: Path, records: list[MarketData]) -> None:
    """RELIABILITY.md scenario 22: two operators close the same position at once -> one exit order,
    the other told 409; with a strategy's own exit order in flight, the operator's is refused too."""

    async def body() -> None:
        async with running_node(node_config(shared_data, tmp_path), records, tmp_path) as run:
            engine, probe = run.node.engine, run.node.strategies[0]
            probe.ctx.submit(BTC, OrderSide.BUY, Decimal("0.004"))
            await run.settle()
            held = engine.portfolio.position(BTC).quantity
            assert held > 0
            exit_ = {"instrument": str(BTC), "reason": "close it"}
            first, second = await asyncio.gather(
                run.client.post("/api/v1/positions/exit", json=exit_, headers=TRADE),
                run.client.post("/api/v1/positions/exit", json=exit_, headers=TRADE),
            )
            assert sorted([first.status_code, second.status_code]) == [200, 409]
            await run.settle()
            exits = [o for o in engine.orders.values() if o.strategy_id == "operator"]
            assert [(o.side, o.quantity, o.status) for o in exits] == [(OrderSide.SELL, held, OrderStatus.FILLED)]
            assert engine.portfolio.position(BTC).quantity == 0
            none_left = await run.client.post("/api/v1/positions/exit", json=exit_, headers=TRADE)
            assert none_left.status_code == 409
            # a strategy's exit resting on the book: the operator's is refused, naming it
            probe.ctx.submit(BTC, OrderSide.BUY, Decimal("0.004"))
            await run.settle()
            far = engine.books[BTC].best_ask()
            assert far is not None
            ask = engine.instruments[BTC].price(far[0]) * Decimal("1.01")  # above the market, inside the price band
            resting = probe.ctx.submit(BTC, OrderSide.SELL, Decimal("0.004"), price=ask.quantize(Decimal("0.01")))
            await run.settle()
            refused = await run.client.post("/api/v1/positions/exit", json=exit_, headers=TRADE)
            assert refused.status_code == 409
            assert str(resting.client_order_id) in refused.json()["detail"]
            assert [o for o in engine.orders.values() if o.strategy_id == "operator"] == exits

    asyncio.run(body())


def test_guessing_tokens_is_slowed_to_twenty_a_minute() -> None:
    from starlette.testclient import TestClient

    with TestClient(create_app(TOKENS), base_url=BASE) as client:
        wrong = {"Authorization": "Bearer " + "g" * 40}
        assert [client.get("/api/v1/runs", headers=wrong).status_code for _ in range(20)] == [401] * 20
        blocked = client.get("/api/v1/runs", headers=READ)  # even the right token waits now
        assert blocked.status_code == 429
        assert 0 < int(blocked.headers["retry-after"]) <= 60
        assert client.get("/health").status_code == 200
