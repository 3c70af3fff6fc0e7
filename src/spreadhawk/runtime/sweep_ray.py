"""The sweep's Ray executor: each point's backtest a Ray task (one CPU each).

``ray.init`` starts a local Ray with ``num_cpus`` workers, or joins the cluster at ``address``
(whose nodes must have spreadhawk installed: a task imports it there). A Ray already started in
this process (a test's, a notebook's) is used as it is and left running.
"""

from __future__ import annotations

import itertools
import logging
import socket
from collections.abc import Iterator, Sequence
from types import TracebackType
from typing import Any

from spreadhawk.persistence import RunRecord
from spreadhawk.runtime.config import RunConfig
from spreadhawk.runtime.sweep import evaluate
from spreadhawk.runtime.sweep_spec import SweepError

_CONNECT_TIMEOUT_S = 5.0
_IN_FLIGHT_PER_WORKER = 4


class RayExecutor:
    def __init__(self, *, num_cpus: int | None = None, address: str | None = None) -> None:
        self._num_cpus = num_cpus
        self._address = address
        self._started = False
        self._workers = 1
        self._task: Any = None

    def __enter__(self) -> RayExecutor:
        try:
            import ray  # noqa: PLC0415 (seconds to import: only a Ray sweep needs it)
        except ImportError:
            raise SweepError("Ray is not installed: pip install 'spreadhawk[sweep]', or run with --serial") from None
        if not ray.is_initialized():
            if self._address:
                _reachable(self._address)
            try:
                if self._address:
                    ray.init(address=self._address, logging_level=logging.WARNING)
                else:
                    ray.init(num_cpus=self._num_cpus, include_dashboard=False, logging_level=logging.WARNING)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                where = f"the Ray cluster at {self._address}" if self._address else "a local Ray"
                raise SweepError(f"cannot start {where}: {str(exc).splitlines()[0]}") from None
            self._started = True
        # The workers the cluster has: an optuna search asks for this many points at a time.
        self._workers = max(1, int(ray.cluster_resources().get("CPU", 1)))  # type: ignore[no-untyped-call]
        self._task = ray.remote(num_cpus=1, max_retries=0)(evaluate)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._started:
            import ray  # noqa: PLC0415

            ray.shutdown()

    @property
    def workers(self) -> int:
        return self._workers

    def map(self, configs: Sequence[RunConfig]) -> Iterator[tuple[int, RunRecord | str]]:
        """A few tasks per worker in flight, more submitted as they finish: the cluster never waits,
        and neither the object store nor ``ray.wait`` (linear in what it is given) holds the whole sweep."""
        import ray  # noqa: PLC0415

        queued = iter(enumerate(configs))
        pending: dict[Any, int] = {}

        def submit() -> None:
            for index, config in itertools.islice(queued, _IN_FLIGHT_PER_WORKER * self._workers - len(pending)):
                pending[self._task.remote(config)] = index

        submit()
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for ref in done:
                    index = pending.pop(ref)
                    try:
                        outcome: RunRecord | str = ray.get(ref)
                    except ray.exceptions.RayError as exc:  # a worker died (out of memory, a node lost)
                        outcome = f"Ray: {type(exc).__name__}: {str(exc).strip().splitlines()[0]}"
                    yield index, outcome
                submit()
        finally:  # an error (or Ctrl-C) stops the points not yet run, rather than leave them to the cluster
            for ref in pending:
                ray.cancel(ref)


def _reachable(address: str) -> None:
    """Fail in seconds, in one line, on a cluster address nothing answers at (``ray.init`` retries
    it for minutes, logging a warning every few seconds). ``auto`` is left to Ray."""
    host, sep, port = address.removeprefix("ray://").rpartition(":")
    if not sep or not port.isdigit():
        if address != "auto":
            raise SweepError(f"--address {address!r}: expected HOST:PORT, ray://HOST:PORT or auto")
        return
    try:
        socket.create_connection((host, int(port)), timeout=_CONNECT_TIMEOUT_S).close()
    except OSError as exc:
        raise SweepError(f"--address {address}: no Ray cluster answers there ({exc})") from None
