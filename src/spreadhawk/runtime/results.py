"""From a finished engine to results: round trips, metrics, and the record that is stored."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from spreadhawk.analytics.metrics import ClosedTrade, EquityCurve, Metrics, compute_metrics, infer_periods_per_year
from spreadhawk.domain.events import OrderFilled, PostingReason
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.orders import OrderStatus
from spreadhawk.domain.positions import Position
from spreadhawk.engine.engine import Engine

if TYPE_CHECKING:
    from spreadhawk.engine.attribution import StrategyAttribution
    from spreadhawk.risk.allocation import CapitalAllocator
    from spreadhawk.risk.limits import RiskEngine
    from spreadhawk.runtime.recorders import PriceRecorder
    from spreadhawk.strategy.base import Strategy


class RunNode(Protocol):
    """What results read of a node, whatever its mode (a backtest's or a paper session's)."""

    engine: Engine
    strategies: list[Strategy]
    attribution: StrategyAttribution
    prices: PriceRecorder
    risk: RiskEngine | None
    allocator: CapitalAllocator | None


ZERO = Decimal(0)


def round_trips(engine: Engine, fills: Iterable[OrderFilled] | None = None) -> list[ClosedTrade]:
    """Round trips per instrument: from flat to flat (a flip closes one trip and opens the next).

    PnL is realised PnL net of the fees of the trip's fills, valued in the valuation currency;
    the return is that PnL over the largest notional the trip held.
    """
    trades: list[ClosedTrade] = []
    by_instrument: dict[InstrumentId, list[OrderFilled]] = {}
    for fill in engine.fills if fills is None else fills:
        by_instrument.setdefault(fill.instrument_id, []).append(fill)
    for iid, instrument_fills in sorted(by_instrument.items()):
        inst = engine.instruments[iid]
        rate = engine.portfolio.asset_price(inst.settlement, engine.price) or Decimal(1)
        trades.extend(_trips(Position(iid, contract_size=inst.contract_size), instrument_fills, rate))
    trades.sort(key=lambda t: (t.exit_ts_ns, t.entry_ts_ns))
    return trades


def _trips(position: Position, fills: Iterable[OrderFilled], rate: Decimal) -> list[ClosedTrade]:
    trips: list[ClosedTrade] = []
    entry_ts, pnl, peak = 0, ZERO, ZERO
    for fill in fills:
        before = position
        position = position.apply_fill(fill)
        if before.is_flat:
            entry_ts, pnl, peak = fill.ts_ns, ZERO, ZERO
        pnl += position.realized_pnl - before.realized_pnl - fill.fee
        peak = max(peak, abs(position.quantity) * position.avg_price * position.contract_size)
        flipped = not before.is_flat and not position.is_flat and (before.quantity > 0) != (position.quantity > 0)
        if position.is_flat or flipped:
            value = float(pnl * rate)
            trips.append(ClosedTrade(entry_ts, fill.ts_ns, value, float(pnl / peak) if peak else 0.0))
            entry_ts, pnl, peak = fill.ts_ns, ZERO, abs(position.quantity) * position.avg_price * position.contract_size
    return trips


class NoEquityError(ValueError):
    """Nothing to measure returns against."""


@dataclass(frozen=True, slots=True)
class RunSummaryFigures:
    metrics: Metrics
    fees_paid: Decimal  # valuation currency
    traded_notional: Decimal  # valuation currency
    final_equity: Decimal
    initial_equity: Decimal
    # Final equity less the starting balances valued at the final prices: what trading added
    # (net of fees and funding) beyond simply holding the initial inventory.
    pnl_vs_holding: Decimal


def summarise(engine: Engine) -> RunSummaryFigures:
    portfolio = engine.portfolio
    fees = _value(portfolio.fees_paid, engine)
    notional = _value(portfolio.traded_notional, engine)
    ts = np.array([t for t, _ in engine.equity_curve], dtype=np.int64)
    eq = np.array([float(e) for _, e in engine.equity_curve], dtype=np.float64)
    if len(eq) == 0 or eq[0] <= 0:
        raise NoEquityError(
            f"the run starts with no equity in {portfolio.valuation_currency}: deposit balances under [venues.NAME] "
            "balances, in assets that an instrument prices in the valuation currency"
        )
    curve = EquityCurve(ts, eq)
    mean_equity = Decimal(repr(float(eq.mean())))
    benchmark = _benchmark(engine)
    metrics = compute_metrics(
        curve,
        round_trips(engine),
        fees_paid=float(fees),
        turnover=float(notional / mean_equity) if mean_equity else 0.0,
        exposure_ns=min(engine.exposure_ns, curve.elapsed_ns),
        benchmark=benchmark,
    )
    final = engine.equity_curve[-1][1]
    return RunSummaryFigures(metrics, fees, notional, final, engine.equity_curve[0][1], final - held_value(engine))


def held_value(engine: Engine) -> Decimal:
    """The deposits, valued at the final prices."""
    deposits: dict[str, Decimal] = {}
    for posting in engine.portfolio.ledger.postings:
        if posting.reason is PostingReason.DEPOSIT:
            deposits[posting.asset] = deposits.get(posting.asset, ZERO) + posting.amount
    return _value(deposits, engine)


def _value(amounts: dict[str, Decimal], engine: Engine) -> Decimal:
    total = ZERO
    for asset, amount in amounts.items():
        price = engine.portfolio.asset_price(asset, engine.price)
        if price is not None:
            total += amount * price
    return total


def _benchmark(engine: Engine) -> EquityCurve | None:
    points = [(t, float(p)) for t, p in engine.benchmark_curve if p is not None]
    if len(points) < 3:
        return None
    ts = np.array([t for t, _ in points], dtype=np.int64)
    if len(ts) != len(engine.equity_curve) or np.any(np.diff(ts) <= 0):
        return None
    return EquityCurve(ts, np.array([p for _, p in points], dtype=np.float64))


def result_json(run_id: str, figures: RunSummaryFigures, node: RunNode, wall_seconds: float) -> dict[str, Any]:
    """The one JSON object ``spreadhawk backtest --json`` prints (snake_case keys)."""
    engine = node.engine
    body: dict[str, Any] = dict(figures.metrics.as_dict())
    stats = {s.id: jsonable(s.stats()) for s in node.strategies}
    body.update(
        run_id=run_id,
        orders=len(engine.orders),
        fills=len(engine.fills),
        events_processed=engine.events_processed,
        wall_seconds=round(wall_seconds, 3),
        initial_equity=str(figures.initial_equity),
        final_equity=str(figures.final_equity),
        pnl=str(figures.final_equity - figures.initial_equity),
        pnl_vs_holding=str(figures.pnl_vs_holding),
        valuation_currency=engine.portfolio.valuation_currency,
        journal_sha256=engine.journal.digest,
        strategy_stats=next(iter(stats.values())) if len(stats) == 1 else stats,
        strategies=_per_strategy(node, stats),
        risk=risk_summary(node),
        # (ts_ns, regime) at each change of the capital allocator's regime; empty without one
        regimes=[] if node.allocator is None else [list(change) for change in node.allocator.regimes],
        costs={
            "fees": str(figures.fees_paid),
            "funding": str(_posted(engine, PostingReason.FUNDING)),
            "settlement": str(_settlement_payouts(engine)),
            "withdrawal_fees": str(_value(engine.portfolio.withdrawal_fees, engine)),
        },
        transfers=transfer_summary(engine),
        **final_holdings(engine),
        series={
            "prices": {iid: points for iid, points in node.prices.series.items()},
            "strategy_equity": {
                sid: [(ts, float(v)) for ts, v in curve] for sid, curve in node.attribution.curves.items()
            },
        },
    )
    return body


def _per_strategy(node: RunNode, stats: dict[str, Any]) -> dict[str, Any]:
    engine, attribution = node.engine, node.attribution
    fills_of: dict[str, list[OrderFilled]] = {s.id: [] for s in node.strategies}
    for fill in engine.fills:
        # the risk engine's own flattening orders belong to no strategy
        fills_of.get(engine.orders[fill.client_order_id].strategy_id, []).append(fill)
    return {
        sid: {
            "pnl": str(attribution.pnl(sid)),
            "fees": str(attribution.fees(sid)),
            "withdrawal_fees": str(attribution.withdrawal_fees(sid)),
            "fills": len(fills_of[sid]),
            "trades": len(round_trips(engine, fills_of[sid])),
            **pnl_curve_stats(attribution.curves[sid]),
            "stats": stats[sid],
        }
        for sid in fills_of
    }


def risk_summary(node: RunNode) -> dict[str, Any]:
    """Denials by reason (risk codes, and ``order_rules`` for exchange-rule refusals), the risk
    engine's state changes and its kill switch; ``enabled`` false when the run had no risk engine."""
    denied = [o for o in node.engine.orders.values() if o.status is OrderStatus.DENIED]
    risk = node.risk
    if risk is None:
        return {"enabled": False, "denials": {"order_rules": len(denied)} if denied else {}}
    state = risk.kill_switch.state
    return {
        "enabled": True,
        "denials": dict(sorted(risk.denials.items())),
        "records": [jsonable(dataclasses.asdict(r)) | {"type": type(r).__name__} for r in risk.records],
        "kill_switch": None if state is None else jsonable(dataclasses.asdict(state)),
    }


def final_holdings(engine: Engine) -> dict[str, Any]:
    """What the stress scenarios need: each venue's final non-zero balances (exact strings) and the
    final price of each asset held, in the valuation currency (assets without a price are left out)."""
    balances: dict[str, dict[str, str]] = {}
    held: set[str] = set()
    for (venue, asset), amount in sorted(engine.portfolio.ledger.balances().items()):
        if amount:
            balances.setdefault(venue, {})[asset] = str(amount)
            held.add(asset)
    prices = {asset: engine.portfolio.asset_price(asset, engine.price) for asset in sorted(held)}
    return {
        "final_balances": balances,
        "asset_prices": {asset: str(price) for asset, price in prices.items() if price is not None},
    }


def transfer_summary(engine: Engine) -> dict[str, Any]:
    """Transfers between venues by outcome, and those in flight when the session ended.

    The session ends at the last equity sample (the last market-data record). A transfer sent by
    then and not credited by then is listed as in transit: its amount was owned and counted in the
    final equity, in no venue's balance. (A backtest drains its timers after the last record, so
    such a transfer may since have been credited, after the end: ``credited_after_end``.)
    """
    end_ns = engine.equity_curve[-1][0] if engine.equity_curve else engine.clock.now_ns()
    by_status: dict[str, int] = {}
    in_transit: list[dict[str, Any]] = []
    amounts: dict[str, Decimal] = {}
    for transfer in engine.transfers.values():
        by_status[transfer.status.value] = by_status.get(transfer.status.value, 0) + 1
        if transfer.sent_ns is None or transfer.sent_ns > end_ns:
            continue
        if transfer.credited_ns is not None and transfer.credited_ns <= end_ns:
            continue
        amounts[transfer.asset] = amounts.get(transfer.asset, ZERO) + transfer.amount
        in_transit.append(
            {
                "transfer_id": transfer.transfer_id,
                "asset": transfer.asset,
                "amount": str(transfer.amount),
                "from_venue": transfer.from_venue,
                "to_venue": transfer.to_venue,
                "sent_ns": transfer.sent_ns,
                "credited_after_end": transfer.credited_ns is not None,
            }
        )
    return {
        "count": len(engine.transfers),
        "by_status": dict(sorted(by_status.items())),
        "in_transit_at_end": in_transit,
        "in_transit_value": str(_value(amounts, engine)),
    }


def pnl_curve_stats(curve: list[tuple[int, Decimal]]) -> dict[str, float | None]:
    """Sharpe and max drawdown of a strategy's PnL curve (it starts at 0, so no return base exists).

    Sharpe = mean / std of the PnL changes per sample, annualised by the sampling rate: the ratio
    does not depend on the capital it is measured against. The drawdown is in the valuation
    currency (largest fall from a running peak of PnL).
    """
    if len(curve) < 3:
        return {"sharpe": None, "max_drawdown_value": 0.0}
    ts = np.array([t for t, _ in curve], dtype=np.int64)
    pnl = np.array([float(v) for _, v in curve], dtype=np.float64)
    changes = np.diff(pnl)
    std = float(changes.std(ddof=1))
    periods = infer_periods_per_year(ts)
    sharpe = float(changes.mean()) / std * math.sqrt(periods) if std > 1e-12 and periods else None
    drawdown = float(np.max(np.maximum.accumulate(pnl) - pnl))
    return {"sharpe": sharpe, "max_drawdown_value": drawdown}


def _settlement_payouts(engine: Engine) -> Decimal:
    """What settled instruments paid out, valued in the valuation currency.

    A settlement posts two legs: the tokens leave (at their last traded price they are worth
    whatever the book said) and the payout arrives; only the payout is a cash flow worth reporting.
    """
    by_asset: dict[str, Decimal] = {}
    for posting in engine.portfolio.ledger.postings:
        if posting.reason is PostingReason.SETTLEMENT and posting.asset in engine.portfolio.currencies:
            by_asset[posting.asset] = by_asset.get(posting.asset, ZERO) + posting.amount
    return _value(by_asset, engine)


def _posted(engine: Engine, reason: PostingReason) -> Decimal:
    """Net amount posted for ``reason``, valued in the valuation currency."""
    by_asset: dict[str, Decimal] = {}
    for posting in engine.portfolio.ledger.postings:
        if posting.reason is reason:
            by_asset[posting.asset] = by_asset.get(posting.asset, ZERO) + posting.amount
    return _value(by_asset, engine)


def jsonable(value: Any) -> Any:
    """Decimals as exact strings, containers recursively; what JSON cannot hold becomes ``str``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
