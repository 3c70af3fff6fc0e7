"""Persistence: SQL read models of runs (SQLite by default, PostgreSQL by URL)."""

from spreadhawk.persistence.run_store import (
    RunExistsError,
    RunRecord,
    RunStatus,
    RunStore,
    RunSummary,
    make_run_id,
)

__all__ = ["RunExistsError", "RunRecord", "RunStatus", "RunStore", "RunSummary", "make_run_id"]
