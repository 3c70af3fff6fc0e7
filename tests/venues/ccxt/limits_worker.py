"""One "engine process" of the shared-limiter test: a real ccxt client spending weight on a host.

Run as ``python limits_worker.py <emulator url> <limiter state dir> <requests> <start at (epoch s)>``;
prints one JSON line: how each request ended. Started twice at once by ``test_limits.py``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

from spreadhawk.venues.ccxt.client import GuardConfig, GuardedBinance
from spreadhawk.venues.ccxt.limiter import RateLimitRefusedError
from spreadhawk.venues.ccxt.urls import local_urls


async def main(url: str, state_dir: Path, requests: int, start_at: float) -> dict[str, int]:
    settings = {"enableRateLimit": False, "urls": local_urls("binance", url), "options": {"defaultType": "spot"}}
    client = GuardedBinance(settings, GuardConfig(state_dir=state_dir, max_wait_s=30.0), "BINANCE")
    outcomes: Counter[str] = Counter()
    try:
        await asyncio.sleep(max(0.0, start_at - time.time()))  # noqa: TID251 -- both processes start together
        await client.publicGetExchangeInfo()  # the host's limits (weight 20), after a time sync (1)

        async def one() -> None:
            try:
                await client.fetch_time()
            except RateLimitRefusedError as exc:
                outcomes["418" if " 418 " in str(exc) else "429" if " 429 " in str(exc) else "held_back"] += 1
            else:
                outcomes["ok"] += 1

        await asyncio.gather(*(one() for _ in range(requests)))
    finally:
        await client.close()
    return dict(outcomes)


if __name__ == "__main__":
    emulator_url, directory, count, start = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
    print(json.dumps(asyncio.run(main(emulator_url, directory, count, start))))
