"""Diagnostics: what the entry holds and sees, with secrets redacted."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from homeassistant.components.diagnostics import async_redact_data
from homeassistant.core import HomeAssistant

from .api.errors import MeetdataError
from .runtime import MeetdataConfigEntry


async def async_get_config_entry_diagnostics(
    hass: HomeAssistant, entry: MeetdataConfigEntry
) -> dict[str, Any]:
    """Return diagnostics of one config entry."""
    runtime = entry.runtime_data
    redact = set(runtime.spec.secret_keys) | set(runtime.spec.private_keys)
    latest = runtime.latest.data or {}
    holes = runtime.history.importer.holes
    await holes.async_load()
    return {
        "entry": {
            "title": entry.title,
            "data": async_redact_data(dict(entry.data), redact),
            "options": dict(entry.options),
        },
        "meters": [
            {k: v for k, v in asdict(meter).items() if k != "attributes"}
            | {"attributes": dict(meter.attributes)}
            for meter in runtime.all_meters
        ],
        "latest": {
            meter_key: {
                str(quantity): {
                    "value": str(reading.value),
                    "timestamp": reading.timestamp.isoformat()
                    if reading.timestamp
                    else None,
                }
                for quantity, reading in readings.items()
            }
            for meter_key, readings in latest.items()
        },
        "latest_update_success": runtime.latest.last_update_success,
        "latest_failing_meters": _failing(runtime.latest.outages.current),
        "history": {
            stat_id: hour.isoformat()
            for stat_id, hour in (runtime.history.data or {}).items()
        },
        "history_update_success": runtime.history.last_update_success,
        "history_failing_meters": _failing(runtime.history.outages.current),
        "history_holes": holes.diagnostics(),
        "capacity_peaks": {
            meter.key: peaks
            for meter in runtime.meters
            if (peaks := runtime.history.importer.peaks.as_dict(meter.key))
        },
    }


def _failing(outages: Mapping[str, MeetdataError]) -> dict[str, str]:
    """Return the error of each failing meter (messages carry no secrets)."""
    return {key: f"{type(err).__name__}: {err}" for key, err in outages.items()}
