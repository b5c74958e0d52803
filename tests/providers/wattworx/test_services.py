"""Wattworx services against the simulator: day requests, EANs and clients."""

# Fixtures imported from wattworx_fixtures are parameters here, not redefinitions.
# ruff: noqa: F811

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Any

from homeassistant.config_entries import SOURCE_REAUTH, ConfigEntryState
from homeassistant.const import CONF_API_KEY
from homeassistant.core import HomeAssistant
from homeassistant.exceptions import HomeAssistantError, ServiceValidationError
from homeassistant.helpers import device_registry as dr, issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.const import CONF_HISTORY_DAYS, CONF_PROVIDER, DOMAIN
from custom_components.meetdata.providers.wattworx.client.times import day_end
from custom_components.meetdata.providers.wattworx.spec import account_unique_id

from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import find_device
from ...simulators.wattworx import (
    DEMO_KEY,
    EAN_GAS,
    EAN_GAS_2,
    EAN_PENDING,
    EAN_POWER,
    PENDING,
    WattworxSimulator,
)
from .fixtures import (  # noqa: F401
    UNIQUE_ID,
    loaded_wattworx,
    wattworx_entry,
    wattworx_sim,
    wattworx_url,
)

NEW_EAN = "871234567890999999"


@pytest.fixture(autouse=True)
def no_history(hass: HomeAssistant, wattworx_entry: MockConfigEntry) -> None:
    """Import no history: these tests are about the services only."""
    hass.config_entries.async_update_entry(
        wattworx_entry, options={CONF_HISTORY_DAYS: 0}
    )


async def _call(
    hass: HomeAssistant, service: str, entry: MockConfigEntry, **data: Any
) -> dict[str, Any]:
    response = await hass.services.async_call(
        DOMAIN,
        f"wattworx_{service}",
        {"config_entry_id": entry.entry_id, **data},
        blocking=True,
        return_response=True,
    )
    assert response is not None
    return dict(response)


def _device(hass: HomeAssistant, key: str) -> dr.DeviceEntry | None:
    return find_device(hass, f"wattworx_{key}")


# ----------------------------------------------------------------------
# Day data request


async def test_request_day_values_queued_then_data(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """The first request is queued; asked again, the day's readings come back."""
    day = wattworx_sim.today - timedelta(days=1)
    first = await _call(
        hass, "request_day_values", loaded_wattworx, ean=EAN_POWER, date=str(day)
    )
    assert first == {
        "ean": EAN_POWER,
        "date": day.isoformat(),
        "queued": True,
        "status": f"Dayrequest for {day.isoformat()} queued",
        "days": [],
    }
    request = wattworx_sim.requests[-1]
    assert request.endpoint == "ean/requestdayvalues"
    assert request.params["date"] == day.strftime("%Y%m%d")

    second = await _call(
        hass, "request_day_values", loaded_wattworx, ean=EAN_POWER, date=str(day)
    )
    regs = wattworx_sim.registers(EAN_POWER, day_end(day))
    assert second["queued"] is False
    assert second["days"] == [
        {
            "date": day.isoformat(),
            "consumption_normal_kwh": pytest.approx(regs["cons"]),
            "consumption_low_kwh": pytest.approx(regs["cons_low"]),
            "production_normal_kwh": pytest.approx(regs["prod"]),
            "production_low_kwh": pytest.approx(regs["prod_low"]),
        }
    ]

    wattworx_sim.queue_day_requests = False
    gas = await _call(
        hass, "request_day_values", loaded_wattworx, ean=EAN_GAS, date=str(day)
    )
    expected_gas = wattworx_sim.registers(EAN_GAS, day_end(day))["gas"]
    assert gas["days"] == [
        {"date": day.isoformat(), "gas_m3": pytest.approx(expected_gas)}
    ]
    # Today has no data yet: Wattworx queues it.
    today = await _call(
        hass,
        "request_day_values",
        loaded_wattworx,
        ean=EAN_GAS,
        date=str(wattworx_sim.today),
    )
    assert today["queued"] is True


DAY_REQUEST_CASES = [
    ("12345", 1, "wattworx_invalid_ean", ["12345", "18 digits"]),
    ("87123456789012345X", 1, "wattworx_invalid_ean", ["87123456789012345X"]),
    (NEW_EAN, 1, "wattworx_unknown_ean", [NEW_EAN]),
    (EAN_GAS_2, 1, "wattworx_day_request_type", [EAN_GAS_2, "GVBG"]),
    (EAN_POWER, -1, "wattworx_date_in_future", ["future"]),
    (EAN_POWER, 31, "wattworx_date_too_old", ["30 days"]),
]


async def test_request_day_values_rejects_bad_input(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """Bad EANs and dates are refused with a clear message, before any request."""
    wattworx_sim.requests.clear()
    for ean, days_ago, key, words in DAY_REQUEST_CASES:
        day = wattworx_sim.today - timedelta(days=days_ago)
        with pytest.raises(ServiceValidationError) as err:
            await _call(
                hass, "request_day_values", loaded_wattworx, ean=ean, date=str(day)
            )
        assert err.value.translation_key == key
        for word in words:
            assert word in str(err.value), (word, str(err.value))
    assert not wattworx_sim.requests


async def test_request_day_values_api_errors(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """Refusals of the API are HomeAssistantErrors naming the cause."""
    day = str(wattworx_sim.today - timedelta(days=1))
    with pytest.raises(HomeAssistantError) as err:
        await _call(
            hass, "request_day_values", loaded_wattworx, ean=EAN_PENDING, date=day
        )
    assert not isinstance(err.value, ServiceValidationError)
    assert err.value.translation_key == "no_permission"
    assert EAN_PENDING in str(err.value)

    wattworx_sim.fail_next(503)
    with pytest.raises(HomeAssistantError) as err:
        await _call(
            hass, "request_day_values", loaded_wattworx, ean=EAN_POWER, date=day
        )
    assert err.value.translation_key == "cannot_connect"
    assert "503" in str(err.value)


# ----------------------------------------------------------------------
# Entries the services refuse


async def test_services_need_a_loaded_wattworx_entry(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """Unknown, non-Wattworx and unloaded entries are validation errors."""
    other = MockConfigEntry(
        domain=DOMAIN, title="CEMM X", data={CONF_PROVIDER: "cemm", CONF_API_KEY: "k"}
    )
    other.add_to_hass(hass)
    cases = [
        ("nope", "unknown_entry", "nope"),
        (other.entry_id, "wattworx_not_wattworx", "CEMM X"),
    ]
    for entry_id, key, word in cases:
        with pytest.raises(ServiceValidationError) as err:
            await hass.services.async_call(
                DOMAIN,
                "wattworx_list_clients",
                {"config_entry_id": entry_id},
                blocking=True,
                return_response=True,
            )
        assert err.value.translation_key == key
        assert word in str(err.value)

    await hass.config_entries.async_unload(loaded_wattworx.entry_id)
    with pytest.raises(ServiceValidationError) as err:
        await _call(hass, "list_clients", loaded_wattworx)
    assert err.value.translation_key == "entry_not_loaded"


async def test_refused_key_starts_reauth(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """A 401 during a service call is an error and asks for a new key."""
    del wattworx_sim.keys[DEMO_KEY]
    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "list_clients", loaded_wattworx)
    assert err.value.translation_key == "invalid_auth"
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


# ----------------------------------------------------------------------
# EANs


async def test_add_and_delete_ean(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """An added EAN becomes a device with a repair issue; deleting removes it."""
    added = await _call(
        hass,
        "add_ean",
        loaded_wattworx,
        client_id="1111",
        ean=NEW_EAN,
        eantype="kvbe",
    )
    assert added == {
        "id": str(wattworx_sim.devices[NEW_EAN].id),
        "ean": NEW_EAN,
        "authorisation_status": PENDING,
        "status": None,
    }
    request = wattworx_sim.requests[-1]
    assert request.params == {"client": "1111", "code": NEW_EAN, "eantype": "KVBE"}
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_wattworx.state is ConfigEntryState.LOADED
    device = _device(hass, NEW_EAN)
    assert device is not None
    assert device.via_device_id == _device(hass, "client_1111").id  # type: ignore[union-attr]
    issue_id = f"{loaded_wattworx.entry_id}_wattworx_not_signed_{NEW_EAN}"
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is not None

    with pytest.raises(HomeAssistantError) as err:
        await _call(
            hass,
            "add_ean",
            loaded_wattworx,
            client_id="1111",
            ean=NEW_EAN,
            eantype="KVBE",
        )
    assert err.value.translation_key == "invalid_request"
    assert "already registered" in str(err.value)

    deleted = await _call(
        hass, "delete_ean", loaded_wattworx, client_id="1111", ean=NEW_EAN
    )
    assert deleted["ean"] == NEW_EAN
    assert deleted["status"] == "Verwijderd"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert NEW_EAN not in wattworx_sim.devices
    assert _device(hass, NEW_EAN) is None
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None

    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "delete_ean", loaded_wattworx, client_id="1111", ean=NEW_EAN)
    assert err.value.translation_key == "unknown_meter"


ADMIN_CASES = [
    ("add_ean", {"client_id": "1111", "ean": "1", "eantype": "KVBE"}, "ean", "1"),
    ("add_ean", {"client_id": "x1", "ean": NEW_EAN, "eantype": "KVBE"}, "id", "x1"),
    (
        "add_ean",
        {"client_id": "1111", "ean": NEW_EAN, "eantype": "WARMTE"},
        "eantype",
        "WARMTE",
    ),
    ("delete_ean", {"client_id": "1111", "ean": "abc"}, "ean", "abc"),
    ("delete_ean", {"client_id": "../1", "ean": NEW_EAN}, "id", "../1"),
    ("delete_client", {"client_id": "one"}, "id", "one"),
    (
        "add_client",
        {"name": " ", "address": "Dorpsstraat 1", "zip": "1234AA", "city": "X"},
        "empty",
        "name",
    ),
]


async def test_admin_services_reject_bad_input(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """Malformed EANs, ids, types and empty fields never reach the API."""
    keys = {
        "ean": "wattworx_invalid_ean",
        "id": "wattworx_invalid_client_id",
        "eantype": "wattworx_invalid_eantype",
        "empty": "wattworx_empty_field",
    }
    wattworx_sim.requests.clear()
    for service, data, key, word in ADMIN_CASES:
        with pytest.raises(ServiceValidationError) as err:
            await _call(hass, service, loaded_wattworx, **data)
        assert err.value.translation_key == keys[key]
        assert word in str(err.value), (word, str(err.value))
    assert not wattworx_sim.requests


async def test_add_ean_to_unknown_client(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """A client the key does not reach is the API's refusal."""
    with pytest.raises(HomeAssistantError) as err:
        await _call(
            hass,
            "add_ean",
            loaded_wattworx,
            client_id="9999",
            ean=NEW_EAN,
            eantype="KVBG",
        )
    assert err.value.translation_key == "unknown_meter"
    assert "Client not found" in str(err.value)
    assert NEW_EAN not in wattworx_sim.devices


# ----------------------------------------------------------------------
# Clients


async def test_list_clients(
    hass: HomeAssistant, loaded_wattworx: MockConfigEntry
) -> None:
    """The client overview with authorisations and EANs."""
    response = await _call(hass, "list_clients", loaded_wattworx)
    clients = {client["id"]: client for client in response["clients"]}
    assert set(clients) == {"1111", "2222"}
    klant = clients["1111"]
    assert (klant["name"], klant["kvk"], klant["zip"], klant["city"]) == (
        "Klant 1",
        "1234567890",
        "9999AA",
        "GRONINGEN",
    )
    assert klant["authorisations"] == [
        {"number": "MA00222", "status": "Getekend", "eans": [EAN_POWER, EAN_GAS]}
    ]
    statuses = {auth["status"] for auth in clients["2222"]["authorisations"]}
    assert statuses == {"Getekend", PENDING}


async def test_list_clients_needs_a_response(
    hass: HomeAssistant, loaded_wattworx: MockConfigEntry
) -> None:
    """Listing without asking for the answer makes no sense."""
    with pytest.raises(ServiceValidationError):
        await hass.services.async_call(
            DOMAIN,
            "wattworx_list_clients",
            {"config_entry_id": loaded_wattworx.entry_id},
            blocking=True,
        )


async def test_add_and_delete_client(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
) -> None:
    """A new client changes the unique id; deleting a client removes its EANs."""
    added = await _call(
        hass,
        "add_client",
        loaded_wattworx,
        name="Klant & Zn / BV",
        address="Dorpsstraat 1",
        zip="1234AA",
        city="Amsterdam",
    )
    new_id = added["id"]
    assert added["name"] == "Klant & Zn / BV"
    assert wattworx_sim.clients[int(new_id)].name == "Klant & Zn / BV"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_wattworx.unique_id == account_unique_id(f"1111,2222,{new_id}")
    assert loaded_wattworx.state is ConfigEntryState.LOADED

    deleted = await _call(hass, "delete_client", loaded_wattworx, client_id=new_id)
    assert deleted["status"] == "Removed"
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_wattworx.unique_id == UNIQUE_ID

    await _call(hass, "delete_client", loaded_wattworx, client_id="2222")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_wattworx.unique_id == account_unique_id("1111")
    assert loaded_wattworx.state is ConfigEntryState.LOADED
    assert _device(hass, EAN_GAS_2) is None
    assert _device(hass, "client_2222") is None
    assert _device(hass, EAN_POWER) is not None

    with pytest.raises(HomeAssistantError) as err:
        await _call(hass, "delete_client", loaded_wattworx, client_id="2222")
    assert err.value.translation_key == "unknown_meter"


async def test_unique_id_kept_when_taken_or_unknown(
    hass: HomeAssistant,
    wattworx_sim: WattworxSimulator,
    loaded_wattworx: MockConfigEntry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The unique id stays when another entry has the new one or the list fails."""
    MockConfigEntry(
        domain=DOMAIN,
        unique_id=account_unique_id("1111"),
        data={CONF_PROVIDER: "wattworx"},
    ).add_to_hass(hass)
    caplog.set_level(logging.DEBUG)
    await _call(hass, "delete_client", loaded_wattworx, client_id="2222")
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_wattworx.unique_id == UNIQUE_ID

    wattworx_sim.fail_next(500, endpoint="client/list")
    await _call(
        hass,
        "add_client",
        loaded_wattworx,
        name="Nieuw",
        address="Weg 1",
        zip="1000AA",
        city="Urk",
    )
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_wattworx.unique_id == UNIQUE_ID
    assert "Keeping the unique id" in caplog.text
    assert DEMO_KEY not in caplog.text
