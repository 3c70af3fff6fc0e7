"""The kill switch: cancels everything, denies every new order, and stays on across restarts."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from risk_harness import BUY, SELL, T0, Action, RiskRun, S, book_at, build, chain, no_limits, order, play

from spreadhawk.domain.orders import OrderStatus
from spreadhawk.engine.context import StrategyContext
from spreadhawk.persistence import RunStore
from spreadhawk.persistence.kill_switch import SqlKillSwitchStore
from spreadhawk.risk.kill_switch import InMemoryKillSwitchStore, KillSwitch, KillSwitchChanged
from spreadhawk.runtime.config import ConfigError, load_config
from spreadhawk.runtime.services import BacktestService

D = Decimal
HELD = {"USDT": "4987.5", "BTC": "50"}
DEMO = Path(__file__).resolve().parents[2] / "src/spreadhawk/runtime/presets/demo_cross_exchange.toml"


def _engage(run: RiskRun, *, flatten: bool = False) -> Action:
    def act(ctx: StrategyContext) -> None:
        run.risk.engage_kill_switch("operator:alice", "fat finger on the desk", flatten=flatten)

    return act


def test_manual_kill_switch_cancels_open_orders_and_no_order_leaves() -> None:
    run = build(no_limits(), HELD)
    actions = {
        T0: chain(order(run, BUY, "1"), order(run, BUY, "0.1", "50")),  # 0 fills, 1 rests
        T0 + S: chain(_engage(run), order(run, BUY, "0.1", "50"), order(run, SELL, "0.1", "100")),  # 2, 3
        T0 + 2 * S: order(run, BUY, "0.1", "50"),  # 4
    }
    play(run, [book_at(T0 + k * S, "100") for k in range(3)], actions)
    received = [c.client_order_id for c in run.venue.received]
    assert received == run.ids[:2]  # nothing after the switch reached the venue
    assert run.status(1) is OrderStatus.CANCELED
    assert all(run.denied(n) for n in (2, 3, 4))
    assert "by operator:alice: fat finger on the desk" in run.reason(4)
    assert run.engine.portfolio.position(run.order(0).instrument_id).quantity == D(1)  # no flatten asked
    changes = [r for r in run.risk.records if isinstance(r, KillSwitchChanged)]
    assert [(c.engaged, c.by, c.ts_ns) for c in changes] == [(True, "operator:alice", T0 + S)]
    assert run.risk.denials == {"kill_switch": 3}


def test_kill_switch_with_flatten_closes_positions_at_market() -> None:
    run = build(no_limits(), HELD)
    actions = {T0: order(run, BUY, "2"), T0 + S: _engage(run, flatten=True)}
    play(run, [book_at(T0, "100"), book_at(T0 + S, "100"), book_at(T0 + 2 * S, "100")], actions)
    flatten = [o for o in run.engine.orders.values() if o.strategy_id == "risk"]
    assert [(o.side, o.quantity, o.status) for o in flatten] == [(SELL, D(2), OrderStatus.FILLED)]
    assert run.engine.portfolio.position(flatten[0].instrument_id).is_flat


def test_kill_switch_survives_a_restart_until_resumed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'risk.db'}"
    with SqlKillSwitchStore(url) as store:
        first = build(no_limits(), HELD, store=store)
        play(first, [book_at(T0, "100")], {T0: _engage(first)})
        assert first.risk.kill_switch.engaged

    # a new process: a new engine and a new store on the same file
    with SqlKillSwitchStore(url) as store:
        second = build(no_limits(), HELD, store=store)
        assert second.risk.kill_switch.engaged  # read before the first order
        burst = chain(*(order(second, side, "0.1", "100") for side in (BUY, SELL, BUY)))

        def resume(ctx: StrategyContext) -> None:
            second.risk.resume("operator:bob", "desk checked, positions reconciled")

        actions = {T0 + 10 * S: burst, T0 + 20 * S: chain(resume, order(second, BUY, "0.1", "100"))}
        play(second, [book_at(T0 + 10 * S, "100"), book_at(T0 + 20 * S, "100")], actions)
        assert [second.denied(n) for n in range(4)] == [True, True, True, False]
        assert [c.client_order_id for c in second.venue.received] == [second.ids[3]]

    with SqlKillSwitchStore(url) as store:
        history = store.history()
        assert [(c.engaged, c.by, c.reason, c.ts_ns) for c in history] == [
            (True, "operator:alice", "fat finger on the desk", T0),
            (False, "operator:bob", "desk checked, positions reconciled", T0 + 20 * S),
        ]
        assert not KillSwitch(store).engaged  # a third start trades from its first order


def test_resuming_needs_who_and_why() -> None:
    switch = KillSwitch(InMemoryKillSwitchStore())
    assert switch.engage(1, "breaker:drawdown", "drawdown 10.1 %") is not None
    assert switch.engage(2, "operator:alice", "again") is None  # already on: not recorded twice
    with pytest.raises(ValueError, match="who"):
        switch.resume(3, "", "")
    assert switch.engaged


def _risk_config(tmp_path: Path, risk_lines: list[str]) -> Path:
    path = tmp_path / "run.toml"
    path.write_text(DEMO.read_text(encoding="utf-8") + "\n[risk]\n" + "\n".join(risk_lines) + "\n", encoding="utf-8")
    return path


def test_a_backtest_reads_the_kill_switch_from_its_database(tmp_path: Path) -> None:
    with SqlKillSwitchStore(f"sqlite:///{tmp_path / 'risk.db'}") as store:
        store.append(KillSwitchChanged(0, True, "operator:alice", "halt before the session"))
    lines = [
        "enabled = true",
        'kill_switch_db = "risk.db"',
        'max_asset_fraction = "off"',
        'max_strategy_fraction = "off"',
    ]
    config = load_config(_risk_config(tmp_path, lines), ["data.0.hours=0.5"])
    with RunStore(f"sqlite:///{tmp_path / 'runs.db'}") as runs:
        result = BacktestService(runs).run(config).result
    assert result["fills"] == 0
    assert result["orders"] > 0
    assert result["risk"]["denials"] == {"kill_switch": result["orders"]}


def test_a_backtest_with_risk_reports_denials_by_reason(tmp_path: Path) -> None:
    lines = ["enabled = true", 'max_order_notional = "1000"']
    config = load_config(_risk_config(tmp_path, lines), ["data.0.hours=0.5"])
    with RunStore(f"sqlite:///{tmp_path / 'runs.db'}") as runs:
        result = BacktestService(runs).run(config).result
    denials = result["risk"]["denials"]
    assert result["risk"]["enabled"] is True
    assert sum(denials.values()) > 0
    assert set(denials) <= {"order_notional", "asset_concentration", "strategy_exposure", "capital_deployed"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('max_asset_fraction = "1.5"', "risk.max_asset_fraction: Input should be less than or equal to 1"),
        ('drawdown_halve = "0.12"', "risk.drawdown_halve (0.12) must be below risk.drawdown_flatten (0.10)"),
        ("max_orders_per_second = 0", "risk.max_orders_per_second: Input should be greater than or equal to 1"),
        ("max_leveridge = 3", "unknown key 'risk.max_leveridge'"),
    ],
)
def test_bad_risk_settings_are_one_line_errors(tmp_path: Path, line: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load_config(_risk_config(tmp_path, [line]))
    assert message in str(error.value)
