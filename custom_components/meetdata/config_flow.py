"""Config flow for Meetdata: a provider menu, then that provider's credentials."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from homeassistant.config_entries import (
    SOURCE_RECONFIGURE,
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
from .providers.base import FormError, ProviderSpec
from .providers.kenter.spec import (
    CONF_ADD_ANOTHER,
    CONF_CONNECTIONS,
    CONF_EAN,
    CONF_PASSCODE,
    ON_FORM,
    KenterSpec,
    connection_placeholders,
    connections_of,
    kenter_eans,
)

BASE_ERROR = "base"


class AccountCheckError(Exception):
    """The input or account could not be verified; carries the form errors."""

    def __init__(
        self, errors: dict[str, str], placeholders: dict[str, str] | None = None
    ) -> None:
        """Store the field errors (translation keys) and their placeholders."""
        super().__init__(errors)
        self.errors = errors
        self.placeholders = placeholders or {}

    @classmethod
    def of(cls, error: FormError) -> AccountCheckError:
        """Wrap a provider's form error."""
        return cls({error.field: error.key}, dict(error.placeholders))


async def _async_verify(
    flow: ConfigFlow, spec: ProviderSpec, data: Mapping[str, Any]
) -> tuple[str, str]:
    """Check the input, ask the API for the meters; return (unique id, title)."""
    if errors := spec.check_input(data):
        raise AccountCheckError(errors, spec.input_placeholders(data))
    try:
        client = spec.build_client(async_get_clientsession(flow.hass), data)
        meters = await client.async_get_meters()
    except MeetdataError as err:
        LOGGER.debug("Verifying %s credentials failed: %s", spec.provider, err)
        if (form_error := spec.flow_error(err, data)) is not None:
            raise AccountCheckError.of(form_error) from None
        raise AccountCheckError({BASE_ERROR: error_key(err)}) from None
    if (form_error := spec.check_meters(meters, data)) is not None:
        raise AccountCheckError.of(form_error)
    if not meters and spec.requires_meters:
        raise AccountCheckError({BASE_ERROR: "no_meters"})
    try:
        return await spec.async_account(client, meters, data)
    except MeetdataError as err:
        LOGGER.debug("Identifying the %s account failed: %s", spec.provider, err)
        raise AccountCheckError({BASE_ERROR: error_key(err)}) from None


def _kenter() -> KenterSpec:
    return cast("KenterSpec", PROVIDERS[Provider.KENTER])


class MeetdataConfigFlow(ConfigFlow, domain=DOMAIN):
    """Set up one provider account."""

    VERSION = 1
    #: Kenter connections collected so far (and the base URL) in this flow.
    _kenter_data: dict[str, Any] | None = None

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

    async def async_step_fluvius(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the Fluvius API credentials of one environment."""
        return await self._async_step_credentials(
            PROVIDERS[Provider.FLUVIUS], user_input
        )

    async def async_step_kenter(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for Kenter connections, one form each, until the user is done."""
        spec = _kenter()
        collected = self._kenter_data or {}
        errors: dict[str, str] = {}
        placeholders = {"ean": ""}
        if user_input is not None:
            data = spec.add_connection(collected, user_input)
            try:
                unique_id, title = await self._async_verify_kenter(data, typed=True)
            except AccountCheckError as err:
                errors, placeholders = err.errors, placeholders | err.placeholders
            else:
                self._kenter_data = collected = data
                if not user_input[CONF_ADD_ANOTHER]:
                    return await self._async_finish_kenter(unique_id, title, data)
                user_input = None
        schema = spec.schema(
            advanced=self.show_advanced_options and not connections_of(collected)
        )
        return self.async_show_form(
            step_id="kenter",
            data_schema=self.add_suggested_values_to_schema(schema, user_input or {}),
            errors=errors,
            description_placeholders=placeholders
            | connection_placeholders(connections_of(collected)),
        )

    async def _async_verify_kenter(
        self, data: dict[str, Any], *, typed: bool
    ) -> tuple[str, str]:
        """Verify Kenter connections; ``typed``: the last one is on the form.

        A typed EAN-code that another entry holds is refused.
        """
        if not typed:
            return await _async_verify(self, _kenter(), data)
        entries = self._async_current_entries(include_ignore=False)
        if self.source == SOURCE_RECONFIGURE:
            entries = [e for e in entries if e.entry_id != self._reconfigure_entry_id]
        ean = connections_of(data)[-1][CONF_EAN]
        if ean in kenter_eans(entries):
            raise AccountCheckError({CONF_EAN: "ean_configured"}, {"ean": ean})
        return await _async_verify(self, _kenter(), data | {ON_FORM: True})

    async def _async_finish_kenter(
        self, unique_id: str, title: str, data: dict[str, Any]
    ) -> ConfigFlowResult:
        """Create the Kenter entry, or update the one being reconfigured."""
        await self.async_set_unique_id(unique_id)
        data = {CONF_PROVIDER: str(Provider.KENTER), **data}
        if self.source == SOURCE_RECONFIGURE:
            return self.async_update_reload_and_abort(
                self._get_reconfigure_entry(), unique_id=unique_id, data=data
            )
        self._abort_if_unique_id_configured()
        return self.async_create_entry(title=title, data=data)

    async def async_step_wattworx(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a Wattworx API key."""
        return await self._async_step_credentials(
            PROVIDERS[Provider.WATTWORX], user_input
        )

    async def async_step_dtl(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for a metering company's DTL API and the customers to expect."""
        return await self._async_step_credentials(PROVIDERS[Provider.DTL], user_input)

    async def _async_step_credentials(
        self, spec: ProviderSpec, user_input: dict[str, Any] | None
    ) -> ConfigFlowResult:
        """Show a provider's form; verify and create the entry."""
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = spec.normalize(user_input)
            try:
                unique_id, title = await _async_verify(self, spec, data)
            except AccountCheckError as err:
                errors, placeholders = err.errors, err.placeholders
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
            description_placeholders=placeholders or None,
        )

    async def async_step_reauth(
        self, entry_data: Mapping[str, Any]
    ) -> ConfigFlowResult:
        """Start reauthentication when the provider refuses the credentials."""
        if entry_data[CONF_PROVIDER] == Provider.KENTER:
            return await self.async_step_reauth_kenter()
        return await self.async_step_reauth_confirm()

    async def async_step_reauth_kenter(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask for the passcode of the Kenter connection that is refused.

        Kenter is asked first, so that the form names the refused EAN-code.
        """
        entry = self._get_reauth_entry()
        spec = _kenter()
        data = self._kenter_data or dict(entry.data)
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
            self._kenter_data = data  # Kenter accepted this one, refused another
        return self.async_show_form(
            step_id="reauth_kenter",
            data_schema=self.add_suggested_values_to_schema(
                spec.reauth_schema_for(data),
                {CONF_EAN: refused or ean or connections_of(data)[0][CONF_EAN]},
            ),
            errors={error.field: error.key} if error else {},
            description_placeholders={"ean": refused, "name": entry.title},
        )

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
                unique_id, _ = await _async_verify(
                    self, spec, {**entry.data, **updates}
                )
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
        if entry.data[CONF_PROVIDER] == Provider.KENTER:
            return await self.async_step_reconfigure_kenter()
        spec = get_spec(entry.data[CONF_PROVIDER])
        errors: dict[str, str] = {}
        placeholders: dict[str, str] = {}
        if user_input is not None:
            data = spec.normalize(user_input)
            if spec.base_url_advanced and not self.show_advanced_options:
                for key in spec.advanced_keys:
                    if key in entry.data:
                        data[key] = entry.data[key]
            try:
                unique_id, _ = await _async_verify(self, spec, data)
            except AccountCheckError as err:
                errors, placeholders = err.errors, err.placeholders
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
            description_placeholders=placeholders or None,
        )

    async def async_step_reconfigure_kenter(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Choose the Kenter connections to keep; add more on the next forms."""
        entry = self._get_reconfigure_entry()
        spec = _kenter()
        errors: dict[str, str] = {}
        placeholders = {"ean": ""}
        if user_input is not None:
            data = spec.kept_connections(
                entry.data, user_input, advanced=self.show_advanced_options
            )
            if user_input[CONF_ADD_ANOTHER]:
                self._kenter_data = data
                return await self.async_step_kenter()
            try:
                unique_id, title = await self._async_verify_kenter(data, typed=False)
            except AccountCheckError as err:
                errors, placeholders = err.errors, placeholders | err.placeholders
            else:
                return await self._async_finish_kenter(unique_id, title, data)
        current = connections_of(entry.data)
        return self.async_show_form(
            step_id="reconfigure_kenter",
            data_schema=self.add_suggested_values_to_schema(
                spec.reconfigure_schema(
                    entry.data, advanced=self.show_advanced_options
                ),
                user_input
                or {
                    CONF_CONNECTIONS: [conn[CONF_EAN] for conn in current],
                    CONF_BASE_URL: entry.data.get(CONF_BASE_URL, ""),
                },
            ),
            errors=errors,
            description_placeholders=placeholders | connection_placeholders(current),
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
