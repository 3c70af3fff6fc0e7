"""The curated public API: every exported name exists, is documented where it is defined, and
nothing is exported by accident."""

from __future__ import annotations

import inspect

import spreadhawk

EXPECTED = {
    "Aggressor", "Bar", "BookDeltas", "BookInvalidError", "BookSide", "BookSnapshot", "CancelOrder",
    "ClientOrderId", "Engine", "FundingRate", "Instrument", "InstrumentId", "InstrumentKind", "Liquidity",
    "MarkPrice", "Order", "OrderAccepted", "OrderBook", "OrderCanceled", "OrderFilled", "OrderRejected",
    "OrderSide", "OrderStatus", "OrderType", "Position", "QuoteTick", "ReplayFeed", "SimClock",
    "SimulatedVenue", "Strategy", "StrategyConfig", "SubmitOrder", "TimeInForce", "TradeTick", "WallClock",
    "__version__", "attach_strategy", "instrument_id", "run_replay",
}  # fmt: skip


def test_exported_names_are_exactly_the_curated_list() -> None:
    assert set(spreadhawk.__all__) == EXPECTED
    for name in spreadhawk.__all__:
        assert hasattr(spreadhawk, name), name


def test_exported_classes_and_functions_come_from_spreadhawk() -> None:
    for name in spreadhawk.__all__:
        member = getattr(spreadhawk, name)
        if inspect.isclass(member) or inspect.isfunction(member):
            assert member.__module__.startswith("spreadhawk."), name
