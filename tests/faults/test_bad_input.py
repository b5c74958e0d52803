"""Bad input from users, as a table: every case a specific, translated field error.

Each provider's form gets wrong EAN-codes (length, letters, check digit),
empty or whitespace-only secrets, unusable URLs and unknown accounts. The
flow must answer with the error key of the table on the named field, the key
must be translated (en and nl) and nothing may be stored.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from homeassistant.components.recorder import Recorder
from homeassistant.config_entries import SOURCE_USER
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest

from custom_components.meetdata.const import DOMAIN

from ..conftest import Serve
from ..helpers import flow_input
from ..simulators import cemm, dtl, fluvius, kenter, wattworx
from .rows import ROW_BY_NAME

TRANSLATIONS = Path(__file__).parents[2] / "custom_components" / "meetdata"


def _flip_check_digit(ean: str) -> str:
    return ean[:-1] + str((int(ean[-1]) + 1) % 10)


#: (provider, case, changes to the valid input, expected errors)
CASES: list[tuple[str, str, dict[str, Any], dict[str, str]]] = [
    ("cemm", "empty key", {"api_key": ""}, {"api_key": "empty"}),
    ("cemm", "whitespace key", {"api_key": "   "}, {"api_key": "empty"}),
    ("cemm", "wrong key", {"api_key": "not-the-key"}, {"base": "invalid_auth"}),
    ("wattworx", "empty key", {"api_key": ""}, {"api_key": "empty"}),
    ("wattworx", "whitespace key", {"api_key": " \t "}, {"api_key": "empty"}),
    (
        "wattworx",
        "key with a space",
        {"api_key": "two words"},
        {"api_key": "wattworx_invalid_key_format"},
    ),
    ("wattworx", "wrong key", {"api_key": "not-the-key"}, {"base": "invalid_auth"}),
    (
        "kenter",
        "EAN too short",
        {"ean": "87168712000009636"},
        {"ean": "invalid_ean_format"},
    ),
    (
        "kenter",
        "EAN too long",
        {"ean": "8716871200000963661"},
        {"ean": "invalid_ean_format"},
    ),
    (
        "kenter",
        "EAN with letters",
        {"ean": "8716871200000963AB"},
        {"ean": "invalid_ean_format"},
    ),
    ("kenter", "empty passcode", {"passcode": ""}, {"passcode": "empty"}),
    ("kenter", "whitespace passcode", {"passcode": "   "}, {"passcode": "empty"}),
    (
        "kenter",
        # Kenter's fault 1001 means "wrong passcode or unknown EAN": with a
        # wrong check digit the form names the EAN-code as probably mistyped.
        "bad check digit, unknown to Kenter",
        {"ean": _flip_check_digit("871687120000096366")},
        {"ean": "invalid_auth_typo"},
    ),
    ("dtl", "empty password", {"password": ""}, {"password": "empty"}),
    ("dtl", "whitespace password", {"password": "  "}, {"password": "empty"}),
    ("dtl", "colon in username", {"username": "de:mo"}, {"username": "username_colon"}),
    (
        "dtl",
        "URL scheme ftp",
        {"base_url": "ftp://127.0.0.1/api"},
        {"base_url": "https_required"},
    ),
    ("dtl", "not a URL", {"base_url": "meetbedrijf"}, {"base_url": "invalid_url"}),
    (
        "dtl",
        "plain http to a remote host",
        {"base_url": "http://meetbedrijf.example/api"},
        {"base_url": "https_required"},
    ),
    (
        "dtl",
        "credentials in the URL",
        {"base_url": "https://demo:secret@127.0.0.1/api"},
        {"base_url": "url_credentials"},
    ),
    (
        "dtl",
        "wrong path",
        {"base_url": "{url}/wrong/path"},
        {"base_url": "url_not_found"},
    ),
    (
        "dtl",
        "EAN too short",
        {"customer_eans": "87168714000012345"},
        {"customer_eans": "invalid_ean"},
    ),
    (
        "dtl",
        "EAN with letters",
        {"customer_eans": "87168714000012345X"},
        {"customer_eans": "invalid_ean"},
    ),
    (
        "dtl",
        "bad check digit, unknown to the API",
        {"customer_eans": _flip_check_digit(dtl.CUSTOMER_EAN)},
        # The form names the missing EAN-codes (placeholders) above the fields.
        {"base": "customers_missing_typo"},
    ),
    (
        "dtl",
        "unknown customer",
        {"customer_eans": dtl.UNKNOWN_CUSTOMER_EAN},
        {"base": "customers_missing"},
    ),
    ("fluvius", "empty secret", {"client_secret": ""}, {"client_secret": "empty"}),
    (
        "fluvius",
        "whitespace key",
        {"subscription_key": "  "},
        {"subscription_key": "empty"},
    ),
    (
        "fluvius",
        "tenant with a space",
        {"tenant_id": "my tenant"},
        {"tenant_id": "fluvius_tenant_format"},
    ),
    (
        "fluvius",
        "URL scheme ftp",
        {"base_url": "ftp://127.0.0.1/x"},
        {"base_url": "fluvius_invalid_url"},
    ),
    (
        "fluvius",
        "credentials in the token URL",
        {"token_url": "https://me:pw@127.0.0.1/t"},
        {"token_url": "fluvius_invalid_url"},
    ),
    (
        "fluvius",
        "wrong secret",
        {"client_secret": "not-the-secret"},
        {"client_secret": "fluvius_invalid_secret"},
    ),
]


@pytest.fixture(autouse=True)
async def auto_recorder(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """Run with a real recorder and the custom integration."""


def _translated_errors() -> dict[str, set[str]]:
    return {
        name: set(
            json.loads((TRANSLATIONS / path).read_text(encoding="utf-8"))["config"][
                "error"
            ]
        )
        for name, path in (
            ("en", "translations/en.json"),
            ("nl", "translations/nl.json"),
        )
    }


def _valid_input(provider: str, origin: str, sim: Any) -> dict[str, Any]:
    data = ROW_BY_NAME[provider].entry_data(origin, sim)
    if provider == "kenter":
        conn = data.pop("connections")[0]
        return {**conn, "add_another": False, **data}
    return data


@pytest.mark.parametrize("provider", ["cemm", "wattworx", "kenter", "dtl", "fluvius"])
async def test_bad_input_table(
    hass: HomeAssistant, serve: Serve, provider: str
) -> None:
    """Every case of the provider gives its error; nothing is stored."""
    row = ROW_BY_NAME[provider]
    sim = row.make_sim()
    origin = await serve(row.app(sim))
    translated = _translated_errors()
    failures: list[str] = []
    for name, case, changes, expected in CASES:
        if name != provider:
            continue
        user_input = _valid_input(provider, origin, sim) | {
            key: value.replace("{url}", origin) if isinstance(value, str) else value
            for key, value in changes.items()
        }
        result = await hass.config_entries.flow.async_init(
            DOMAIN, context={"source": SOURCE_USER}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], {"next_step_id": provider}
        )
        result = await hass.config_entries.flow.async_configure(
            result["flow_id"], flow_input(user_input, sectioned=provider != "dtl")
        )
        if result["type"] is not FlowResultType.FORM:
            failures.append(f"{case}: {result['type']}")
            continue
        if result["errors"] != expected:
            failures.append(f"{case}: {result['errors']} instead of {expected}")
        for key in result["errors"].values():
            for language, keys in translated.items():
                if key not in keys:
                    failures.append(f"{case}: {key} not translated ({language})")
        hass.config_entries.flow.async_abort(result["flow_id"])
    assert not hass.config_entries.async_entries(DOMAIN), "nothing is stored"
    assert not failures, "\n".join(failures)


def test_every_provider_has_cases() -> None:
    """The table covers each provider (keeps the table honest when one is added)."""
    assert {case[0] for case in CASES} == {
        "cemm",
        "wattworx",
        "kenter",
        "dtl",
        "fluvius",
    }
    assert {cemm.DEMO_API_KEY, wattworx.DEMO_KEY, fluvius.DEMO_CLIENT_SECRET}
    assert kenter.demo_connections()
