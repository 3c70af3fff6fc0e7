"""Client order ids: unique across restarts, and short and plain enough for any exchange.

An id is ``<run prefix><strategy tag>-<n>``:

* the run prefix is empty in a backtest (ids stay ``<strategy>-<n>``, as every stored run has
  them) and, in paper and live, eight base-36 characters of the node's start time (in ms) plus a dot, so
  two runs never share an id even if a journal is lost;
* the strategy tag is the strategy id when it fits, else its first characters and a short hash
  (the same strategy always gets the same tag);
* ``n`` counts per strategy and is restored from the journal on restart, so a resumed node goes on
  where it stopped instead of starting again at 1.

Every id fits Binance's rule (at most 36 characters of ``[A-Za-z0-9._:-]``), the strictest of the
exchanges the project targets; the counter has room for ten digits.
"""

from __future__ import annotations

import hashlib
import re

from spreadhawk.domain.identifiers import ClientOrderId

MAX_LENGTH = 36
_COUNTER_DIGITS = 10
_DISALLOWED = re.compile(r"[^A-Za-z0-9._:-]")
_ID_SHAPE = re.compile(r"^(?P<head>.*)-(?P<kind>tr)?(?P<n>[0-9]+)$")


def run_prefix(start_ns: int) -> str:
    """A short prefix from the node's start time: base 36 of the start millisecond, then a dot.

    Milliseconds, not seconds: a node killed and restarted at once (a supervisor's restart delay is
    100 ms by default) must not issue the ids of the run it replaces if that run's journal is lost;
    the crash tests found two runs started within one second."""
    millis = start_ns // 1_000_000
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        millis, rest = divmod(millis, 36)
        text = digits[rest] + text
        if not millis:
            break
    return text + "."


class ClientOrderIds:
    __slots__ = ("_counters", "_prefix", "_tags", "_transfers")

    def __init__(self, prefix: str = "") -> None:
        if _DISALLOWED.search(prefix) or len(prefix) > 12:
            raise ValueError(f"client order id prefix {prefix!r}: at most 12 characters of [A-Za-z0-9._:-]")
        self._prefix = prefix
        self._counters: dict[str, int] = {}
        self._tags: dict[str, str] = {}
        self._transfers: dict[str, int] = {}

    @property
    def prefix(self) -> str:
        return self._prefix

    def next(self, strategy_id: str) -> ClientOrderId:
        n = self._counters.get(strategy_id, 0) + 1
        self._counters[strategy_id] = n
        return ClientOrderId(f"{self._prefix}{self.tag(strategy_id)}-{n}")

    def next_transfer(self, strategy_id: str) -> str:
        """Transfer ids follow the same rule with ``tr`` before the number (a retry never moves money twice)."""
        n = self._transfers.get(strategy_id, 0) + 1
        self._transfers[strategy_id] = n
        return f"{self._prefix}{self.tag(strategy_id)}-tr{n}"

    def tag(self, strategy_id: str) -> str:
        tag = self._tags.get(strategy_id)
        if tag is None:
            tag = self._tags[strategy_id] = _tag(strategy_id, MAX_LENGTH - len(self._prefix) - 1 - _COUNTER_DIGITS)
        return tag

    def counter(self, strategy_id: str) -> int:
        return self._counters.get(strategy_id, 0)

    def observe(self, strategy_id: str, client_order_id: str) -> None:
        """Note an id issued before (read back from the journal): the counter continues past it,
        whatever prefix the earlier run used."""
        match = _ID_SHAPE.match(client_order_id)
        if match is None or not match.group("head").endswith(self.tag(strategy_id)):
            return  # not one of ours in this shape (an id chosen by hand, or another scheme)
        counters = self._transfers if match.group("kind") else self._counters
        n = int(match.group("n"))
        if n > counters.get(strategy_id, 0):
            counters[strategy_id] = n


def _tag(strategy_id: str, room: int) -> str:
    if len(strategy_id) <= room and not _DISALLOWED.search(strategy_id):
        return strategy_id
    digest = hashlib.sha256(strategy_id.encode()).hexdigest()[:6]
    plain = _DISALLOWED.sub("_", strategy_id)[: max(room - 7, 1)]
    return f"{plain}~{digest}".replace("~", "_")
