"""Repair issues about a meter the account cannot read as it should."""

from __future__ import annotations

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .const import DOMAIN

#: The issue of a meter the credentials may not read (raised by the core).
ISSUE_NO_PERMISSION = "no_permission"


def _issue_id(entry: ConfigEntry, kind: str, meter: str) -> str:
    return f"{entry.entry_id}_{kind}_{meter}"


@callback
def async_raise_meter_issue(
    hass: HomeAssistant,
    entry: ConfigEntry,
    kind: str,
    meter: str,
    placeholders: dict[str, str] | None = None,
) -> None:
    """Raise (or refresh) a repair issue of ``kind`` about one meter."""
    ir.async_create_issue(
        hass,
        DOMAIN,
        _issue_id(entry, kind, meter),
        is_fixable=False,
        severity=ir.IssueSeverity.WARNING,
        translation_key=kind,
        translation_placeholders={"meter": meter, "entry": entry.title}
        | (placeholders or {}),
    )


@callback
def async_clear_meter_issue(
    hass: HomeAssistant, entry: ConfigEntry, kind: str, meter: str
) -> None:
    """Remove the repair issue of ``kind`` about one meter, if raised."""
    ir.async_delete_issue(hass, DOMAIN, _issue_id(entry, kind, meter))


@callback
def async_clear_entry_issues(hass: HomeAssistant, entry_id: str) -> None:
    """Remove every repair issue raised for one config entry."""
    prefix = f"{entry_id}_"
    for domain, issue_id in list(ir.async_get(hass).issues):
        if domain == DOMAIN and issue_id.startswith(prefix):
            ir.async_delete_issue(hass, DOMAIN, issue_id)


@callback
def async_clear_other_meter_issues(
    hass: HomeAssistant, entry: ConfigEntry, kind: str, keep: set[str]
) -> None:
    """Remove the issues of ``kind`` about meters not in ``keep`` (left out)."""
    prefix = _issue_id(entry, kind, "")
    for domain, issue_id in list(ir.async_get(hass).issues):
        if (
            domain == DOMAIN
            and issue_id.startswith(prefix)
            and issue_id.removeprefix(prefix) not in keep
        ):
            ir.async_delete_issue(hass, DOMAIN, issue_id)
