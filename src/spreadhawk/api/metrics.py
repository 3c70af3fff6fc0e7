"""Prometheus metrics of a running node (``GET /metrics``; a Grafana dashboard for them is in
``deploy/grafana/spreadhawk.json``).

Most figures are read from the node when Prometheus scrapes (a collector): orders by status, fills
by venue and liquidity, rejects by code, risk denials by reason, equity, PnL by strategy, exposure,
the kill switch, each venue's degradation mode and each book's age. Only what cannot be read back
later is counted as it happens: the order acknowledgement latency, a histogram fed from the bus.
Every metric lives in the node's own registry, so two nodes in one process (the tests) never mix.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client import Counter as PromCounter
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from spreadhawk.api.control import NodeControl
from spreadhawk.domain.events import OrderAccepted, OrderRejected
from spreadhawk.domain.identifiers import venue_of

__all__ = ["CONTENT_TYPE", "NodeMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
NS = 1e9
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class NodeMetrics:
    def __init__(self, control: NodeControl) -> None:
        self.control = control
        self.registry = CollectorRegistry(auto_describe=True)
        self.ack_latency = Histogram(
            "spreadhawk_order_ack_latency_seconds",
            "From an order's submission to the venue's acknowledgement",
            ["venue"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.rejects = PromCounter(
            "spreadhawk_order_rejects", "Orders the venue rejected, by code", ["venue", "code"], registry=self.registry
        )
        self.registry.register(_NodeCollector(control))
        bus = control.engine.bus
        bus.subscribe(OrderAccepted, self._on_answer)
        bus.subscribe(OrderRejected, self._on_answer)

    def _on_answer(self, event: OrderAccepted | OrderRejected) -> None:
        order = self.control.engine.orders.get(event.client_order_id)
        if order is None:
            return
        venue = venue_of(order.instrument_id)
        if isinstance(event, OrderRejected):
            self.rejects.labels(venue, event.code.value).inc()
        if event.ts_ns >= order.ts_init:
            self.ack_latency.labels(venue).observe((event.ts_ns - order.ts_init) / NS)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _NodeCollector(Collector):
    def __init__(self, control: NodeControl) -> None:
        self.control = control

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        control = self.control
        engine = control.engine
        orders = CounterMetricFamily(
            "spreadhawk_orders", "Orders by venue and current status", labels=["venue", "status"]
        )
        by_status = Counter((venue_of(o.instrument_id), o.status.value) for o in engine.orders.values())
        for (venue, status), count in sorted(by_status.items()):
            orders.add_metric([venue, status], count)
        yield orders
        fills = CounterMetricFamily("spreadhawk_fills", "Fills by venue and liquidity", labels=["venue", "liquidity"])
        by_kind = Counter((venue_of(f.instrument_id), f.liquidity.value) for f in engine.fills)
        for (venue, liquidity), count in sorted(by_kind.items()):
            fills.add_metric([venue, liquidity], count)
        yield fills
        ccy = engine.portfolio.valuation_currency
        equity = GaugeMetricFamily("spreadhawk_equity", "Account equity at market prices", labels=["currency"])
        equity.add_metric([ccy], float(control.equity()))
        yield equity
        pnl = GaugeMetricFamily("spreadhawk_strategy_pnl", "PnL attributed to each strategy", labels=["strategy"])
        for strategy in control.node.strategies:
            pnl.add_metric([strategy.id], float(control.node.attribution.pnl(strategy.id)))
        yield pnl
        portfolio = control.risk_portfolio()
        exposure = GaugeMetricFamily("spreadhawk_exposure", "Gross and net exposure", labels=["kind", "asset"])
        exposure.add_metric(["gross", ""], float(portfolio["gross_exposure"]))
        for asset, amount in portfolio["net_exposure"].items():
            exposure.add_metric(["net", asset], float(amount))
        yield exposure
        now = control.now_ns()
        age = GaugeMetricFamily(
            "spreadhawk_book_age_seconds", "Since each book was last updated", labels=["instrument"]
        )
        for iid, book in sorted(engine.books.items()):
            if book.ts_ns:
                age.add_metric([str(iid)], max(0.0, (now - book.ts_ns) / NS))
        yield age
        yield from self._risk()

    def _risk(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        risk = self.control.node.risk
        kill = GaugeMetricFamily("spreadhawk_kill_switch_engaged", "1 while the kill switch is on")
        kill.add_metric([], 1.0 if risk is not None and risk.kill_switch.engaged else 0.0)
        yield kill
        if risk is None:
            return
        denials = CounterMetricFamily("spreadhawk_risk_denials", "Orders the risk engine denied", labels=["reason"])
        for code, count in sorted(risk.denials.items()):
            denials.add_metric([str(code)], count)
        yield denials
        modes = GaugeMetricFamily(
            "spreadhawk_venue_mode",
            "Degradation mode per venue (0 FULL, 1 REDUCED, 2 HEDGE_ONLY, 3 HALTED)",
            labels=["venue"],
        )
        for venue in sorted({venue_of(iid) for iid in self.control.engine.instruments}):
            modes.add_metric([venue], float(int(risk.mode(venue)[0])))
        yield modes
        halving = GaugeMetricFamily("spreadhawk_drawdown_halving", "1 while the drawdown breaker halves sizes")
        halving.add_metric([], 1.0 if risk.halving else 0.0)
        yield halving
