"""Kenter Near-RealTime Data: one entry holds one or more connections.

A connection (aansluiting) is an EAN-code with its passcode and, optionally,
a meter code that narrows it to one meter. Entry data::

    {"provider": "kenter", "base_url": ...,
     "connections": [{"ean": ..., "passcode": ..., "meter_code": ...}, ...]}

When the config flow verifies a connection the user typed, it passes the
data with ``ON_FORM: True``: the LAST connection is the one on the form, and
field errors (check_input, flow_error) and the "probably mistyped" hint are
about it. Errors about any other connection (stored or added before) are form
errors that name its EAN-code. ``ON_FORM`` is never stored.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
import hashlib
from typing import Any

import aiohttp
from homeassistant.helpers.selector import (
    BooleanSelector,
    SelectOptionDict,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
    TextSelector,
)
import voluptuous as vol

from ...api.errors import MeetdataError
from ...api.models import Meter
from ...const import CONF_BASE_URL
from ...errors import error_key
from ..base import (
    PASSWORD_SELECTOR,
    URL_SELECTOR,
    FormError,
    ProviderFlowStep,
    ProviderSpec,
    advanced_section,
    flatten_sections,
)
from .client import (
    DEFAULT_BASE_URL,
    KenterAuthError,
    KenterClient,
    KenterConnection,
    KenterFaultError,
    is_valid_ean_format,
)
from .client.provider import PROVIDER
from .connections import (
    CONF_ADD_ANOTHER,
    CONF_CONNECTIONS,
    CONF_EAN,
    CONF_METER_CODE,
    CONF_PASSCODE,
    ON_FORM,
    Connection,
    connection_label,
    connections_of,
)
from .flow import KENTER_FLOW_STEPS

BASE = "base"

#: With more connections than this the unique id is a hash of the EAN-codes.
MAX_PLAIN_ID_CONNECTIONS = 3
#: Hex digits of the sha256 of the EAN-codes in a hashed unique id.
HASHED_ID_LENGTH = 32

# Fault codes (manual 2.5) that get a form error of their own.
_INVALID_EAN = frozenset({1000, 1009})
_WRONG_PASSCODE = 1001
_UNKNOWN_METER_CODE = 1006
_INSUFFICIENT_RIGHTS = 1007


class KenterSpec(ProviderSpec):
    """Kenter: EAN-code + passcode per connection, all asked in one request."""

    provider = PROVIDER
    manufacturer = "Kenter"
    reauth_step = "reauth_kenter"
    reconfigure_step = "reconfigure_kenter"
    secret_keys = (CONF_PASSCODE,)
    default_base_url = DEFAULT_BASE_URL
    #: Quarter-hour data: a poll every 5 minutes shows a new quarter soon after
    #: Kenter has it, at one small request per poll for all connections.
    default_update_interval = timedelta(minutes=5)
    # The user names the connections, but a connection that did not answer
    # at setup (no rights yet) brings its meters once it does: hourly, one
    # getMeterMetaData for all connections.
    #: A year: the Energy dashboard's year view and last year's comparison.
    #: It costs 12 requests of about 1 MB per electricity meter, once.
    default_history_days = 365
    history_overlap = timedelta(days=2)
    #: Manual 2.4: at most 31 days per getMeterData request; one per window.
    history_window = timedelta(days=31)

    # ------------------------------------------------------------------ forms

    def schema(self) -> vol.Schema:
        """Ask for the first connection (and, in the advanced section, the URL)."""
        return vol.Schema(
            {
                **self.connection_fields(),
                **advanced_section({vol.Optional(CONF_BASE_URL): URL_SELECTOR}),
            }
        )

    @staticmethod
    def connection_fields() -> dict[vol.Marker, Any]:
        """Return the fields of one connection (the form after the first)."""
        return {
            vol.Required(CONF_EAN): TextSelector(),
            vol.Required(CONF_PASSCODE): PASSWORD_SELECTOR,
            vol.Optional(CONF_METER_CODE): TextSelector(),
            vol.Required(CONF_ADD_ANOTHER, default=False): BooleanSelector(),
        }

    def reauth_schema_for(self, data: Mapping[str, Any]) -> vol.Schema:
        """Ask which connection's passcode changed, and the new passcode."""
        return vol.Schema(
            {
                vol.Required(CONF_EAN): _ean_selector(connections_of(data)),
                vol.Required(CONF_PASSCODE): PASSWORD_SELECTOR,
            }
        )

    def reconfigure_schema(self, data: Mapping[str, Any]) -> vol.Schema:
        """Ask which connections to keep, whether to add one, and the URL."""
        return vol.Schema(
            {
                vol.Optional(CONF_CONNECTIONS): _ean_selector(
                    connections_of(data), multiple=True
                ),
                vol.Required(CONF_ADD_ANOTHER, default=False): BooleanSelector(),
                **advanced_section({vol.Optional(CONF_BASE_URL): URL_SELECTOR}),
            }
        )

    # ------------------------------------------------------------------ input

    def add_connection(
        self, data: Mapping[str, Any], user_input: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Return flow data with the form's connection appended (cleaned up).

        Whitespace inside an EAN-code is dropped (it is often written in
        groups); a base URL given on the form replaces the stored one.
        """
        user_input = flatten_sections(user_input)
        conn: Connection = {
            CONF_EAN: "".join(str(user_input.get(CONF_EAN, "")).split()),
            CONF_PASSCODE: str(user_input.get(CONF_PASSCODE, "")).strip(),
        }
        if code := str(user_input.get(CONF_METER_CODE) or "").strip():
            conn[CONF_METER_CODE] = code
        result = {k: v for k, v in data.items() if k != CONF_CONNECTIONS}
        if url := str(user_input.get(CONF_BASE_URL) or "").strip():
            result[CONF_BASE_URL] = url
        result[CONF_CONNECTIONS] = [*connections_of(data), conn]
        return result

    @staticmethod
    def kept_connections(
        data: Mapping[str, Any], user_input: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Return entry data with only the connections chosen to keep.

        A base URL given on the form replaces the stored one; empty keeps it.
        """
        user_input = flatten_sections(user_input)
        keep = set(user_input.get(CONF_CONNECTIONS, []))
        result: dict[str, Any] = {
            CONF_CONNECTIONS: [c for c in connections_of(data) if c[CONF_EAN] in keep]
        }
        url = str(user_input.get(CONF_BASE_URL) or "").strip() or data.get(
            CONF_BASE_URL
        )
        if url:
            result[CONF_BASE_URL] = url
        return result

    @staticmethod
    def with_passcode(
        data: Mapping[str, Any], ean: str, passcode: str
    ) -> dict[str, Any]:
        """Return data with a new passcode for the connection of ``ean``."""
        return {
            **data,
            CONF_CONNECTIONS: [
                conn | {CONF_PASSCODE: passcode} if conn[CONF_EAN] == ean else conn
                for conn in connections_of(data)
            ],
        }

    async def async_check_passcodes(
        self, session: aiohttp.ClientSession, data: Mapping[str, Any], ean: str | None
    ) -> FormError | None:
        """Ask Kenter about every connection; return what it refuses (reauth).

        ``ean`` is the connection whose passcode the form just changed (None
        when nothing was entered yet). The EAN-codes were accepted before, so
        a refusal names its EAN-code without a typo hint.
        """
        passcodes = {c[CONF_EAN]: c[CONF_PASSCODE] for c in connections_of(data)}
        if ean is not None and not passcodes.get(ean):
            return FormError("empty", CONF_PASSCODE, {"ean": ean})
        try:
            await self.build_client(session, data).async_get_meters()
        except KenterAuthError as err:
            refused = err.meter or ""
            field = CONF_PASSCODE if refused == ean else BASE
            return FormError("invalid_auth_ean", field, {"ean": refused})
        except MeetdataError as err:
            return FormError(error_key(err), BASE, {"ean": ""})
        return None

    def check_input(self, data: Mapping[str, Any]) -> dict[str, str]:
        """Check the connection on the form before any request."""
        connections = connections_of(data)
        if not connections:
            return {BASE: "no_connections"}
        if not data.get(ON_FORM):
            return {}
        *earlier, current = connections
        errors: dict[str, str] = {}
        if not is_valid_ean_format(current[CONF_EAN]):
            errors[CONF_EAN] = "invalid_ean_format"
        elif current[CONF_EAN] in {conn[CONF_EAN] for conn in earlier}:
            errors[CONF_EAN] = "duplicate_ean"
        if not current[CONF_PASSCODE]:
            errors[CONF_PASSCODE] = "empty"
        return errors

    def input_placeholders(self, data: Mapping[str, Any]) -> dict[str, str]:
        """Name the EAN-code on the form."""
        connections = connections_of(data)
        return {"ean": connections[-1][CONF_EAN] if connections else ""}

    def flow_error(
        self, err: MeetdataError, data: Mapping[str, Any]
    ) -> FormError | None:
        """Map Kenter's faults onto the field (or form) they are about."""
        if not isinstance(err, KenterFaultError):
            return None
        connections = connections_of(data)
        current = connections[-1][CONF_EAN] if data.get(ON_FORM) else None
        ean = err.meter or current or ""
        on_form = ean == current
        placeholders = {"ean": ean}
        if err.code in _INVALID_EAN:
            typo = on_form and err.probably_mistyped
            key = "unknown_ean_typo" if typo else "unknown_ean"
            return FormError(key, CONF_EAN if on_form else BASE, placeholders)
        if err.code == _WRONG_PASSCODE:
            if on_form and err.probably_mistyped:
                return FormError("invalid_auth_typo", CONF_EAN, placeholders)
            return FormError(
                "invalid_auth_ean", CONF_PASSCODE if on_form else BASE, placeholders
            )
        if err.code == _UNKNOWN_METER_CODE:
            return FormError(
                "unknown_meter_code", CONF_METER_CODE if on_form else BASE, placeholders
            )
        if err.code == _INSUFFICIENT_RIGHTS:
            return FormError("insufficient_rights", BASE, placeholders)
        return None

    # ----------------------------------------------------------------- client

    def build_client(
        self, session: aiohttp.ClientSession, data: Mapping[str, Any]
    ) -> KenterClient:
        """Return a client asking about every connection of the entry."""
        return KenterClient(
            session,
            [
                KenterConnection(
                    conn[CONF_EAN], conn[CONF_PASSCODE], conn.get(CONF_METER_CODE)
                )
                for conn in connections_of(data)
            ],
            base_url=data.get(CONF_BASE_URL) or DEFAULT_BASE_URL,
        )

    def account(self, meters: list[Meter], data: Mapping[str, Any]) -> tuple[str, str]:
        """Identify the entry by its sorted EAN-codes; name it after the connections."""
        eans = sorted({conn[CONF_EAN] for conn in connections_of(data)})
        if len(eans) > MAX_PLAIN_ID_CONNECTIONS:
            digest = hashlib.sha256("_".join(eans).encode()).hexdigest()
            unique_id = f"kenter_{digest[:HASHED_ID_LENGTH]}"
        else:
            unique_id = "kenter_" + "_".join(eans)
        names = dict.fromkeys(
            meter.attributes.get("name") or meter.attributes.get("ean", meter.key)
            for meter in meters
        )
        return unique_id, "Kenter " + ", ".join(names or eans)

    def flow_steps(self) -> Mapping[str, ProviderFlowStep]:
        """Return the steps that ask for connections one at a time."""
        return KENTER_FLOW_STEPS


def _ean_selector(
    connections: Sequence[Mapping[str, str]], *, multiple: bool = False
) -> SelectSelector:
    """Return a selector of the connections, by EAN-code."""
    return SelectSelector(
        SelectSelectorConfig(
            options=[
                SelectOptionDict(value=conn[CONF_EAN], label=connection_label(conn))
                for conn in connections
            ],
            multiple=multiple,
            mode=SelectSelectorMode.LIST,
        )
    )
