"""What each provider adds to the core: its form, its client, its account id."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Mapping
import dataclasses
from datetime import timedelta
from typing import Any

import aiohttp
from homeassistant.components.sensor import SensorEntity, SensorEntityDescription
from homeassistant.config_entries import ConfigFlowResult
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    TextSelector,
    TextSelectorConfig,
    TextSelectorType,
)
import voluptuous as vol

from ..api.base import MeterDataClient
from ..api.errors import MeetdataError
from ..api.models import Meter, Provider, Quantity
from ..const import CONF_BASE_URL
from ..runtime import MeetdataConfigEntry

#: The collapsed form section holding the fields for a test or local server.
SECTION_ADVANCED = "advanced"

PASSWORD_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.PASSWORD))
URL_SELECTOR = TextSelector(TextSelectorConfig(type=TextSelectorType.URL))

#: A config-flow step bound to the flow: ``await flow.async_step_<id>(user_input)``.
type FlowStep = Callable[..., Awaitable[ConfigFlowResult]]
#: A provider's own config-flow step: (flow, its spec, user input) → result.
type ProviderFlowStep = Callable[
    [Any, Any, dict[str, Any] | None], Awaitable[ConfigFlowResult]
]

#: A loaded config entry (its runtime data is runtime.MeetdataRuntimeData).
type MeetdataEntry = MeetdataConfigEntry


def advanced_section(fields: Mapping[vol.Marker, Any]) -> dict[vol.Marker, Any]:
    """Return a collapsed form section holding ``fields`` (all optional)."""
    return {
        vol.Required(SECTION_ADVANCED, default={}): section(
            vol.Schema(dict(fields)), {"collapsed": True}
        )
    }


def flatten_sections(user_input: Mapping[str, Any]) -> dict[str, Any]:
    """Return form input with the advanced section's fields at the top level."""
    data = {k: v for k, v in user_input.items() if k != SECTION_ADVANCED}
    data.update(user_input.get(SECTION_ADVANCED) or {})
    return data


@dataclasses.dataclass(frozen=True, slots=True)
class FormError:
    """A config-flow form error a provider found: key, field, placeholders."""

    key: str
    field: str = "base"
    placeholders: dict[str, str] = dataclasses.field(default_factory=dict)


class ProviderSpec(ABC):
    """The provider-specific part of config flow, setup and diagnostics."""

    provider: Provider
    #: The manufacturer shown on the provider's devices.
    manufacturer: str
    #: Entry data keys holding secrets: redacted in diagnostics, asked at reauth.
    secret_keys: tuple[str, ...] = ()
    #: Entry data keys holding non-secret identifiers that still deserve redaction.
    private_keys: tuple[str, ...] = ()
    default_base_url: str | None = None
    default_update_interval: timedelta = timedelta(minutes=5)
    default_history_days: int = 31
    #: How far back each history run re-reads, to pick up corrections.
    history_overlap: timedelta = timedelta(days=2)
    #: How much history one client call fetches during a backfill.
    history_window: timedelta = timedelta(days=31)
    #: The fields in the collapsed "advanced" section (kept when left empty on
    #: reconfigure); empty when the provider has none.
    advanced_keys: tuple[str, ...] = (CONF_BASE_URL,)
    #: How often the meter list is read again (None: only when the provider
    #: asks, or never: meters the user configured).
    discovery_interval: timedelta | None = timedelta(hours=1)
    #: Whether an account must have a meter to be added (no_meters otherwise).
    requires_meters: bool = True
    #: The capacity sensors of meters with a quarter-hour power statistic.
    capacity_sensors: tuple[Quantity, ...] = (Quantity.CAPACITY_PEAK,)
    #: The config-flow step that asks for the secrets again.
    reauth_step: str = "reauth_confirm"
    #: The config-flow step of a reconfigure (None: the core's, one form).
    reconfigure_step: str | None = None

    @abstractmethod
    def schema(self) -> vol.Schema:
        """Return the credential form (its advanced fields in a collapsed section)."""

    def reauth_schema(self) -> vol.Schema:
        """Return the form asking for the secrets again."""
        return vol.Schema(
            {vol.Required(key): PASSWORD_SELECTOR for key in self.secret_keys}
        )

    def normalize(self, user_input: Mapping[str, Any]) -> dict[str, Any]:
        """Return the form input flat and cleaned up.

        The advanced section's fields join the others; whitespace is stripped
        and empty advanced fields are dropped (the provider's defaults apply).
        """
        data = {
            key: value.strip() if isinstance(value, str) else value
            for key, value in flatten_sections(user_input).items()
        }
        for key in (CONF_BASE_URL, *self.advanced_keys):
            if not data.get(key):
                data.pop(key, None)
        return data

    def check_input(self, data: Mapping[str, Any]) -> dict[str, str]:
        """Return field errors found without asking the API (empty secrets)."""
        return {
            key: "empty" for key in self.secret_keys if key in data and not data[key]
        }

    def input_placeholders(self, data: Mapping[str, Any]) -> dict[str, str]:
        """Return the placeholders the field errors of ``check_input`` use."""
        return {}

    def flow_error(
        self, err: MeetdataError, data: Mapping[str, Any]
    ) -> FormError | None:
        """Return a provider-specific form error for an API error (None: default)."""
        return None

    def check_meters(
        self, meters: list[Meter], data: Mapping[str, Any]
    ) -> FormError | None:
        """Return a form error about the meters the API returned (None: fine)."""
        return None

    @abstractmethod
    def build_client(
        self, session: aiohttp.ClientSession, data: Mapping[str, Any]
    ) -> MeterDataClient:
        """Return a client for the account described by the entry data."""

    @abstractmethod
    def account(self, meters: list[Meter], data: Mapping[str, Any]) -> tuple[str, str]:
        """Return (unique id, title) of the account that owns these meters."""

    async def async_account(
        self, client: MeterDataClient, meters: list[Meter], data: Mapping[str, Any]
    ) -> tuple[str, str]:
        """Return (unique id, title), asking the API more if the provider must."""
        return self.account(meters, data)

    async def async_setup_entry(
        self, hass: HomeAssistant, entry: MeetdataEntry
    ) -> None:
        """Add provider-specific behaviour to a loaded entry (repair issues...)."""
        return

    async def async_meters_changed(
        self, hass: HomeAssistant, entry: MeetdataEntry
    ) -> None:
        """Follow meters that came or went (``entry.runtime_data.meters``)."""
        return

    def flow_steps(self) -> Mapping[str, ProviderFlowStep]:
        """Return the provider's own config-flow steps by step id.

        A step named after the provider replaces the core's credentials form.
        """
        return {}

    def async_setup_services(self, hass: HomeAssistant) -> None:
        """Register the provider's own services (once, with the integration)."""
        return

    def sensors(
        self,
        entry: MeetdataEntry,
        descriptions: Mapping[Quantity, SensorEntityDescription],
    ) -> list[SensorEntity]:
        """Return the provider's own sensors of a loaded entry."""
        return []


def client_of[C: MeterDataClient](entry: MeetdataEntry, kind: type[C]) -> C:
    """Return the client of a loaded entry as its provider's own client class."""
    client = entry.runtime_data.client
    if not isinstance(client, kind):  # pragma: no cover - a provider's own entry
        raise TypeError(f"{entry.title} has no {kind.__name__}")
    return client
