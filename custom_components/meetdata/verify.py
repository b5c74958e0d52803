"""Verify an account for the config flow: check the input, ask the API, name it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from homeassistant.config_entries import ConfigFlow
from homeassistant.helpers.aiohttp_client import async_get_clientsession

from .api.errors import MeetdataError
from .const import LOGGER
from .errors import error_key
from .providers.base import FormError, ProviderSpec

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


async def async_verify(
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
