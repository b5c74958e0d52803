"""Tests of the DTL client (Liander "Dynamisch Terugleveren" profile) over real HTTP."""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any
from zoneinfo import ZoneInfo

import aiohttp
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
)
from custom_components.meetdata.api.models import (
    MEAN_QUANTITIES,
    IntervalSeries,
    Meter,
    MeterKind,
    Quality,
    Quantity,
)
from custom_components.meetdata.providers.dtl.client.client import (
    MAX_WINDOW,
    DtlClient,
    MeterType,
    MetingType,
    is_valid_ean,
)

from ...conftest import Serve
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
    with_check_digit,
)

AMS = ZoneInfo("Europe/Amsterdam")
NOW = datetime(2025, 11, 1, 12, 2, 30, tzinfo=UTC)
FIVE = timedelta(minutes=5)
HOUR_START = datetime(2025, 11, 1, 11, 0, tzinfo=UTC)
HOUR_END = datetime(2025, 11, 1, 12, 0, tzinfo=UTC)
TYPE_QUANTITY = {
    "actief_vermogen": Quantity.POWER,
    "blind_vermogen": Quantity.REACTIVE_POWER,
    "spanning_l1": Quantity.VOLTAGE_L1,
    "spanning_l2": Quantity.VOLTAGE_L2,
    "spanning_l3": Quantity.VOLTAGE_L3,
}

type MakeClient = Callable[..., DtlClient]


@pytest.fixture
def sim() -> DtlSimulator:
    """Return a simulator whose data ends at 2025-11-01 12:00 UTC."""
    return DtlSimulator(now=NOW)


@pytest.fixture
async def base_url(serve: Serve, sim: DtlSimulator) -> str:
    """Serve the simulator."""
    return await serve(sim.build_app())


@pytest.fixture
def make_client(http_session: aiohttp.ClientSession, base_url: str) -> MakeClient:
    """Build clients against the simulator (demo credentials unless overridden)."""

    def _make(**kwargs: Any) -> DtlClient:
        args: dict[str, Any] = {
            "base_url": base_url,
            "username": DEMO_USERNAME,
            "password": DEMO_PASSWORD,
            "customer_eans": [CUSTOMER_EAN, SECOND_CUSTOMER_EAN],
        }
        args.update(kwargs)
        return DtlClient(http_session, **args)

    return _make


@pytest.fixture
def client(make_client: MakeClient) -> DtlClient:
    """Return a client with the demo credentials and both demo customers."""
    return make_client()


def _meter(key: str, kind: MeterKind, klant_ean: str | None = CUSTOMER_EAN) -> Meter:
    """Build a Meter as async_get_meters would."""
    attributes = {} if klant_ean is None else {"klant_ean": klant_ean}
    return Meter("dtl", key, kind, attributes=attributes)


TRANSFER = _meter(TRANSFER_METER_EAN, MeterKind.TRANSFER_POINT)
PRODUCTION = _meter(PRODUCTION_METER_EAN, MeterKind.PRODUCTION)


def _series(result: list[IntervalSeries]) -> dict[Quantity, IntervalSeries]:
    """Index series by quantity."""
    return {series.quantity: series for series in result}


def _local_day(year: int, month: int, day: int) -> tuple[datetime, datetime]:
    """Return [local midnight, next local midnight) of an Amsterdam day."""
    start = datetime(year, month, day, tzinfo=AMS)
    end = (start + timedelta(days=1, hours=3)).replace(hour=0)
    return start.astimezone(UTC), end.astimezone(UTC)


def _check_history(
    sim: DtlSimulator,
    meter: Meter,
    start: datetime,
    end: datetime,
    result: list[IntervalSeries],
) -> None:
    """Compare every series against the simulator's own values."""
    by_quantity = _series(result)
    for meting_type, quantity in TYPE_QUANTITY.items():
        expected = sim.expected(meter.key, meting_type, start, end)
        got = by_quantity[quantity].intervals
        assert [(i.start, i.value) for i in got] == expected
        assert all(i.end - i.start == FIVE for i in got)
        assert all(i.quality is Quality.MEASURED for i in got)
        assert quantity in MEAN_QUANTITIES
    power = sim.expected(meter.key, "actief_vermogen", start, end)
    if meter.kind is MeterKind.PRODUCTION:
        plus, minus = Quantity.AUXILIARY, Quantity.PRODUCTION
        assert Quantity.ENERGY_IMPORT not in by_quantity
    else:
        plus, minus = Quantity.ENERGY_IMPORT, Quantity.ENERGY_EXPORT
        assert Quantity.PRODUCTION not in by_quantity
    for quantity, sign in ((plus, 1), (minus, -1)):
        intervals = by_quantity[quantity].intervals
        assert [i.start for i in intervals] == [moment for moment, _ in power]
        assert all(i.end - i.start == FIVE for i in intervals)
        assert [i.value for i in intervals] == pytest.approx(
            [max(sign * kw, 0) * 5 / 60 for _, kw in power]
        )


# --- construction -----------------------------------------------------------


def test_is_valid_ean() -> None:
    """GS1 check digits of 18-digit EANs."""
    assert is_valid_ean(CUSTOMER_EAN)
    assert all(
        is_valid_ean(with_check_digit(f"{n:017d}"))
        for n in range(0, 10**17, 10**15 + 7)
    )
    # Wikipedia's EAN-13 example 4006381333931, right-aligned in 18 digits.
    assert is_valid_ean("000004006381333931")
    assert not is_valid_ean("000004006381333932")
    wrong = CUSTOMER_EAN[:-1] + str((int(CUSTOMER_EAN[-1]) + 1) % 10)
    assert not is_valid_ean(wrong)
    assert not is_valid_ean(CUSTOMER_EAN[:-1])
    assert not is_valid_ean("87168714000012345x")
    assert not is_valid_ean("\uff18" * 18)  # full-width digits


@pytest.mark.parametrize(
    ("base_url", "message"),
    [
        ("http://meetbedrijf.example", "HTTPS"),
        ("ftp://meetbedrijf.example", "HTTPS"),
        ("https://demo:geheim@meetbedrijf.example", "credentials"),
        ("https://meetbedrijf.example/api?x=1", "query"),
        ("https://meetbedrijf.example/api#frag", "query"),
        ("/api", "absolute"),
        ("http://[::1", "valid"),
    ],
)
def test_base_url_refused(
    http_session: aiohttp.ClientSession, base_url: str, message: str
) -> None:
    """Unsafe base URLs are refused without echoing secrets."""
    with pytest.raises(MeetdataInvalidRequestError, match=message) as err:
        DtlClient(http_session, base_url, "demo", "pw", [CUSTOMER_EAN])
    assert "geheim" not in str(err.value)


@pytest.mark.parametrize(
    "base_url",
    [
        "https://meetbedrijf.example/api/dtl/",
        "http://localhost:8080",
        "http://127.0.0.1:8080/",
        "http://[::1]:8080",
    ],
)
def test_base_url_accepted(http_session: aiohttp.ClientSession, base_url: str) -> None:
    """HTTPS anywhere, HTTP only on the loopback host; trailing slash dropped."""
    client = DtlClient(http_session, base_url, "demo", "pw", CUSTOMER_EAN)
    assert not client.base_url.endswith("/")
    assert client.customer_eans == (CUSTOMER_EAN,)
    assert client.provider == "dtl"
    assert client.max_history == timedelta(days=31)


def test_credentials_and_eans_validated(http_session: aiohttp.ClientSession) -> None:
    """Empty credentials, a colon in the username and bad EANs are refused."""
    url = "https://meetbedrijf.example"
    with pytest.raises(MeetdataInvalidRequestError):
        DtlClient(http_session, url, "", "pw", [CUSTOMER_EAN])
    with pytest.raises(MeetdataInvalidRequestError):
        DtlClient(http_session, url, "demo", "", [CUSTOMER_EAN])
    with pytest.raises(MeetdataInvalidRequestError, match="colon") as err:
        DtlClient(http_session, url, "de:mo", "s3cret", [CUSTOMER_EAN])
    assert "s3cret" not in str(err.value)
    with pytest.raises(MeetdataInvalidRequestError) as bad:
        DtlClient(http_session, url, "demo", "pw", ["87168714000012345"])
    assert bad.value.meter == "87168714000012345"
    # A wrong check digit is left to the API to judge.
    typo = DtlClient(http_session, url, "demo", "pw", ["871687140000123450"])
    assert typo.customer_eans == ("871687140000123450",)
    with pytest.raises(MeetdataInvalidRequestError, match="At least one"):
        DtlClient(http_session, url, "demo", "pw", [])
    client = DtlClient(
        http_session,
        url,
        "demo",
        "pw",
        [f" {CUSTOMER_EAN} ", CUSTOMER_EAN, SECOND_CUSTOMER_EAN],
    )
    assert client.customer_eans == (CUSTOMER_EAN, SECOND_CUSTOMER_EAN)


# --- call 1 -------------------------------------------------------------------


async def test_get_meters(client: DtlClient, sim: DtlSimulator) -> None:
    """One meter per meter EAN with kind and attributes; credentials in a header."""
    meters = await client.async_get_meters()
    assert [(m.key, m.kind) for m in meters] == [
        (PRODUCTION_METER_EAN, MeterKind.PRODUCTION),
        (TRANSFER_METER_EAN, MeterKind.TRANSFER_POINT),
        (SECOND_TRANSFER_METER_EAN, MeterKind.TRANSFER_POINT),
    ]
    last = "2025-11-01T11:55:00+00:00"
    assert meters[0].provider == "dtl"
    assert meters[0].model == "Gross production meter"
    assert meters[0].name == f"Gross production meter {PRODUCTION_METER_EAN}"
    assert meters[1].model == "Transfer-point meter"
    assert meters[0].attributes == {
        "klant_ean": CUSTOMER_EAN,
        "meter_type": "bruto_productie",
        "datum_laatste_meting": last,
    }
    assert meters[2].attributes["klant_ean"] == SECOND_CUSTOMER_EAN
    (request,) = sim.requests
    assert request.path == "/meters"
    assert request.query == [
        ("klant_ean", CUSTOMER_EAN),
        ("klant_ean", SECOND_CUSTOMER_EAN),
    ]
    assert request.authorization
    assert request.status == 200
    assert sim.request_count["/meters"] == 1


async def test_missing_customers(make_client: MakeClient, sim: DtlSimulator) -> None:
    """Unknown customers and withdrawn consent are reported as missing."""
    client = make_client(
        customer_eans=[CUSTOMER_EAN, UNKNOWN_CUSTOMER_EAN, SECOND_CUSTOMER_EAN]
    )
    assert await client.async_missing_customers() == [UNKNOWN_CUSTOMER_EAN]
    sim.hidden_customers.add(CUSTOMER_EAN)
    available = await client.async_get_available()
    assert available.missing_customers == [CUSTOMER_EAN, UNKNOWN_CUSTOMER_EAN]
    assert [m.meter_ean for m in available.meters] == [SECOND_TRANSFER_METER_EAN]
    assert available.meters[0].meter_type is MeterType.OVERDRACHTSPUNT
    assert available.skipped_rows == 0


async def test_meters_malformed_rows(client: DtlClient, sim: DtlSimulator) -> None:
    """Bad meter rows are skipped and counted; foreign or repeated rows ignored."""
    sim.extra_meter_rows = [
        "rommel",
        {"klant_ean": CUSTOMER_EAN, "meter_ean": "1"},
        {"klant_ean": CUSTOMER_EAN, "meter_ean": "2", "meter_type": "gas"},
        {"klant_ean": True, "meter_ean": "3", "meter_type": "overdrachtspunt"},
        {"klant_ean": CUSTOMER_EAN, "meter_ean": 4.5, "meter_type": "overdrachtspunt"},
        {
            "klant_ean": UNKNOWN_CUSTOMER_EAN,
            "meter_ean": "5",
            "meter_type": "overdrachtspunt",
        },
        {
            "klant_ean": CUSTOMER_EAN,
            "meter_ean": TRANSFER_METER_EAN,
            "meter_type": "bruto_productie",
        },
        {
            "klant_ean": int(CUSTOMER_EAN),
            "meter_ean": 871687140000000011,
            "meter_type": "Overdrachtspunt",
            "datum_laatste_meting": "2025-10-26T02:30:00",
        },
        {
            "klant_ean": CUSTOMER_EAN,
            "meter_ean": "7",
            "meter_type": "bruto_productie",
            "datum_laatste_meting": "gisteren",
        },
        {
            "klant_ean": CUSTOMER_EAN,
            "meter_ean": "8",
            "meter_type": "bruto_productie",
            "datum_laatste_meting": None,
        },
    ]
    available = await client.async_get_available()
    assert available.skipped_rows == 5
    assert client.skipped_rows == 5
    by_key = {m.meter_ean: m for m in available.meters}
    assert by_key[TRANSFER_METER_EAN].meter_type is MeterType.OVERDRACHTSPUNT
    assert "5" not in by_key
    # Without offset: Amsterdam wall time (fold 0 in the repeated hour).
    assert by_key["871687140000000011"].datum_laatste_meting == datetime(
        2025, 10, 26, 0, 30, tzinfo=UTC
    )
    assert by_key["7"].datum_laatste_meting is None
    assert by_key["8"].datum_laatste_meting is None
    meters = {m.key: m for m in await client.async_get_meters()}
    assert "datum_laatste_meting" not in meters["8"].attributes
    # Meters without a last measurement have no latest readings.
    assert await client.async_get_latest([meters["8"]]) == {}


async def test_meters_204(client: DtlClient, sim: DtlSimulator) -> None:
    """204 No Content is an empty list."""
    sim.force(204, body=b"")
    available = await client.async_get_available()
    assert available.meters == []
    assert available.missing_customers == [CUSTOMER_EAN, SECOND_CUSTOMER_EAN]


# --- call 2: history -----------------------------------------------------------


async def test_history_transfer_point(client: DtlClient, sim: DtlSimulator) -> None:
    """An ordinary day: 288 intervals of each type, energy derived and split."""
    start, end = _local_day(2025, 10, 30)
    result = await client.async_get_history(TRANSFER, start, end)
    assert [s.quantity for s in result] == [
        Quantity.POWER,
        Quantity.REACTIVE_POWER,
        Quantity.VOLTAGE_L1,
        Quantity.VOLTAGE_L2,
        Quantity.VOLTAGE_L3,
        Quantity.ENERGY_IMPORT,
        Quantity.ENERGY_EXPORT,
    ]
    assert all(
        len(s.intervals) == 288 and s.meter_key == TRANSFER_METER_EAN for s in result
    )
    _check_history(sim, TRANSFER, start, end, result)
    by_quantity = _series(result)
    # The demo site both imports (night) and exports (midday) on this day.
    assert sum(i.value for i in by_quantity[Quantity.ENERGY_IMPORT].intervals) > 0
    assert sum(i.value for i in by_quantity[Quantity.ENERGY_EXPORT].intervals) > 0
    (request,) = sim.requests
    assert dict(request.query) == {
        "klant_ean": CUSTOMER_EAN,
        "meter_ean": TRANSFER_METER_EAN,
        "start_tijd": "2025-10-30T00:00:00+01:00",
        "eind_tijd": "2025-10-31T00:00:00+01:00",
    }


async def test_history_production(client: DtlClient, sim: DtlSimulator) -> None:
    """A production meter: negative kW is production, positive is auxiliary."""
    start, end = _local_day(2025, 10, 30)
    result = await client.async_get_history(PRODUCTION, start, end)
    _check_history(sim, PRODUCTION, start, end, result)
    by_quantity = _series(result)
    production = by_quantity[Quantity.PRODUCTION].intervals
    auxiliary = by_quantity[Quantity.AUXILIARY].intervals
    assert sum(i.value for i in production) > 100
    assert 0 < sum(i.value for i in auxiliary) < 10
    noon = datetime(2025, 10, 30, 11, 0, tzinfo=UTC)
    kw = sim.value(PRODUCTION_METER_EAN, "actief_vermogen", noon)
    assert kw < 0
    (at_noon,) = [i for i in production if i.start == noon]
    assert at_noon.value == pytest.approx(-kw / 12)


@pytest.mark.parametrize("order", ["by_time", "by_type"])
async def test_history_october_repeated_hour(
    client: DtlClient, sim: DtlSimulator, order: str
) -> None:
    """2025-10-26 has 25 hours: 300 intervals per type, the repeated hour by order."""
    sim.order = order
    start, end = _local_day(2025, 10, 26)
    assert end - start == timedelta(hours=25)
    result = await client.async_get_history(TRANSFER, start, end)
    for series in result:
        starts = [i.start for i in series.intervals]
        assert len(starts) == 300
        assert starts == sorted(set(starts))
    _check_history(sim, TRANSFER, start, end, result)
    power = _series(result)[Quantity.POWER].intervals
    # 02:00 local occurs twice: 00:00 UTC (CEST) and 01:00 UTC (CET).
    assert power[24].start == datetime(2025, 10, 26, 0, 0, tzinfo=UTC)
    assert power[36].start == datetime(2025, 10, 26, 1, 0, tzinfo=UTC)


async def test_history_window_inside_repeated_hour(
    client: DtlClient, sim: DtlSimulator
) -> None:
    """A window that starts or ends inside the repeated hour resolves by the window."""
    for start, end in (
        (
            datetime(2025, 10, 26, 1, 0, tzinfo=UTC),
            datetime(2025, 10, 26, 3, tzinfo=UTC),
        ),
        (
            datetime(2025, 10, 25, 23, tzinfo=UTC),
            datetime(2025, 10, 26, 0, 30, tzinfo=UTC),
        ),
        (
            datetime(2025, 10, 26, 0, 30, tzinfo=UTC),
            datetime(2025, 10, 26, 1, 30, tzinfo=UTC),
        ),
    ):
        result = await client.async_get_history(TRANSFER, start, end)
        _check_history(sim, TRANSFER, start, end, result)


async def test_history_spring_day(
    serve: Serve, http_session: aiohttp.ClientSession
) -> None:
    """2025-03-30 has 23 hours: 276 intervals per type."""
    sim = DtlSimulator(now=datetime(2025, 4, 5, tzinfo=UTC))
    client = DtlClient(
        http_session,
        await serve(sim.build_app()),
        DEMO_USERNAME,
        DEMO_PASSWORD,
        [CUSTOMER_EAN],
    )
    start, end = _local_day(2025, 3, 30)
    assert end - start == timedelta(hours=23)
    result = await client.async_get_history(PRODUCTION, start, end)
    assert {len(s.intervals) for s in result} == {276}
    _check_history(sim, PRODUCTION, start, end, result)


async def test_history_month_split_into_windows(
    client: DtlClient, sim: DtlSimulator
) -> None:
    """A month is fetched in windows of at most 7 days; data ends at 'now'."""
    start = NOW - timedelta(days=40)
    result = await client.async_get_history(TRANSFER, start, NOW)
    requests = [r for r in sim.requests if r.path == "/meetdata"]
    assert len(requests) == 6  # 40 days / 7 days
    assert all(r.status == 200 for r in requests)
    for request in requests:
        query = dict(request.query)
        span = datetime.fromisoformat(query["eind_tijd"]) - datetime.fromisoformat(
            query["start_tijd"]
        )
        assert span <= MAX_WINDOW
    power = _series(result)[Quantity.POWER].intervals
    assert len(power) == 31 * 288
    assert power[0].start == sim.data_start
    assert power[-1].end == datetime(2025, 11, 1, 12, 0, tzinfo=UTC)
    _check_history(sim, TRANSFER, start, NOW, result)


async def test_history_gaps(client: DtlClient, sim: DtlSimulator) -> None:
    """Missing intervals stay missing, per meter and per type."""
    start, end = _local_day(2025, 10, 30)
    hole = (
        datetime(2025, 10, 30, 10, tzinfo=UTC),
        datetime(2025, 10, 30, 11, tzinfo=UTC),
    )
    sim.add_gap(*hole, meter_ean=TRANSFER_METER_EAN)
    sim.add_gap(start, end, meter_ean=TRANSFER_METER_EAN, meting_types=["spanning_l3"])
    sim.add_gap(start, end, meter_ean=PRODUCTION_METER_EAN)
    result = await client.async_get_history(TRANSFER, start, end)
    by_quantity = _series(result)
    assert len(by_quantity[Quantity.POWER].intervals) == 288 - 12
    assert len(by_quantity[Quantity.ENERGY_IMPORT].intervals) == 288 - 12
    assert by_quantity[Quantity.VOLTAGE_L3].intervals == []
    assert not any(
        hole[0] <= i.start < hole[1] for i in by_quantity[Quantity.POWER].intervals
    )
    _check_history(sim, TRANSFER, start, end, result)


async def test_history_edge_arguments(client: DtlClient, sim: DtlSimulator) -> None:
    """Naive datetimes are refused; an empty period sends no request."""
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_get_history(
            TRANSFER, datetime(2025, 10, 30), datetime(2025, 10, 31)
        )
    result = await client.async_get_history(TRANSFER, NOW, NOW)
    assert len(result) == 7
    assert all(s.intervals == [] for s in result)
    assert sim.requests == []
    # Outside the month the company keeps: an empty answer, not an error.
    old = await client.async_get_history(
        TRANSFER, NOW - timedelta(days=60), NOW - timedelta(days=59)
    )
    assert all(s.intervals == [] for s in old)


async def test_history_meter_without_attributes(
    client: DtlClient, sim: DtlSimulator
) -> None:
    """A meter without klant_ean attribute is looked up via call 1."""
    start, end = HOUR_START, HOUR_END
    bare = _meter(SECOND_TRANSFER_METER_EAN, MeterKind.TRANSFER_POINT, klant_ean=None)
    result = await client.async_get_history(bare, start, end)
    assert len(_series(result)[Quantity.POWER].intervals) == 12
    assert [r.path for r in sim.requests] == ["/meters", "/meetdata"]
    unknown = _meter("871687140000000011", MeterKind.TRANSFER_POINT, klant_ean=None)
    with pytest.raises(MeetdataNotFoundError) as err:
        await client.async_get_history(unknown, start, end)
    assert err.value.meter == "871687140000000011"


async def test_measurements_malformed_rows(
    client: DtlClient, sim: DtlSimulator
) -> None:
    """Malformed rows are skipped and counted; the good rows survive."""
    sim.inject_malformed = True
    start, end = NOW - timedelta(hours=1), NOW
    data = await client.async_get_measurements(
        CUSTOMER_EAN, TRANSFER_METER_EAN, start, end
    )
    assert data.skipped_rows == len(sim.malformed_rows(TRANSFER_METER_EAN)) == 6
    assert client.skipped_rows == 6
    assert data.values[MetingType.ACTIEF_VERMOGEN] == sim.expected(
        TRANSFER_METER_EAN, "actief_vermogen", start, end
    )


async def test_measurements_row_variants(client: DtlClient, sim: DtlSimulator) -> None:
    """Lenient where harmless, strict where a row could be misread."""
    good = {
        "klant_ean": CUSTOMER_EAN,
        "meter_ean": TRANSFER_METER_EAN,
        "meting_type": "actief_vermogen",
        "waarde_type": "kW",
    }
    sim.extra_rows = [
        # Accepted: numeric string, upper-case type/unit, explicit offset, seconds.
        {**good, "datum": "2025-10-31", "tijd": "10:00", "waarde": " 12 "},
        {
            **good,
            "datum": "2025-10-31",
            "tijd": "10:05:00",
            "waarde": 13,
            "meting_type": "ACTIEF_VERMOGEN",
            "waarde_type": "KW",
        },
        {**good, "datum": "2025-10-31", "tijd": "10:10+00:00", "waarde": 14},
        # Skipped and counted.
        {**good, "datum": "2025-10-31", "tijd": "10:00", "waarde": 99},  # duplicate
        {**good, "datum": "2025-10-31", "tijd": "10:15", "waarde": True},
        {**good, "datum": "2025-10-31", "tijd": "10:15", "waarde": "NaN"},
        {**good, "datum": "2025-10-31", "tijd": "10:15", "waarde": [1]},
        {**good, "datum": "2025-10-31", "tijd": "10:15:30", "waarde": 1},
        {**good, "datum": "31-10-2025", "tijd": "10:15", "waarde": 1},
        {**good, "datum": 20251031, "tijd": "10:15", "waarde": 1},
        {**good, "datum": "2025-10-31", "tijd": "10:15", "waarde": 1, "meting_type": 5},
        {
            **good,
            "datum": "2025-10-31",
            "tijd": "10:15",
            "waarde": 1,
            "meter_ean": PRODUCTION_METER_EAN,
        },
        {
            **good,
            "datum": "2025-10-31",
            "tijd": "10:15",
            "waarde": 1,
            "klant_ean": SECOND_CUSTOMER_EAN,
        },
        {**good, "datum": "2025-03-30", "tijd": "02:30", "waarde": 1},  # does not exist
        # Outside the window: dropped without counting.
        {**good, "datum": "2025-10-30", "tijd": "10:15", "waarde": 1},
    ]
    # A window with no simulator data (the simulator keeps 31 days).
    sim.retention = timedelta(0)
    start = datetime(2025, 10, 31, 9, tzinfo=UTC)
    data = await client.async_get_measurements(
        CUSTOMER_EAN, TRANSFER_METER_EAN, start, start + timedelta(hours=2)
    )
    assert data.values[MetingType.ACTIEF_VERMOGEN] == [
        (datetime(2025, 10, 31, 9, 0, tzinfo=UTC), 12.0),
        (datetime(2025, 10, 31, 9, 5, tzinfo=UTC), 13.0),
        (datetime(2025, 10, 31, 10, 10, tzinfo=UTC), 14.0),
    ]
    assert data.skipped_rows == 11
    assert data.values[MetingType.SPANNING_L1] == []


async def test_repeated_hour_order_without_window_help(
    client: DtlClient, sim: DtlSimulator
) -> None:
    """Rows of the repeated hour with only the second run partly present."""
    good = {
        "klant_ean": CUSTOMER_EAN,
        "meter_ean": TRANSFER_METER_EAN,
        "meting_type": "blind_vermogen",
        "waarde_type": "kVAr",
        "datum": "2025-10-26",
    }
    sim.retention = timedelta(0)
    sim.extra_rows = [
        {**good, "tijd": "02:00", "waarde": 1},
        {**good, "tijd": "02:30", "waarde": 2},
        {**good, "tijd": "02:00", "waarde": 3},
        {**good, "tijd": "02:55", "waarde": 4},
        {**good, "tijd": "03:00", "waarde": 5},
    ]
    start, end = _local_day(2025, 10, 26)
    data = await client.async_get_measurements(
        CUSTOMER_EAN, TRANSFER_METER_EAN, start, end
    )
    assert data.values[MetingType.BLIND_VERMOGEN] == [
        (datetime(2025, 10, 26, 0, 0, tzinfo=UTC), 1.0),
        (datetime(2025, 10, 26, 0, 30, tzinfo=UTC), 2.0),
        (datetime(2025, 10, 26, 1, 0, tzinfo=UTC), 3.0),
        (datetime(2025, 10, 26, 1, 55, tzinfo=UTC), 4.0),
        (datetime(2025, 10, 26, 2, 0, tzinfo=UTC), 5.0),
    ]


# --- latest ----------------------------------------------------------------------


async def test_latest(client: DtlClient, sim: DtlSimulator) -> None:
    """The newest 5-minute values; one /meters plus one /meetdata per meter."""
    meters = await client.async_get_meters()
    sim.requests.clear()
    latest = await client.async_get_latest(meters)
    newest = datetime(2025, 11, 1, 11, 55, tzinfo=UTC)
    assert set(latest) == {m.key for m in meters}
    for meter in meters:
        readings = latest[meter.key]
        assert set(readings) == {*TYPE_QUANTITY.values(), Quantity.LAST_MEASUREMENT}
        for meting_type, quantity in TYPE_QUANTITY.items():
            assert readings[quantity].value == sim.value(meter.key, meting_type, newest)
            assert readings[quantity].timestamp == newest
        assert readings[Quantity.LAST_MEASUREMENT].value == newest
    assert [r.path for r in sim.requests] == ["/meters"] + ["/meetdata"] * 3
    query = dict(sim.requests[1].query)
    assert query["start_tijd"] == "2025-11-01T10:55:00+01:00"
    assert query["eind_tijd"] == "2025-11-01T13:55:00+01:00"
    assert await client.async_get_latest([]) == {}


async def test_latest_with_gaps(client: DtlClient, sim: DtlSimulator) -> None:
    """Per type the newest present value; LAST_MEASUREMENT is the newest of all."""
    sim.add_gap(
        datetime(2025, 11, 1, 11, 30, tzinfo=UTC), NOW, meter_ean=TRANSFER_METER_EAN
    )
    sim.add_gap(
        datetime(2025, 11, 1, 11, 0, tzinfo=UTC),
        NOW,
        meter_ean=TRANSFER_METER_EAN,
        meting_types=["spanning_l2"],
    )
    sim.add_gap(NOW - timedelta(days=40), NOW, meter_ean=SECOND_TRANSFER_METER_EAN)
    latest = await client.async_get_latest(
        [TRANSFER, _meter(SECOND_TRANSFER_METER_EAN, MeterKind.TRANSFER_POINT)]
    )
    assert set(latest) == {TRANSFER_METER_EAN}
    readings = latest[TRANSFER_METER_EAN]
    newest = datetime(2025, 11, 1, 11, 25, tzinfo=UTC)
    assert readings[Quantity.LAST_MEASUREMENT].value == newest
    assert readings[Quantity.LAST_MEASUREMENT].timestamp == newest
    assert readings[Quantity.POWER].timestamp == newest
    l2 = readings[Quantity.VOLTAGE_L2]
    assert l2.timestamp == datetime(2025, 11, 1, 10, 55, tzinfo=UTC)
    assert l2.value == sim.value(TRANSFER_METER_EAN, "spanning_l2", l2.timestamp)


async def test_latest_missing_meters(client: DtlClient, sim: DtlSimulator) -> None:
    """Meters the API no longer lists or answers 404 for have no readings."""
    sim.hidden_customers.add(SECOND_CUSTOMER_EAN)
    sim.force(404, path="/meetdata")
    latest = await client.async_get_latest(
        [
            TRANSFER,
            PRODUCTION,
            _meter(SECOND_TRANSFER_METER_EAN, MeterKind.TRANSFER_POINT),
        ]
    )
    assert set(latest) == {PRODUCTION_METER_EAN}
    # No rows at all in the window: no readings for that meter.
    sim.force(200, body=b"[]", path="/meetdata")
    assert await client.async_get_latest([TRANSFER]) == {}


# --- errors ------------------------------------------------------------------------


async def test_wrong_password(make_client: MakeClient, sim: DtlSimulator) -> None:
    """401 → MeetdataAuthError without the password in the message."""
    client = make_client(password="verkeerd-wachtwoord")
    with pytest.raises(MeetdataAuthError) as err:
        await client.async_get_meters()
    assert "verkeerd-wachtwoord" not in str(err.value)
    assert sim.requests[0].status == 401
    sim.password = "verkeerd-wachtwoord"
    assert len(await client.async_get_meters()) == 3


@pytest.mark.parametrize(
    ("status", "path", "error"),
    [
        (401, "/meetdata", MeetdataAuthError),
        (403, "/meters", MeetdataPermissionError),
        (403, "/meetdata", MeetdataPermissionError),
        (404, "/meters", MeetdataNotFoundError),
        (404, "/meetdata", MeetdataNotFoundError),
        (400, "/meters", MeetdataInvalidRequestError),
        (400, "/meetdata", MeetdataInvalidRequestError),
        (429, "/meetdata", MeetdataRateLimitError),
        (500, "/meters", MeetdataConnectionError),
        (503, "/meetdata", MeetdataConnectionError),
        (302, "/meters", MeetdataResponseError),
        (418, "/meetdata", MeetdataResponseError),
    ],
)
async def test_status_mapping(
    client: DtlClient,
    sim: DtlSimulator,
    status: int,
    path: str,
    error: type[MeetdataError],
) -> None:
    """Every documented status maps to its MeetdataError; no secret in messages."""
    sim.force(status, path=path)
    call = (
        client.async_get_available()
        if path == "/meters"
        else client.async_get_history(TRANSFER, NOW - timedelta(hours=1), NOW)
    )
    with pytest.raises(error) as err:
        await call
    assert type(err.value) is error
    assert DEMO_PASSWORD not in str(err.value)
    assert str(status) in str(err.value)
    if path == "/meetdata":
        assert err.value.meter == TRANSFER_METER_EAN
    if status == 404 and path == "/meters":
        assert "base URL" in str(err.value)


async def test_rate_limit_retry_after(client: DtlClient, sim: DtlSimulator) -> None:
    """Retry-After in seconds or as an HTTP date; junk is ignored."""
    sim.force(429, headers={"Retry-After": "120"})
    with pytest.raises(MeetdataRateLimitError) as err:
        await client.async_get_meters()
    assert err.value.retry_after == 120
    when = datetime.now(UTC) + timedelta(seconds=300)
    sim.force(429, headers={"Retry-After": format_datetime(when, usegmt=True)})
    with pytest.raises(MeetdataRateLimitError) as err:
        await client.async_get_meters()
    assert err.value.retry_after is not None
    assert 250 < err.value.retry_after <= 300
    sim.force(429, headers={"Retry-After": "Sun, 21 Nov 2100 22:00:00 -0000"})
    with pytest.raises(MeetdataRateLimitError) as err:
        await client.async_get_meters()
    assert err.value.retry_after is not None
    assert err.value.retry_after > 3600
    for junk in ("soon", "inf"):
        sim.force(429, headers={"Retry-After": junk})
        with pytest.raises(MeetdataRateLimitError) as err:
            await client.async_get_meters()
        assert err.value.retry_after is None
    sim.force(429)
    with pytest.raises(MeetdataRateLimitError) as err:
        await client.async_get_meters()
    assert err.value.retry_after is None


@pytest.mark.parametrize(
    "body",
    [b"<html>Service</html>", b'{"meters": []}', b"\xff\xfe", b""],
)
async def test_malformed_bodies(
    client: DtlClient, sim: DtlSimulator, body: bytes
) -> None:
    """Bodies that are not a JSON array raise MeetdataResponseError."""
    sim.force(200, body=body, path="/meters")
    with pytest.raises(MeetdataResponseError):
        await client.async_get_meters()
    sim.force(200, body=body, path="/meetdata")
    with pytest.raises(MeetdataResponseError) as err:
        await client.async_get_history(TRANSFER, NOW - timedelta(hours=1), NOW)
    assert err.value.meter is None or err.value.meter == TRANSFER_METER_EAN


async def test_bom_and_204(client: DtlClient, sim: DtlSimulator) -> None:
    """A UTF-8 byte order mark is tolerated; 204 means no data."""
    sim.force(200, body="\ufeff[]".encode(), path="/meetdata")
    data = await client.async_get_measurements(
        CUSTOMER_EAN, TRANSFER_METER_EAN, NOW - timedelta(hours=1), NOW
    )
    assert all(samples == [] for samples in data.values.values())
    sim.force(204, body=b"", path="/meetdata")
    data = await client.async_get_measurements(
        CUSTOMER_EAN, TRANSFER_METER_EAN, NOW - timedelta(hours=1), NOW
    )
    assert all(samples == [] for samples in data.values.values())


async def test_size_cap(make_client: MakeClient) -> None:
    """A body over the cap raises MeetdataResponseError."""
    client = make_client(max_response_bytes=10_000)
    with pytest.raises(MeetdataResponseError, match="limit"):
        await client.async_get_history(TRANSFER, NOW - timedelta(days=1), NOW)


async def test_timeout(make_client: MakeClient, sim: DtlSimulator) -> None:
    """A slow server raises MeetdataTimeoutError."""
    sim.delay = 0.2
    client = make_client(timeout=0.05)
    with pytest.raises(MeetdataTimeoutError):
        await client.async_get_meters()


async def test_connection_refused(
    http_session: aiohttp.ClientSession, socket_enabled: None
) -> None:
    """No server: MeetdataConnectionError."""
    client = DtlClient(
        http_session, "http://127.0.0.1:9", DEMO_USERNAME, DEMO_PASSWORD, [CUSTOMER_EAN]
    )
    with pytest.raises(MeetdataConnectionError) as err:
        await client.async_get_meters()
    assert DEMO_PASSWORD not in str(err.value)


# --- the simulator itself ---------------------------------------------------------


async def test_simulator_validates_requests(
    http_session: aiohttp.ClientSession, base_url: str, sim: DtlSimulator
) -> None:
    """Missing or bad parameters are 400, unknown meters 404, bad auth 401."""
    auth = {
        "Authorization": "Basic "
        + base64.b64encode(f"{DEMO_USERNAME}:{DEMO_PASSWORD}".encode()).decode()
    }
    start = "2025-10-30T00:00:00+01:00"
    cases: list[tuple[str, dict[str, str], int]] = [
        ("/meters", {}, 400),
        ("/meetdata", {"klant_ean": CUSTOMER_EAN}, 400),
        (
            "/meetdata",
            {
                "klant_ean": CUSTOMER_EAN,
                "meter_ean": TRANSFER_METER_EAN,
                "start_tijd": "2025-10-30T00:00:00",
                "eind_tijd": start,
            },
            400,
        ),
        (
            "/meetdata",
            {
                "klant_ean": CUSTOMER_EAN,
                "meter_ean": TRANSFER_METER_EAN,
                "start_tijd": start,
                "eind_tijd": start,
            },
            400,
        ),
        (
            "/meetdata",
            {
                "klant_ean": CUSTOMER_EAN,
                "meter_ean": TRANSFER_METER_EAN,
                "start_tijd": start,
                "eind_tijd": "2025-11-07T00:00:01+01:00",
            },
            400,
        ),
        (
            "/meetdata",
            {
                "klant_ean": SECOND_CUSTOMER_EAN,
                "meter_ean": TRANSFER_METER_EAN,
                "start_tijd": start,
                "eind_tijd": "2025-10-31T00:00:00+01:00",
            },
            404,
        ),
        ("/elders", {}, 404),
    ]
    for path, params, status in cases:
        async with http_session.get(
            f"{base_url}{path}", params=params, headers=auth
        ) as resp:
            assert resp.status == status, (path, params)
    async with http_session.get(
        f"{base_url}/meters", params={"klant_ean": CUSTOMER_EAN}
    ) as resp:
        assert resp.status == 401
        assert resp.headers["WWW-Authenticate"].startswith("Basic")
    async with http_session.get(
        f"{base_url}/meters",
        params={"klant_ean": CUSTOMER_EAN},
        headers={"Authorization": "Basic !!!"},
    ) as resp:
        assert resp.status == 401
    assert sim.latest_start(TRANSFER_METER_EAN) == datetime(
        2025, 11, 1, 11, 55, tzinfo=UTC
    )
    sim.add_gap(NOW - timedelta(days=40), NOW, meter_ean=TRANSFER_METER_EAN)
    assert sim.latest_start(TRANSFER_METER_EAN) is None
    with pytest.raises(KeyError):
        sim.meter("0")


def test_simulator_clock() -> None:
    """Without a fixed now the simulator follows the real clock."""
    sim = DtlSimulator()
    assert abs(sim.now - datetime.now(UTC)) < timedelta(seconds=5)
    sim.now = NOW
    assert sim.data_end == datetime(2025, 11, 1, 12, 0, tzinfo=UTC)
    sim.fixed_now = None
    assert sim.now > NOW


def test_simulator_rows_are_deterministic() -> None:
    """Same seed, same rows; the October day has 300 rows per type."""
    start, end = _local_day(2025, 10, 26)
    first = DtlSimulator(now=NOW).rows(PRODUCTION_METER_EAN, start, end)
    assert first == DtlSimulator(now=NOW).rows(PRODUCTION_METER_EAN, start, end)
    assert first != DtlSimulator(now=NOW, seed=7).rows(PRODUCTION_METER_EAN, start, end)
    assert len(first) == 5 * 300
    assert [r["tijd"] for r in first if r["meting_type"] == "spanning_l1"][
        24:37:12
    ] == [
        "02:00",
        "02:00",
    ]
    assert all(isinstance(r["waarde"], int) for r in first if r["waarde_type"] != "V")
