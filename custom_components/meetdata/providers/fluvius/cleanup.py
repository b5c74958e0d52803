"""Forget statistics after a Fluvius data period that ended.

When the grid user of an EAN changes, Fluvius caps the mandate's data period
at the effective date (the document: the mandate stays Approved, the period
is cut off); data after that end are not ours any more. Long-term statistics
rows cannot be deleted for a time range, so every stored hour from the end on
becomes an hour with amount 0 whose sum stays where it was at the end: the
data disappear from the energy dashboard and later sums still chain.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from homeassistant.components.recorder.models import StatisticData
from homeassistant.components.recorder.statistics import (
    async_add_external_statistics,
    statistics_during_period,
)
from homeassistant.core import HomeAssistant
from homeassistant.helpers.recorder import get_instance

from ...api.models import Meter, Quantity
from ...const import LOGGER
from ...statistics import WRITE_BATCH, statistic_metadata

#: Two sums closer than this are equal.
_EPSILON = 1e-9


async def async_clear_after(
    hass: HomeAssistant,
    meters: Iterable[Meter],
    quantities: Iterable[Quantity],
    end: datetime,
) -> int:
    """Zero the stored hours of these meters that start at or after ``end``.

    ``quantities`` are amounts (Fluvius has no mean quantities).

    Returns the number of rows rewritten; waits until the recorder stored
    them, so that a history import started afterwards reads the new rows.
    """
    instance = get_instance(hass)
    written = 0
    for meter in meters:
        for quantity in quantities:
            metadata = statistic_metadata(meter, quantity)
            stat_id = metadata["statistic_id"]
            result = await instance.async_add_executor_job(
                statistics_during_period,
                hass,
                end,
                None,
                {stat_id},
                "hour",
                None,
                {"state", "sum"},
            )
            rows = result.get(stat_id, [])
            if not rows:
                continue
            first = rows[0]
            base = float(first.get("sum") or 0.0) - float(first.get("state") or 0.0)
            new = [
                StatisticData(
                    start=datetime.fromtimestamp(row["start"], UTC), state=0.0, sum=base
                )
                for row in rows
                if (row.get("state") or 0.0) != 0.0
                or abs(float(row.get("sum") or 0.0) - base) > _EPSILON
            ]
            for offset in range(0, len(new), WRITE_BATCH):
                async_add_external_statistics(
                    hass, metadata, new[offset : offset + WRITE_BATCH]
                )
            if new:
                LOGGER.info(
                    "Removed %d hours of %s after the data period ended at %s",
                    len(new),
                    stat_id,
                    end.isoformat(),
                )
            written += len(new)
    if written:
        await instance.async_block_till_done()
    return written
