"""One "engine process" of the shared-limiter test: a real ccxt client spending weight on a host.

Run as ``python limits_worker.py <emulator url> <limiter state dir> <requests>``; prints ``ready``
once imported (slow on a loaded machine), starts on a line on stdin, then prints one JSON line: how
each request ended. ``test_rate_limit_scenarios.py`` starts two and lets them go together.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections import Counter
from pathlib import Path

from spreadhawk.venues.ccxt.client import GuardConfig, GuardedBinance
from spreadhawk.venues.ccxt.limiter import RateLimitRefusedError
from spreadhawk.venues.ccxt.urls import local_urls


async def main(url: str, state_dir: Path, requests: int) -> dict[str, int]:
    settings = {"enableRateLimit": False, "urls": local_urls("binance", url), "options": {"defaultType": "spot"}}
    client = GuardedBinance(settings, GuardConfig(state_dir=state_dir, max_wait_s=30.0), "BINANCE")
    outcomes: Counter[str] = Counter()
    try:
        print("ready", flush=True)
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)  # "go"
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
    emulator_url, directory, count = sys.argv[1], Path(sys.argv[2]), int(sys.argv[3])
    print(json.dumps(asyncio.run(main(emulator_url, directory, count))), flush=True)
