"""Hourly costs of interval amounts, priced at the price of their own time.

A price steps over time: each step's price holds from its start until the
next step, and nothing is known before the first step or from ``until`` on.
An interval's cost is its amount times the time-weighted mean price over the
interval, so the finer grain of the two sides wins: quarter-hour amounts meet
quarter-hour prices one to one, an hourly amount meets the mean of four
quarter-hour prices, and four quarter-hour amounts each meet the one price of
their hour.

An hour (UTC, the grid of hourly statistics) gets a cost only when every
interval in it is priced; otherwise it is unpriced (``None``) and left for a
later run. With tariff prices, each tariff's amounts are priced at their own
price, and an hour is priced only when the tariffs' amounts add up to the
total amount of the hour (a split that is missing would leave energy unpaid).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
import math
from typing import Final

from .hours import hour_of, hourly_amounts, unique
from .models import Interval

#: Relative difference below which tariff amounts add up to the total.
SAME: Final = 1e-6


@dataclass(frozen=True, slots=True)
class PriceSteps:
    """A price per unit that steps over time (epoch seconds).

    ``prices[i]`` holds over [starts[i], starts[i + 1]) (the last one until
    ``until``); None: unknown over that step (the source was unavailable).
    """

    starts: Sequence[float]
    prices: Sequence[float | None]
    until: float

    @classmethod
    def fixed(cls, price: float) -> PriceSteps:
        """Return one price for all time."""
        return cls([-math.inf], [price], math.inf)

    @property
    def known_from(self) -> float | None:
        """Return the start of the first known price (None: none is known)."""
        for start, price in zip(self.starts, self.prices, strict=True):
            if price is not None and start < self.until:
                return start
        return None

    def mean(self, start: float, end: float) -> float | None:
        """Return the time-weighted mean price over [start, end) (None: unknown)."""
        if not self.starts or start < self.starts[0] or end > self.until:
            return None
        if end <= start:
            return None
        index = bisect_right(self.starts, start) - 1
        total = 0.0
        moment = start
        while moment < end:
            price = self.prices[index]
            if price is None or not math.isfinite(price):
                return None
            index += 1
            step_end = self.starts[index] if index < len(self.starts) else self.until
            part_end = min(step_end, end)
            total += price * (part_end - moment)
            moment = part_end
        return total / (end - start)


def hourly_costs(
    intervals: Iterable[Interval], price: PriceSteps
) -> dict[int, float | None]:
    """Return each UTC hour's cost of ``intervals`` (None: not every one priced).

    Repeated starts: the last interval wins. Non-finite amounts are skipped.
    """
    costs: dict[int, float | None] = {}
    for item in unique(intervals):
        start, end = item.start.timestamp(), item.end.timestamp()
        hour = hour_of(item.start)
        mean = price.mean(start, end)
        if mean is None:
            costs[hour] = None
        elif (known := costs.get(hour, 0.0)) is not None:
            costs[hour] = known + item.value * mean
    return costs


def tariff_costs(
    total: Iterable[Interval],
    parts: Sequence[tuple[Iterable[Interval], PriceSteps]],
) -> tuple[dict[int, float | None], list[dict[int, float | None]]]:
    """Return each hour's cost of the ``total`` amounts from its tariff ``parts``.

    Also returns each part's own hourly costs. An hour of ``total`` is priced
    only when every part is priced in it and the parts' amounts add up to its
    total amount.
    """
    totals = hourly_amounts(total)
    costs: dict[int, float | None] = dict.fromkeys(totals, 0.0)
    covered: dict[int, float] = dict.fromkeys(totals, 0.0)
    part_costs: list[dict[int, float | None]] = []
    for intervals, price in parts:
        listed = list(intervals)
        for hour, amount in hourly_amounts(listed).items():
            covered[hour] = covered.get(hour, 0.0) + amount
        part_costs.append(hourly_costs(listed, price))
        for hour, cost in part_costs[-1].items():
            known = costs.get(hour, 0.0)
            costs[hour] = None if cost is None or known is None else known + cost
    for hour, amount in totals.items():
        if not math.isclose(covered[hour], amount, rel_tol=SAME, abs_tol=1e-9):
            costs[hour] = None
    return {hour: costs[hour] for hour in totals}, part_costs
