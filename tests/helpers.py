"""Helpers every Home Assistant test shares: stored statistics rows, sensor states."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, Literal

from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers import entity_registry as er
from homeassistant.helpers.recorder import get_instance
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.meetdata.const import DOMAIN

type StatType = Literal["last_reset", "max", "mean", "min", "state", "sum"]

#: What the statistics tests read of an hourly row by default.
ALL_TYPES: frozenset[StatType] = frozenset({"state", "sum", "mean", "min", "max"})


async def stat_rows(
    hass: HomeAssistant,
    stat_id: str,
    start: datetime,
    end: datetime | None = None,
    types: Iterable[StatType] = ALL_TYPES,
) -> list[dict[str, Any]]:
    """Return the stored hourly rows of a statistic (once the recorder caught up)."""
    await async_wait_recording_done(hass)
    result = await get_instance(hass).async_add_executor_job(
        statistics_during_period,
        hass,
        start,
        end,
        {stat_id},
        "hour",
        None,
        set(types),
    )
    return list(result.get(stat_id, []))


def state_of(hass: HomeAssistant, entity_id: str | None, *what: object) -> State:
    """Return the state of an entity that must exist (``what`` names it on failure)."""
    assert entity_id is not None, what
    state = hass.states.get(entity_id)
    assert state is not None
    return state


def sensor_state(hass: HomeAssistant, unique_id: str, *what: object) -> State:
    """Return the state of our sensor with this unique id (it must exist)."""
    entity_id = er.async_get(hass).async_get_entity_id("sensor", DOMAIN, unique_id)
    return state_of(hass, entity_id, *what)
