"""Kenter's latest counter values as readings: amounts, registers, average power."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
import logging

from ....api.models import Quantity, Reading
from .codec import LatestValue
from .const import (
    COUNTER_INTERVAL,
    COUNTER_INTERVALS,
    COUNTER_QUANTITIES,
    COUNTER_REGISTER,
    INTERVAL_QUANTITIES,
    LVB,
    LVR,
    TLB,
    TLV,
)

_LOGGER = logging.getLogger(__name__)


def latest_readings(values: Sequence[LatestValue]) -> dict[Quantity, Reading]:
    """Turn the latest counter values of one meter into readings.

    Interval counters give the amount of the latest interval (the
    ``*_interval`` quantities, stamped with the interval start), register
    counters their running total (the register quantities). For electricity
    the net average power of the interval is added: (LVR - TLV) and
    (LVB - TLB) per hour, in kW and kvar.
    """
    readings: dict[Quantity, Reading] = {}
    counters: dict[str, LatestValue] = {}
    for value in values:
        table = (
            COUNTER_QUANTITIES
            if value.counter_type == COUNTER_REGISTER
            else INTERVAL_QUANTITIES
        )
        quantity = table.get(value.counter_code)
        if quantity is None:
            _LOGGER.debug("Ignoring unknown Kenter counter %s", value.counter_code)
            continue
        counters[value.counter_code] = value
        readings[quantity] = Reading(quantity, value.value, value.timestamp)
    for imported, exported, quantity in (
        (LVR, TLV, Quantity.POWER),
        (LVB, TLB, Quantity.REACTIVE_POWER),
    ):
        if (
            power := _average_power(counters, imported, exported, quantity)
        ) is not None:
            readings[quantity] = power
    if counters:
        last = max(value.timestamp for value in counters.values())
        readings[Quantity.LAST_MEASUREMENT] = Reading(
            Quantity.LAST_MEASUREMENT, last, last
        )
    return readings


def _average_power(
    counters: Mapping[str, LatestValue],
    imported: str,
    exported: str,
    quantity: Quantity,
) -> Reading | None:
    """Return the net average power of the latest interval, + from the grid."""
    into, out = counters.get(imported), counters.get(exported)
    present = [value for value in (into, out) if value is not None]
    if not present or any(v.counter_type != COUNTER_INTERVAL for v in present):
        return None
    if into is not None and out is not None and into.timestamp != out.timestamp:
        return None
    net = (into.value if into else 0.0) - (out.value if out else 0.0)
    per_hour = timedelta(hours=1) / COUNTER_INTERVALS[imported]
    return Reading(quantity, round(net * per_hour, 6), present[0].timestamp)
