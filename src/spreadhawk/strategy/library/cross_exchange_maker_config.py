"""The maker-taker strategy's parameters (``cross_exchange_maker``; the module docstring there says
how each one acts)."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import Field, model_validator

from spreadhawk.domain.identifiers import InstrumentId, venue_of
from spreadhawk.strategy.base import StrategyConfig
from spreadhawk.strategy.rebalancing import RebalanceSettings


class CrossExchangeMakerConfig(StrategyConfig):
    maker: str = Field(description="instrument id where the post-only quotes rest")
    hedge: str = Field(description="instrument id (same base/quote, another venue) where fills are hedged")
    sides: Literal["both", "bid", "ask"] = "both"
    quantity: Decimal = Field(gt=0, description="base quantity per quote")
    min_profit_bps: float = Field(default=5.0, ge=0, description="margin after both fees, bps of the buy price")
    quote_offset_bps: float = Field(default=1.0, ge=0, description="rest this far inside the band's edge")
    requote_tolerance_bps: float = Field(default=2.0, ge=0, description="drift from target before repricing")
    min_quote_life_ms: int = Field(default=500, ge=0, description="a quote rests this long before a drift reprice")
    max_hedge_book_age_ms: int = Field(default=10_000, gt=0, description="older hedge book: quotes pulled")
    hedge_slippage_bps: Decimal = Field(default=Decimal(20), ge=0, description="hedge IOC limit beyond the book")
    max_hedge_attempts: int = Field(default=3, ge=1, description="hedge shortfalls in a row before halting")
    max_inventory_skew: float = Field(default=0.25, gt=0, le=1, description="base share drift that pulls a side")
    skew_bps: float = Field(default=2.0, ge=0, description="widening of the worsening side at that drift")
    target_base_share: float | None = Field(default=None, ge=0, le=1, description="None: the share at start")
    decision_delay_ns: int = Field(default=1, ge=0, description="coalescing delay; 0 = decide on every record")
    rebalance: RebalanceSettings = Field(default=RebalanceSettings(), description="inventory transfers between venues")

    @model_validator(mode="after")
    def _two_venues(self) -> CrossExchangeMakerConfig:
        for iid in (self.maker, self.hedge):
            venue, _, symbol = iid.partition(":")
            if not venue or not symbol:
                raise ValueError(f"{iid!r} is not an instrument id of the form 'VENUE:SYMBOL'")
        if venue_of(InstrumentId(self.maker)) == venue_of(InstrumentId(self.hedge)):
            raise ValueError(f"maker and hedge are both on venue {venue_of(InstrumentId(self.maker))!r}")
        return self
