"""The API of a running node, in one call: the service layer over the node, an opportunity
scanner on its books, the audit trail beside its journal, the app, and the server as a task of the
node's loop (``paper|live --api``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from spreadhawk.api.app import ApiSettings, create_app
from spreadhawk.api.audit import AuditLog
from spreadhawk.api.auth import ApiTokens
from spreadhawk.api.control import ControlledNode, NodeControl
from spreadhawk.api.server import ApiServer, Listen
from spreadhawk.persistence.run_store import RunStore
from spreadhawk.runtime.scan_detectors import default_detectors
from spreadhawk.runtime.scanner import Scanner

__all__ = ["KEEP_CLOSED_OPPORTUNITIES", "NodeApiOptions", "audit_path", "node_api"]

log = logging.getLogger(__name__)
KEEP_CLOSED_OPPORTUNITIES = 1_000


@dataclass(frozen=True)
class NodeApiOptions:
    tokens: ApiTokens
    listen: Listen = field(default_factory=Listen)
    settings: ApiSettings = field(default_factory=ApiSettings)


def audit_path(journal: Path) -> Path:
    """The audit trail of the node journaling to ``journal`` (beside it: one node, one trail)."""
    return journal.with_name(journal.name + ".audit.jsonl")


def control_for(node: ControlledNode, mode: str, journal: Path) -> NodeControl:
    """The service layer over ``node``, with a scanner watching its books (attached now: before the
    node handles its first record)."""
    scanner = Scanner(default_detectors(node.engine.instruments.values()), keep_closed=KEEP_CLOSED_OPPORTUNITIES)
    scanner.attach(node.engine)
    return NodeControl(node, mode, AuditLog(audit_path(journal)), scanner)


@contextlib.asynccontextmanager
async def node_api(control: NodeControl, store: RunStore | None, options: NodeApiOptions) -> AsyncIterator[ApiServer]:
    """Serve the API while the ``async with`` body runs (the node's session); stopped after it."""
    app = create_app(options.tokens, control=control, store=store, settings=options.settings)
    server = ApiServer(app, options.listen)
    task = asyncio.create_task(server.serve(), name="api-server")
    try:
        yield server
    finally:
        server.stop()
        try:
            await asyncio.wait_for(task, 5.0)
        except TimeoutError:
            task.cancel()
            log.warning("the API server did not stop within 5 s; cancelled")
