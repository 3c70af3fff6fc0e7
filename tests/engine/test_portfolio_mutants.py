"""Value tests for the portfolio's books that mutation testing (``make mutation``,
docs/mutation_testing.md) found unpinned: fees paid and traded notional per currency, a settled
position, a position adopted from the venue, withdrawals booked once with their fees summed,
amounts in transit, which instruments price an asset, and equity with a perpetual's unrealised
PnL in a settlement currency that is not the valuation currency.

Every expected value is worked out by hand in the comment beside it.
"""

from __future__ import annotations

from decimal import Decimal

from fills import fill
from spreadhawk.domain.events import (
    BalancePosted,
    DepositCredited,
    OrderSide,
    PostingReason,
    SettlementPaid,
    WithdrawalSent,
)
from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.domain.instruments import Instrument, InstrumentKind
from spreadhawk.domain.positions import Position
from spreadhawk.engine.portfolio import Portfolio

D = Decimal
BUY, SELL = OrderSide.BUY, OrderSide.SELL
SPOT = Instrument("SIM", "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", D("0.01"), D("0.0001"))
# a linear perpetual quoted in USDT whose PnL and fees settle in USDC; a contract is 0.01 BTC
PERP = Instrument("SIM", "BTC-PERP", InstrumentKind.PERPETUAL, "BTC", "USDT", D("0.1"), D(1),
                  contract_size=D("0.01"), settlement="USDC")  # fmt: skip
USDC = Instrument("SIM", "USDC/USDT", InstrumentKind.SPOT, "USDC", "USDT", D("0.0001"), D(1))
ETHBTC = Instrument("SIM", "ETH/BTC", InstrumentKind.SPOT, "ETH", "BTC", D("0.00001"), D("0.001"))
BINARY = Instrument("SIM", "RAIN-YES", InstrumentKind.BINARY, "RAIN-YES", "USDT", D("0.01"), D(1))
A_BTC = Instrument("A", "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", D("0.01"), D("0.0001"))
B_BTC = Instrument("B", "BTC/USDT", InstrumentKind.SPOT, "BTC", "USDT", D("0.01"), D("0.0001"))


def deposit(portfolio: Portfolio, venue: str, asset: str, amount: str) -> None:
    portfolio.ledger.post(BalancePosted(0, venue, asset, D(amount), PostingReason.DEPOSIT, "seed"))


def prices(table: dict[InstrumentId, Decimal]) -> dict[InstrumentId, Decimal]:
    return table


def test_fees_paid_and_traded_notional_add_up_per_currency() -> None:
    portfolio = Portfolio([SPOT, PERP], "USDT")
    portfolio.apply_fill(fill(PERP, BUY, "2", "50000", "p1", fee="0.5"))
    portfolio.apply_fill(fill(PERP, SELL, "1", "51000", "p2", fee="0.255"))
    portfolio.apply_fill(fill(SPOT, BUY, "0.1", "50000", "s1", fee="0.0001", fee_ccy="BTC"))
    # fees: 0.5 + 0.255 = 0.755 USDC on the perpetual, 0.0001 BTC on the spot fill
    assert portfolio.fees_paid == {"USDC": D("0.755"), "BTC": D("0.0001")}
    # notional in the quote: 2 x 50000 x 0.01 = 1000, 1 x 51000 x 0.01 = 510, 0.1 x 50000 = 5000
    assert portfolio.traded_notional == {"USDT": D(6510)}
    # a fill reported again changes none of it
    position, postings = portfolio.apply_fill(fill(PERP, SELL, "1", "51000", "p2", fee="0.255"))
    assert postings == []
    assert position.quantity == D(1)
    assert portfolio.fees_paid == {"USDC": D("0.755"), "BTC": D("0.0001")}
    assert portfolio.traded_notional == {"USDT": D(6510)}
    # the balances: (51000 - 50000) x 1 x 0.01 = 10 USDC realised less 0.755 of fees; 5000 USDT paid
    # for 0.1 BTC, of which 0.0001 went in fees
    assert portfolio.ledger.balances() == {
        ("SIM", "USDC"): D("9.245"),
        ("SIM", "BTC"): D("0.0999"),
        ("SIM", "USDT"): D(-5000),
    }


def test_a_settled_position_is_flat_with_its_pnl_realised() -> None:
    portfolio = Portfolio([BINARY], "USDT")
    deposit(portfolio, "SIM", "USDT", "100")
    portfolio.apply_fill(fill(BINARY, BUY, "10", "0.40", "t1"))
    event = SettlementPaid(
        ts_ns=100, instrument_id=BINARY.id, quantity=D(10), price=D(1), amount=D(10), currency="USDT"
    )
    portfolio.apply_settlement(event)
    # bought 10 at 0.40, settled at 1: (1 - 0.40) x 10 = 6 realised
    assert portfolio.position(BINARY.id) == Position(
        BINARY.id, quantity=D(0), avg_price=D(0), realized_pnl=D(6), trade_ids=frozenset({"t1"})
    )
    assert portfolio.positions[BINARY.id].realized_pnl == D(6)
    # 100 - 4 paid + 10 paid out; the tokens are gone
    assert portfolio.ledger.balances() == {("SIM", "USDT"): D(106), ("SIM", "RAIN-YES"): D(0)}
    assert not portfolio.has_exposure()


def test_an_adopted_position_keeps_the_venues_quantity_and_entry() -> None:
    portfolio = Portfolio([PERP], "USDT")
    portfolio.adopt_position(PERP.id, D(-3), D(50000))
    assert portfolio.positions[PERP.id] == Position(
        PERP.id, contract_size=D("0.01"), quantity=D(-3), avg_price=D(50000)
    )
    assert portfolio.has_exposure()


def test_exposure_is_any_open_position() -> None:
    portfolio = Portfolio([SPOT, PERP], "USDT")
    assert not portfolio.has_exposure()
    portfolio.apply_fill(fill(PERP, BUY, "2", "50000", "p1"))
    assert portfolio.has_exposure()
    portfolio.apply_fill(fill(PERP, SELL, "2", "50000", "p2"))
    assert not portfolio.has_exposure()


def test_withdrawals_are_booked_once_and_their_fees_and_amounts_in_transit_add_up() -> None:
    portfolio = Portfolio([A_BTC, B_BTC], "USDT")
    deposit(portfolio, "A", "BTC", "1")
    first = WithdrawalSent(10, "tr-1", "BTC", D("0.5"), D("0.0002"), "A", "B", arrives_ns=90)
    second = WithdrawalSent(20, "tr-2", "BTC", D("0.25"), D("0.0003"), "A", "B", arrives_ns=95)
    assert len(portfolio.apply_withdrawal(first)) == 2
    assert portfolio.apply_withdrawal(first) == []  # reported twice: booked once
    portfolio.apply_withdrawal(second)
    assert portfolio.withdrawal_fees == {"BTC": D("0.0005")}  # 0.0002 + 0.0003
    assert portfolio.transit_amounts() == {"BTC": D("0.75")}  # 0.5 + 0.25
    assert portfolio.ledger.balance("A", "BTC") == D("0.2495")  # 1 - 0.5002 - 0.2503
    price_of = prices({A_BTC.id: D(50000), B_BTC.id: D(50000)}).get
    # owned: 0.2495 at A + 0.75 on the way = 0.9995 BTC (1 less 0.0005 of fees) x 50000
    assert portfolio.equity(price_of) == D(49975)

    assert portfolio.apply_deposit(DepositCredited(90, "tr-9", "BTC", D(1), "B")) == []  # never sent: no money
    assert portfolio.apply_deposit(DepositCredited(90, "tr-1", "BTC", D("0.5"), "B")) == [
        BalancePosted(90, "B", "BTC", D("0.5"), PostingReason.TRANSFER_IN, "tr-1")
    ]
    assert portfolio.apply_deposit(DepositCredited(91, "tr-1", "BTC", D("0.5"), "B")) == []
    assert portfolio.transit_amounts() == {"BTC": D("0.25")}
    assert portfolio.equity(price_of) == D(49975)


def test_only_spot_instruments_quoted_in_the_valuation_currency_price_an_asset() -> None:
    portfolio = Portfolio([PERP, ETHBTC], "USDT")
    every_price = prices({PERP.id: D(50000), ETHBTC.id: D("0.05")}).get
    assert portfolio.asset_price("USDT", every_price) == D(1)
    assert portfolio.asset_price("BTC", every_price) is None  # a perpetual's price is not the coin's
    assert portfolio.asset_price("ETH", every_price) is None  # ETH/BTC prices ETH in BTC, not USDT


def test_currencies_are_every_settlement_currency_and_the_valuation_currency() -> None:
    assert Portfolio([SPOT, PERP, ETHBTC], "USDT").currencies == frozenset({"USDT", "USDC", "BTC"})
    assert Portfolio([], "EUR").currencies == frozenset({"EUR"})


def test_equity_adds_a_perpetuals_unrealised_pnl_valued_in_its_settlement_currency() -> None:
    portfolio = Portfolio([SPOT, PERP, USDC], "USDT")
    deposit(portfolio, "SIM", "USDT", "10000")
    portfolio.apply_fill(fill(SPOT, BUY, "0.1", "50000", "s1"))  # 5000 USDT for 0.1 BTC
    portfolio.apply_fill(fill(PERP, BUY, "3", "50000", "p1"))  # long 3 contracts, no money moves
    book = {SPOT.id: D(50500), PERP.id: D(50600), USDC.id: D("0.998")}
    # 5000 USDT + 0.1 x 50500 = 5050 + (50600 - 50000) x 3 x 0.01 = 18 USDC x 0.998 = 17.964
    assert portfolio.equity(prices(book).get) == D("10067.964")
    # a perpetual with no price yet, or a settlement currency with none, adds nothing
    assert portfolio.equity(prices({SPOT.id: D(50500), USDC.id: D("0.998")}).get) == D(10050)
    assert portfolio.equity(prices({SPOT.id: D(50500), PERP.id: D(50600)}).get) == D(10050)
    # a short makes money as the price falls: 3 long closed and 2 short opened at 50600, mark 50000:
    # realised 18 USDC; unrealised (50000 - 50600) x -2 x 0.01 = 12 USDC
    portfolio.apply_fill(fill(PERP, SELL, "5", "50600", "p2"))
    book = {SPOT.id: D(50500), PERP.id: D(50000), USDC.id: D("0.998")}
    # 5000 + 5050 + 18 x 0.998 (the realised USDC balance) + 12 x 0.998 = 10050 + 29.94
    assert portfolio.equity(prices(book).get) == D("10079.940")
