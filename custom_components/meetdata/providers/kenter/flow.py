"""Kenter's own config-flow steps: one form per connection, reauth per EAN-code.

The core flow binds these as ``async_step_<step id>`` (see ``KenterSpec.flow_steps``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from homeassistant.config_entries import SOURCE_RECONFIGURE, ConfigFlowResult
from homeassistant.helpers.aiohttp_client import async_get_clientsession
import voluptuous as vol

from ...const import CONF_PROVIDER
from ...ids import kept_data
from ...verify import AccountCheckError, async_verify
from ..base import ProviderFlowStep
from .client.provider import PROVIDER
from .connections import (
    CONF_ADD_ANOTHER,
    CONF_CONNECTIONS,
    CONF_EAN,
    CONF_PASSCODE,
    ON_FORM,
    connection_placeholders,
    connections_of,
    kenter_eans,
)

if TYPE_CHECKING:
    from ...config_flow import MeetdataConfigFlow
    from .spec import KenterSpec


async def async_step_kenter(
    self: MeetdataConfigFlow, spec: KenterSpec, user_input: dict[str, Any] | None = None
) -> ConfigFlowResult:
    """Ask for Kenter connections, one form each, until the user is done."""
    collected = self._provider_data or {}
    errors: dict[str, str] = {}
    placeholders = {"ean": ""}
    if user_input is not None:
        data = spec.add_connection(collected, user_input)
        try:
            unique_id, title = await _async_verify_kenter(self, spec, data, typed=True)
        except AccountCheckError as err:
            errors, placeholders = err.errors, placeholders | err.placeholders
        else:
            self._provider_data = collected = data
            if not user_input[CONF_ADD_ANOTHER]:
                return await _async_finish_kenter(self, unique_id, title, data)
            user_input = None
    schema = (
        vol.Schema(spec.connection_fields())
        if connections_of(collected)
        else spec.schema()
    )
    return self.async_show_form(
        step_id="kenter",
        data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
        errors=errors,
        description_placeholders=placeholders
        | connection_placeholders(connections_of(collected)),
    )


async def _async_verify_kenter(
    self: MeetdataConfigFlow, spec: KenterSpec, data: dict[str, Any], *, typed: bool
) -> tuple[str, str]:
    """Verify Kenter connections; ``typed``: the last one is on the form.

    A typed EAN-code that another entry holds is refused.
    """
    if not typed:
        return await async_verify(self, spec, data)
    entries = self._async_current_entries(include_ignore=False)
    if self.source == SOURCE_RECONFIGURE:
        entries = [e for e in entries if e.entry_id != self._reconfigure_entry_id]
    ean = connections_of(data)[-1][CONF_EAN]
    if ean in kenter_eans(entries):
        raise AccountCheckError({CONF_EAN: "ean_configured"}, {"ean": ean})
    return await async_verify(self, spec, data | {ON_FORM: True})


async def _async_finish_kenter(
    self: MeetdataConfigFlow, unique_id: str, title: str, data: dict[str, Any]
) -> ConfigFlowResult:
    """Create the Kenter entry, or update the one being reconfigured."""
    await self.async_set_unique_id(unique_id)
    data = {CONF_PROVIDER: str(PROVIDER), **data}
    if self.source == SOURCE_RECONFIGURE:
        entry = self._get_reconfigure_entry()
        return self.async_update_reload_and_abort(
            entry, unique_id=unique_id, data=data | kept_data(entry)
        )
    self._abort_if_unique_id_configured()
    return self.async_create_entry(title=title, data=data)


async def async_step_reauth_kenter(
    self: MeetdataConfigFlow, spec: KenterSpec, user_input: dict[str, Any] | None = None
) -> ConfigFlowResult:
    """Ask for the passcode of the Kenter connection that is refused.

    Kenter is asked first, so that the form names the refused EAN-code.
    """
    entry = self._get_reauth_entry()
    data = self._provider_data or dict(entry.data)
    ean: str | None = None
    if user_input is not None:
        ean = user_input[CONF_EAN]
        data = spec.with_passcode(
            data, user_input[CONF_EAN], user_input[CONF_PASSCODE].strip()
        )
    error = await spec.async_check_passcodes(
        async_get_clientsession(self.hass), data, ean
    )
    if error is None and user_input is not None:
        return self.async_update_reload_and_abort(
            entry, data_updates={CONF_CONNECTIONS: data[CONF_CONNECTIONS]}
        )
    refused = error.placeholders["ean"] if error else ""
    if ean and refused not in ("", ean):
        self._provider_data = data  # Kenter accepted this one, refused another
    return self.async_show_form(
        step_id="reauth_kenter",
        data_schema=self.add_suggested_values_to_schema(
            spec.reauth_schema_for(data),
            {CONF_EAN: refused or ean or connections_of(data)[0][CONF_EAN]},
        ),
        errors={error.field: error.key} if error else {},
        description_placeholders={"ean": refused, "name": entry.title},
    )


async def async_step_reconfigure_kenter(
    self: MeetdataConfigFlow, spec: KenterSpec, user_input: dict[str, Any] | None = None
) -> ConfigFlowResult:
    """Choose the Kenter connections to keep; add more on the next forms."""
    entry = self._get_reconfigure_entry()
    errors: dict[str, str] = {}
    placeholders = {"ean": ""}
    if user_input is not None:
        data = spec.kept_connections(entry.data, user_input)
        if user_input[CONF_ADD_ANOTHER]:
            self._provider_data = data
            return await async_step_kenter(self, spec)
        try:
            unique_id, title = await _async_verify_kenter(self, spec, data, typed=False)
        except AccountCheckError as err:
            errors, placeholders = err.errors, placeholders | err.placeholders
        else:
            return await _async_finish_kenter(self, unique_id, title, data)
    current = connections_of(entry.data)
    return self.async_show_form(
        step_id="reconfigure_kenter",
        data_schema=self.add_suggested_values_to_schema(
            spec.reconfigure_schema(entry.data),
            user_input or {CONF_CONNECTIONS: [conn[CONF_EAN] for conn in current]},
        ),
        errors=errors,
        description_placeholders=placeholders | connection_placeholders(current),
    )


#: Step id → step: the first form, reauthentication, reconfiguration.
KENTER_FLOW_STEPS: dict[str, ProviderFlowStep] = {
    "kenter": async_step_kenter,
    "reauth_kenter": async_step_reauth_kenter,
    "reconfigure_kenter": async_step_reconfigure_kenter,
}
