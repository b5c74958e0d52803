"""Tests of the Kenter Near-RealTime Data client against its simulator over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
import logging
import re
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
from lxml import etree
import pytest

from custom_components.meetdata.api.errors import (
    MeetdataAuthError,
    MeetdataConnectionError,
    MeetdataError,
    MeetdataInvalidRequestError,
    MeetdataNotFoundError,
    MeetdataPermissionError,
    MeetdataRateLimitError,
    MeetdataResponseError,
    MeetdataTimeoutError,
    MeetdataTooLargeError,
)
from custom_components.meetdata.api.models import (
    Interval,
    Meter,
    MeterKind,
    Quality,
    Quantity,
)
from custom_components.meetdata.providers.kenter.client import (
    DEFAULT_BASE_URL,
    NAMESPACE,
    KenterAuthError,
    KenterClient,
    KenterConnection,
    KenterFaultError,
    KenterNotFoundError,
    KenterPermissionError,
    KenterUnknownFaultError,
    format_timestamp,
    gs1_check_digit_ok,
    history_windows,
    is_valid_ean_format,
    meter_key,
    meter_kind,
    meter_name,
)
from custom_components.meetdata.providers.kenter.client.codec import (
    LocalOnlyTransport,
    load_codec,
)
from custom_components.meetdata.providers.kenter.client.errors import fault_error, scrub
from custom_components.meetdata.providers.kenter.client.parse import (
    decode_meter_data,
    parse_envelope,
    parse_timestamp,
    resolve_local,
)

from ...conftest import Serve
from ...simulators.kenter import (
    SOAP_ENV,
    WSDL_URL_PATH,
    KenterSimulator,
    SimConnection,
    SimMeter,
    demo_connections,
)

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2025, 11, 5, 12, 7, 30, tzinfo=UTC)
PATH = "/realtime/1.0/"

EAN_E = "876600504607071300"  # the manual's example: electricity, bad check digit
EAN_G = "871687120000096366"  # the manual's example: gas
EAN_EG = "871694840000012349"  # electricity and gas meters
EAN_RIGHTS = "871687120000099121"  # fault 1007
E_METER = "V066005019551812"
G_METER = "Z0NR000042279210"
E2_METER = "E0031004567812345"
G2_METER = "G0057001234567890"
PASSCODES = {conn.ean: conn.passcode for conn in demo_connections()}
DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
ELECTRIC = ("LVR", "TLV", "LVB", "TLB")
QUANTITY_OF = {
    "LVR": Quantity.ENERGY_IMPORT,
    "TLV": Quantity.ENERGY_EXPORT,
    "LVB": Quantity.REACTIVE_ENERGY_IMPORT,
    "TLB": Quantity.REACTIVE_ENERGY_EXPORT,
    "VN": Quantity.GAS_VOLUME,
}
#: What the latest value of an interval counter is reported as.
INTERVAL_OF = {
    "LVR": Quantity.ENERGY_IMPORT_INTERVAL,
    "TLV": Quantity.ENERGY_EXPORT_INTERVAL,
    "LVB": Quantity.REACTIVE_ENERGY_IMPORT_INTERVAL,
    "TLB": Quantity.REACTIVE_ENERGY_EXPORT_INTERVAL,
    "VN": Quantity.GAS_VOLUME_INTERVAL,
}


def _source(
    sim: KenterSimulator, meter: str, counter: str, start: datetime, end: datetime
) -> list[Interval]:
    """Return the simulator's intervals as the client's Interval objects."""
    return [
        Interval(i.start, i.end, i.value)
        for i in sim.source_intervals(meter, counter, start, end)
    ]


def conn(
    ean: str, meter_code: str | None = None, passcode: str | None = None
) -> KenterConnection:
    """Return a demo connection (its real passcode unless given)."""
    return KenterConnection(
        ean, PASSCODES.get(ean, "x") if passcode is None else passcode, meter_code
    )


ACCOUNT = [conn(EAN_E), conn(EAN_G), conn(EAN_EG)]


@pytest.fixture
def sim() -> KenterSimulator:
    """Return a simulator with a fixed clock."""
    return KenterSimulator(now=NOW)


@pytest.fixture
async def url(serve: Serve, sim: KenterSimulator) -> str:
    """Serve the simulator; return its SOAP endpoint."""
    return await serve(sim.build_app()) + PATH


@pytest.fixture
def make_client(
    http_session: aiohttp.ClientSession, url: str
) -> Callable[..., KenterClient]:
    """Build clients of the simulator."""

    def _make(
        connections: list[KenterConnection] | None = None, **kwargs: Any
    ) -> KenterClient:
        return KenterClient(
            http_session,
            ACCOUNT if connections is None else connections,
            base_url=url,
            **kwargs,
        )

    return _make


@pytest.fixture
def client(make_client: Callable[..., KenterClient]) -> KenterClient:
    """Return a client of the demo account."""
    return make_client()


def meter_of(ean: str, code: str, kind: MeterKind = MeterKind.ELECTRICITY) -> Meter:
    """Return a Meter as async_get_meters would."""
    return Meter(
        "kenter",
        meter_key(ean, code),
        kind,
        serial=code,
        attributes={"ean": ean, "meter_code": code},
    )


def sent(sim: KenterSimulator, index: int = -1) -> etree._Element:
    """Return the operation element of a request the simulator received."""
    root = etree.fromstring(sim.bodies[index])
    return root.find(f"{{{SOAP_ENV}}}Body")[0]


def envelope(operation: str, inner: str) -> bytes:
    """Return a response envelope as Kenter writes it."""
    return (
        f'<S:Envelope xmlns:S="{SOAP_ENV}"><S:Body><ns2:{operation}Response '
        f'xmlns:ns2="{NAMESPACE}">{inner}</ns2:{operation}Response></S:Body></S:Envelope>'
    ).encode()


def counter_xml(
    code: str,
    values: list[tuple[str, str]],
    counter_type: str = "interval",
    ean: str = EAN_E,
    meter: str = E_METER,
) -> str:
    """Return one ``return`` element with measureValues."""
    inner = "".join(
        f"<measureValue><timestamp>{ts}</timestamp><value>{value}</value></measureValue>"
        for ts, value in values
    )
    return (
        f"<return><eanCode>{ean}</eanCode><meterCode>{meter}</meterCode>"
        f"<counterType>{counter_type}</counterType><counterCode>{code}</counterCode>"
        f"{inner}</return>"
    )


async def raw_post(
    session: aiohttp.ClientSession, url: str, body: str
) -> tuple[int, str]:
    """Post a hand-written request to the simulator."""
    async with session.post(
        url, data=body.encode(), headers={"Content-Type": "text/xml"}
    ) as resp:
        return resp.status, await resp.text()


def request_xml(operation: str, meters: str) -> str:
    """Return a request envelope as in the manual."""
    return (
        f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:ns="{NAMESPACE}">'
        f"<soapenv:Header/><soapenv:Body><ns:{operation}>{meters}</ns:{operation}>"
        "</soapenv:Body></soapenv:Envelope>"
    )


# ------------------------------------------------------------------ helpers


def test_ean_helpers() -> None:
    """EAN format is 18 digits; the GS1 check digit is a hint, not a gate."""
    assert is_valid_ean_format(EAN_G)
    assert not is_valid_ean_format(EAN_G[:-1])
    assert not is_valid_ean_format(EAN_G[:-1] + "X")
    assert not is_valid_ean_format("\uff18" * 18)  # full-width digits are no EAN
    assert gs1_check_digit_ok(EAN_G)
    assert gs1_check_digit_ok(EAN_EG)
    assert not gs1_check_digit_ok(EAN_E)  # the manual's own example fails it
    assert not gs1_check_digit_ok("12a")
    assert not gs1_check_digit_ok("7")


def test_connection_repr_hides_passcode() -> None:
    """The passcode never shows in a repr; the connection is frozen."""
    connection = KenterConnection(EAN_E, "jTx7HCB", E_METER)
    assert "jTx7HCB" not in repr(connection)
    assert EAN_E in repr(connection) and E_METER in repr(connection)
    with pytest.raises(AttributeError):
        connection.passcode = "other"  # type: ignore[misc]


def test_keys_kinds_and_formats() -> None:
    """Meter keys, kinds and request timestamps."""
    assert meter_key(EAN_E, "V066-0050.19") == f"{EAN_E}_v066_0050_19"
    assert meter_kind("Elektriciteitsmeter") is MeterKind.ELECTRICITY
    assert meter_kind(" gasmeter ") is MeterKind.GAS
    assert meter_kind("Gasmeter G6") is MeterKind.GAS
    assert meter_kind(None) is MeterKind.ELECTRICITY
    assert meter_name("Kas B.V.", "Gasmeter") == "Kas B.V. Gasmeter"
    assert meter_name(None, "Gasmeter") == "Gasmeter"
    assert meter_name(None, None) is None
    assert format_timestamp(datetime(2022, 3, 3, 11, 30, 0, 999, tzinfo=UTC)) == (
        "2022-03-03T12:30:00+01:00"
    )
    assert (
        format_timestamp(datetime(2025, 7, 1, tzinfo=UTC))
        == "2025-07-01T02:00:00+02:00"
    )


def test_history_windows() -> None:
    """Windows cover the period, never overlap and span at most 31 days."""
    start = datetime(2025, 1, 1, 0, 0, 0, 500, tzinfo=UTC)
    end = datetime(2025, 4, 1, 0, 0, 0, 250, tzinfo=UTC)
    windows = list(history_windows(start, end))
    assert windows[0][0] == start and windows[-1][1] == end
    for (_, first_end), (second_start, _) in pairwise(windows):
        assert first_end == second_start
    for window_start, window_end in windows:
        assert window_end - window_start.replace(microsecond=0) <= timedelta(days=31)
    assert len(windows) == 3
    assert list(history_windows(end, start)) == []


# ------------------------------------------------------------------- meters


async def test_meters(client: KenterClient, sim: KenterSimulator) -> None:
    """One getMeterMetaData for all connections gives one Meter per meter code."""
    meters = await client.async_get_meters()
    assert sim.request_count == 1
    assert sim.operation_counts["getMeterMetaData"] == 1
    request = sent(sim)
    assert [m.findtext("eanCode") for m in request.iter("meter")] == [
        EAN_E,
        EAN_G,
        EAN_EG,
    ]
    assert [m.findtext("passcode") for m in request.iter("meter")] == [
        PASSCODES[EAN_E],
        PASSCODES[EAN_G],
        PASSCODES[EAN_EG],
    ]
    by_key = {meter.key: meter for meter in meters}
    assert list(by_key) == [
        f"{EAN_E}_{E_METER.lower()}",
        f"{EAN_G}_{G_METER.lower()}",
        f"{EAN_EG}_{E2_METER.lower()}",
        f"{EAN_EG}_{G2_METER.lower()}",
    ]
    electricity = by_key[f"{EAN_E}_{E_METER.lower()}"]
    assert electricity.provider == "kenter"
    assert electricity.kind is MeterKind.ELECTRICITY
    assert electricity.name == "Kwekerij Jan Janssen Elektriciteitsmeter"
    assert electricity.address == "Gasperielaan 2B"
    assert electricity.serial == E_METER
    assert electricity.model == "Elektriciteitsmeter"
    assert electricity.attributes == {
        "ean": EAN_E,
        "meter_code": E_METER,
        "counters": "LVR,TLV,LVB,TLB",
        "meter_type": "Elektriciteitsmeter",
        "location": "Amsterdam",
        "name": "Kwekerij Jan Janssen",
    }
    gas = by_key[f"{EAN_G}_{G_METER.lower()}"]
    assert gas.kind is MeterKind.GAS
    assert gas.attributes["counters"] == "VN"
    assert all(re.fullmatch(r"[a-z0-9_]+", key) for key in by_key)


async def test_meters_narrowed_by_meter_code(
    make_client: Callable[..., KenterClient], sim: KenterSimulator
) -> None:
    """A connection with a meter code asks for that meter only."""
    meters = await make_client([conn(EAN_EG, G2_METER)]).async_get_meters()
    assert [meter.serial for meter in meters] == [G2_METER]
    assert sent(sim).find("meter").findtext("meterCode") == G2_METER


async def test_no_connections_no_request(
    make_client: Callable[..., KenterClient], sim: KenterSimulator
) -> None:
    """Without connections nothing is asked."""
    client = make_client([])
    assert await client.async_get_meters() == []
    assert await client.async_get_latest([meter_of(EAN_E, E_METER)]) == {}
    assert sim.request_count == 0


async def test_bare_origin_base_url(
    http_session: aiohttp.ClientSession, serve: Serve, sim: KenterSimulator
) -> None:
    """A base URL without a path gets /realtime/1.0/ appended."""
    origin = await serve(sim.build_app())
    client = KenterClient(http_session, ACCOUNT, base_url=origin)
    assert client.url == origin + PATH
    assert client.connections == tuple(ACCOUNT)
    assert len(await client.async_get_meters()) == 4
    assert KenterClient(http_session, ACCOUNT).url == DEFAULT_BASE_URL


async def test_wsdl_served(
    http_session: aiohttp.ClientSession, serve: Serve, sim: KenterSimulator
) -> None:
    """The simulator serves the shipped WSDL, pointing at itself."""
    origin = await serve(sim.build_app())
    async with http_session.get(origin + WSDL_URL_PATH) as resp:
        assert resp.status == 200
        text = await resp.text()
    assert f'location="{origin}{PATH}"' in text
    assert "getMeterData" in text and "FaultException" in text


# ------------------------------------------------------------------- latest


async def test_latest(client: KenterClient, sim: KenterSimulator) -> None:
    """One request; amounts of the latest interval, average power, last measurement."""
    meters = await client.async_get_meters()
    latest = await client.async_get_latest(meters)
    assert sim.operation_counts["getLatestMeasurement"] == 1
    assert len(list(sent(sim).iter("meter"))) == 3
    electricity = latest[f"{EAN_E}_{E_METER.lower()}"]
    quarter = datetime(2025, 11, 5, 11, 45, tzinfo=UTC)
    for counter in ELECTRIC:
        reading = electricity[INTERVAL_OF[counter]]
        assert reading.value == sim.latest(E_METER, counter)[1]
        assert reading.timestamp == quarter
    lvr, tlv = sim.latest(E_METER, "LVR")[1], sim.latest(E_METER, "TLV")[1]
    lvb, tlb = sim.latest(E_METER, "LVB")[1], sim.latest(E_METER, "TLB")[1]
    assert electricity[Quantity.POWER].value == pytest.approx((lvr - tlv) * 4)
    assert electricity[Quantity.REACTIVE_POWER].value == pytest.approx((lvb - tlb) * 4)
    assert electricity[Quantity.POWER].timestamp == quarter
    assert electricity[Quantity.LAST_MEASUREMENT].value == quarter
    assert set(electricity) == {
        *(INTERVAL_OF[c] for c in ELECTRIC),
        Quantity.POWER,
        Quantity.REACTIVE_POWER,
        Quantity.LAST_MEASUREMENT,
    }
    gas = latest[f"{EAN_EG}_{G2_METER.lower()}"]
    assert set(gas) == {Quantity.GAS_VOLUME_INTERVAL, Quantity.LAST_MEASUREMENT}
    gas_interval = gas[Quantity.GAS_VOLUME_INTERVAL]
    assert gas_interval.value == sim.latest(G2_METER, "VN")[1]
    assert gas_interval.timestamp == datetime(2025, 11, 5, 11, tzinfo=UTC)
    assert len(latest) == 4


async def test_latest_only_asked_meters(
    client: KenterClient, sim: KenterSimulator
) -> None:
    """Only the connections of the asked meters are sent; other meters dropped."""
    latest = await client.async_get_latest([meter_of(EAN_EG, E2_METER)])
    assert list(latest) == [meter_key(EAN_EG, E2_METER)]
    assert [m.findtext("eanCode") for m in sent(sim).iter("meter")] == [EAN_EG]
    assert await client.async_get_latest([]) == {}
    assert sim.request_count == 1


async def test_latest_register_counters(
    http_session: aiohttp.ClientSession, serve: Serve
) -> None:
    """Register counters report their running total and give no power."""
    sim = KenterSimulator(
        [
            SimConnection(
                EAN_EG,
                "pw",
                "Register B.V.",
                "Straat 1",
                "Delft",
                [SimMeter(E2_METER, MeterKind.ELECTRICITY, counter_type="register")],
            )
        ],
        now=NOW,
    )
    url = await serve(sim.build_app())
    client = KenterClient(http_session, [KenterConnection(EAN_EG, "pw")], base_url=url)
    latest = (await client.async_get_latest([meter_of(EAN_EG, E2_METER)]))[
        meter_key(EAN_EG, E2_METER)
    ]
    assert latest[Quantity.ENERGY_IMPORT].value == sim.latest(E2_METER, "LVR")[1]
    assert latest[Quantity.ENERGY_IMPORT].value > 1000
    assert Quantity.ENERGY_IMPORT_INTERVAL not in latest
    assert Quantity.POWER not in latest and Quantity.REACTIVE_POWER not in latest
    # History returns interval counters only.
    history = await client.async_get_history(
        meter_of(EAN_EG, E2_METER), NOW - timedelta(days=1), NOW
    )
    assert history == []


async def test_latest_edge_cases(client: KenterClient, sim: KenterSimulator) -> None:
    """Several values: the last; no value: no reading; lone TLV; mismatched stamps."""
    t1, t2 = "2025-11-05T12:30:00+01:00", "2025-11-05T12:45:00+01:00"
    body = envelope(
        "getLatestMeasurement",
        counter_xml("LVR", [(t1, "4"), (t2, "8")])
        + counter_xml("LVB", [(t1, "1")])
        + counter_xml("TLB", [(t2, "1")])
        + counter_xml("XYZ", [(t2, "1")])
        + counter_xml("VN", [], ean=EAN_G, meter=G_METER)
        + counter_xml("TLV", [(t2, "2")], ean=EAN_EG, meter=E2_METER),
    )
    sim.force_response(200, body)
    latest = await client.async_get_latest(
        [meter_of(EAN_E, E_METER), meter_of(EAN_G, G_METER), meter_of(EAN_EG, E2_METER)]
    )
    first = latest[meter_key(EAN_E, E_METER)]
    assert first[Quantity.ENERGY_IMPORT_INTERVAL].value == 8
    assert first[Quantity.ENERGY_IMPORT_INTERVAL].timestamp == datetime(
        2025, 11, 5, 11, 45, tzinfo=UTC
    )
    assert first[Quantity.POWER].value == 32  # no TLV counter: import only
    assert Quantity.REACTIVE_POWER not in first  # LVB and TLB of different intervals
    assert meter_key(EAN_G, G_METER) not in latest
    lone_export = latest[meter_key(EAN_EG, E2_METER)]
    assert lone_export[Quantity.POWER].value == -8


async def test_latest_tolerates_extra_and_reordered_elements(
    client: KenterClient, sim: KenterSimulator
) -> None:
    """Elements the manual does not show, or in another order, do no harm."""
    body = envelope(
        "getLatestMeasurement",
        f"<return><meterCode>{E_METER}</meterCode><eanCode>{EAN_E}</eanCode>"
        "<extra>x</extra><counterCode>LVR</counterCode><counterType>interval</counterType>"
        "<measureValue><value>5</value><status>V</status>"
        "<timestamp>2025-11-05T12:45:00+01:00</timestamp></measureValue></return>",
    )
    sim.force_response(200, body)
    latest = await client.async_get_latest([meter_of(EAN_E, E_METER)])
    reading = latest[meter_key(EAN_E, E_METER)][Quantity.ENERGY_IMPORT_INTERVAL]
    assert reading.value == 5
    assert reading.timestamp == datetime(2025, 11, 5, 11, 45, tzinfo=UTC)


@pytest.mark.parametrize(
    ("inner", "match"),
    [
        (counter_xml("LVR", [("", "1")]), "without timestamp"),
        (counter_xml("LVR", [("2025-11-05T12:30:00+01:00", "NaN")]), "invalid latest"),
        (
            counter_xml("LVR", [("2025-11-05T12:30:00+01:00", "abc")]),
            "could not be read",
        ),
        ("<return><eanCode>1</eanCode></return>", "without eanCode"),
    ],
)
async def test_latest_malformed(
    client: KenterClient, sim: KenterSimulator, inner: str, match: str
) -> None:
    """Broken latest answers are response errors."""
    sim.force_response(200, envelope("getLatestMeasurement", inner))
    with pytest.raises(MeetdataResponseError, match=match):
        await client.async_get_latest([meter_of(EAN_E, E_METER)])


# ------------------------------------------------------------------ history


async def test_history_31_days(client: KenterClient, sim: KenterSimulator) -> None:
    """A 31-day month in one request; every interval equals the simulator's."""
    meter = meter_of(EAN_E, E_METER)
    start, end = datetime(2025, 1, 1, tzinfo=AMS), datetime(2025, 2, 1, tzinfo=AMS)
    series = await client.async_get_history(meter, start, end)
    assert sim.operation_counts["getMeterData"] == 1
    request = sent(sim).find("meter")
    assert request.findtext("meterCode") == E_METER
    assert request.findtext("startDate") == "2025-01-01T00:00:00+01:00"
    assert request.findtext("endDate") == "2025-02-01T00:00:00+01:00"
    assert [s.quantity for s in series] == [QUANTITY_OF[c] for c in ELECTRIC]
    for counter, one in zip(ELECTRIC, series, strict=True):
        assert one.meter_key == meter.key
        assert len(one.intervals) == 31 * 96
        assert one.intervals == _source(sim, E_METER, counter, start, end)
        assert all(i.quality is Quality.MEASURED for i in one.intervals)
        assert one.intervals[0].start == start
        assert one.intervals[-1].end == end


async def test_history_windows_over_http(
    client: KenterClient, sim: KenterSimulator
) -> None:
    """A long period is split in windows of at most 31 days, seamlessly."""
    meter = meter_of(EAN_EG, G2_METER, MeterKind.GAS)
    start, end = (
        datetime(2025, 5, 1, 6, tzinfo=UTC),
        datetime(2025, 7, 20, 6, tzinfo=UTC),
    )
    series = await client.async_get_history(meter, start, end)
    assert sim.operation_counts["getMeterData"] == 3
    for index in range(3):
        request = sent(sim, index).find("meter")
        first = datetime.fromisoformat(request.findtext("startDate"))
        last = datetime.fromisoformat(request.findtext("endDate"))
        assert DATE_RE.match(request.findtext("startDate"))
        assert timedelta(0) < last - first <= timedelta(days=31)
    [gas] = series
    assert gas.quantity is Quantity.GAS_VOLUME
    assert gas.intervals == _source(sim, G2_METER, "VN", start, end)
    assert len(gas.intervals) == (end - start) // timedelta(hours=1)


@pytest.mark.parametrize("clock", ["elapsed", "wall"])
async def test_a_year_through_both_dst_changes_on_either_clock(
    http_session: aiohttp.ClientSession, serve: Serve, clock: Any
) -> None:
    """A year imports whole whichever clock the server counts 31 days on.

    On the Dutch wall clock a window of 31 x 24 h across the last Sunday of
    March is 31 days and an hour: the server would answer 1005 every run.
    """
    sim = KenterSimulator(now=NOW, period_clock=clock)
    client = KenterClient(http_session, ACCOUNT, base_url=await serve(sim.build_app()))
    start = datetime(2024, 11, 1, tzinfo=AMS)
    end = datetime(2025, 11, 1, tzinfo=AMS)
    [gas] = await client.async_get_history(
        meter_of(EAN_G, G_METER, MeterKind.GAS), start, end
    )
    assert gas.intervals == _source(sim, G_METER, "VN", start, end)
    assert len(gas.intervals) == (end - start) // timedelta(hours=1)
    requests = sim.operation_counts["getMeterData"]
    assert requests == 12  # no window refused, none split
    for index in range(requests):
        element = sent(sim, index).find("meter")
        first = datetime.fromisoformat(element.findtext("startDate"))
        last = datetime.fromisoformat(element.findtext("endDate"))
        wall = last.astimezone(AMS).replace(tzinfo=None) - first.astimezone(
            AMS
        ).replace(tzinfo=None)
        assert last - first <= timedelta(days=31)
        assert wall <= timedelta(days=31)


async def test_a_window_refused_as_too_long_is_halved(
    http_session: aiohttp.ClientSession, serve: Serve
) -> None:
    """A server with a shorter limit (1005) still gets asked for every hour."""
    sim = KenterSimulator(now=NOW, max_period=timedelta(days=10))
    client = KenterClient(http_session, ACCOUNT, base_url=await serve(sim.build_app()))
    start = datetime(2025, 3, 1, tzinfo=AMS)
    end = datetime(2025, 5, 1, tzinfo=AMS)
    [gas] = await client.async_get_history(
        meter_of(EAN_G, G_METER, MeterKind.GAS), start, end
    )
    assert gas.intervals == _source(sim, G_METER, "VN", start, end)
    # Two 31-day windows and a short one: each refused, then asked in quarters.
    assert sim.operation_counts["getMeterData"] > 8


@pytest.mark.parametrize("style", ["offset", "utc", "naive"])
@pytest.mark.parametrize(
    ("day", "hours"), [(datetime(2025, 3, 30), 23), (datetime(2025, 10, 26), 25)]
)
async def test_history_dst_days(
    http_session: aiohttp.ClientSession,
    serve: Serve,
    style: Any,
    day: datetime,
    hours: int,
) -> None:
    """23 and 25 hour days, whatever way the timestamps are written."""
    sim = KenterSimulator(now=NOW, timestamp_style=style)
    url = await serve(sim.build_app())
    client = KenterClient(http_session, ACCOUNT, base_url=url)
    start = day.replace(tzinfo=AMS)
    end = (day + timedelta(days=1)).replace(tzinfo=AMS)
    electricity = await client.async_get_history(meter_of(EAN_EG, E2_METER), start, end)
    for counter, series in zip(ELECTRIC, electricity, strict=True):
        assert len(series.intervals) == hours * 4
        assert series.intervals == _source(sim, E2_METER, counter, start, end)
    [gas] = await client.async_get_history(
        meter_of(EAN_G, G_METER, MeterKind.GAS), start, end
    )
    assert len(gas.intervals) == hours
    starts = [interval.start for interval in gas.intervals]
    assert starts == sorted(set(starts))
    assert gas.intervals == _source(sim, G_METER, "VN", start, end)


async def test_history_naive_window_starting_in_repeated_hour(
    http_session: aiohttp.ClientSession, serve: Serve
) -> None:
    """A window that starts in the second 02:00 reads that hour as winter time."""
    sim = KenterSimulator(now=NOW, timestamp_style="naive")
    client = KenterClient(http_session, ACCOUNT, base_url=await serve(sim.build_app()))
    start = datetime(2025, 10, 26, 1, tzinfo=UTC)  # 02:00 CET, the second one
    [gas] = await client.async_get_history(
        meter_of(EAN_G, G_METER, MeterKind.GAS), start, start + timedelta(hours=3)
    )
    assert [i.start for i in gas.intervals] == [
        start + timedelta(hours=n) for n in range(3)
    ]


async def test_history_requests_and_arguments(
    client: KenterClient, sim: KenterSimulator
) -> None:
    """Empty, future and naive periods; meters of other accounts."""
    meter = meter_of(EAN_E, E_METER)
    assert await client.async_get_history(meter, NOW, NOW) == []
    future = datetime.now(UTC) + timedelta(days=2)
    assert (
        await client.async_get_history(meter, future, future + timedelta(days=1)) == []
    )
    assert sim.request_count == 0
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_get_history(meter, datetime(2025, 1, 1), NOW)
    with pytest.raises(MeetdataNotFoundError) as err:
        await client.async_get_history(
            meter_of(EAN_RIGHTS, "X"), NOW - timedelta(days=1), NOW
        )
    assert err.value.meter == EAN_RIGHTS


async def test_history_meter_without_attributes(
    make_client: Callable[..., KenterClient], sim: KenterSimulator
) -> None:
    """A meter known only by key: EAN from the key, all meters asked, key matched."""
    client = make_client()
    meter = Meter("kenter", meter_key(EAN_EG, G2_METER), MeterKind.GAS)
    start = datetime(2025, 11, 4, tzinfo=UTC)
    [gas] = await client.async_get_history(meter, start, start + timedelta(hours=5))
    assert sent(sim).find("meter").find("meterCode") is None
    assert gas.intervals == _source(
        sim, G2_METER, "VN", start, start + timedelta(hours=5)
    )


async def test_history_end_clamped_to_now(
    client: KenterClient, sim: KenterSimulator
) -> None:
    """The endDate is never in the future."""
    meter = meter_of(EAN_G, G_METER, MeterKind.GAS)
    start = datetime.now(UTC) - timedelta(hours=3)
    await client.async_get_history(meter, start, start + timedelta(days=3))
    end_date = datetime.fromisoformat(sent(sim).find("meter").findtext("endDate"))
    assert end_date <= datetime.now(UTC) + timedelta(seconds=1)


async def test_history_parsed_in_executor(
    client: KenterClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large answers are decoded off the event loop."""
    loop = asyncio.get_running_loop()
    calls: list[Any] = []
    original = loop.run_in_executor

    def spy(executor: Any, func: Any, *args: Any) -> Any:
        calls.append(func)
        return original(executor, func, *args)

    monkeypatch.setattr(loop, "run_in_executor", spy)
    start = datetime(2025, 9, 1, tzinfo=UTC)
    await client.async_get_history(
        meter_of(EAN_E, E_METER), start, start + timedelta(days=10)
    )
    assert any(getattr(f, "func", None) is not None for f in calls)


def _decode(body: bytes, start: datetime, end: datetime) -> list[Any]:
    codec = load_codec()
    return codec.decode_meter_data(body, start, end)


def test_decoder_edge_cases() -> None:
    """Unordered and duplicate values, padding, unknown and register counters."""
    body = envelope(
        "getMeterData",
        counter_xml(
            "LVR",
            [
                ("2025-01-01T01:15:00+01:00", "2"),
                (" 2025-01-01T01:00:00+01:00 ", " 1 "),
                ("2025-01-01T01:15:00+01:00", "3"),
                ("2025-01-01T02:00:00+01:00", "9"),
            ],
        )
        + counter_xml(
            "LVR", [("2025-01-01T01:30:00+01:00", "4")], counter_type="register"
        )
        + counter_xml("ABC", [("2025-01-01T01:30:00+01:00", "4")]),
    )
    start = datetime(2025, 1, 1, tzinfo=UTC)
    [series] = _decode(body, start, start + timedelta(hours=1))
    assert [(i.start.minute, i.value) for i in series.intervals] == [
        (0, 1.0),
        (15, 3.0),
    ]
    unordered = envelope(
        "getMeterData",
        counter_xml(
            "TLV",
            [("2025-01-01T01:15:00+01:00", "2"), ("2025-01-01T01:00:00+01:00", "1")],
        ),
    )
    [series] = _decode(unordered, start, start + timedelta(hours=1))
    assert [i.value for i in series.intervals] == [1.0, 2.0]
    assert series.intervals[0] == Interval(start, start + timedelta(minutes=15), 1.0)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([("2025-01-01T01:00:00+01:00", "abc")], "invalid value"),
        ([("2025-01-01T01:00:00+01:00", "inf")], "invalid value"),
        ([("yesterday", "1")], "invalid timestamp"),
        ([("2025-03-30T02:30:00", "1")], "does not exist"),
    ],
)
def test_decoder_bad_values(values: list[tuple[str, str]], match: str) -> None:
    """Bad values and timestamps are response errors that say which."""
    body = envelope("getMeterData", counter_xml("LVR", values))
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(MeetdataResponseError, match=match):
        _decode(body, start, start + timedelta(days=100))


def test_decoder_missing_value() -> None:
    """A measureValue without value is refused."""
    body = envelope(
        "getMeterData",
        counter_xml("LVR", [("2025-01-01T01:00:00+01:00", "1")]).replace(
            "<value>1</value>", ""
        ),
    )
    with pytest.raises(MeetdataResponseError, match="without timestamp or value"):
        _decode(
            body, datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 2, 1, tzinfo=UTC)
        )


def test_zeep_and_lxml_agree(sim: KenterSimulator) -> None:
    """The WSDL reads a simulator answer as the fast decoder does."""
    status, text = sim.answer(
        request_xml(
            "getMeterData",
            f"<meter><eanCode>{EAN_EG}</eanCode><passcode>{PASSCODES[EAN_EG]}</passcode>"
            "<startDate>2025-10-26T00:00:00+02:00</startDate>"
            "<endDate>2025-10-26T06:00:00+01:00</endDate></meter>",
        ).encode()
    )
    assert status == 200
    codec = load_codec()
    root = parse_envelope(text.encode())
    with codec.client.settings(strict=True):
        zeep_result = codec.client.service._binding.get("getMeterData").process_reply(
            root
        )
    fast = decode_meter_data(
        root, datetime(2025, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)
    )
    assert len(zeep_result) == len(fast) == 5
    for slow, quick in zip(zeep_result, fast, strict=True):
        assert slow.counterCode == quick.counter_code
        assert [m.timestamp for m in slow.measureValue] == [
            i.start for i in quick.intervals
        ]
        assert [float(m.value) for m in slow.measureValue] == [
            i.value for i in quick.intervals
        ]


def test_parse_month_of_quarter_hours(sim: KenterSimulator) -> None:
    """A 31-day answer of four quarter-hour counters decodes every interval.

    Its speed against raw lxml is measured by ``scripts/bench --only parse``.
    """
    status, text = sim.answer(
        request_xml(
            "getMeterData",
            f"<meter><eanCode>{EAN_E}</eanCode><passcode>{PASSCODES[EAN_E]}</passcode>"
            "<startDate>2025-01-01T00:00:00+01:00</startDate>"
            "<endDate>2025-02-01T00:00:00+01:00</endDate></meter>",
        ).encode()
    )
    assert status == 200
    start, end = datetime(2025, 1, 1, tzinfo=AMS), datetime(2025, 2, 1, tzinfo=AMS)
    series = load_codec().decode_meter_data(text.encode(), start, end)
    assert sum(len(s.intervals) for s in series) == 4 * 31 * 96


# ------------------------------------------------------------------- faults


@pytest.mark.parametrize(
    ("connection", "error", "code", "meter"),
    [
        (conn(EAN_E, passcode="wrong"), KenterAuthError, 1001, EAN_E),
        (conn("871687120000096367"), KenterAuthError, 1001, "871687120000096367"),
        (conn("87168712000009636X"), KenterNotFoundError, 1000, "87168712000009636X"),
        (conn(""), KenterNotFoundError, 1009, None),
        (conn(EAN_E, "NOPE"), KenterNotFoundError, 1006, EAN_E),
        (conn(EAN_RIGHTS), KenterPermissionError, 1007, EAN_RIGHTS),
    ],
)
async def test_faults_from_input(
    make_client: Callable[..., KenterClient],
    connection: KenterConnection,
    error: type[KenterFaultError],
    code: int,
    meter: str | None,
) -> None:
    """Real inputs reach the faults; each maps to its typed error."""
    client = make_client([conn(EAN_G), connection])
    with pytest.raises(error) as err:
        await client.async_get_meters()
    assert err.value.code == code
    assert err.value.meter == meter
    assert f"fault {code}" in str(err.value)
    for passcode in PASSCODES.values():
        assert passcode not in str(err.value)


async def test_discovery_goes_past_one_connection(
    make_client: Callable[..., KenterClient], sim: KenterSimulator
) -> None:
    """Discovery leaves out a connection that faults; it keeps the last meters read."""
    client = make_client([conn(EAN_G), conn(EAN_RIGHTS)])
    with pytest.raises(KenterPermissionError):
        await client.async_get_meters()
    # No rights yet: the other connection's meters, in one request more.
    assert {_ean(m) for m in await client.async_discover_meters()} == {EAN_G}

    rights = sim.connections[EAN_RIGHTS]
    rights.insufficient_rights = False
    found = await client.async_discover_meters()
    assert {_ean(m) for m in found} == {EAN_G, EAN_RIGHTS}

    # Refused again later: its meters stay (their devices are not gone).
    rights.insufficient_rights = True
    assert await client.async_discover_meters() == found
    sim.force_fault(1001, f"Simulated for EAN-code {EAN_G}")
    with pytest.raises(KenterAuthError):
        await client.async_discover_meters()


def _ean(meter: Meter) -> str:
    return meter.attributes["ean"]


async def test_fault_hints(make_client: Callable[..., KenterClient]) -> None:
    """A refused EAN-code with a wrong check digit or length is probably mistyped."""
    with pytest.raises(KenterAuthError) as err:
        await make_client([conn("871687120000096367")]).async_get_latest(
            [meter_of("871687120000096367", "X")]
        )
    assert err.value.probably_mistyped
    assert "probably mistyped" in str(err.value)
    assert isinstance(err.value, MeetdataAuthError)
    with pytest.raises(KenterNotFoundError) as err2:
        await make_client([conn("12345")]).async_get_meters()
    assert err2.value.probably_mistyped and "18 digits" in str(err2.value)
    # A wrong passcode for a well-formed EAN-code: no such hint.
    with pytest.raises(KenterAuthError) as err3:
        await make_client([conn(EAN_G, passcode="nope")]).async_get_meters()
    assert not err3.value.probably_mistyped


async def test_fault_during_history(
    make_client: Callable[..., KenterClient],
) -> None:
    """Faults of getMeterData map as well (here: insufficient rights)."""
    client = make_client([conn(EAN_RIGHTS)])
    with pytest.raises(MeetdataPermissionError):
        await client.async_get_history(
            meter_of(EAN_RIGHTS, "E0042000000000001"), NOW - timedelta(days=1), NOW
        )


@pytest.mark.parametrize(
    ("code", "error"),
    [
        (1000, MeetdataNotFoundError),
        (1001, MeetdataAuthError),
        (1002, MeetdataInvalidRequestError),
        (1003, MeetdataInvalidRequestError),
        (1004, MeetdataInvalidRequestError),
        (1005, MeetdataInvalidRequestError),
        (1006, MeetdataNotFoundError),
        (1007, MeetdataPermissionError),
        (1008, MeetdataInvalidRequestError),
        (1009, MeetdataNotFoundError),
        (1234, MeetdataResponseError),
    ],
)
async def test_every_fault_code_mapped(
    client: KenterClient, sim: KenterSimulator, code: int, error: type[MeetdataError]
) -> None:
    """Every documented code maps to its class; unknown codes are response errors."""
    sim.force_fault(code, f"Simulated for EAN-code {EAN_G}")
    with pytest.raises(error) as err:
        await client.async_get_meters()
    assert isinstance(err.value, KenterFaultError)
    assert err.value.code == code
    assert err.value.meter == EAN_G


async def test_fault_variants(
    http_session: aiohttp.ClientSession, serve: Serve
) -> None:
    """The manual's http:// detail namespace, faults in a 200, faults without code."""
    sim = KenterSimulator(
        now=NOW, fault_namespace="http://kenter.realm2m.nl/api/kenter/1.0/"
    )
    client = KenterClient(
        http_session,
        [conn(EAN_E, passcode="bad")],
        base_url=await serve(sim.build_app()),
    )
    with pytest.raises(KenterAuthError) as err:
        await client.async_get_meters()
    assert err.value.code == 1001
    sim.force_response(
        200, sim.fault_body(1007, f"Insufficient rights for EAN-code {EAN_E}")
    )
    with pytest.raises(KenterPermissionError):
        await client.async_get_history(
            meter_of(EAN_E, E_METER), NOW - timedelta(hours=1), NOW
        )
    sim.force_response(500, sim.client_fault("Cannot find dispatch method"))
    with pytest.raises(KenterUnknownFaultError) as err2:
        await client.async_get_meters()
    assert err2.value.code is None
    assert "Cannot find dispatch method" in str(err2.value)
    # A detail with an unreadable errorCode still maps (as a fault without code).
    bad = sim.fault_body(1001, "x").replace(
        "<errorCode>1001</errorCode>", "<errorCode>abc</errorCode>"
    )
    sim.force_response(500, bad)
    with pytest.raises(KenterUnknownFaultError):
        await client.async_get_meters()
    other = sim.fault_body(1001, "x").replace("ns2:FaultException", "ns2:Other")
    sim.force_response(500, other)
    with pytest.raises(KenterUnknownFaultError):
        await client.async_get_meters()
    sim.fault_namespace = NAMESPACE
    bad = sim.fault_body(1001, "x").replace(
        "<errorCode>1001</errorCode>", "<errorCode>abc</errorCode>"
    )
    sim.force_response(500, bad)
    with pytest.raises(KenterUnknownFaultError):
        await client.async_get_meters()


async def test_fault_message_scrubbed(
    client: KenterClient, sim: KenterSimulator
) -> None:
    """A passcode echoed by the server never reaches the message."""
    sim.force_fault(
        1001, f"Passcode {PASSCODES[EAN_EG]} is invalid for EAN-code {EAN_EG}"
    )
    with pytest.raises(KenterAuthError) as err:
        await client.async_get_meters()
    assert PASSCODES[EAN_EG] not in str(err.value)
    assert "**REDACTED**" in str(err.value)
    assert err.value.meter == EAN_EG


def test_fault_error_helpers() -> None:
    """Scrubbing bounds text; EAN-codes are found in unknown text too."""
    assert scrub("a\nb" + "x" * 400, ["b"]).startswith("a **REDACTED**")
    assert len(scrub("y" * 400, [])) == 301
    error = fault_error(
        1007, "Insufficient rights for EAN-code 1234", eans=["zz"], secrets=[]
    )
    assert error.meter == "1234"
    error = fault_error(
        1009, "A meter without EAN-code was given", eans=["111", "222"], secrets=[]
    )
    assert error.meter is None
    error = fault_error(1000, "", eans=["123"], secrets=[])
    assert error.meter == "123"
    assert fault_error(1001, "no code here", eans=[], secrets=[]).meter is None


# --------------------------------------------------- simulator fault inputs


@pytest.mark.parametrize(
    ("meters", "code"),
    [
        ("", 1008),
        ("<meter><passcode>x</passcode></meter>", 1009),
        (
            f"<meter><eanCode>{EAN_E}</eanCode><passcode>jTx7HCB</passcode></meter>",
            1002,
        ),
        (
            f"<meter><eanCode>{EAN_E}</eanCode><passcode>jTx7HCB</passcode>"
            "<startDate>2025-01-01T00:00:00Z</startDate></meter>",
            1002,
        ),
        (
            f"<meter><eanCode>{EAN_E}</eanCode><passcode>jTx7HCB</passcode>"
            "<startDate>2025-01-01T00:00:00+01:00</startDate><endDate>2025-13-01T00:00:00+01:00</endDate></meter>",
            1003,
        ),
        (
            f"<meter><eanCode>{EAN_E}</eanCode><passcode>jTx7HCB</passcode>"
            "<startDate>2025-01-02T00:00:00+01:00</startDate><endDate>2025-01-01T00:00:00+01:00</endDate></meter>",
            1004,
        ),
        (
            f"<meter><eanCode>{EAN_E}</eanCode><passcode>jTx7HCB</passcode>"
            "<startDate>2025-01-01T00:00:00+01:00</startDate><endDate>2025-02-01T00:00:01+01:00</endDate></meter>",
            1005,
        ),
    ],
)
async def test_simulator_period_faults(
    http_session: aiohttp.ClientSession, url: str, meters: str, code: int
) -> None:
    """Faults the client never provokes are reachable by hand-written requests."""
    status, text = await raw_post(
        http_session, url, request_xml("getMeterData", meters)
    )
    assert status == 500
    assert f"<errorCode>{code}</errorCode>" in text


async def test_simulator_requests(
    http_session: aiohttp.ClientSession, url: str, sim: KenterSimulator
) -> None:
    """No endDate means now; broken and unknown requests get client faults."""
    status, text = await raw_post(
        http_session,
        url,
        request_xml(
            "getMeterData",
            f"<meter><eanCode>{EAN_G}</eanCode><passcode>{PASSCODES[EAN_G]}</passcode>"
            "<startDate>2025-11-05T10:00:00+01:00</startDate></meter>",
        ),
    )
    assert status == 200 and text.count("<measureValue>") == 3  # 10, 11, 12 h
    status, text = await raw_post(http_session, url, request_xml("getSomething", ""))
    assert status == 500 and "S:Client" in text
    status, text = await raw_post(http_session, url, "<broken")
    assert status == 500 and "S:Client" in text
    status, text = await raw_post(
        http_session, url, f'<x:Envelope xmlns:x="{SOAP_ENV}"/>'
    )
    assert status == 500 and "no SOAP body" in text
    assert sim.request_count == 4
    assert sim.request_counts[PATH] == 4
    assert sim.operation_counts["getMeterData"] == 1
    assert sim.operation_counts[""] == 2


# ------------------------------------------------------------- HTTP and XML


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, MeetdataAuthError),
        (403, MeetdataPermissionError),
        (404, MeetdataResponseError),
        (500, MeetdataConnectionError),
        (503, MeetdataConnectionError),
    ],
)
async def test_http_statuses(
    client: KenterClient, sim: KenterSimulator, status: int, error: type[MeetdataError]
) -> None:
    """Statuses without a SOAP fault map by class."""
    sim.force_response(status, "<html>busy</html>")
    with pytest.raises(error, match=f"HTTP {status}"):
        await client.async_get_meters()


async def test_error_status_with_plain_envelope(
    client: KenterClient, sim: KenterSimulator
) -> None:
    """A 500 whose envelope holds no fault is a server failure."""
    sim.force_response(500, envelope("getMeterMetaData", ""))
    with pytest.raises(MeetdataConnectionError, match="HTTP 500"):
        await client.async_get_meters()


async def test_rate_limited(client: KenterClient, sim: KenterSimulator) -> None:
    """429 carries Retry-After."""
    sim.force_response(429, "", headers={"Retry-After": "7"}, count=2)
    for _ in range(2):
        with pytest.raises(MeetdataRateLimitError) as err:
            await client.async_get_meters()
        assert err.value.retry_after == 7
    sim.force_response(
        429, "", headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    )
    with pytest.raises(MeetdataRateLimitError) as err:
        await client.async_get_latest([meter_of(EAN_E, E_METER)])
    assert err.value.retry_after is None
    sim.force_response(429, "")
    with pytest.raises(MeetdataRateLimitError) as err:
        await client.async_get_meters()
    assert err.value.retry_after is None
    assert sim.request_count == 4


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"", "malformed XML"),
        (b"<S:Envelope", "malformed XML"),
        (b"<html><body>maintenance</body></html>", "no SOAP envelope"),
        (
            b'<!DOCTYPE x [<!ENTITY a "b">]><S:Envelope xmlns:S="http://schemas.xmlsoap.org/soap/envelope/"/>',
            "DOCTYPE",
        ),
        (
            f'<S:Envelope xmlns:S="{SOAP_ENV}"><S:Body/></S:Envelope>'.encode(),
            "empty SOAP body",
        ),
        (envelope("getLatestMeasurement", ""), "unexpected element"),
        (
            envelope("getMeterMetaData", "<return><eanCode>1</eanCode></return>"),
            "without eanCode",
        ),
    ],
)
async def test_malformed_metadata(
    client: KenterClient, sim: KenterSimulator, body: bytes, match: str
) -> None:
    """Bodies that are no proper getMeterMetaData answer."""
    sim.force_response(200, body)
    with pytest.raises(MeetdataResponseError, match=match):
        await client.async_get_meters()


async def test_malformed_history(client: KenterClient, sim: KenterSimulator) -> None:
    """A truncated answer and a wrong element during history."""
    meter = meter_of(EAN_E, E_METER)
    sim.force_malformed()
    with pytest.raises(MeetdataResponseError, match="malformed"):
        await client.async_get_history(meter, NOW - timedelta(hours=1), NOW)
    sim.force_response(200, envelope("getMeterMetaData", ""))
    with pytest.raises(MeetdataResponseError, match="unexpected element"):
        await client.async_get_history(meter, NOW - timedelta(hours=1), NOW)


async def test_empty_answers(client: KenterClient, sim: KenterSimulator) -> None:
    """Answers without return elements are no meters and no readings."""
    sim.force_response(200, envelope("getMeterMetaData", ""))
    assert await client.async_get_meters() == []
    sim.force_response(200, envelope("getLatestMeasurement", ""))
    assert await client.async_get_latest([meter_of(EAN_E, E_METER)]) == {}


async def test_size_cap(make_client: Callable[..., KenterClient]) -> None:
    """Answers beyond the cap are refused."""
    client = make_client(max_response_bytes=50_000)
    start = datetime(2025, 1, 1, tzinfo=UTC)
    with pytest.raises(MeetdataTooLargeError, match="byte limit"):
        await client.async_get_history(
            meter_of(EAN_E, E_METER), start, start + timedelta(days=5)
        )


async def test_timeout(
    make_client: Callable[..., KenterClient], sim: KenterSimulator
) -> None:
    """A slow server times out."""
    sim.delay = 0.2
    with pytest.raises(MeetdataTimeoutError):
        await make_client(timeout=0.05).async_get_meters()


async def test_connection_refused(
    http_session: aiohttp.ClientSession, socket_enabled: None
) -> None:
    """An unreachable server is a connection error without secrets."""
    client = KenterClient(
        http_session, ACCOUNT, base_url="http://127.0.0.1:9/realtime/1.0/"
    )
    with pytest.raises(MeetdataConnectionError) as err:
        await client.async_get_meters()
    assert "jTx7HCB" not in str(err.value)


# -------------------------------------------------------------------- codec


def test_transport_refuses_network() -> None:
    """Zeep's transport reads the shipped WSDL only."""
    transport = LocalOnlyTransport()
    with pytest.raises(MeetdataResponseError):
        transport.load("https://api-realtime.kenter.nu/realtime/1.0/soap.wsdl")
    with pytest.raises(MeetdataResponseError):
        transport.load("/etc/passwd")
    with pytest.raises(MeetdataResponseError):
        transport._load_remote_data("https://example.invalid/")
    with pytest.raises(MeetdataResponseError):
        transport.get("https://example.invalid/", {}, {})
    with pytest.raises(MeetdataResponseError):
        transport.post("https://example.invalid/", b"", {})
    assert load_codec() is load_codec()


def test_codec_builds_manual_requests() -> None:
    """Requests look like the manual's, passcodes escaped."""
    body = load_codec().build(
        "getMeterData",
        [
            {
                "eanCode": EAN_E,
                "passcode": "a<b&c",
                "startDate": "2022-03-02T21:00:00+01:00",
            }
        ],
    )
    root = etree.fromstring(body)
    operation = root.find(f"{{{SOAP_ENV}}}Body")[0]
    assert operation.tag == f"{{{NAMESPACE}}}getMeterData"
    meter = operation.find("meter")
    assert meter.findtext("passcode") == "a<b&c"
    assert meter.findtext("startDate") == "2022-03-02T21:00:00+01:00"


def test_timestamps(caplog: pytest.LogCaptureFixture) -> None:
    """Offsets, UTC and local times; the repeated hour without order is logged."""
    assert parse_timestamp("2022-03-03T08:45:00+01:00") == datetime(
        2022, 3, 3, 7, 45, tzinfo=UTC
    )
    assert parse_timestamp("2022-03-03T07:45:00Z") == datetime(
        2022, 3, 3, 7, 45, tzinfo=UTC
    )
    assert parse_timestamp("2022-03-03T08:45:00") == datetime(
        2022, 3, 3, 7, 45, tzinfo=UTC
    )
    with caplog.at_level(logging.WARNING):
        first = resolve_local(datetime(2025, 10, 26, 2, 30), None)
    assert first == datetime(2025, 10, 26, 0, 30, tzinfo=UTC)
    assert "ambiguous" in caplog.text
    second = resolve_local(datetime(2025, 10, 26, 2, 30), first)
    assert second == datetime(2025, 10, 26, 1, 30, tzinfo=UTC)
    with pytest.raises(MeetdataResponseError):
        resolve_local(datetime(2025, 3, 30, 2, 30), None)
