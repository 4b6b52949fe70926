"""Which measured counter is a service's unit of work ("1k tokens", "1k images", "audio-hour").

A unit of work is ``[<scale>] <quantity>``: scale ``1k`` (1,000) or ``1M`` (1,000,000), quantity
tokens, images, audio-second/minute/hour or video-second/minute/hour. Anything else has no
measured counterpart and keeps the ``requests × units_per_request`` estimate.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCALES = {"": 1.0, "1": 1.0, "1k": 1e3, "1m": 1e6}
SECONDS = {"second": 1.0, "minute": 60.0, "hour": 3600.0}
_UNIT = re.compile(
    r"^\s*(1k|1m|1)?\s*(tokens?|images?|(audio|video)[- ](second|minute|hour)s?)\s*$", re.I
)


@dataclass(frozen=True)
class MeasuredUnit:
    """``units = sum(fields) / divisor``; ``fields`` are UsageSample amount fields."""

    fields: tuple[str, ...]
    divisor: float

    def of(self, values: dict) -> float | None:
        got = [values.get(f) for f in self.fields]
        if any(v is None for v in got):
            return None
        return sum(got) / self.divisor


def measured_unit(unit_of_work: str) -> MeasuredUnit | None:
    m = _UNIT.match(unit_of_work or "")
    if not m:
        return None
    scale = SCALES[(m.group(1) or "").lower()]
    what = m.group(2).lower()
    if what.startswith("token"):
        return MeasuredUnit(("input_tokens", "output_tokens"), scale)
    if what.startswith("image"):
        return MeasuredUnit(("images",), scale)
    media, per = m.group(3).lower(), m.group(4).lower()
    return MeasuredUnit((f"{media}_seconds",), scale * SECONDS[per])
