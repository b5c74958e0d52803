"""Kenter entry data: the connections (EAN-code, passcode, meter code) it holds."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from homeassistant.config_entries import ConfigEntry

from ...const import CONF_PROVIDER
from .client.provider import PROVIDER

CONF_CONNECTIONS = "connections"
CONF_EAN = "ean"
CONF_PASSCODE = "passcode"
CONF_METER_CODE = "meter_code"
CONF_ADD_ANOTHER = "add_another"
#: Flow-only key: the last connection of the data is the one on the form.
ON_FORM = "on_form"

type Connection = dict[str, str]


def connections_of(data: Mapping[str, Any]) -> list[Connection]:
    """Return the connections stored in entry (or flow) data."""
    return [dict(conn) for conn in data.get(CONF_CONNECTIONS, [])]


def connection_label(conn: Mapping[str, str]) -> str:
    """Return "EAN-code" or "EAN-code (meter code)"."""
    code = conn.get(CONF_METER_CODE)
    return f"{conn[CONF_EAN]} ({code})" if code else conn[CONF_EAN]


def connection_placeholders(connections: Sequence[Mapping[str, str]]) -> dict[str, str]:
    """Return {count} and {connections} (a Markdown list) for form descriptions."""
    return {
        "count": str(len(connections)),
        "connections": "".join(f"\n- {connection_label(c)}" for c in connections),
    }


def kenter_eans(entries: Iterable[ConfigEntry]) -> set[str]:
    """Return the EAN-codes the Kenter entries among ``entries`` hold."""
    return {
        conn[CONF_EAN]
        for entry in entries
        if entry.data.get(CONF_PROVIDER) == PROVIDER
        for conn in connections_of(entry.data)
    }
