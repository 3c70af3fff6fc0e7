"""Our client order ids at Polymarket, which has none.

The choice: the order's **salt is derived from our ``ClientOrderId``** (52 bits of its SHA-256, a
number JSON carries exactly), and Polymarket's ``orderID`` is the EIP-712 hash of the signed order,
salt included. So the exchange id is known *before* the order is sent, and the adapter writes the
pair ``client id -> orderID`` to its id journal (one line, flushed and fsynced) before the request
leaves. After a crash the engine's journal says which submits were in flight; the id journal turns
each into an ``orderID`` that ``GET /data/order/{id}`` answers exactly -- no matching by price, size or
time, which could take another order of ours for this one. The salt rule also makes the id
recomputable from the journaled ``SubmitOrder`` alone (same market rules) should the id journal be
lost. Polymarket's order listings do not return the salt, so matching "by salt" alone would not work.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from spreadhawk.domain.identifiers import ClientOrderId

__all__ = ["IdJournal", "salt_for"]

_SALT_BITS = 52  # below 2**53: the salt survives any JSON parser as an exact integer


def salt_for(client_order_id: ClientOrderId) -> int:
    digest = hashlib.sha256(f"spreadhawk:{client_order_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") >> (64 - _SALT_BITS)


class IdJournal:
    """``client id -> orderID`` both ways, kept in memory and (with a path) in an append-only file."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self.order_of: dict[ClientOrderId, str] = {}
        self.client_of: dict[str, ClientOrderId] = {}
        if path is not None and path.is_file():
            for number, line in enumerate(path.read_text().splitlines(), 1):
                parts = line.split()
                if len(parts) != 2:  # a line is "client-id order-id"
                    raise ValueError(f"{path}:{number}: not 'client-id order-id': {line!r}")
                self._remember(ClientOrderId(parts[0]), parts[1])

    def record(self, client_order_id: ClientOrderId, order_id: str) -> None:
        """Remember the pair; on disk before this returns (it must survive the request it precedes)."""
        if self.order_of.get(client_order_id) == order_id:
            return
        if self.path is not None:
            with self.path.open("a") as journal:
                journal.write(f"{client_order_id} {order_id}\n")
                journal.flush()
                os.fsync(journal.fileno())
        self._remember(client_order_id, order_id)

    def _remember(self, client_order_id: ClientOrderId, order_id: str) -> None:
        self.order_of[client_order_id] = order_id
        self.client_of[order_id] = client_order_id
