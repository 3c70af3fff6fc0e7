"""The live driver: runs the engine on an asyncio loop, fed through its inbox.

Feeds (websocket tasks) and live venues post to ``engine.inbox`` from any task or thread; the driver
sleeps until the earlier of the next timer and the next message, so a timer fires on time when no
market data arrives. It applies the replay driver's rule to every message: timers due at or before
the message's time fire first (the time is the clock's: the wall clock in paper and live, or the
message's own exchange timestamp when the clock follows the data, as in the parity test), records
that share a timestamp and are already waiting are processed as one instant, and whatever a step
causes (venue reports) is handled before the next message. The engine itself stays synchronous and
single-threaded: only this module and the adapters know asyncio.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from spreadhawk.domain.market import MarketData
from spreadhawk.engine.engine import MARKET_DATA, Engine

Post = Callable[[MarketData], None]
NS_PER_S = 1_000_000_000


class LiveFeed(Protocol):
    """A live source of market data: posts records, in arrival order, until cancelled."""

    async def run(self, post: Post) -> None: ...

    async def close(self) -> None: ...


OnMessage = Callable[[object], None]


async def run_live(
    engine: Engine,
    feeds: Sequence[LiveFeed],
    stop: asyncio.Event,
    *,
    on_message: OnMessage | None = None,
    ready: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Drive ``engine`` from ``feeds`` until ``stop`` is set (or a feed fails: its error is raised).

    ``ready`` (when given) is awaited after the feeds have started and before the first message is
    handled: a node reconciles there. ``on_message`` sees each message after it was handled (the
    latency bench hooks in here).
    """
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    loop_thread = threading.get_ident()

    def wake_up() -> None:
        if threading.get_ident() == loop_thread:
            wake.set()
        else:
            loop.call_soon_threadsafe(wake.set)

    engine.inbox.wake = wake_up
    tasks = [asyncio.create_task(feed.run(engine.inbox.post), name=f"feed-{i}") for i, feed in enumerate(feeds)]
    stopper = asyncio.create_task(stop.wait(), name="stop")
    try:
        if ready is not None:
            await ready()
        while not stop.is_set():
            _check_feeds(tasks)
            _handle_waiting(engine, on_message)
            engine.run_until(engine.clock.now_ns())
            if engine.inbox:
                continue
            wake.clear()
            if engine.inbox:  # posted between the check and the clear
                continue
            next_ts = engine.scheduler.next_ts()
            timeout = None if next_ts is None else max(0, next_ts - engine.clock.now_ns()) / NS_PER_S
            waiter = asyncio.create_task(wake.wait())
            await asyncio.wait([waiter, stopper, *tasks], timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
    finally:
        engine.inbox.wake = None
        stopper.cancel()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, stopper, return_exceptions=True)
        for feed in feeds:
            await feed.close()
    _check_feeds(tasks)


def _check_feeds(tasks: list[asyncio.Task[None]]) -> None:
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            raise task.exception()  # type: ignore[misc]


def _handle_waiting(engine: Engine, on_message: OnMessage | None) -> None:
    """Everything in the inbox now: each record after the timers due by its time, records of one
    instant together, reports as they come."""
    inbox = engine.inbox
    clock = engine.clock
    while inbox:
        message = inbox.take()
        if not isinstance(message, MARKET_DATA):
            engine.run_until(clock.now_ns())
            engine.handle(message)
            if on_message is not None:
                on_message(message)
            continue
        record: MarketData = message  # type: ignore[assignment]
        batch = [record]
        while inbox and _same_instant(inbox.peek(), record.ts_ns):
            batch.append(inbox.take())  # type: ignore[arg-type]
        engine.run_until(max(clock.now_ns(), record.ts_ns))
        if len(batch) == 1:
            engine.process(record)
        else:
            engine.process_batch(batch)
        if on_message is not None:
            for item in batch:
                on_message(item)


def _same_instant(message: object, ts_ns: int) -> bool:
    return isinstance(message, MARKET_DATA) and message.ts_ns == ts_ns  # type: ignore[attr-defined]
