"""Holes in a meter's history: periods that failed while later hours imported.

A window the provider could not deliver (an outage, an unreadable answer)
does not hold back the hours after it. When a later window of the same run
stored data, the failed period is kept here, per config entry in a
``Store`` (it survives a restart), and every later run of that meter first
tries to import it again. A hole open for more than ``ISSUE_AFTER`` raises a
repair issue naming the meter and the period; it goes once the hole is filled.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Final

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant
from homeassistant.helpers.storage import Store
from homeassistant.util import dt as dt_util

from .const import DOMAIN
from .repairs import async_clear_meter_issue, async_raise_meter_issue

STORAGE_VERSION: Final = 1
#: An open hole older than this raises a repair issue.
ISSUE_AFTER: Final = timedelta(days=1)
ISSUE_KIND: Final = "history_hole"
#: Longest error text kept (clients build messages without secrets).
MAX_ERROR_TEXT: Final = 300


def storage_key(entry_id: str) -> str:
    """Return the Store key of an entry's holes."""
    return f"{DOMAIN}.history_holes.{entry_id}"


@dataclass(frozen=True, slots=True)
class Hole:
    """A period [start, end) of one meter that failed to import."""

    start: datetime
    end: datetime
    #: When the period first failed.
    since: datetime
    #: The last error, as text.
    error: str
    #: Failed attempts so far (the first one included).
    attempts: int = 1

    def as_dict(self) -> dict[str, Any]:
        """Return the hole as JSON-ready data (Store and diagnostics)."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "since": self.since.isoformat(),
            "error": self.error,
            "attempts": self.attempts,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Hole | None:
        """Return a stored hole (None: unreadable)."""
        try:
            start, end, since = (
                datetime.fromisoformat(str(data[name]))
                for name in ("start", "end", "since")
            )
            return cls(
                start, end, since, str(data.get("error", "")), int(data["attempts"])
            )
        except (KeyError, TypeError, ValueError):
            return None


def error_text(err: Exception) -> str:
    """Return an error as the short text a hole keeps."""
    return (str(err) or type(err).__name__)[:MAX_ERROR_TEXT]


def merged(holes: list[Hole]) -> list[Hole]:
    """Return holes sorted, overlapping or touching ones joined (oldest since)."""
    result: list[Hole] = []
    for hole in sorted(holes, key=lambda h: (h.start, h.end)):
        if result and hole.start <= result[-1].end:
            last = result[-1]
            newer = hole if hole.since >= last.since else last
            result[-1] = replace(
                last,
                end=max(last.end, hole.end),
                since=min(last.since, hole.since),
                error=newer.error,
                attempts=max(last.attempts, hole.attempts),
            )
        else:
            result.append(hole)
    return result


class HoleBook:
    """The open holes of one config entry's meters, kept in a Store.

    Without an entry (an importer of its own: benchmarks, tests of the
    importer alone) the holes live in memory only and raise no issue.
    """

    def __init__(self, hass: HomeAssistant, entry: ConfigEntry | None) -> None:
        """Bind to an entry's Store."""
        self.hass = hass
        self.entry = entry
        self._store: Store[dict[str, Any]] | None = (
            None
            if entry is None
            else Store(hass, STORAGE_VERSION, storage_key(entry.entry_id))
        )
        self._holes: dict[str, list[Hole]] = {}
        self._loaded = self._store is None

    async def async_load(self) -> None:
        """Read the stored holes once."""
        if self._loaded or self._store is None:
            return
        data = await self._store.async_load() or {}
        self._loaded = True
        for meter, items in (data.get("meters") or {}).items():
            holes = [h for item in items if (h := Hole.from_dict(item)) is not None]
            if holes:
                self._holes[str(meter)] = merged(holes)

    def holes(self, meter: str) -> list[Hole]:
        """Return the open holes of a meter, oldest period first."""
        return list(self._holes.get(meter, ()))

    async def async_set(self, meter: str, holes: list[Hole]) -> None:
        """Replace a meter's holes and store them."""
        holes = merged(holes)
        if holes == self._holes.get(meter, []):
            return
        if holes:
            self._holes[meter] = holes
        else:
            self._holes.pop(meter, None)
        if self._store is not None:
            await self._store.async_save(self._as_data())

    def _as_data(self) -> dict[str, Any]:
        return {
            "meters": {
                meter: [hole.as_dict() for hole in holes]
                for meter, holes in sorted(self._holes.items())
            }
        }

    def diagnostics(self) -> dict[str, list[dict[str, Any]]]:
        """Return every meter's open holes."""
        data: dict[str, list[dict[str, Any]]] = self._as_data()["meters"]
        return data

    def async_check_issue(self, meter: str, now: datetime) -> None:
        """Raise the meter's repair issue for holes older than a day, or clear it."""
        if self.entry is None:
            return
        overdue = [h for h in self._holes.get(meter, ()) if now - h.since > ISSUE_AFTER]
        if not overdue:
            async_clear_meter_issue(self.hass, self.entry, ISSUE_KIND, meter)
            return
        async_raise_meter_issue(
            self.hass,
            self.entry,
            ISSUE_KIND,
            meter,
            {
                "start": _local(overdue[0].start),
                "end": _local(max(hole.end for hole in overdue)),
                "error": overdue[-1].error,
            },
        )


def _local(moment: datetime) -> str:
    """Return a moment in Home Assistant's time zone, e.g. ``2026-11-02 00:00``."""
    return f"{dt_util.as_local(moment):%Y-%m-%d %H:%M}"


async def async_remove_holes(hass: HomeAssistant, entry_id: str) -> None:
    """Forget the holes of a deleted entry."""
    await Store[dict[str, Any]](
        hass, STORAGE_VERSION, storage_key(entry_id)
    ).async_remove()
