"""Baseline: runs, orders, fills and equity, as ``create_all`` made them before migrations existed.

Revision ID: 0001_baseline
Revises: (none)

The tables are declared here, frozen, instead of imported from ``models.py``: the models move on
with later revisions, this schema never does. ``spreadhawk.persistence.migrate`` compares a
database that ``create_all`` made (tables, no revision) with ``schema()`` before stamping it at this
revision. Decimals are text and times integer nanoseconds: ``models.py`` says why.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_baseline"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _run_id() -> sa.Column[str]:
    return sa.Column("run_id", sa.Text, sa.ForeignKey("runs.run_id", ondelete="CASCADE"), primary_key=True)


def schema() -> sa.MetaData:
    """The four tables of this revision, in a fresh ``MetaData``."""
    metadata = sa.MetaData()
    sa.Table(
        "runs",
        metadata,
        sa.Column("run_id", sa.Text, primary_key=True),
        sa.Column("created_ns", sa.BigInteger, nullable=False, index=True),
        sa.Column("strategy", sa.Text, nullable=False),
        sa.Column("config_json", sa.Text, nullable=False),
        sa.Column("config_hash", sa.Text, nullable=False, index=True),
        sa.Column("seed", sa.BigInteger, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("metrics_json", sa.Text, nullable=False),
        sa.Column("events_processed", sa.BigInteger, nullable=False),
        sa.Column("wall_seconds", sa.Double, nullable=False),
    )
    sa.Table(
        "orders",
        metadata,
        _run_id(),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("client_order_id", sa.Text, nullable=False),
        sa.Column("strategy_id", sa.Text, nullable=False),
        sa.Column("instrument_id", sa.Text, nullable=False),
        sa.Column("side", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("time_in_force", sa.Text, nullable=False),
        sa.Column("post_only", sa.Boolean, nullable=False),
        sa.Column("reduce_only", sa.Boolean, nullable=False),
        sa.Column("quantity", sa.Text, nullable=False),
        sa.Column("quote_quantity", sa.Text, nullable=True),
        sa.Column("price", sa.Text, nullable=True),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("filled_quantity", sa.Text, nullable=False),
        sa.Column("filled_notional", sa.Text, nullable=False),
        sa.Column("avg_price", sa.Text, nullable=True),
        sa.Column("fees", sa.Text, nullable=False),
        sa.Column("venue_order_id", sa.Text, nullable=True),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("trade_ids_json", sa.Text, nullable=False),
        sa.Column("ts_init", sa.BigInteger, nullable=False),
        sa.UniqueConstraint("run_id", "client_order_id"),
    )
    sa.Table(
        "fills",
        metadata,
        _run_id(),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("trade_id", sa.Text, nullable=False),
        sa.Column("client_order_id", sa.Text, nullable=False),
        sa.Column("venue_order_id", sa.Text, nullable=False),
        sa.Column("instrument_id", sa.Text, nullable=False),
        sa.Column("side", sa.Text, nullable=False),
        sa.Column("quantity", sa.Text, nullable=False),
        sa.Column("price", sa.Text, nullable=False),
        sa.Column("fee", sa.Text, nullable=False),
        sa.Column("fee_currency", sa.Text, nullable=False),
        sa.Column("liquidity", sa.Text, nullable=False),
        sa.Column("leaves_quantity", sa.Text, nullable=True),
        sa.Column("ts_ns", sa.BigInteger, nullable=False),
    )
    sa.Table(
        "equity",
        metadata,
        _run_id(),
        sa.Column("seq", sa.Integer, primary_key=True),
        sa.Column("ts_ns", sa.BigInteger, nullable=False),
        sa.Column("equity", sa.Text, nullable=False),
    )
    return metadata


# The DDL is create_all's, on the migration's connection: the same statements, in the same order,
# as the create_all that made the stores this revision adopts.
def upgrade() -> None:
    schema().create_all(op.get_bind(), checkfirst=False)


def downgrade() -> None:
    schema().drop_all(op.get_bind(), checkfirst=False)
