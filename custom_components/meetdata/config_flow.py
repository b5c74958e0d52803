"""Config flow for Meetdata: a provider menu, then that provider's credentials."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import (
    ConfigEntryState,
    ConfigFlow,
    ConfigFlowResult,
    OptionsFlow,
)
from homeassistant.core import callback
from homeassistant.helpers.aiohttp_client import async_get_clientsession
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
)
import voluptuous as vol

from .api.errors import MeetdataError
from .api.models import Provider
from .const import (
    CONF_BASE_URL,
    CONF_HISTORY_DAYS,
    CONF_METERS,
    CONF_PROVIDER,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
    LOGGER,
    MAX_HISTORY_DAYS,
    MAX_UPDATE_INTERVAL_MINUTES,
    MIN_UPDATE_INTERVAL_MINUTES,
)
from .coordinator import MeetdataConfigEntry
from .error_keys import error_key
from .providers import PROVIDERS, get_spec
from .providers.base import ProviderSpec

BASE_ERROR = "base"


class AccountCheckError(Exception):
    """The account could not be verified; carries the translated error key."""

    def __init__(self, key: str) -> None:
        """Store the translation key."""
        super().__init__(key)
        self.key = key


async def _async_verify(
    flow: ConfigFlow, spec: ProviderSpec, data: Mapping[str, Any]
) -> tuple[str, str]:
    """Ask the API for the account's meters; return (unique id, title)."""
    client = spec.build_client(async_get_clientsession(flow.hass), data)
    try:
        meters = await client.async_get_meters()
    except MeetdataError as err:
        LOGGER.debug("Verifying %s credentials failed: %s", spec.provider, err)
        raise AccountCheckError(error_key(err)) from None
    if not meters:
        raise AccountCheckError("no_meters")
    return spec.account(meters, data)


class MeetdataConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up one provider account."""

    VERSION = 1

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: MeetdataConfigEntry) -> OptionsFlow:
        """Return the options flow."""
        return MeetdataOptionsFlow()

    async def async_step_user(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Let the user pick a provider."""
        return self.async_show_menu(
            step_id="user", menu_options=[str(provider) for provider in PROVIDERS]
        )

    async def async_step_cemm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a CEMM Open API key."""
        return await self._async_step_credentials(PROVIDERS[Provider.CEMM], user_input)

    async def _async_step_credentials(
        self, spec: ProviderSpec, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Show a provider's form; verify and create the entry."""
        errors: dict[str, str] = {}
        if user_input is not None:
            data = spec.normalize(user_input)
            errors = spec.check_input(data)
            if not errors:
                try:
                    unique_id, title = await _async_verify(self, spec, data)
                except AccountCheckError as err:
                    errors[BASE_ERROR] = err.key
                else:
                    await self.async_set_unique_id(unique_id)
                    self._abort_if_unique_id_configured()
                    return self.async_create_entry(
                        title=title, data={CONF_PROVIDER: str(spec.provider), **data}
                    )
        schema = spec.schema(advanced=self.show_advanced_options)
        return self.async_show_form(
            step_id=str(spec.provider),
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
        )

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Start reauthentication when the provider refuses the credentials."""
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the secrets again and verify them."""
        entry = self._get_reauth_entry()
        spec = get_spec(entry.data[CONF_PROVIDER])
        errors: dict[str, str] = {}
        if user_input is not None:
            updates = spec.normalize(user_input)
            errors = spec.check_input(updates)
            if not errors:
                try:
                    unique_id, _ = await _async_verify(
                        self, spec, {**entry.data, **updates}
                    )
                except AccountCheckError as err:
                    errors[BASE_ERROR] = err.key
                else:
                    await self.async_set_unique_id(unique_id)
                    self._abort_if_unique_id_mismatch(reason="wrong_account")
                    return self.async_update_reload_and_abort(
                        entry, data_updates=updates
                    )
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=spec.reauth_schema(),
            errors=errors,
            description_placeholders={"name": entry.title},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the credentials or URL of an existing account."""
        entry = self._get_reconfigure_entry()
        spec = get_spec(entry.data[CONF_PROVIDER])
        errors: dict[str, str] = {}
        if user_input is not None:
            data = spec.normalize(user_input)
            if not self.show_advanced_options and CONF_BASE_URL in entry.data:
                data[CONF_BASE_URL] = entry.data[CONF_BASE_URL]
            errors = spec.check_input(data)
            if not errors:
                try:
                    unique_id, _ = await _async_verify(self, spec, data)
                except AccountCheckError as err:
                    errors[BASE_ERROR] = err.key
                else:
                    await self.async_set_unique_id(unique_id)
                    self._abort_if_unique_id_mismatch(reason="wrong_account")
                    return self.async_update_reload_and_abort(
                        entry, data={CONF_PROVIDER: entry.data[CONF_PROVIDER], **data}
                    )
        schema = spec.schema(advanced=self.show_advanced_options)
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                schema, user_input or dict(entry.data)
            ),
            errors=errors,
        )


class MeetdataOptionsFlow(OptionsFlow):
    """Update interval, history depth and which meters to include."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and store the options."""
        entry: MeetdataConfigEntry = self.config_entry
        if entry.state is not ConfigEntryState.LOADED:
            return self.async_abort(reason="not_loaded")
        if user_input is not None:
            return self.async_create_entry(data=user_input)
        spec = get_spec(entry.data[CONF_PROVIDER])
        meter_options = [
            SelectOptionDict(value=meter.key, label=meter.name or meter.key)
            for meter in entry.runtime_data.all_meters
        ]
        schema = vol.Schema(
            {
                vol.Required(CONF_UPDATE_INTERVAL): NumberSelector(
                    NumberSelectorConfig(
                        min=MIN_UPDATE_INTERVAL_MINUTES,
                        max=MAX_UPDATE_INTERVAL_MINUTES,
                        step=1,
                        mode=NumberSelectorMode.BOX,
                        unit_of_measurement="min",
                    )
                ),
                vol.Required(CONF_HISTORY_DAYS): NumberSelector(
                    NumberSelectorConfig(
                        min=0,
                        max=MAX_HISTORY_DAYS,
                        step=1,
                        mode=NumberSelectorMode.BOX,
                        unit_of_measurement="d",
                    )
                ),
                vol.Optional(CONF_METERS): SelectSelector(
                    SelectSelectorConfig(options=meter_options, multiple=True)
                ),
            }
        )
        current = {
            CONF_UPDATE_INTERVAL: spec.default_update_interval.total_seconds() / 60,
            CONF_HISTORY_DAYS: spec.default_history_days,
            CONF_METERS: [meter.key for meter in entry.runtime_data.all_meters],
            **entry.options,
        }
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, current),
        )
