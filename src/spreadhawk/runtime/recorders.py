"""Series recorded during a run for its report (derived data: not journaled)."""

from __future__ import annotations

from spreadhawk.domain.identifiers import InstrumentId
from spreadhawk.engine.engine import Engine
from spreadhawk.engine.messages import EquitySampled


class PriceRecorder:
    """Each instrument's price (book mid, else last trade or bar close) at every equity sample."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.series: dict[InstrumentId, list[tuple[int, float]]] = {}
        engine.bus.subscribe(EquitySampled, self._on_sample)

    def _on_sample(self, sample: EquitySampled) -> None:
        price = self._engine.price
        for iid in self._engine.instruments:
            value = price(iid)
            if value is not None:
                points = self.series.setdefault(iid, [])
                if points and points[-1][0] == sample.ts_ns:
                    points[-1] = (sample.ts_ns, float(value))
                else:
                    points.append((sample.ts_ns, float(value)))
