"""Several strategies on shared venue balances: each one's PnL, adding up to the account's."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from spreadhawk.persistence import RunStore
from spreadhawk.runtime.config import ConfigError, load_config
from spreadhawk.runtime.services import BacktestService

DEMO = Path(__file__).resolve().parents[2] / "src/spreadhawk/runtime/presets/demo_cross_exchange.toml"


def _two_strategies(tmp_path: Path, second_id: str = "slow") -> Path:
    text = DEMO.read_text(encoding="utf-8")
    head, _, _ = text.partition("[strategy]")
    body = head + "\n".join(
        [
            "[[strategies]]",
            'path = "spreadhawk.strategy.library.cross_exchange_arb:CrossExchangeArb"',
            'id = "fast"',
            'params = { instruments = ["SIMA:BTC/USDT", "SIMB:BTC/USDT"], min_profit_bps = 2.0, max_quantity = "0.2" }',
            "[[strategies]]",
            'path = "spreadhawk.strategy.library.cross_exchange_arb:CrossExchangeArb"',
            f'id = "{second_id}"',
            'params = { instruments = ["SIMA:BTC/USDT", "SIMB:BTC/USDT"], min_profit_bps = 6.0, max_quantity = "0.3" }',
        ]
    )
    path = tmp_path / "two.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_strategy_pnls_add_up_to_the_account(tmp_path: Path) -> None:
    config = load_config(_two_strategies(tmp_path), ["data.0.hours=1.0"])
    with RunStore(f"sqlite:///{tmp_path / 'r.db'}") as store:
        result = BacktestService(store).run(config).result
    per = result["strategies"]
    assert set(per) == {"fast", "slow"}
    assert per["fast"]["fills"] + per["slow"]["fills"] == result["fills"]
    assert per["fast"]["fills"] > 0
    total = Decimal(per["fast"]["pnl"]) + Decimal(per["slow"]["pnl"])
    assert total == Decimal(result["pnl_vs_holding"])
    fees = Decimal(per["fast"]["fees"]) + Decimal(per["slow"]["fees"])
    assert float(fees) == pytest.approx(result["fees_paid"])
    assert set(result["strategy_stats"]) == {"fast", "slow"}
    assert set(result["series"]["strategy_equity"]) == {"fast", "slow"}


def test_duplicate_strategy_ids_and_both_forms_are_refused(tmp_path: Path) -> None:
    from spreadhawk.runtime.modes import build_backtest

    config = load_config(_two_strategies(tmp_path, second_id="fast"), ["data.0.hours=0.1"])
    with pytest.raises(ConfigError, match="two strategies have the id 'fast'"):
        build_backtest(config)
    both = tmp_path / "both.toml"
    both.write_text(DEMO.read_text(encoding="utf-8") + '\n[[strategies]]\npath = "x:Y"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"either \[strategy\] or \[\[strategies\]\]"):
        load_config(both)
