"""The stretch of a run in which an instrument was alive, so its chart shows that and not the day.

A binary market trades for 15-60 minutes of a day-long run; its recorded price starts when its
book first appears and then stays at the last mid after it settles (a stale book still marks).
Charted over the whole run, all its activity sits in a sliver at one edge. Its active window runs
from its first recorded price (or first fill, if earlier) to the first sample after its last
price change (or its last fill, if later): the chart is cut to that, and says so.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from spreadhawk.report.charts import FloatArray, IntArray

__all__ = ["MIN_SHARE_TO_CUT", "active_window"]

# Cut only when the window is under this share of the series: a chart of an instrument that moved
# until nearly the end is clearer whole.
MIN_SHARE_TO_CUT = 0.8


def active_window(ts: IntArray, prices: FloatArray, fill_ts: Sequence[int]) -> tuple[int, int] | None:
    """(start, end) in ns to chart, or None to chart the whole series."""
    if len(ts) < 2:
        return None
    changed = np.flatnonzero(prices[1:] != prices[:-1]) + 1  # indices where the price moved
    last_move = int(changed[-1]) if len(changed) else 0
    end_index = min(last_move + 1, len(ts) - 1)  # the first sample after the last move shows its level
    start, end = int(ts[0]), int(ts[end_index])
    if fill_ts:
        start, end = min(start, *fill_ts), max(end, *fill_ts)
    span = int(ts[-1]) - int(ts[0])
    if span <= 0 or (end - start) >= MIN_SHARE_TO_CUT * span:
        return None
    return start, end
