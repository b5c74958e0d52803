"""Hourly amounts per tariff that add up exactly to a day's tariff registers.

Some meters give energy per interval, but the split over the low and normal
tariff only as how much each tariff register rose over a span (CEMM: the
``t1``/``t2`` and ``t3``/``t4`` registers at the end of each local day). This
module divides such a span's hourly totals over the two tariffs so that

* ``low[h] + normal[h] == totals[h]`` and ``0 <= low[h] <= totals[h]`` for every hour,
* ``sum(low) == low_delta`` and ``sum(normal) == normal_delta``

(to float rounding), whenever the totals add up to ``low_delta + normal_delta``.

Method. Which hours were low tariff is not in the data, so candidate Dutch
schedules are tried: low on weekdays 23:00-07:00 and on whole Saturdays and
Sundays; the same from 21:00; and no low hours at all. An hour belongs to a
schedule's low hours by its local start. The schedule whose low hours hold the
amount closest to ``low_delta`` is chosen (the first of equals). Then:

* its low hours hold more than ``low_delta``: each of them gets the same share
  ``low_delta / held`` of its total as low tariff, the other hours none;
* they hold less: they are wholly low, and the rest ``low_delta - held`` goes
  to the other hours in proportion to their totals.

So a schedule that was right gives exactly the hours it names, and a day it
does not describe (a public holiday billed at low tariff, a meter whose clock
drifted) is still corrected to the registers. Normal is what is left of each
hour.

Degenerate input never divides by zero: hours whose total is not a positive
finite number (and every hour of a day whose total overflows) are wholly normal (the rest of a negative rounding); negative or
non-finite deltas count as 0; a low delta beyond the hours' total is capped at
it; when the totals do not add up to ``low_delta + normal_delta`` the low part
keeps the registers' ratio (``low_delta / (low_delta + normal_delta)`` of the
totals) and no longer equals ``low_delta``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
import math
from typing import Final

#: Relative difference below which the totals add up to the two deltas.
SAME: Final = 1e-9

#: The local hour at which the low tariff ends on a weekday morning.
_MORNING_END: Final = 7


@dataclass(frozen=True, slots=True)
class LowSchedule:
    """When the low tariff applies: weekdays from ``evening`` until 07:00, weekends.

    ``evening`` None: never (a meter billed at one tariff).
    """

    name: str
    evening: int | None

    def is_low(self, local: datetime) -> bool:
        """Return whether the hour that starts at local time ``local`` is low tariff."""
        if self.evening is None:
            return False
        return (
            local.weekday() >= 5
            or local.hour < _MORNING_END
            or local.hour >= self.evening
        )


#: The schedules Dutch grid operators use(d), most common first.
DUTCH_SCHEDULES: Final = (
    LowSchedule("weekdays 23-07, weekends", 23),
    LowSchedule("weekdays 21-07, weekends", 21),
    LowSchedule("none", None),
)


@dataclass(frozen=True, slots=True)
class TariffSplit:
    """The low and normal amount of each hour, and the schedule chosen."""

    low: dict[datetime, float]
    normal: dict[datetime, float]
    schedule: LowSchedule


def _sum(values: Iterable[float]) -> float:
    """Return the exactly rounded sum of ``values`` (inf when it overflows)."""
    try:
        return math.fsum(values)
    except OverflowError:
        return math.inf


def adds_up(totals: Mapping[datetime, float], low: float, normal: float) -> bool:
    """Return whether the hours' totals add up to ``low + normal`` (within SAME)."""
    total = _sum(totals.values())
    expected = low + normal
    return (
        math.isfinite(total)
        and math.isfinite(expected)
        and abs(total - expected) <= SAME * max(1.0, abs(expected))
    )


def _amount(value: float) -> float:
    """Return ``value`` when it is a positive finite amount, else 0."""
    return value if math.isfinite(value) and value > 0 else 0.0


def split_day(
    totals: Mapping[datetime, float],
    low_delta: float,
    normal_delta: float,
    *,
    tz: tzinfo,
    schedules: Sequence[LowSchedule] = DUTCH_SCHEDULES,
) -> TariffSplit:
    """Divide each hour of ``totals`` (hour start → amount) into low and normal.

    ``low_delta`` and ``normal_delta`` are how much the low and normal
    registers rose over the same span; ``tz`` is the zone the schedules are
    read in (Europe/Amsterdam for NL). See the module docstring.
    """
    if not schedules:
        raise ValueError("split_day needs at least one schedule")
    for hour in totals:
        if hour.tzinfo is None or hour.utcoffset() is None:
            raise ValueError("split_day needs timezone-aware hour starts")
    amounts = {hour: _amount(value) for hour, value in totals.items()}
    whole = _sum(amounts.values())
    if not math.isfinite(whole):
        # Amounts beyond any meter's: nothing sensible to divide, all normal.
        amounts = dict.fromkeys(amounts, 0.0)
        whole = 0.0
    low_c, normal_c = _amount(low_delta), _amount(normal_delta)
    registers = low_c + normal_c
    if not math.isfinite(registers):
        low_c, normal_c = low_c / 2, normal_c / 2  # same ratio, finite sum
        registers = low_c + normal_c
    if abs(whole - registers) <= SAME * max(1.0, registers):
        target = low_c
    elif registers > 0:
        target = whole * (low_c / registers)
    else:
        target = 0.0
    target = min(target, whole)

    lows = {
        schedule: {h for h in amounts if schedule.is_low(h.astimezone(tz))}
        for schedule in schedules
    }
    held = {
        schedule: _sum(amounts[h] for h in hours) for schedule, hours in lows.items()
    }
    chosen = min(schedules, key=lambda schedule: abs(held[schedule] - target))
    in_low, in_schedule = lows[chosen], held[chosen]

    low: dict[datetime, float] = {}
    if in_schedule >= target:
        # Also a day without consumption: target 0, factor 0.
        factor = target / in_schedule if in_schedule > 0 else 0.0
        for hour, amount in amounts.items():
            low[hour] = amount * factor if hour in in_low else 0.0
    else:
        # whole >= target > in_schedule: the other hours hold whole - in_schedule > 0.
        share = min(1.0, (target - in_schedule) / (whole - in_schedule))
        for hour, amount in amounts.items():
            low[hour] = amount if hour in in_low else amount * share
    normal = {hour: value - low[hour] for hour, value in totals.items()}
    return TariffSplit(low, normal, chosen)
