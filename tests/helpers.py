"""Helpers every Home Assistant test shares: statistics rows, states, devices, forms.

The device, form and log helpers read the same on every Home Assistant leg.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from enum import Enum
import logging
import re
from typing import Any, Literal

from homeassistant.components.recorder.statistics import statistics_during_period
from homeassistant.config_entries import ConfigEntry
from homeassistant.const import STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import section
from homeassistant.helpers import device_registry as dr, entity_registry as er
from homeassistant.helpers.recorder import get_instance
import pytest
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.meetdata.api.models import Meter
from custom_components.meetdata.const import DOMAIN
from custom_components.meetdata.units import REACTIVE_ENERGY, REACTIVE_POWER

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


def entity_id_of(
    hass: HomeAssistant, key: str, entry_id: str | None = None, domain: str = "sensor"
) -> str | None:
    """Return the entity id of our entity ``<provider>_<meter>_<quantity>``.

    Unique ids are scoped to the config entry (``<entry_id>_<key>``): the
    entity of entry ``entry_id``, or of the only entry that has one.
    """
    registry = er.async_get(hass)
    found = [
        entity_id
        for entry in hass.config_entries.async_entries(DOMAIN)
        if entry_id in (None, entry.entry_id)
        and (
            entity_id := registry.async_get_entity_id(
                domain, DOMAIN, f"{entry.entry_id}_{key}"
            )
        )
    ]
    assert len(found) <= 1, f"{key} in several entries: name the entry"
    return found[0] if found else None


def sensor_state(
    hass: HomeAssistant, key: str, *what: object, entry_id: str | None = None
) -> State:
    """Return the state of our sensor ``<provider>_<meter>_<quantity>`` (must exist)."""
    return state_of(hass, entity_id_of(hass, key, entry_id), key, *what)


#: The collapsed config-flow section with the base URL fields.
SECTION = "advanced"


def advanced(**fields: Any) -> dict[str, dict[str, Any]]:
    """Return form input for the collapsed advanced section."""
    return {SECTION: fields}


def find_device(
    hass: HomeAssistant, key: str, entry_id: str | None = None
) -> dr.DeviceEntry | None:
    """Return the device of a meter (``kenter_<ean>``, ...) of one or any entry.

    Identifiers are scoped to the entry (``<entry_id>_<key>``).
    ``async_get_device`` is deprecated on 2026.x (identifiers are unique per
    config entry only); scanning our entries' devices works on every leg.
    """
    registry = dr.async_get(hass)
    for entry in hass.config_entries.async_entries(DOMAIN):
        if entry_id not in (None, entry.entry_id):
            continue
        for device in dr.async_entries_for_config_entry(registry, entry.entry_id):
            if (DOMAIN, f"{entry.entry_id}_{key}") in device.identifiers:
                return device
    return None


def visible_tracebacks(records: Iterable[logging.LogRecord]) -> list[str]:
    """Return the tracebacks a user sees in the log: WARNING and above.

    Home Assistant 2026.x logs a failed update's full error at DEBUG; only
    what reaches the default log level counts as a traceback shown to users.
    """
    return [
        record.getMessage()[:100]
        for record in records
        if record.levelno >= logging.WARNING
        and (record.exc_info is not None or "Traceback" in record.getMessage())
    ]


#: The fields the config flow asks in its collapsed advanced section.
ADVANCED_FIELDS = ("base_url", "token_url")


def flow_input(data: dict[str, Any], *, sectioned: bool = True) -> dict[str, Any]:
    """Return flat form data as the form takes it: URLs in the advanced section.

    ``sectioned=False`` (the metering company, whose URL is a plain field)
    returns the data unchanged.
    """
    if not sectioned:
        return data
    plain = {k: v for k, v in data.items() if k not in ADVANCED_FIELDS}
    section = {k: v for k, v in data.items() if k in ADVANCED_FIELDS}
    return plain | {SECTION: section} if section else plain


def form_fields(schema: Any) -> list[str]:
    """Return a form's fields; a collapsed section as ``advanced(collapsed)[…]``."""
    fields: list[str] = []
    for key, value in schema.schema.items():
        if isinstance(value, section):
            state = "collapsed" if value.options.get("collapsed") else "open"
            inner = ", ".join(str(k) for k in value.schema.schema)
            fields.append(f"{key}({state})[{inner}]")
        else:
            fields.append(str(key))
    return fields


#: State attributes whose values a snapshot keeps; others keep only their kind.
STABLE_ATTRIBUTES = frozenset(
    {"device_class", "friendly_name", "icon", "state_class", "unit_of_measurement"}
)
_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)?)?$"
)


def _kind(value: Any) -> str:
    """Return what a value that depends on "now" is, not the value."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return "datetime" if _ISO.match(value) else "text"
        return "number"
    return type(value).__name__


_SIMULATOR = re.compile(r"http://127\.0\.0\.1:\d+")
#: A day written inside a text (DD-MM-YYYY or YYYY-MM-DD), as simulators write it.
_DAY = re.compile(r"\b(?:\d{2}-\d{2}-\d{4}|\d{4}-\d{2}-\d{2})\b(?![T ]\d)")


def stable(value: Any) -> Any:
    """Return ``value`` as plain data without what differs between runs.

    Dates and times become ``<datetime>`` (a day inside a text, such as
    Wattworx's "Intervalstanden van 03-12-2026", ``<date>``), the simulators' URLs (their port
    differs per run) ``http://simulator``; enums their value; sets and tuples
    sorted/plain lists.
    """
    if isinstance(value, dict):
        return {str(k): stable(v) for k, v in sorted(value.items(), key=str)}
    if isinstance(value, list | tuple):
        return [stable(v) for v in value]
    if isinstance(value, set | frozenset):
        return sorted(stable(v) for v in value)
    if isinstance(value, datetime | date):
        return "<datetime>"
    if isinstance(value, Enum):
        return stable(value.value)
    if isinstance(value, str):
        value = _SIMULATOR.sub("http://simulator", value)
        return "<datetime>" if _ISO.match(value) else _DAY.sub("<date>", value)
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)


#: Units whose device class depends on the Home Assistant leg.
_LEG_DEPENDENT = {
    support.unit: support for support in (REACTIVE_POWER, REACTIVE_ENERGY)
}


def entity_snapshot(hass: HomeAssistant, entry_id: str) -> list[dict[str, Any]]:
    """Return the entities of a config entry as a snapshot compares them.

    A chosen set of registry fields (the same on every Home Assistant leg),
    the device's name, and the state: values that depend on "now" (the state,
    most attributes) only as their kind.
    """
    entities = er.async_entries_for_config_entry(er.async_get(hass), entry_id)
    devices = dr.async_get(hass)
    result = []
    for entity in sorted(entities, key=lambda e: e.entity_id):
        device = devices.async_get(entity.device_id) if entity.device_id else None
        state = hass.states.get(entity.entity_id)
        attributes = {str(k): v for k, v in (state.attributes if state else {}).items()}
        device_class = stable(entity.original_device_class)
        support = _LEG_DEPENDENT.get(entity.unit_of_measurement or "")
        if support is not None:
            # The reactive device classes exist on newer legs only (units.py):
            # check the one of this leg, snapshot a placeholder.
            expected = stable(support.device_class)
            assert device_class == expected, entity.entity_id
            device_class = f"<{support.unit}: device class of this leg>"
            if state is not None:
                assert attributes.get("device_class") == expected, entity.entity_id
                attributes["device_class"] = device_class
        result.append(
            {
                "entity_id": entity.entity_id,
                # Scoped to the entry, whose id differs per run.
                "unique_id": entity.unique_id.replace(entry_id, "<entry_id>", 1),
                "platform": entity.platform,
                "translation_key": entity.translation_key,
                "original_device_class": device_class,
                "device_class": stable(entity.device_class),
                "unit_of_measurement": stable(entity.unit_of_measurement),
                "capabilities": stable(entity.capabilities),
                "entity_category": stable(entity.entity_category),
                "disabled_by": stable(entity.disabled_by),
                "has_entity_name": entity.has_entity_name,
                "original_name": entity.original_name,
                "device": device.name if device else None,
                "state": _kind(state.state) if state else None,
                "attributes": {
                    key: stable(value) if key in STABLE_ATTRIBUTES else _kind(value)
                    for key, value in sorted(attributes.items())
                },
            }
        )
    return result


def assert_rechained(
    before: list[dict[str, Any]],
    after: list[dict[str, Any]],
    corrected: float,
    added: float,
) -> None:
    """Check a correction of ``added`` in hour ``corrected`` and its later sums.

    Hours before it are untouched, that hour's amount grows by ``added``, and
    every later hour keeps its amount while its running sum grows by ``added``.
    """
    assert [row["start"] for row in after] == [row["start"] for row in before]
    for old, new in zip(before, after, strict=True):
        if old["start"] < corrected:
            assert new == old
        elif old["start"] == corrected:
            assert new["state"] == pytest.approx(old["state"] + added)
            assert new["sum"] == pytest.approx(old["sum"] + added)
        else:
            assert new["state"] == pytest.approx(old["state"])
            assert new["sum"] == pytest.approx(old["sum"] + added)


def entities_by_meter(
    hass: HomeAssistant, entry_id: str, provider: str, keys: Iterable[str]
) -> dict[str, set[str]]:
    """Return the entity ids of an entry's entities by the meter (of ``keys``)."""
    keys = list(keys)
    by_meter: dict[str, set[str]] = {}
    for entity in er.async_entries_for_config_entry(er.async_get(hass), entry_id):
        key = next(
            k
            for k in keys
            if entity.unique_id.startswith(f"{entry_id}_{provider}_{k}_")
        )
        by_meter.setdefault(key, set()).add(entity.entity_id)
    return by_meter


def unavailable_meters(
    hass: HomeAssistant, entry_id: str, provider: str, keys: Iterable[str]
) -> set[str]:
    """Return the meters (of ``keys``) with an unavailable or missing entity."""
    return {
        key
        for key, ids in entities_by_meter(hass, entry_id, provider, keys).items()
        for entity_id in ids
        if (state := hass.states.get(entity_id)) is None
        or state.state == STATE_UNAVAILABLE
    }


async def call_import_history(
    hass: HomeAssistant, entry_id: str, start: date | str
) -> Any:
    """Call the ``meetdata.import_history`` action and return its response."""
    return await hass.services.async_call(
        DOMAIN,
        "import_history",
        {"config_entry_id": entry_id, "start": str(start)},
        blocking=True,
        return_response=True,
    )


async def assert_quarter_hour_power(
    hass: HomeAssistant,
    stat_id: str,
    powers: dict[int, float],
    start: datetime,
    end: datetime,
) -> None:
    """Assert each stored hour is the max, min and mean of its four quarters' kW.

    ``powers`` maps each quarter's start (a timestamp) to its average power,
    computed by hand from a simulator's data; every hour of [start, end) is
    expected, a DST day included (23 or 25 hours).
    """
    hours: dict[int, list[float]] = {}
    for quarter in sorted(powers):
        hours.setdefault(quarter - quarter % 3600, []).append(powers[quarter])
    assert len(hours) in (23, 24, 25)
    rows = await stat_rows(hass, stat_id, start, end, ("mean", "min", "max"))
    assert [int(row["start"]) for row in rows] == list(hours)
    for row in rows:
        quarters = hours[int(row["start"])]
        assert len(quarters) == 4
        assert row["max"] == pytest.approx(max(quarters))
        assert row["min"] == pytest.approx(min(quarters))
        assert row["mean"] == pytest.approx(sum(quarters) / 4)


def meter_by_key(entry: ConfigEntry, key: str) -> Meter:
    """Return the loaded entry's meter of this key."""
    meter: Meter = next(m for m in entry.runtime_data.meters if m.key == key)
    return meter
