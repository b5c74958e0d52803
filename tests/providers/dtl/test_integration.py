"""Metering company (Liander "Dynamisch Terugleveren") end to end.

Config flow, devices, sensors, availability, reauthentication, statistics
(including the 23- and 25-hour days) and diagnostics against the DTL simulator.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
import socket
from typing import Any
from zoneinfo import ZoneInfo

from homeassistant.components.recorder import get_instance
from homeassistant.components.recorder.models import StatisticMeanType
from homeassistant.components.recorder.statistics import get_metadata
from homeassistant.config_entries import SOURCE_REAUTH, SOURCE_USER, ConfigEntryState
from homeassistant.const import CONF_PASSWORD, CONF_USERNAME, STATE_UNAVAILABLE
from homeassistant.core import HomeAssistant, State
from homeassistant.data_entry_flow import FlowResultType
from homeassistant.helpers import device_registry as dr
from homeassistant.util import dt as dt_util
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.api.models import Quantity
from custom_components.meetdata.const import (
    CONF_BASE_URL,
    CONF_HISTORY_DAYS,
    CONF_PROVIDER,
    DOMAIN,
)
from custom_components.meetdata.providers import PROVIDERS
from custom_components.meetdata.providers.dtl.spec import CONF_CUSTOMER_EANS
from custom_components.meetdata.statistics_rows import HOUR, statistic_id
from custom_components.meetdata.units import REACTIVE_POWER

from ...conftest import Serve
from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import meter_by_key, sensor_state, stat_rows
from ...simulators.dtl import (
    CUSTOMER_EAN,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    PRODUCTION_METER_EAN,
    SECOND_CUSTOMER_EAN,
    SECOND_TRANSFER_METER_EAN,
    TRANSFER_METER_EAN,
    UNKNOWN_CUSTOMER_EAN,
    DtlSimulator,
)

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
FIVE = timedelta(minutes=5)
METERS = (PRODUCTION_METER_EAN, TRANSFER_METER_EAN)
TYPE_QUANTITIES = {
    "actief_vermogen": Quantity.POWER,
    "blind_vermogen": Quantity.REACTIVE_POWER,
    "spanning_l1": Quantity.VOLTAGE_L1,
    "spanning_l2": Quantity.VOLTAGE_L2,
    "spanning_l3": Quantity.VOLTAGE_L3,
}
#: (positive part, negative part) of the derived energy per meter.
ENERGY_QUANTITIES = {
    PRODUCTION_METER_EAN: (Quantity.AUXILIARY, Quantity.PRODUCTION),
    TRANSFER_METER_EAN: (Quantity.ENERGY_IMPORT, Quantity.ENERGY_EXPORT),
}
#: A customer EAN with a wrong GS1 check digit.
TYPO_EAN = CUSTOMER_EAN[:-1] + str((int(CUSTOMER_EAN[-1]) + 1) % 10)


@pytest.fixture
def dtl_sim() -> DtlSimulator:
    """Return the demo metering company stopped at this minute.

    It keeps 800 days instead of a month, so that the DST days of 2025 can
    be imported explicitly.
    """
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return DtlSimulator(now=now, retention=timedelta(days=800))


@pytest.fixture
async def dtl_url(serve: Serve, dtl_sim: DtlSimulator) -> str:
    """Serve the DTL simulator; return its base URL."""
    return await serve(dtl_sim.build_app())


def _data(url: str, **changes: str) -> dict[str, str]:
    """Return the form input of the demo account, with changes."""
    return {
        CONF_BASE_URL: url,
        CONF_USERNAME: DEMO_USERNAME,
        CONF_PASSWORD: DEMO_PASSWORD,
        CONF_CUSTOMER_EANS: CUSTOMER_EAN,
    } | changes


@pytest.fixture
def dtl_entry(hass: HomeAssistant, dtl_url: str) -> MockConfigEntry:
    """Return a DTL entry of the demo customer that imports one day."""
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"DTL 127.0.0.1 ({CUSTOMER_EAN})",
        unique_id=f"dtl_127.0.0.1_{CUSTOMER_EAN}",
        data={CONF_PROVIDER: "dtl", **_data(dtl_url)},
        options={CONF_HISTORY_DAYS: 1},
    )
    entry.add_to_hass(hass)
    return entry


@pytest.fixture
async def loaded_dtl(
    hass: HomeAssistant, dtl_entry: MockConfigEntry
) -> MockConfigEntry:
    """Set the DTL entry up and wait for its first history import."""
    assert await hass.config_entries.async_setup(dtl_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return dtl_entry


async def _dtl_form(hass: HomeAssistant) -> str:
    """Open the DTL form from the menu (no advanced mode needed)."""
    result = await hass.config_entries.flow.async_init(
        DOMAIN, context={"source": SOURCE_USER}
    )
    assert result["type"] is FlowResultType.MENU
    assert "dtl" in result["menu_options"]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], {"next_step_id": "dtl"}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["step_id"] == "dtl"
    assert [str(key) for key in result["data_schema"].schema] == [
        CONF_BASE_URL,
        CONF_USERNAME,
        CONF_PASSWORD,
        CONF_CUSTOMER_EANS,
    ]
    return result["flow_id"]


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def _state(hass: HomeAssistant, meter: str, quantity: Quantity) -> State:
    """Return the state of the sensor of ``quantity`` on DTL meter ``meter``."""
    return sensor_state(hass, f"dtl_{meter}_{quantity}", meter, quantity)


async def _rows(
    hass: HomeAssistant, stat_id: str, start: datetime, end: datetime | None = None
) -> list[dict[str, Any]]:
    return await stat_rows(hass, stat_id, start, end)


# --- config flow ----------------------------------------------------------------


async def test_user_creates_entry(
    hass: HomeAssistant,
    dtl_sim: DtlSimulator,
    dtl_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """URL, login and customer EANs create an entry keyed by host and EANs.

    The entry loads: its meters' sensors show the simulator's newest values.
    """
    # A new entry imports a month; one day keeps this test fast.
    monkeypatch.setattr(PROVIDERS["dtl"], "default_history_days", 1)
    flow_id = await _dtl_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id,
        _data(
            f" {dtl_url} ",
            username=f" {DEMO_USERNAME} ",
            customer_eans=f"{SECOND_CUSTOMER_EAN},\n{CUSTOMER_EAN} {CUSTOMER_EAN};",
        ),
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    assert result["title"] == f"DTL 127.0.0.1 ({CUSTOMER_EAN}, {SECOND_CUSTOMER_EAN})"
    assert result["data"] == {
        CONF_PROVIDER: "dtl",
        CONF_BASE_URL: dtl_url,
        CONF_USERNAME: DEMO_USERNAME,
        CONF_PASSWORD: DEMO_PASSWORD,
        CONF_CUSTOMER_EANS: f"{SECOND_CUSTOMER_EAN}, {CUSTOMER_EAN}",
    }
    unique_id = result["result"].unique_id
    assert unique_id == f"dtl_127.0.0.1_{CUSTOMER_EAN}_{SECOND_CUSTOMER_EAN}"
    assert DEMO_PASSWORD not in unique_id

    # Wait for the first import too, so that no recorder job is still
    # running when the test ends.
    await hass.async_block_till_done(wait_background_tasks=True)
    assert result["result"].state is ConfigEntryState.LOADED
    for meter in (*METERS, SECOND_TRANSFER_METER_EAN):
        newest = dtl_sim.latest_start(meter)
        assert newest is not None
        state = _state(hass, meter, Quantity.POWER)
        assert float(state.state) == dtl_sim.value(meter, "actief_vermogen", newest)


@pytest.mark.parametrize(
    ("changes", "errors", "placeholders"),
    [
        ({CONF_BASE_URL: " "}, {CONF_BASE_URL: "empty"}, None),
        (
            {CONF_BASE_URL: "http://meetbedrijf.example"},
            {CONF_BASE_URL: "https_required"},
            None,
        ),
        (
            {CONF_BASE_URL: "ftp://meetbedrijf.example"},
            {CONF_BASE_URL: "https_required"},
            None,
        ),
        (
            {CONF_BASE_URL: "https://demo:geheim@meetbedrijf.example"},
            {CONF_BASE_URL: "url_credentials"},
            None,
        ),
        (
            {CONF_BASE_URL: "https://meetbedrijf.example/?x=1"},
            {CONF_BASE_URL: "invalid_url"},
            None,
        ),
        ({CONF_BASE_URL: "meetbedrijf.example"}, {CONF_BASE_URL: "invalid_url"}, None),
        ({CONF_BASE_URL: "http://[::1"}, {CONF_BASE_URL: "invalid_url"}, None),
        ({CONF_USERNAME: ""}, {CONF_USERNAME: "empty"}, None),
        ({CONF_USERNAME: "de:mo"}, {CONF_USERNAME: "username_colon"}, None),
        ({CONF_PASSWORD: ""}, {CONF_PASSWORD: "empty"}, None),
        ({CONF_CUSTOMER_EANS: " , "}, {CONF_CUSTOMER_EANS: "empty"}, None),
        (
            {CONF_CUSTOMER_EANS: f"{CUSTOMER_EAN}, 87168714000012345, EAN"},
            {CONF_CUSTOMER_EANS: "invalid_ean"},
            {"invalid_eans": "87168714000012345, EAN"},
        ),
    ],
)
async def test_field_errors_without_request(
    hass: HomeAssistant,
    dtl_sim: DtlSimulator,
    dtl_url: str,
    changes: dict[str, str],
    errors: dict[str, str],
    placeholders: dict[str, str] | None,
) -> None:
    """Input the form can judge itself is a field error; nothing is sent."""
    flow_id = await _dtl_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _data(dtl_url, **changes)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    if placeholders is not None:
        assert result["description_placeholders"] == placeholders
    assert dtl_sim.requests == []


@pytest.mark.parametrize(
    ("knob", "errors"),
    [
        ("wrong_password", {"base": "invalid_auth"}),
        ("bad_gateway", {"base": "cannot_connect"}),
        ("malformed", {"base": "invalid_response"}),
        ("forbidden", {"base": "no_permission"}),
        ("rate_limited", {"base": "rate_limited"}),
        ("bad_request", {"base": "invalid_request"}),
        ("wrong_path", {CONF_BASE_URL: "url_not_found"}),
    ],
)
async def test_api_errors_then_recover(
    hass: HomeAssistant,
    dtl_sim: DtlSimulator,
    dtl_url: str,
    knob: str,
    errors: dict[str, str],
) -> None:
    """Failures of call 1 are translated form errors; fixing them creates the entry."""
    data = _data(dtl_url)
    if knob == "wrong_password":
        data[CONF_PASSWORD] = "verkeerd-wachtwoord"
    elif knob == "bad_gateway":
        dtl_sim.force(502)
    elif knob == "malformed":
        dtl_sim.force(200, body="{niet: json")
    elif knob == "forbidden":
        dtl_sim.force(403)
    elif knob == "rate_limited":
        dtl_sim.force(429, headers={"Retry-After": "60"})
    elif knob == "bad_request":
        dtl_sim.force(400)
    else:
        data[CONF_BASE_URL] = f"{dtl_url}/verkeerd"
    flow_id = await _dtl_form(hass)
    result = await hass.config_entries.flow.async_configure(flow_id, data)
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == errors
    assert dtl_sim.requests[-1].path.endswith("/meters")

    result = await hass.config_entries.flow.async_configure(flow_id, _data(dtl_url))
    assert result["type"] is FlowResultType.CREATE_ENTRY


async def test_cannot_connect(hass: HomeAssistant, socket_enabled: None) -> None:
    """A server that refuses the connection says so."""
    flow_id = await _dtl_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _data(_closed_port_url())
    )
    assert result["errors"] == {"base": "cannot_connect"}


@pytest.mark.parametrize(
    ("eans", "hidden", "key", "placeholders"),
    [
        (
            f"{CUSTOMER_EAN} {UNKNOWN_CUSTOMER_EAN}",
            False,
            "customers_missing",
            {"missing_eans": UNKNOWN_CUSTOMER_EAN},
        ),
        (
            f"{TYPO_EAN}, {UNKNOWN_CUSTOMER_EAN}, {SECOND_CUSTOMER_EAN}",
            False,
            "customers_missing_typo",
            {
                "missing_eans": f"{TYPO_EAN}, {UNKNOWN_CUSTOMER_EAN}",
                "typo_eans": TYPO_EAN,
            },
        ),
        (CUSTOMER_EAN, True, "customers_missing", {"missing_eans": CUSTOMER_EAN}),
    ],
)
async def test_missing_customers_are_named(
    hass: HomeAssistant,
    dtl_sim: DtlSimulator,
    dtl_url: str,
    eans: str,
    hidden: bool,
    key: str,
    placeholders: dict[str, str],
) -> None:
    """Customers call 1 did not return are named; a bad check digit as a typo."""
    if hidden:
        dtl_sim.hidden_customers.add(CUSTOMER_EAN)
    flow_id = await _dtl_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _data(dtl_url, customer_eans=eans)
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": key}
    assert result["description_placeholders"] == placeholders
    # The code with the wrong check digit was sent: the API decides.
    if TYPO_EAN in eans:
        assert ("klant_ean", TYPO_EAN) in dtl_sim.requests[-1].query


async def test_already_configured(
    hass: HomeAssistant, dtl_entry: MockConfigEntry, dtl_url: str
) -> None:
    """The same customers at the same metering company cannot be added twice."""
    flow_id = await _dtl_form(hass)
    result = await hass.config_entries.flow.async_configure(
        flow_id, _data(f"{dtl_url}/", customer_eans=f"{CUSTOMER_EAN}\n")
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "already_configured"


async def test_reconfigure_moves_url_without_advanced_mode(
    hass: HomeAssistant,
    serve: Serve,
    dtl_sim: DtlSimulator,
    dtl_entry: MockConfigEntry,
    dtl_url: str,
) -> None:
    """The base URL is a normal field: a plain reconfigure can change it."""
    moved = await serve(dtl_sim.build_app())
    assert moved != dtl_url
    result = await dtl_entry.start_reconfigure_flow(hass)
    assert result["step_id"] == "reconfigure"
    assert CONF_BASE_URL in [str(key) for key in result["data_schema"].schema]
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _data(moved, password="fout")
    )
    assert result["errors"] == {"base": "invalid_auth"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _data(moved, customer_eans="123")
    )
    assert result["errors"] == {CONF_CUSTOMER_EANS: "invalid_ean"}
    assert result["description_placeholders"] == {"invalid_eans": "123"}
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _data(moved)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "reconfigure_successful"
    assert dtl_entry.data == {CONF_PROVIDER: "dtl", **_data(moved)}


async def test_reconfigure_other_customers(
    hass: HomeAssistant, dtl_entry: MockConfigEntry, dtl_url: str
) -> None:
    """Other customer EANs are another account."""
    result = await dtl_entry.start_reconfigure_flow(hass)
    result = await hass.config_entries.flow.async_configure(
        result["flow_id"], _data(dtl_url, customer_eans=SECOND_CUSTOMER_EAN)
    )
    assert result["type"] is FlowResultType.ABORT
    assert result["reason"] == "wrong_account"


# --- setup, devices, sensors --------------------------------------------------------


async def test_devices_and_sensors(
    hass: HomeAssistant,
    dtl_sim: DtlSimulator,
    loaded_dtl: MockConfigEntry,
    device_registry: dr.DeviceRegistry,
) -> None:
    """One device per meter, typed; sensors show the newest 5-minute values."""
    devices = dr.async_entries_for_config_entry(device_registry, loaded_dtl.entry_id)
    assert sorted((d.name, d.model, d.via_device_id) for d in devices) == [
        (
            f"Gross production meter {PRODUCTION_METER_EAN}",
            "Gross production meter",
            None,
        ),
        (f"Transfer-point meter {TRANSFER_METER_EAN}", "Transfer-point meter", None),
    ]
    assert {d.manufacturer for d in devices} == {"Liander (metering company)"}
    assert loaded_dtl.runtime_data.latest.update_interval == timedelta(minutes=5)

    for meter in METERS:
        newest = dtl_sim.latest_start(meter)
        assert newest is not None
        for meting_type, quantity in TYPE_QUANTITIES.items():
            state = _state(hass, meter, quantity)
            assert float(state.state) == dtl_sim.value(meter, meting_type, newest)
            assert state.attributes["state_class"] == "measurement"
        power = _state(hass, meter, Quantity.POWER)
        assert power.attributes["unit_of_measurement"] == "kW"
        assert power.attributes["device_class"] == "power"
        reactive = _state(hass, meter, Quantity.REACTIVE_POWER)
        assert reactive.attributes["unit_of_measurement"] == REACTIVE_POWER.unit
        assert reactive.attributes.get("device_class") == REACTIVE_POWER.device_class
        for quantity in (Quantity.VOLTAGE_L1, Quantity.VOLTAGE_L2, Quantity.VOLTAGE_L3):
            voltage = _state(hass, meter, quantity)
            assert voltage.attributes["unit_of_measurement"] == "V"
            assert voltage.attributes["device_class"] == "voltage"
        last = _state(hass, meter, Quantity.LAST_MEASUREMENT)
        assert dt_util.parse_datetime(last.state) == newest
        assert last.attributes["device_class"] == "timestamp"


async def test_sensors_update(
    hass: HomeAssistant, dtl_sim: DtlSimulator, loaded_dtl: MockConfigEntry
) -> None:
    """Five minutes later the sensors show the next interval."""
    dtl_sim.now = dtl_sim.now + FIVE
    await loaded_dtl.runtime_data.latest.async_refresh()
    await hass.async_block_till_done()
    newest = dtl_sim.latest_start(TRANSFER_METER_EAN)
    assert newest is not None
    state = _state(hass, TRANSFER_METER_EAN, Quantity.POWER)
    assert float(state.state) == dtl_sim.value(
        TRANSFER_METER_EAN, "actief_vermogen", newest
    )
    last = _state(hass, TRANSFER_METER_EAN, Quantity.LAST_MEASUREMENT)
    assert dt_util.parse_datetime(last.state) == newest


async def test_outage_and_back(
    hass: HomeAssistant, dtl_sim: DtlSimulator, loaded_dtl: MockConfigEntry
) -> None:
    """A 503 outage makes the sensors unavailable until it ends."""
    coordinator = loaded_dtl.runtime_data.latest
    dtl_sim.force(503, count=100)
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _state(hass, TRANSFER_METER_EAN, Quantity.POWER).state == STATE_UNAVAILABLE
    dtl_sim._forced.clear()
    await coordinator.async_refresh()
    await hass.async_block_till_done()
    assert _state(hass, TRANSFER_METER_EAN, Quantity.POWER).state != STATE_UNAVAILABLE


async def test_changed_password_starts_reauth(
    hass: HomeAssistant, dtl_sim: DtlSimulator, loaded_dtl: MockConfigEntry
) -> None:
    """A 401 mid-session asks the user for the new password."""
    dtl_sim.password = "ander-wachtwoord"
    await loaded_dtl.runtime_data.latest.async_refresh()
    await hass.async_block_till_done()
    flows = hass.config_entries.flow.async_progress_by_handler(DOMAIN)
    assert [flow["context"]["source"] for flow in flows] == [SOURCE_REAUTH]


@pytest.mark.parametrize(
    ("status", "state"),
    [(502, ConfigEntryState.SETUP_RETRY), (401, ConfigEntryState.SETUP_ERROR)],
)
async def test_setup_errors(
    hass: HomeAssistant,
    dtl_sim: DtlSimulator,
    dtl_entry: MockConfigEntry,
    status: int,
    state: ConfigEntryState,
) -> None:
    """Temporary failures retry; refused credentials need reauthentication."""
    dtl_sim.force(status, count=20)
    await hass.config_entries.async_setup(dtl_entry.entry_id)
    await hass.async_block_till_done()
    assert dtl_entry.state is state


# --- statistics ----------------------------------------------------------------------


def _per_hour(pairs: list[tuple[datetime, float]]) -> dict[float, list[float]]:
    """Group (UTC start, value) pairs by UTC hour."""
    hours: dict[float, list[float]] = defaultdict(list)
    for moment, value in pairs:
        ts = moment.timestamp()
        hours[ts - ts % HOUR].append(value)
    return dict(hours)


@pytest.mark.recorder_db
async def test_statistics_after_setup(
    hass: HomeAssistant, dtl_sim: DtlSimulator, loaded_dtl: MockConfigEntry
) -> None:
    """Stored hours equal the simulator's 5-minute values per UTC hour; sums chain."""
    since = dtl_sim.now - timedelta(days=2)
    for key in METERS:
        meter = meter_by_key(loaded_dtl, key)
        plus, minus = ENERGY_QUANTITIES[key]
        rows = await _rows(hass, statistic_id(meter, plus), since)
        assert len(rows) >= 24
        first = datetime.fromtimestamp(rows[0]["start"], UTC)
        power = _per_hour(dtl_sim.expected(key, "actief_vermogen", first, dtl_sim.now))
        assert sorted(power) == [row["start"] for row in rows]
        for quantity, sign in ((plus, 1), (minus, -1)):
            rows = await _rows(hass, statistic_id(meter, quantity), since)
            total = 0.0
            for row in rows:
                expected = sum(max(sign * kw, 0) for kw in power[row["start"]]) / 12
                assert row["state"] == pytest.approx(expected)
                total += row["state"]
                assert row["sum"] == pytest.approx(total)
        for meting_type, quantity in TYPE_QUANTITIES.items():
            values = _per_hour(dtl_sim.expected(key, meting_type, first, dtl_sim.now))
            rows = await _rows(hass, statistic_id(meter, quantity), since)
            assert [row["start"] for row in rows] == sorted(values)
            for row in rows:
                hour = values[row["start"]]
                assert row["mean"] == pytest.approx(sum(hour) / len(hour))
                assert row["min"] == pytest.approx(min(hour))
                assert row["max"] == pytest.approx(max(hour))

    metadata = await get_instance(hass).async_add_executor_job(
        lambda: get_metadata(
            hass,
            statistic_ids={
                statistic_id(
                    meter_by_key(loaded_dtl, TRANSFER_METER_EAN), Quantity.POWER
                )
            },
        )
    )
    ((_, power_meta),) = metadata.values()
    assert power_meta["mean_type"] is StatisticMeanType.ARITHMETIC
    assert power_meta["has_sum"] is False
    assert power_meta["unit_of_measurement"] == "kW"


def _hand_hours(rows: list[dict[str, Any]], meting_type: str) -> list[list[float]]:
    """Group one type's served rows into clock hours, in served order.

    A new hour starts when datum/hour change or the minute does not advance:
    the second run of the repeated October hour is its own hour.
    """
    hours: list[list[float]] = []
    previous: tuple[str, int, int] | None = None
    for row in rows:
        if row["meting_type"] != meting_type:
            continue
        hour, minute = (int(part) for part in row["tijd"].split(":"))
        if (
            previous is None
            or (row["datum"], hour) != previous[:2]
            or minute <= previous[2]
        ):
            hours.append([])
        hours[-1].append(float(row["waarde"]))
        previous = (row["datum"], hour, minute)
    return hours


@pytest.mark.recorder_db
@pytest.mark.parametrize(
    ("day", "hours"), [(date(2025, 3, 30), 23), (date(2025, 10, 26), 25)]
)
async def test_dst_day_equals_hand_computation(
    hass: HomeAssistant,
    dtl_sim: DtlSimulator,
    loaded_dtl: MockConfigEntry,
    day: date,
    hours: int,
) -> None:
    """A 23- or 25-hour day: hourly means and derived energy as computed by hand."""
    start = datetime.combine(day, datetime.min.time(), AMSTERDAM)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), AMSTERDAM)
    # A gap of two intervals (03:10 and 03:15 local time on the transfer meter).
    gap = datetime.combine(day, datetime.min.time().replace(hour=3, minute=10))
    dtl_sim.add_gap(
        gap.replace(tzinfo=AMSTERDAM),
        gap.replace(tzinfo=AMSTERDAM) + 2 * FIVE,
        meter_ean=TRANSFER_METER_EAN,
    )
    importer = loaded_dtl.runtime_data.history.importer
    for key in METERS:
        meter = meter_by_key(loaded_dtl, key)
        served = dtl_sim.rows(key, start, end)
        await importer.async_import_period(meter, start, end, timedelta(days=7))

        power = _hand_hours(served, "actief_vermogen")
        assert len(power) == hours
        plus, minus = ENERGY_QUANTITIES[key]
        for quantity, sign in ((plus, 1), (minus, -1)):
            rows = await _rows(hass, statistic_id(meter, quantity), start, end)
            assert [row["start"] for row in rows] == [
                start.timestamp() + index * HOUR for index in range(hours)
            ]
            expected = [
                sum(max(sign * kw, 0.0) * 5 / 60 for kw in hour) for hour in power
            ]
            assert [row["state"] for row in rows] == pytest.approx(expected)
            assert rows[-1]["sum"] == pytest.approx(sum(expected))

        for meting_type, quantity in TYPE_QUANTITIES.items():
            hand = _hand_hours(served, meting_type)
            rows = await _rows(hass, statistic_id(meter, quantity), start, end)
            assert len(rows) == hours
            assert [row["mean"] for row in rows] == pytest.approx(
                [sum(hour) / len(hour) for hour in hand]
            )
            assert [row["min"] for row in rows] == pytest.approx(
                [min(hour) for hour in hand]
            )
            assert [row["max"] for row in rows] == pytest.approx(
                [max(hour) for hour in hand]
            )
    # The gap left ten intervals in that hour of the transfer meter.
    hand = _hand_hours(dtl_sim.rows(TRANSFER_METER_EAN, start, end), "spanning_l1")
    assert sorted({len(hour) for hour in hand}) == [10, 12]


# --- diagnostics -----------------------------------------------------------------------
