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
from homeassistant.helpers.selector import (
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
)
import voluptuous as vol

from .compat import OptionsFlowBase, async_reload_for_options
from .const import (
    CONF_HISTORY_DAYS,
    CONF_KNOWN_METERS,
    CONF_METERS,
    CONF_PROVIDER,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
    MAX_HISTORY_DAYS,
    MAX_UPDATE_INTERVAL_MINUTES,
    MIN_UPDATE_INTERVAL_MINUTES,
)
from .ids import kept_data
from .migrate import MINOR_VERSION, VERSION
from .price_form import check_prices, price_kinds, price_sections
from .providers import PROVIDERS, get_spec
from .providers.base import FlowStep, ProviderFlowStep, ProviderSpec
from .runtime import MeetdataConfigEntry
from .verify import AccountCheckError, async_verify


class MeetdataConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up one provider account."""

    VERSION = VERSION
    MINOR_VERSION = MINOR_VERSION
    #: What a provider's own steps collected so far in this flow (Kenter:
    #: the connections and the base URL).
    _provider_data: dict[str, Any] | None = None

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

    async def _async_step_credentials(
        self, spec: ProviderSpec, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Show a provider's form; verify and create the entry."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = spec.normalize(user_input)
            try:
                unique_id, title = await async_verify(self, spec, data)
            except AccountCheckError as err:
                errors, placeholders = err.errors, err.placeholders
            else:
                await self.async_set_unique_id(unique_id)
                self._abort_if_unique_id_configured()
                return self.async_create_entry(
                    title=title, data={CONF_PROVIDER: str(spec.provider), **data}
                )
        return self.async_show_form(
            step_id=str(spec.provider),
            data_schema=self.add_suggested_values_to_schema(
                spec.schema(), user_input or {}
            ),
            errors=errors,
            description_placeholders=placeholders or None,
        )

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Start reauthentication when the provider refuses the credentials."""
        spec = get_spec(entry_data[CONF_PROVIDER])
        step: FlowStep = getattr(self, f"async_step_{spec.reauth_step}")
        return await step()

    async def async_step_reauth_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the secrets again and verify them."""
        entry = self._get_reauth_entry()
        spec = get_spec(entry.data[CONF_PROVIDER])
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            updates = spec.normalize(user_input)
            try:
                unique_id, _ = await async_verify(self, spec, {**entry.data, **updates})
            except AccountCheckError as err:
                errors, placeholders = err.errors, err.placeholders
            else:
                await self.async_set_unique_id(unique_id)
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self.async_update_reload_and_abort(entry, data_updates=updates)
        return self.async_show_form(
            step_id="reauth_confirm",
            data_schema=spec.reauth_schema(),
            errors=errors,
            description_placeholders=placeholders | {"name": entry.title},
        )

    async def async_step_reconfigure(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Change the credentials or URL of an existing account."""
        entry = self._get_reconfigure_entry()
        spec = get_spec(entry.data[CONF_PROVIDER])
        if spec.reconfigure_step is not None:
            step: FlowStep = getattr(self, f"async_step_{spec.reconfigure_step}")
            return await step()
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = spec.normalize(user_input)
            for key in spec.advanced_keys:
                if key not in data and key in entry.data:
                    data[key] = entry.data[key]
            try:
                unique_id, _ = await async_verify(self, spec, data)
            except AccountCheckError as err:
                errors, placeholders = err.errors, err.placeholders
            else:
                await self.async_set_unique_id(unique_id)
                self._abort_if_unique_id_mismatch(reason="wrong_account")
                return self.async_update_reload_and_abort(
                    entry,
                    data={
                        CONF_PROVIDER: entry.data[CONF_PROVIDER],
                        **data,
                        **kept_data(entry),
                    },
                )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=self.add_suggested_values_to_schema(
                spec.schema(), user_input or dict(entry.data)
            ),
            errors=errors,
            description_placeholders=placeholders or None,
        )


class MeetdataOptionsFlow(OptionsFlowBase):
    """Update interval, history depth, which meters to include, and prices."""

    async def async_step_init(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Show and store the options."""
        entry: MeetdataConfigEntry = self.config_entry
        if entry.state is not ConfigEntryState.LOADED:
            return self.async_abort(reason="not_loaded")
        kinds = price_kinds(entry.runtime_data.client.history_quantities)
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            errors, placeholders = check_prices(self.hass, user_input)
        if user_input is not None and not errors:
            if CONF_METERS in user_input:
                # What the form offered: a meter among these left unselected
                # stays out; one that appears later joins the selection.
                known = {m.key for m in entry.runtime_data.all_meters}
                known |= set(entry.options.get(CONF_KNOWN_METERS, ()))
                user_input = user_input | {CONF_KNOWN_METERS: sorted(known)}
            async_reload_for_options(self.hass, entry, user_input)
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
                **price_sections(kinds, self.hass.config.currency),
            }
        )
        current = {
            CONF_UPDATE_INTERVAL: spec.default_update_interval.total_seconds() / 60,
            CONF_HISTORY_DAYS: spec.default_history_days,
            CONF_METERS: [meter.key for meter in entry.runtime_data.all_meters],
            **entry.options,
            **(user_input or {}),
        }
        return self.async_show_form(
            step_id="init",
            data_schema=self.add_suggested_values_to_schema(schema, current),
            errors=errors,
            description_placeholders=placeholders or None,
        )


def _credentials_step(spec: ProviderSpec) -> FlowStep:
    """Return the step of a provider without steps of its own: one form."""

    async def async_step(
        self: MeetdataConfigFlow, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        return await self._async_step_credentials(spec, user_input)

    return async_step


def _provider_step(spec: ProviderSpec, step: ProviderFlowStep) -> FlowStep:
    """Return a provider's own step as a method of the flow."""

    async def async_step(
        self: MeetdataConfigFlow, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        return await step(self, spec, user_input)

    return async_step


# Each provider's steps: ``async_step_<provider>`` (the menu's choice) asks for
# the credentials unless the provider brings that step (and others) itself.
for _spec in PROVIDERS.values():
    setattr(
        MeetdataConfigFlow, f"async_step_{_spec.provider}", _credentials_step(_spec)
    )
    for _step_id, _step in _spec.flow_steps().items():
        setattr(
            MeetdataConfigFlow, f"async_step_{_step_id}", _provider_step(_spec, _step)
        )
