"""The embedded market: a seeded, deterministic multi-asset, multi-venue crypto market simulator.

Layers, each a small module with its parameters in a frozen dataclass:

* ``paths``: fair values of every asset on a common time grid (regimes, correlated returns,
  GARCH-like volatility clustering, jumps) — ``FairValuePaths``;
* ``venues``/``books``: what each venue shows of those fair values (lead-lag, spreads, depth,
  dislocations) as L2 books evolving by sequenced deltas, with trades consistent with the book;
* ``perps``, ``binaries``: perpetual futures with funding and mark/index prices; short-horizon
  binary up/down markets settling at expiry;
* ``feed``: ``MarketSimulator``, a ``Feed`` that merges all of it in time order;
* ``calibration``: fits the parameters to the real recordings in ../shared/data.
"""
