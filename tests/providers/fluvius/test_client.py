"""Tests of the Fluvius client against the simulator over real HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise
import time
from typing import Any

import aiohttp
import orjson
import pytest

from custom_components.meetdata.api.errors import (
    MeetdataAuthError,
    MeetdataConnectionError,
    MeetdataError,
    MeetdataInvalidRequestError,
    MeetdataPermissionError,
    MeetdataRateLimitError,
    MeetdataResponseError,
)
from custom_components.meetdata.api.models import (
    Interval,
    IntervalSeries,
    Meter,
    MeterKind,
    Quality,
    Quantity,
)
from custom_components.meetdata.providers.fluvius.client import (
    ComplexEnergyType,
    DataServiceType,
    EnergyType,
    FluviusClient,
    FluviusNoMandateError,
    Granularity,
    MandateStatus,
    PeriodType,
    RenewalStatus,
    capacity_peak,
    decode_sandbox_ean,
    month_bounds,
    parse_energy,
    split_windows,
)
from custom_components.meetdata.providers.fluvius.client.mandates import (
    mandate_to_json,
    parse_mandates,
)
from custom_components.meetdata.providers.fluvius.client.paths import (
    BASE_URLS,
    token_url,
)
from custom_components.meetdata.providers.fluvius.client.sandbox import (
    Direction,
    MeterType,
)
from custom_components.meetdata.providers.fluvius.client.windows import (
    local_midnight_ceil,
    three_years_back,
)

from ...conftest import Serve
from ...simulators.fluvius import (
    AMR_INJECTION_EAN,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_SCOPE,
    DEMO_SUBSCRIPTION_KEY,
    DEMO_TENANT,
    DIGITAL_EAN,
    GAS_EAN,
    FluviusSimulator,
    SimInterval,
)

SECRETS = (DEMO_CLIENT_SECRET, DEMO_SUBSCRIPTION_KEY, "sim-access-token")
PROD_EAN = FluviusSimulator.submeter_ean(AMR_INJECTION_EAN, "production")
AUX_EAN = FluviusSimulator.submeter_ean(AMR_INJECTION_EAN, "auxiliary")

type Make = Callable[..., Awaitable[tuple[FluviusClient, FluviusSimulator]]]


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """Return a UTC datetime."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def make(serve: Serve, http_session: aiohttp.ClientSession) -> Make:
    """Return a factory serving a simulator and building a client for it."""

    async def _make(
        sim: FluviusSimulator | None = None,
        *,
        environment: str = "sandbox",
        secret: str = DEMO_CLIENT_SECRET,
        key: str = DEMO_SUBSCRIPTION_KEY,
        tenant: str = DEMO_TENANT,
    ) -> tuple[FluviusClient, FluviusSimulator]:
        sim = sim or FluviusSimulator()
        url = await serve(sim.build_app())
        client = FluviusClient(
            http_session,
            tenant_id=tenant,
            client_id=DEMO_CLIENT_ID,
            client_secret=secret,
            scope=DEMO_SCOPE,
            subscription_key=key,
            environment=environment,
            base_url=sim.base_url(url, environment),
            token_url=sim.token_url(url, tenant),
        )
        client.utcnow = lambda: sim.now
        client.retry_backoff = 0.001
        return client, sim

    return _make


def series_map(series: list[IntervalSeries]) -> dict[Quantity, list[Interval]]:
    """Index series by quantity."""
    return {s.quantity: s.intervals for s in series}


def assert_same(
    got: Sequence[Interval], want: Sequence[Interval | SimInterval]
) -> None:
    """Compare interval lists (values approximately)."""
    assert [(i.start, i.end, str(i.quality)) for i in got] == [
        (i.start, i.end, str(i.quality)) for i in want
    ]
    assert [i.value for i in got] == pytest.approx([i.value for i in want])


#: Totals and their day/night tariffs (digital meters).
ENERGY_AND_TARIFFS = (
    Quantity.ENERGY_IMPORT,
    Quantity.ENERGY_EXPORT,
    Quantity.ENERGY_IMPORT_DAY,
    Quantity.ENERGY_IMPORT_NIGHT,
    Quantity.ENERGY_EXPORT_DAY,
    Quantity.ENERGY_EXPORT_NIGHT,
)


def assert_tariffs_add_up(series: dict[Quantity, list[Interval]], count: int) -> None:
    """Each total interval is its day + night intervals; both tariffs occur."""
    for total, day, night in (
        (
            Quantity.ENERGY_IMPORT,
            Quantity.ENERGY_IMPORT_DAY,
            Quantity.ENERGY_IMPORT_NIGHT,
        ),
        (
            Quantity.ENERGY_EXPORT,
            Quantity.ENERGY_EXPORT_DAY,
            Quantity.ENERGY_EXPORT_NIGHT,
        ),
    ):
        assert len(series[total]) == len(series[day]) == len(series[night]) == count
        for whole, d, n in zip(series[total], series[day], series[night], strict=True):
            assert whole.start == d.start == n.start
            assert whole.value == d.value + n.value
            assert whole.quality in (d.quality, n.quality)
        assert any(n.value for n in series[night])


def assert_no_secret(err: BaseException) -> None:
    """Check an error message carries no secret."""
    for secret in SECRETS:
        assert secret not in str(err)


async def meter_of(client: FluviusClient, key: str) -> Meter:
    """Return one meter of the demo account."""
    meters = {m.key: m for m in await client.async_get_meters()}
    return meters[key]


# ----------------------------------------------------------- pure helpers


def test_sandbox_ean_scheme() -> None:
    """The addendum's ranges decode; unrealistic combinations do not."""
    dm = decode_sandbox_ean("541440110000000001")
    assert dm is not None
    assert dm.meter_type is MeterType.DIGITAL
    assert dm.direction is Direction.OFFTAKE_INJECTION
    assert dm.data_service_type is DataServiceType.QUARTER_HOURLY
    amr = decode_sandbox_ean("541450201000000450")
    assert amr is not None
    assert amr.meter_type is MeterType.AMR
    assert amr.direction is Direction.INJECTION
    assert amr.data_service_type is DataServiceType.DAILY
    assert (amr.production_submeter, amr.auxiliary_submeter) == ("WND", True)
    wkk = decode_sandbox_ean("541450011000000700")
    assert wkk is not None
    assert (wkk.production_submeter, wkk.auxiliary_submeter) == ("WKKA", False)
    gas = decode_sandbox_ean("541451012000000999")
    assert gas is not None
    assert gas.energy_type is EnergyType.GAS
    assert gas.non_production_submeter
    assert decode_sandbox_ean("541440000000000001") is not None  # doc's example
    for bad in (
        "541441100000000000",  # digital gas with injection
        "541440200000000000",  # digital injection only
        "541440001000000000",  # digital with submeter
        "541450000000100000",  # middle digits not zero
        "541450030000000000",  # detail digit 3
        "54145000000000000",  # 17 digits
        "641450000000000000",
    ):
        assert decode_sandbox_ean(bad) is None, bad


def test_split_windows_dst_and_limit() -> None:
    """Windows are ≤ 185 days and cut at Brussels midnights."""
    start = utc(2024, 12, 31, 23)
    end = utc(2026, 1, 1, 23)
    windows = split_windows(start, end)
    assert windows[0][0] == start and windows[-1][1] == end
    for (_, hi), (nxt, _) in pairwise(windows):
        assert hi == nxt
    for lo, hi in windows:
        assert hi - lo <= timedelta(days=185)
        assert local_midnight_ceil(lo) == lo
    # A window spanning the autumn DST change is shortened by a day.
    autumn = split_windows(utc(2025, 4, 30, 22), utc(2025, 12, 31, 23))
    assert autumn[0][1] - autumn[0][0] == timedelta(days=184, hours=1)


def test_three_years_back_leap_day() -> None:
    """Three years back from 29 February clips to a midnight."""
    back = three_years_back(utc(2028, 2, 29, 12))
    assert back == utc(2025, 2, 28, 23)


def test_capacity_peak() -> None:
    """Peak = highest READ/VAL quarter × 4; complete only without gaps/EST."""
    start, end = month_bounds(2025, 10)
    assert (start, end) == (utc(2025, 9, 30, 22), utc(2025, 10, 31, 23))
    quarters = int((end - start) / timedelta(minutes=15))
    assert quarters == 31 * 96 + 4  # 25-hour day on 26 October
    q = timedelta(minutes=15)
    intervals = [
        Interval(start + i * q, start + (i + 1) * q, 0.1 + (i % 7) * 0.01)
        for i in range(quarters)
    ]
    peak_at = start + 500 * q
    intervals[500] = Interval(peak_at, peak_at + q, 1.5, Quality.VALIDATED)
    # A higher but estimated value does not count.
    intervals[900] = Interval(start + 900 * q, start + 901 * q, 9.0, Quality.ESTIMATED)
    daily = Interval(start, start + timedelta(days=1), 50.0)  # ignored
    peak = capacity_peak([*intervals, daily], 2025, 10)
    assert peak.value == pytest.approx(6.0)
    assert peak.timestamp == peak_at
    assert not peak.complete
    assert (peak.expected, peak.counted, peak.estimated, peak.missing) == (
        quarters,
        quarters - 1,
        1,
        0,
    )
    intervals[900] = Interval(start + 900 * q, start + 901 * q, 0.2)
    assert capacity_peak(intervals, 2025, 10).complete
    # Duplicates are ignored; a missing quarter makes it incomplete.
    partial = [*intervals[:100], intervals[99], *intervals[101:]]
    assert not capacity_peak(partial, 2025, 10).complete
    # So far this month: only the quarters before `now` are expected.
    now = start + 600 * q + timedelta(minutes=7)
    so_far = capacity_peak(intervals[:600], 2025, 10, now=now)
    assert so_far.complete and so_far.expected == 600
    empty = capacity_peak([], 2025, 12)
    assert empty.value is None and not empty.complete
    assert capacity_peak([], 2025, 12, now=utc(2025, 11, 1)).expected == 0


def test_mandate_json_round_trip() -> None:
    """Mandates parse case-insensitively and serialize for the mock endpoint."""
    payload = {
        "data": {
            "mandates": [
                {
                    "referenceNumber": "REF-1",
                    "status": "approved",
                    "eanNumber": 541440000000000001,
                    "energyType": "E",
                    "dataServiceType": "VH_kwartier",
                    "dataPeriodFrom": "2024-02-01T23:00:00Z",
                    "dataPeriodTo": "2025-02-01T23:00:00+00:00",
                    "mandateExpirationDate": "2028-02-01T23:00:00",
                    "renewalStatus": "toBeRenewed",
                },
                {"status": "Weird", "renewalStatus": 3},
            ]
        }
    }
    first, second = parse_mandates(payload)
    assert first.status is MandateStatus.APPROVED
    assert first.ean == "541440000000000001"
    assert first.data_service_type is DataServiceType.QUARTER_HOURLY
    assert first.renewal_status is RenewalStatus.TO_BE_RENEWED
    assert first.expiration == utc(2028, 2, 1, 23)
    assert first.covers(utc(2024, 6, 1), utc(2024, 7, 1))
    assert not first.covers(utc(2025, 6, 1), utc(2025, 7, 1))
    assert second.status is None and second.raw_status == "Weird"
    body = mandate_to_json(first)
    assert body["dataServiceType"] == "VH_kwartier_uur"
    assert body["dataPeriodTo"] == "2025-02-01T23:00:00Z"
    assert parse_mandates({"data": []}) == []
    assert parse_mandates({"data": {}}) == []
    bad: object
    for bad in ({"data": {"mandates": 3}}, {"data": {"mandates": [1]}}, [], {}):
        with pytest.raises(MeetdataResponseError):
            parse_mandates(bad)
    with pytest.raises(MeetdataResponseError):
        parse_mandates({"data": [{"dataPeriodFrom": "yesterday"}]})
    with pytest.raises(MeetdataResponseError):
        parse_mandates({"data": [{"dataPeriodFrom": 5}]})


def test_constructor_defaults(http_session: aiohttp.ClientSession) -> None:
    """Base URLs per environment; unknown environments are refused."""
    kwargs: dict[str, Any] = {
        "tenant_id": "t",
        "client_id": "c",
        "client_secret": "s",
        "scope": "x",
        "subscription_key": "k",
    }
    sandbox = FluviusClient(http_session, **kwargs)
    assert sandbox.base_url.endswith("mijnfluvius-profnetgebruiker-sbx/v1/")
    live = FluviusClient(http_session, environment="live", **kwargs)
    assert live.base_url == BASE_URLS["live"]
    assert "-sbx" not in live.base_url
    assert token_url("t") == "https://login.microsoftonline.com/t/oauth2/v2.0/token"
    with pytest.raises(MeetdataInvalidRequestError):
        FluviusClient(http_session, environment="test", **kwargs)
    assert FluviusClient.provider == "fluvius"


# ------------------------------------------------------------------ parsing


def _body(data: dict[str, Any]) -> bytes:
    return orjson.dumps({"_meta": {}, "data": data})


def _reg(value: Any, unit: str = "kWh", state: str = "READ") -> dict[str, Any]:
    return {"value": value, "unit": unit, "validationState": state}


def test_parse_headpoint_and_meter_precedence() -> None:
    """EAN-level values win; meter-level values fill missing quantities."""
    hour = [{"start": "2025-01-01T00:00:00Z", "end": "2025-01-01T01:00:00Z"}]
    body = _body(
        {
            "headpoint": {
                "$type": "metering-on-headpoint-and-meter",
                "ean": "541441010000000001",
                "energyType": "G",
                "hourlyEnergy": [
                    {**hour[0], "measurements": [{"offtake": {"total": _reg(11.0)}}]}
                ],
                "physicalMeters": [
                    {
                        "seqNumber": 1,
                        "meterID": "7FLO",
                        "hourlyEnergy": [
                            {
                                **hour[0],
                                "measurements": [
                                    {"offtake": {"total": _reg(1.0, "m³")}},
                                    {
                                        "offtake": {"total": _reg(10.0)},
                                        "gasConversionFactor": "C",
                                    },
                                ],
                            }
                        ],
                    }
                ],
            }
        }
    )
    data = parse_energy(body)
    fine = data.headpoint.fine
    assert fine[Quantity.GAS_ENERGY][0].value == 11.0
    assert fine[Quantity.GAS_VOLUME][0].value == 1.0
    assert data.headpoint.gas_conversion_factor == "C"
    assert data.headpoint.meter_ids == ["7FLO"]
    assert data.meter("nope") is None


def test_parse_edge_cases() -> None:
    """Dict measurements, Wh, strings, nulls, missing ends, day/night sums."""
    body = _body(
        {
            "headpoint": {
                "$type": "metering-on-headpoint",
                "ean": 541450000000000001,
                "energyType": "E",
                "dailyEnergy": [
                    {
                        "start": "2025-03-29T23:00:00Z",
                        "measurements": {
                            "offtake": {
                                "day": _reg("1.5", "KWH", "read"),
                                "night": _reg(500, "Wh", "EST"),
                            },
                            "injection": {"total": _reg(None)},
                            "unknownDirection": {"total": _reg(1)},
                        },
                    },
                    {"start": "2025-03-30T22:00:00", "measurements": []},
                ],
                "quarterHourlyEnergy": [
                    {
                        "start": "2025-03-30T03:00:00+02:00",
                        "measurements": [
                            {
                                "offtake": {
                                    "total": {
                                        "value": 0.25,
                                        "unit": "kWh",
                                        "validationState": "ODD",
                                    },
                                    "inductive": _reg(0.1, "kVArh", "VAL"),
                                    "capacitive": _reg(2, "varh", "NVAL"),
                                }
                            }
                        ],
                    }
                ],
            },
            "subHeadpoints": [
                {
                    "$type": "submetering-offtake",
                    "ean": "541448813000000001",
                    "seqNumber": 2,
                    "meterID": "SUB1",
                    "dailyEnergy": [
                        {
                            "start": "2025-03-29T23:00:00Z",
                            "end": "2025-03-30T22:00:00Z",
                            "measurements": [{"offtake": {"total": _reg(3)}}],
                        }
                    ],
                }
            ],
        }
    )
    data = parse_energy(body)
    head = data.headpoint
    assert head.ean == "541450000000000001"
    total = head.daily[Quantity.ENERGY_IMPORT]
    # The 23-hour day of 30 March 2025, end from the next local midnight.
    assert total[0].start == utc(2025, 3, 29, 23)
    assert total[0].end == utc(2025, 3, 30, 22)
    assert total[0].value == pytest.approx(2.0)
    assert total[0].quality is Quality.ESTIMATED
    # Day and night are series of their own, each with its own quality.
    assert set(head.daily) == {
        Quantity.ENERGY_IMPORT,
        Quantity.ENERGY_IMPORT_DAY,
        Quantity.ENERGY_IMPORT_NIGHT,
    }
    day, night = (
        head.daily[Quantity.ENERGY_IMPORT_DAY][0],
        head.daily[Quantity.ENERGY_IMPORT_NIGHT][0],
    )
    assert (day.value, day.quality) == (1.5, Quality.MEASURED)
    assert (night.value, night.quality) == (0.5, Quality.ESTIMATED)
    assert (day.start, day.end) == (total[0].start, total[0].end)
    assert Quantity.ENERGY_EXPORT not in head.daily
    quarter = head.fine[Quantity.ENERGY_IMPORT][0]
    assert quarter.start == utc(2025, 3, 30, 1)
    assert quarter.end == utc(2025, 3, 30, 1, 15)
    assert quarter.quality is Quality.ESTIMATED
    assert head.fine[Quantity.REACTIVE_ENERGY_CAPACITIVE][0].value == pytest.approx(
        0.002
    )
    sub = data.submeters[0]
    assert (sub.kind, sub.via, sub.seq_number) == (
        MeterKind.ELECTRICITY,
        head.ean,
        "2",
    )
    assert sub.meter_ids == ["SUB1"]
    assert sub.daily[Quantity.ENERGY_IMPORT][0].value == 3.0
    assert data.headpoint.last_end() == utc(2025, 3, 30, 22)
    assert [s.quantity for s in sub.interval_series(Granularity.DAILY)] == [
        Quantity.ENERGY_IMPORT
    ]


def test_parse_meter_exchange_sums_and_sorts() -> None:
    """Two physical meters: same-start values add up, order is restored."""

    def pm(meter_id: str, rows: list[tuple[str, float]]) -> dict[str, Any]:
        return {
            "meterID": meter_id,
            "dailyEnergy": [
                {"start": s, "measurements": [{"offtake": {"total": _reg(v)}}]}
                for s, v in rows
            ],
        }

    body = _body(
        {
            "headpoint": {
                "$type": "metering-on-meter",
                "ean": "541440000000000001",
                "energyType": "E",
                "physicalMeters": [
                    pm(
                        "OLD",
                        [("2025-01-02T23:00:00Z", 2.0), ("2025-01-01T23:00:00Z", 1.0)],
                    ),
                    pm(
                        "NEW",
                        [("2025-01-02T23:00:00Z", 3.0), ("2025-01-03T23:00:00Z", 4.0)],
                    ),
                ],
            }
        }
    )
    head = parse_energy(body).headpoint
    values = [(i.start.day, i.value) for i in head.daily[Quantity.ENERGY_IMPORT]]
    assert values == [(1, 1.0), (2, 5.0), (3, 4.0)]
    assert head.meter_ids == ["OLD", "NEW"]


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"headpoint": {"$type": "metering-on-meter", "energyType": "E"}},
        {"headpoint": {"ean": "541440000000000001"}},
        {"headpoint": {"$type": "x", "ean": "1", "physicalMeters": {"a": 1}}},
        {"headpoint": {"$type": "x", "ean": "1", "physicalMeters": [3]}},
        {"headpoint": {"$type": "x", "ean": "1", "dailyEnergy": {"a": 1}}},
        {"headpoint": {"$type": "x", "ean": "1", "dailyEnergy": [3]}},
        {"headpoint": {"$type": "x", "ean": "1", "dailyEnergy": [{"end": "x"}]}},
        {"headpoint": {"$type": "x", "ean": "1", "dailyEnergy": [{"start": 5}]}},
        {"headpoint": {"$type": "x", "ean": "1", "dailyEnergy": [{"start": "nope"}]}},
        {"headpoint": {"$type": "x", "ean": "1", "subHeadpoints": [3]}},
        {"headpoint": {"$type": "x", "ean": "1", "subHeadpoints": [{"type": "PV"}]}},
    ],
)
def test_parse_malformed_structure(data: dict[str, Any]) -> None:
    """Structural damage is a MeetdataResponseError, never a crash."""
    with pytest.raises(MeetdataResponseError):
        parse_energy(_body(data))


@pytest.mark.parametrize(
    "measurement",
    [
        [3],
        {"offtake": 3},
        {"offtake": {"total": 3}},
        {"offtake": {"total": {"unit": "kWh"}}},
        {"offtake": {"total": _reg(1, "J")}},
        {"offtake": {"total": _reg("many")}},
        {"offtake": {"total": _reg(1, "kVArh")}},
        {"offtake": {"inductive": _reg(1, "kWh")}},
        {"offtake": {"inductive": _reg(1, "m3")}},
        {"offtake": {"day": _reg(1, "kWh"), "night": _reg(1, "m3")}},
    ],
)
def test_parse_malformed_registers(measurement: Any) -> None:
    """Bad registers, units and values are MeetdataResponseError."""
    data = {
        "headpoint": {
            "$type": "metering-on-headpoint",
            "ean": "541450000000000001",
            "energyType": "E",
            "quarterHourlyEnergy": [
                {"start": "2025-01-01T00:00:00Z", "measurements": measurement}
            ],
        }
    }
    with pytest.raises(MeetdataResponseError):
        parse_energy(_body(data))


def test_parse_not_json() -> None:
    """Invalid JSON and a missing data object are response errors."""
    for body in (b"{", b"[]", b'{"data": 1}'):
        with pytest.raises(MeetdataResponseError):
            parse_energy(body)


def test_parse_half_year() -> None:
    """A 185-day quarter-hour answer parses into every slice of both directions.

    Its speed against orjson.loads is measured by ``scripts/bench --only parse``.
    """
    sim = FluviusSimulator()
    start = utc(2025, 4, 30, 22)
    body = orjson.dumps(
        sim.render_energy(
            DIGITAL_EAN, start, start + timedelta(days=185), levels={"fine"}
        )
    )
    data = parse_energy(body)
    slices = len(data.headpoint.fine[Quantity.ENERGY_IMPORT])
    assert slices == 185 * 96
    assert len(data.headpoint.fine[Quantity.ENERGY_EXPORT]) == slices


# --------------------------------------------------------------- mandates


async def test_get_mandates_and_filters(make: Make) -> None:
    """GET Mandate: typed mandates, filters sent as documented, 404 = none."""
    client, sim = await make()
    mandates = await client.async_get_mandates()
    assert len(mandates) == 6
    requested = [m for m in mandates if m.status is MandateStatus.REQUESTED]
    assert requested[0].ean is None  # EAN only shown when Approved/Finished
    amr = next(m for m in mandates if m.ean == AMR_INJECTION_EAN)
    assert amr.renewal_status is RenewalStatus.TO_BE_RENEWED
    assert amr.expiration == utc(2026, 1, 31, 23)
    found = await client.async_get_mandates(
        ean=DIGITAL_EAN,
        status=MandateStatus.APPROVED,
        energy_type=EnergyType.ELECTRICITY,
        data_service_types=[DataServiceType.QUARTER_HOURLY],
        reference_number="REF-123456",
        last_updated_from=utc(2025, 1, 1),
        last_updated_to=utc(2026, 1, 1),
    )
    assert [m.data_service_type for m in found] == [DataServiceType.QUARTER_HOURLY]
    query = sim.requests[-1].query
    assert query["dataServiceTypes"] == ["VH_kwartier_uur"]
    assert query["lastUpdatedFrom"] == ["2025-01-01T00:00:00Z"]
    assert sim.requests[-1].subscription_key == DEMO_SUBSCRIPTION_KEY
    assert sim.requests[-1].authorization.startswith("Bearer ")  # type: ignore[union-attr]
    assert (
        await client.async_get_mandates(
            renewal_status=RenewalStatus.EXPIRED, expiration=utc(2026, 1, 31, 23)
        )
        == []
    )
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_get_mandates(ean="123")
    assert sim.request_count["mandate"] == 3


async def test_get_meters(make: Make) -> None:
    """One Meter per approved EAN plus AMR submeters found by probing."""
    client, sim = await make()
    meters = {m.key: m for m in await client.async_get_meters()}
    assert set(meters) == {DIGITAL_EAN, AMR_INJECTION_EAN, GAS_EAN, PROD_EAN, AUX_EAN}
    digital = meters[DIGITAL_EAN]
    assert digital.kind is MeterKind.ELECTRICITY
    assert digital.provider == "fluvius"
    assert digital.model == "Digital meter · electricity · quarter-hour"
    assert digital.serial == "1SAG3100000001"
    attrs = digital.attributes
    assert attrs["dataServiceType"] == "VH_kwartier_uur"
    assert attrs["dataServiceTypes"] == "VH_dag,VH_kwartier_uur"
    assert attrs["dataPeriodFrom"] == "2023-06-30T22:00:00Z"
    assert attrs["quarterHourlyPeriodFrom"] == "2024-06-30T22:00:00Z"
    assert attrs["dataPeriodTo"] == ""
    assert attrs["status"] == "Approved"
    assert attrs["expiration"] == "2026-06-30T22:00:00Z"
    assert attrs["referenceNumber"] == "REF-123456"
    assert meters[GAS_EAN].kind is MeterKind.GAS
    assert meters[GAS_EAN].attributes["gasConversionFactor"] == "P"
    amr = meters[AMR_INJECTION_EAN]
    assert amr.model == "AMR meter · electricity · quarter-hour"
    assert meters[GAS_EAN].model == (
        "Digital meter (EAN and meter level) · gas · hourly"
    )
    assert amr.attributes["renewalStatus"] == "ToBeRenewed"
    prod, aux = meters[PROD_EAN], meters[AUX_EAN]
    assert (prod.kind, prod.via) == (MeterKind.PRODUCTION, AMR_INJECTION_EAN)
    assert (aux.kind, aux.via) == (MeterKind.AUXILIARY, AMR_INJECTION_EAN)
    assert prod.attributes["installationType"] == "PV"
    assert prod.model == "PV production submeter · quarter-hour"
    assert aux.model == "PV auxiliary submeter · quarter-hour"
    assert prod.attributes["seqNumber"] == aux.attributes["seqNumber"] == "1"
    assert prod.attributes["headpoint"] == AMR_INJECTION_EAN
    assert sim.energy_requests == 3  # one probe per EAN
    assert client.earliest_history(digital) == utc(2023, 6, 30, 22)
    bare = Meter("fluvius", DIGITAL_EAN, MeterKind.ELECTRICITY)
    assert client.earliest_history(bare) == three_years_back(sim.now)


async def test_meters_probe_without_mandate_and_ended_period(make: Make) -> None:
    """A probe 404 leaves a meter without type; an ended period is probed at its end."""
    sim = FluviusSimulator()
    sim.mandates = [m for m in sim.mandates if m.ean == DIGITAL_EAN]
    for m in sim.mandates:
        m.data_period_to = utc(2025, 6, 30, 22)
    client, sim = await make(sim)
    meters = await client.async_get_meters()
    assert meters[0].attributes["dataPeriodTo"] == "2025-06-30T22:00:00Z"
    assert sim.requests[-1].query["to"] == ["2025-06-30T22:00:00Z"]
    assert sim.requests[-1].query["granularity"] == ["daily"]
    sim.fail_next(404, path="energy")
    client.cache_ttl = 0
    meters = await client.async_get_meters()
    assert meters[0].model == "Electricity · quarter-hour"
    assert meters[0].serial is None


# ---------------------------------------------------------------- history


async def test_history_digital_quarter_dst(make: Make) -> None:
    """Quarter-hour history over both DST changes matches the simulator."""
    client, sim = await make()
    meter = await meter_of(client, DIGITAL_EAN)
    for day_start, day_end, quarters in (
        (utc(2025, 3, 29, 23), utc(2025, 3, 30, 22), 92),
        (utc(2025, 10, 25, 22), utc(2025, 10, 26, 23), 100),
    ):
        series = series_map(await client.async_get_history(meter, day_start, day_end))
        assert len(series[Quantity.ENERGY_IMPORT]) == quarters
        for quantity in ENERGY_AND_TARIFFS:
            want = sim.expected_intervals(DIGITAL_EAN, quantity, day_start, day_end)
            assert_same(series.get(quantity, []), want)
        assert_tariffs_add_up(series, quarters)
        # Both DST changes fall on a Sunday: night tariff all day.
        assert not any(i.value for i in series[Quantity.ENERGY_IMPORT_DAY])
        assert sim.requests[-1].query["granularity"] == ["hourly_quarterhourly"]
    # Unaligned bounds: only intervals starting in [start, end).
    part = series_map(
        await client.async_get_history(
            meter, utc(2025, 10, 1, 10, 7), utc(2025, 10, 1, 11, 7)
        )
    )
    assert [i.start.minute for i in part[Quantity.ENERGY_IMPORT]] == [15, 30, 45, 0]


async def test_history_daily_dst_days(make: Make) -> None:
    """A daily mandate (mock) yields 23 h and 25 h days at the DST changes."""
    client, sim = await make()
    ean = "541440100000000005"
    await client.async_create_mock_mandate(ean, data_period_from=utc(2024, 12, 31, 23))
    meter = await meter_of(client, ean)
    assert meter.attributes["dataServiceType"] == "VH_dag"
    for start, end, dst_day, hours in (
        (utc(2025, 3, 27, 23), utc(2025, 4, 1, 22), utc(2025, 3, 29, 23), 23),
        (utc(2025, 10, 23, 22), utc(2025, 10, 28, 23), utc(2025, 10, 25, 22), 25),
    ):
        series = series_map(await client.async_get_history(meter, start, end))
        days = series[Quantity.ENERGY_IMPORT]
        lengths = {i.start: i.end - i.start for i in days}
        assert len(lengths) == 5
        assert lengths[dst_day] == timedelta(hours=hours)
        assert sum(1 for d in lengths.values() if d != timedelta(hours=24)) == 1
        for quantity in ENERGY_AND_TARIFFS:
            want = sim.expected_intervals(ean, quantity, start, end, daily=True)
            assert_same(series[quantity], want)
        assert_tariffs_add_up(series, 5)
        # Weekdays have day tariff, the weekend (with the DST Sunday) none.
        day_values = {i.start: i.value for i in series[Quantity.ENERGY_IMPORT_DAY]}
        assert day_values[dst_day] == 0.0
        assert sum(1 for v in day_values.values() if v > 0) == 3
        assert sim.requests[-1].query["granularity"] == ["daily"]
    # History asks whole days: an end inside a day still returns that day.
    tail = series_map(
        await client.async_get_history(meter, utc(2025, 10, 30, 23), utc(2025, 11, 1))
    )
    assert [i.start for i in tail[Quantity.ENERGY_IMPORT]] == [
        utc(2025, 10, 30, 23),
        utc(2025, 10, 31, 23),
    ]


async def test_history_mixes_daily_and_fine(make: Make) -> None:
    """Daily values where only VH_dag covers the period, quarters after that."""
    client, sim = await make()
    meter = await meter_of(client, DIGITAL_EAN)
    before = sim.energy_requests
    series = series_map(
        await client.async_get_history(meter, utc(2024, 6, 27, 22), utc(2024, 7, 1, 22))
    )
    intervals = series[Quantity.ENERGY_IMPORT]
    assert [i.end - i.start for i in intervals[:3]] == [timedelta(days=1)] * 3
    assert intervals[3].start == utc(2024, 6, 30, 22)
    assert intervals[3].end - intervals[3].start == timedelta(minutes=15)
    assert len(intervals) == 3 + 96
    assert sim.energy_requests - before == 2


async def test_history_backfill_splits_and_clips(make: Make) -> None:
    """A long backfill is split into ≤ 185-day windows, clipped to 3 years."""
    client, sim = await make()
    meter = await meter_of(client, GAS_EAN)
    sim.requests.clear()
    series = series_map(
        await client.async_get_history(meter, utc(2020, 1, 1), utc(2025, 11, 14))
    )
    energy = [r for r in sim.requests if r.kind == "energy"]
    assert len(energy) == 2
    assert energy[0].query["from"] == ["2024-12-31T23:00:00Z"]  # mandate start
    for req in energy:
        lo = datetime.fromisoformat(req.query["from"][0])
        hi = datetime.fromisoformat(req.query["to"][0])
        assert hi - lo <= timedelta(days=185)
    volume = series[Quantity.GAS_VOLUME]
    assert volume[0].start == utc(2024, 12, 31, 23)
    assert volume[-1].end == utc(2025, 11, 14)
    assert len(volume) == int(
        (utc(2025, 11, 14) - utc(2024, 12, 31, 23)) / timedelta(hours=1)
    )
    want = sim.expected_intervals(
        GAS_EAN, Quantity.GAS_ENERGY, utc(2025, 10, 1), utc(2025, 10, 3)
    )
    got = [
        i
        for i in series[Quantity.GAS_ENERGY]
        if utc(2025, 10, 1) <= i.start < utc(2025, 10, 3)
    ]
    assert_same(got, want)
    # Nothing older than three years is asked.
    digital = await meter_of(client, DIGITAL_EAN)
    sim.requests.clear()
    await client.async_get_history(digital, utc(2019, 1, 1), utc(2023, 7, 3))
    first = next(r for r in sim.requests if r.kind == "energy")
    assert first.query["from"] == ["2023-06-30T22:00:00Z"]
    assert (
        await client.async_get_history(digital, utc(2019, 1, 1), utc(2020, 1, 1)) == []
    )


async def test_history_amr_and_submeters_share_requests(make: Make) -> None:
    """AMR headpoint, production and auxiliary submeters from one request."""
    client, sim = await make()
    meters = {m.key: m for m in await client.async_get_meters()}
    start, end = utc(2025, 6, 1, 22), utc(2025, 6, 3, 22)
    before = sim.energy_requests
    head = series_map(
        await client.async_get_history(meters[AMR_INJECTION_EAN], start, end)
    )
    prod = series_map(await client.async_get_history(meters[PROD_EAN], start, end))
    aux = series_map(await client.async_get_history(meters[AUX_EAN], start, end))
    assert sim.energy_requests - before == 1
    assert set(head) == {
        Quantity.ENERGY_EXPORT,
        Quantity.REACTIVE_ENERGY_INDUCTIVE,
        Quantity.REACTIVE_ENERGY_CAPACITIVE,
    }
    for series, ean, quantity in (
        (head, AMR_INJECTION_EAN, Quantity.ENERGY_EXPORT),
        (head, AMR_INJECTION_EAN, Quantity.REACTIVE_ENERGY_INDUCTIVE),
        (prod, PROD_EAN, Quantity.PRODUCTION),
        (prod, PROD_EAN, Quantity.REACTIVE_ENERGY_CAPACITIVE),
        (aux, AUX_EAN, Quantity.AUXILIARY),
    ):
        want = sim.expected_intervals(
            ean, quantity, start, end, headpoint=AMR_INJECTION_EAN
        )
        assert_same(series[quantity], want)
        assert {i.quality for i in series[quantity]} == {Quality.VALIDATED}
    # Subheadpoints beside the headpoint parse the same.
    sim.submeters_in_data = True
    client.cache_ttl = 0
    again = series_map(await client.async_get_history(meters[PROD_EAN], start, end))
    assert_same(again[Quantity.PRODUCTION], prod[Quantity.PRODUCTION])


async def test_history_meter_exchange(make: Make) -> None:
    """Two physical meters in one answer (exchange) add up per slice."""
    sim = FluviusSimulator()
    sim.meter_exchanges[DIGITAL_EAN] = utc(2025, 9, 10, 9, 30)
    client, sim = await make(sim)
    meter = await meter_of(client, DIGITAL_EAN)
    assert meter.serial == "1SAG3100000001"
    start, end = utc(2025, 9, 9, 22), utc(2025, 9, 10, 22)
    series = series_map(await client.async_get_history(meter, start, end))
    assert_same(
        series[Quantity.ENERGY_IMPORT],
        sim.expected_intervals(DIGITAL_EAN, Quantity.ENERGY_IMPORT, start, end),
    )
    data = await client.async_get_energy(
        DIGITAL_EAN, start, end, granularity=Granularity.DAILY
    )
    assert data.headpoint.meter_ids == ["1SAG3100000001", "1SAG3100000001B"]
    want = sim.expected_intervals(
        DIGITAL_EAN, Quantity.ENERGY_IMPORT, start, end, daily=True
    )
    assert_same(data.headpoint.daily[Quantity.ENERGY_IMPORT], want)


async def test_corrections_read_and_insert_time(make: Make) -> None:
    """EST values become READ after the clock advances; insertTime shows them."""
    client, sim = await make()
    client.cache_ttl = 0
    meter = await meter_of(client, DIGITAL_EAN)
    start, end = utc(2025, 11, 12, 23), utc(2025, 11, 13, 23)
    early = series_map(await client.async_get_history(meter, start, end))
    estimated = [
        i for i in early[Quantity.ENERGY_IMPORT] if i.quality is Quality.ESTIMATED
    ]
    assert estimated, "the seed should estimate a few quarters"
    sim.advance(timedelta(days=3))
    later = series_map(await client.async_get_history(meter, start, end))
    by_start = {i.start: i for i in later[Quantity.ENERGY_IMPORT]}
    for item in estimated:
        fixed = by_start[item.start]
        assert fixed.quality is Quality.MEASURED
        assert fixed.value != item.value
    assert_same(
        later[Quantity.ENERGY_IMPORT],
        sim.expected_intervals(DIGITAL_EAN, Quantity.ENERGY_IMPORT, start, end),
    )
    # insertTime: what arrived in the last day = the corrections of that day.
    inserted = await client.async_get_energy(
        DIGITAL_EAN,
        sim.now - timedelta(days=1),
        sim.now,
        period_type=PeriodType.INSERT_TIME,
    )
    fresh = inserted.headpoint.fine[Quantity.ENERGY_IMPORT]
    corrected = [i for i in fresh if i.start < sim.now - timedelta(days=2)]
    assert corrected
    assert all(i.quality is Quality.MEASURED for i in corrected)
    assert sim.requests[-1].query["periodType"] == ["insertTime"]
    # insertTime is clipped to 185 days back; older is refused client-side.
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_get_energy(
            DIGITAL_EAN,
            utc(2024, 1, 1),
            utc(2024, 2, 1),
            period_type=PeriodType.INSERT_TIME,
        )


async def test_energy_complex_types_and_granularities(make: Make) -> None:
    """ComplexEnergyTypes filters reactive data; no granularity returns both."""
    client, sim = await make()
    start, end = utc(2025, 6, 1, 22), utc(2025, 6, 2, 22)
    active = await client.async_get_energy(
        AMR_INJECTION_EAN,
        start,
        end,
        complex_energy_types=[ComplexEnergyType.ACTIVE],
    )
    assert set(active.headpoint.fine) == {Quantity.ENERGY_EXPORT}
    assert sim.requests[-1].query["complexEnergyTypes"] == ["active"]
    both = await client.async_get_energy(DIGITAL_EAN, start, end, granularity=None)
    assert "granularity" not in sim.requests[-1].query
    assert len(both.headpoint.daily[Quantity.ENERGY_IMPORT]) == 1
    assert len(both.headpoint.fine[Quantity.ENERGY_IMPORT]) == 96
    series = both.headpoint.interval_series(Granularity.DAILY)
    assert {s.meter_key for s in series} == {DIGITAL_EAN}
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_get_energy("5414", start, end)
    # A two-window request merges both windows (submeters included).
    ean = "541450211000000002"
    await client.async_create_mock_mandate(ean, data_period_from=utc(2025, 10, 19, 22))
    long = await client.async_get_energy(
        ean, utc(2025, 4, 20, 22), utc(2025, 11, 13, 23)
    )
    assert len([r for r in sim.requests if r.query.get("ean") == [ean]]) == 2
    prod = long.meter(FluviusSimulator.submeter_ean(ean, "production"))
    assert prod is not None
    assert prod.fine[Quantity.PRODUCTION][0].start == utc(2025, 10, 19, 22)
    assert prod.fine[Quantity.PRODUCTION][-1].end == utc(2025, 11, 13, 23)
    assert len(prod.fine[Quantity.PRODUCTION]) == 25 * 96 + 4


async def test_history_window_without_mandate(make: Make) -> None:
    """A 404 window is skipped in a backfill; all windows 404 raises."""
    client, sim = await make()
    meter = await meter_of(client, GAS_EAN)
    sim.fail_next(404, path="energy")
    series = series_map(
        await client.async_get_history(meter, utc(2025, 1, 1, 23), utc(2025, 9, 1))
    )
    assert series[Quantity.GAS_VOLUME][0].start >= utc(2025, 6, 1)
    sim.mandates = [m for m in sim.mandates if m.ean != GAS_EAN]
    client.cache_ttl = 0
    with pytest.raises(FluviusNoMandateError) as err:
        await client.async_get_history(meter, utc(2025, 11, 1), utc(2025, 11, 2))
    assert isinstance(err.value, MeetdataPermissionError)
    assert err.value.meter == GAS_EAN


# ----------------------------------------------------------------- latest


async def test_latest(make: Make) -> None:
    """LAST_MEASUREMENT per meter; meters without a mandate are left out."""
    client, sim = await make()
    meters = await client.async_get_meters()
    sim.requests.clear()
    latest = await client.async_get_latest(meters)
    assert set(latest) == {DIGITAL_EAN, AMR_INJECTION_EAN, GAS_EAN, PROD_EAN, AUX_EAN}
    reading = latest[DIGITAL_EAN][Quantity.LAST_MEASUREMENT]
    newest = sim.now - sim.publish_delay
    assert reading.value == reading.timestamp
    assert isinstance(reading.value, datetime)
    assert newest - timedelta(minutes=15) < reading.value <= newest
    assert sim.energy_requests == 3 + 3  # probes + one per headpoint
    sim.mandates = [m for m in sim.mandates if m.ean != GAS_EAN]
    client.cache_ttl = 0
    latest = await client.async_get_latest(meters)
    assert GAS_EAN not in latest
    # No data in the look-back window: nothing reported.
    sim.advance(timedelta(days=30))
    sim.publish_delay = timedelta(days=20)
    assert await client.async_get_latest(meters) == {}
    ended = Meter(
        "fluvius",
        DIGITAL_EAN,
        MeterKind.ELECTRICITY,
        attributes={
            "dataServiceTypes": "VH_dag",
            "dailyPeriodFrom": "2023-06-30T22:00:00Z",
            "dailyPeriodTo": "2024-01-01T00:00:00Z",
        },
    )
    assert await client.async_get_latest([ended]) == {}


# ------------------------------------------------------------------ tokens


async def test_token_cached_and_single_flight(make: Make) -> None:
    """Many concurrent requests share one token request."""
    client, sim = await make()
    await asyncio.gather(*(client.async_get_mandates() for _ in range(10)))
    assert sim.token_requests == 1
    await client.async_get_mandates()
    assert sim.token_requests == 1
    await client.async_authenticate()
    assert sim.token_requests == 1


async def test_token_renewed_before_expiry(make: Make) -> None:
    """A short-lived token is renewed (margin) without a 401."""
    client, sim = await make(FluviusSimulator(token_expires_in=0.1))
    await client.async_get_mandates()
    await asyncio.sleep(0.06)  # past half the lifetime: renewal margin
    await client.async_get_mandates()
    assert sim.token_requests == 2
    assert all(r.kind != "token" or True for r in sim.requests)


async def test_token_expiry_mid_backfill(make: Make) -> None:
    """Tokens dying server-side mid-backfill: one refresh each, then success."""
    client, sim = await make()
    meter = await meter_of(client, GAS_EAN)
    sim.token_max_uses = 2
    tokens_before = sim.token_requests
    series = series_map(
        await client.async_get_history(meter, utc(2025, 1, 1, 23), utc(2025, 11, 1))
    )
    assert series[Quantity.GAS_VOLUME]
    assert sim.token_requests > tokens_before
    sim.token_max_uses = None
    sim.revoke_tokens()
    assert await client.async_get_mandates()


async def test_api_401_twice_is_auth_error(make: Make) -> None:
    """A second 401 after a token refresh is MeetdataAuthError."""
    client, sim = await make(key="wrong-key")
    with pytest.raises(MeetdataAuthError) as err:
        await client.async_get_mandates()
    assert sim.token_requests == 2
    assert_no_secret(err.value)
    assert "wrong-key" not in str(err.value)


@pytest.mark.parametrize(
    ("kwargs", "fault", "error"),
    [
        ({"secret": "bad-secret"}, None, MeetdataAuthError),
        ({"tenant": "other-tenant"}, None, MeetdataAuthError),
        ({}, (500, None), MeetdataConnectionError),
        ({}, (429, None), MeetdataRateLimitError),
        ({}, (418, None), MeetdataResponseError),
        ({}, (400, b"<html>"), MeetdataAuthError),
        ({}, (200, b"{nope"), MeetdataResponseError),
        ({}, (200, b"[]"), MeetdataResponseError),
        ({}, (200, b'{"access_token": ""}'), MeetdataResponseError),
        (
            {},
            (200, b'{"access_token": "x", "expires_in": "soon"}'),
            MeetdataResponseError,
        ),
    ],
)
async def test_token_endpoint_errors(
    make: Make,
    kwargs: dict[str, str],
    fault: tuple[int, bytes | None] | None,
    error: type[MeetdataError],
) -> None:
    """Token endpoint failures map to the error hierarchy without secrets."""
    client, sim = await make(**kwargs)
    if fault is not None:
        sim.fail_next(fault[0], path="token", body=fault[1])
    with pytest.raises(error) as err:
        await client.async_get_mandates()
    assert_no_secret(err.value)
    assert "bad-secret" not in str(err.value)
    assert sim.request_count["mandate"] == 0


async def test_token_invalid_client_message(make: Make) -> None:
    """invalid_client from Azure AD is named in the message."""
    client, _ = await make(secret="bad-secret")
    with pytest.raises(MeetdataAuthError, match="invalid_client"):
        await client.async_authenticate()


# ------------------------------------------------------------ API errors


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, MeetdataInvalidRequestError),
        (403, MeetdataPermissionError),
        (404, FluviusNoMandateError),
        (500, MeetdataConnectionError),
        (503, MeetdataConnectionError),
        (418, MeetdataResponseError),
    ],
)
async def test_energy_status_errors(
    make: Make, status: int, error: type[MeetdataError]
) -> None:
    """Documented status codes map to the error hierarchy."""
    client, sim = await make()
    body = orjson.dumps({"errors": [{"message": f"boom {DEMO_SUBSCRIPTION_KEY}"}]})
    sim.fail_next(status, path="energy", body=body)
    with pytest.raises(error) as err:
        await client.async_get_energy(DIGITAL_EAN, utc(2025, 11, 1), utc(2025, 11, 2))
    assert err.value.meter == DIGITAL_EAN
    assert_no_secret(err.value)


async def test_energy_simulator_validation(make: Make) -> None:
    """The simulator's own 400/403/404 answers reach the caller as errors."""
    client, sim = await make()
    sim.forbidden_eans.add(DIGITAL_EAN)
    with pytest.raises(MeetdataPermissionError, match="403"):
        await client.async_get_energy(DIGITAL_EAN, utc(2025, 11, 1), utc(2025, 11, 2))
    with pytest.raises(FluviusNoMandateError, match="No valid mandate"):
        await client.async_get_energy(
            "541440000000000077", utc(2025, 11, 1), utc(2025, 11, 2)
        )
    with pytest.raises(FluviusNoMandateError):  # quarter mandate starts later
        await client.async_get_energy(GAS_EAN, utc(2024, 1, 1), utc(2024, 1, 2))
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_get_energy(GAS_EAN, utc(2025, 1, 2), utc(2025, 1, 2))


@pytest.mark.parametrize(
    ("query", "status"),
    [
        (
            {
                "periodType": "readTime",
                "from": "2025-01-01T00:00:00Z",
                "to": "2025-01-02T00:00:00Z",
            },
            400,
        ),
        ({"ean": "1", "periodType": "readTime", "from": "a", "to": "b"}, 400),
        ({"ean": GAS_EAN, "periodType": "whenever", "from": "a", "to": "b"}, 400),
        ({"ean": GAS_EAN, "periodType": "readTime", "from": "a", "to": "b"}, 400),
        (
            {
                "ean": GAS_EAN,
                "periodType": "readTime",
                "from": "2025-01-02T00:00:00Z",
                "to": "2025-01-01T00:00:00Z",
            },
            400,
        ),
        (
            {
                "ean": GAS_EAN,
                "periodType": "readTime",
                "from": "2025-01-01T00:00:00Z",
                "to": "2025-07-06T00:00:00Z",
            },
            400,
        ),
        (
            {
                "ean": GAS_EAN,
                "periodType": "readTime",
                "from": "2021-01-01T00:00:00Z",
                "to": "2021-01-02T00:00:00Z",
            },
            400,
        ),
        (
            {
                "ean": GAS_EAN,
                "periodType": "insertTime",
                "from": "2025-01-01T00:00:00Z",
                "to": "2025-01-02T00:00:00Z",
            },
            400,
        ),
        (
            {
                "ean": GAS_EAN,
                "periodType": "readTime",
                "from": "2025-10-01T00:00:00Z",
                "to": "2025-10-02T00:00:00Z",
                "granularity": "monthly",
            },
            400,
        ),
        (
            {
                "ean": GAS_EAN,
                "periodType": "readTime",
                "from": "2025-10-01T00:00:00Z",
                "to": "2025-10-02T00:00:00Z",
                "complexEnergyTypes": "apparent",
            },
            400,
        ),
        (
            {
                "ean": GAS_EAN,
                "periodType": "readTime",
                "from": "2025-10-01T00:00:00Z",
                "to": "2025-10-02T00:00:00Z",
                "granularity": "daily",
            },
            404,
        ),
        (
            {
                "ean": GAS_EAN,
                "periodType": "readTime",
                "from": "2025-10-01T00:00:00Z",
                "to": "2025-10-02T00:00:00Z",
            },
            200,
        ),
    ],
)
async def test_simulator_energy_validation(
    make: Make, http_session: aiohttp.ClientSession, query: dict[str, str], status: int
) -> None:
    """The simulator validates GET Energy as the document says."""
    client, sim = await make()
    await client.async_authenticate()
    token = next(iter(sim._tokens))
    async with http_session.get(
        f"{client.base_url}api/mandate/energy",
        params=query,
        headers={
            "Authorization": f"Bearer {token}",
            "Ocp-Apim-Subscription-Key": DEMO_SUBSCRIPTION_KEY,
        },
    ) as resp:
        assert resp.status == status


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "status"),
    [
        ("GET", "api/mandate", {"ean": "12"}, None, 400),
        ("GET", "api/mandate", {"lastUpdatedFrom": "x"}, None, 400),
        ("GET", "api/mandate", {"dataServiceTypes": "VH_maand"}, None, 400),
        ("GET", "api/mandate", {"status": "Lost"}, None, 400),
        ("GET", "api/mandate", {"energyType": "W"}, None, 400),
        ("GET", "api/mandate", {"status": "Requested"}, None, 200),
        ("POST", "api/mandate/mock", None, b"{", 400),
        ("POST", "api/mandate/mock", None, b"[]", 400),
        ("POST", "api/mandate/mock", None, b'{"status": "Approved"}', 400),
        ("POST", "api/mandate/mock", None, b'{"ean": "541440000000000001"}', 400),
        (
            "POST",
            "api/mandate/mock",
            None,
            b'{"status": "Approved", "ean": "541440000000000001", "energyType": "G"}',
            400,
        ),
        (
            "POST",
            "api/mandate/mock",
            None,
            b'{"status": "Approved", "ean": "541440000000000001", "dataPeriodFrom": "x"}',
            400,
        ),
        (
            "POST",
            "api/mandate/mock",
            None,
            b'{"status": "Approved", "ean": "541440010000000001", "dataServiceType": "VH_kwartier"}',
            201,
        ),
    ],
)
async def test_simulator_mandate_validation(
    make: Make,
    http_session: aiohttp.ClientSession,
    method: str,
    path: str,
    params: dict[str, str] | None,
    body: bytes | None,
    status: int,
) -> None:
    """The simulator validates GET Mandate and POST Create Mock Mandate."""
    client, sim = await make()
    await client.async_authenticate()
    token = next(iter(sim._tokens))
    async with http_session.request(
        method,
        f"{client.base_url}{path}",
        params=params,
        data=body,
        headers={
            "Authorization": f"Bearer {token}",
            "Ocp-Apim-Subscription-Key": DEMO_SUBSCRIPTION_KEY,
        },
    ) as resp:
        assert resp.status == status


async def test_rate_limit_retry_after(make: Make) -> None:
    """429 with Retry-After is waited for and retried, then succeeds."""
    client, sim = await make()
    sim.fail_next(429, 2, path="mandate", retry_after="0")
    assert await client.async_get_mandates()
    assert sim.request_count["mandate"] == 3
    # Without Retry-After: exponential back-off (configured tiny here).
    sim.fail_next(429, 1, path="mandate")
    assert await client.async_get_mandates()
    # An HTTP-date Retry-After in the past means "now".
    sim.fail_next(429, 1, path="mandate", retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    assert await client.async_get_mandates()


async def test_rate_limit_gives_up(make: Make) -> None:
    """Bounded retries, and a too-long Retry-After is not waited for."""
    client, sim = await make()
    client.rate_limit_retries = 2
    sim.fail_next(429, 5, path="energy", retry_after="0")
    with pytest.raises(MeetdataRateLimitError) as err:
        await client.async_get_energy(DIGITAL_EAN, utc(2025, 11, 1), utc(2025, 11, 2))
    assert err.value.retry_after == 0
    assert sim.energy_requests == 3
    sim.faults.clear()
    sim.fail_next(429, 1, path="energy", retry_after="3600")
    t0 = time.monotonic()
    with pytest.raises(MeetdataRateLimitError) as err:
        await client.async_get_energy(DIGITAL_EAN, utc(2025, 11, 1), utc(2025, 11, 3))
    assert err.value.retry_after == 3600
    assert time.monotonic() - t0 < 1
    sim.fail_next(429, 1, path="energy", retry_after="garbage")
    client.rate_limit_retries = 0
    with pytest.raises(MeetdataRateLimitError) as err:
        await client.async_get_energy(DIGITAL_EAN, utc(2025, 11, 1), utc(2025, 11, 4))
    assert err.value.retry_after is None


async def test_malformed_and_oversized_bodies(make: Make) -> None:
    """Broken JSON, wrong shapes and oversized answers are response errors."""
    client, sim = await make()
    sim.malformed_next(path="mandate")
    with pytest.raises(MeetdataResponseError):
        await client.async_get_mandates()
    sim.malformed_next(path="energy", body=b'{"data": {"headpoint": 3}}')
    with pytest.raises(MeetdataResponseError) as err:
        await client.async_get_energy(DIGITAL_EAN, utc(2025, 11, 1), utc(2025, 11, 2))
    assert err.value.meter == DIGITAL_EAN
    # A big malformed body goes through the executor path too.
    sim.malformed_next(path="energy", body=b"[" + b" " * 70000)
    with pytest.raises(MeetdataResponseError):
        await client.async_get_energy(DIGITAL_EAN, utc(2025, 11, 2), utc(2025, 11, 3))
    sim.malformed_next(path="mandate", body=b"")
    with pytest.raises(MeetdataResponseError):
        await client.async_get_mandates()
    client.max_response_bytes = 1000
    with pytest.raises(MeetdataResponseError, match="limit"):
        await client.async_get_energy(DIGITAL_EAN, utc(2025, 10, 1), utc(2025, 10, 8))
    # The failed request is not cached: the next one is sent again.
    client.max_response_bytes = 10_000_000
    data = await client.async_get_energy(
        DIGITAL_EAN, utc(2025, 10, 1), utc(2025, 10, 8)
    )
    assert data.headpoint.fine


async def test_concurrent_history_shares_one_request(make: Make) -> None:
    """Concurrent identical requests wait on one in-flight answer."""
    client, sim = await make()
    meters = {m.key: m for m in await client.async_get_meters()}
    before = sim.energy_requests
    start, end = utc(2025, 7, 1, 22), utc(2025, 7, 2, 22)
    results = await asyncio.gather(
        *(
            client.async_get_history(meters[k], start, end)
            for k in (AMR_INJECTION_EAN, PROD_EAN, AUX_EAN)
        )
    )
    assert all(results)
    assert sim.energy_requests - before == 1
    # A failing in-flight request fails its waiters too, and is not cached.
    sim.fail_next(503, path="energy")
    sim.delay = 0.05
    start = utc(2025, 7, 3, 22)
    outcome = await asyncio.gather(
        client.async_get_history(
            meters[AMR_INJECTION_EAN], start, end + timedelta(days=2)
        ),
        client.async_get_history(meters[PROD_EAN], start, end + timedelta(days=2)),
        return_exceptions=True,
    )
    assert all(isinstance(o, MeetdataConnectionError) for o in outcome)
    assert await client.async_get_history(
        meters[PROD_EAN], start, end + timedelta(days=2)
    )


# ------------------------------------------------------------- mock mandate


async def test_mock_mandate(make: Make) -> None:
    """Mock mandates are created in the sandbox and refused in live."""
    client, sim = await make()
    ean = "541450011000000150"  # AMR offtake, quarter, PV production only
    mandate = await client.async_create_mock_mandate(
        ean,
        data_period_from=utc(2025, 1, 1, 23),
        data_period_to=utc(2026, 1, 1, 23),
        expiration=utc(2028, 1, 1, 23),
        renewal_status=RenewalStatus.TO_BE_RENEWED,
        reference_number="REF-9",
    )
    assert mandate.status is MandateStatus.APPROVED
    assert mandate.data_service_type is DataServiceType.QUARTER_HOURLY
    assert mandate.energy_type is EnergyType.ELECTRICITY
    assert mandate.ean == ean
    assert sim.mandates[-1].reference_number == "REF-9"
    meters = {m.key: m for m in await client.async_get_meters()}
    sub = FluviusSimulator.submeter_ean(ean, "production")
    assert meters[sub].kind is MeterKind.PRODUCTION
    assert FluviusSimulator.submeter_ean(ean, "auxiliary") not in meters
    history = series_map(
        await client.async_get_history(
            meters[ean], utc(2025, 5, 1, 22), utc(2025, 5, 2, 22)
        )
    )
    assert set(history) >= {Quantity.ENERGY_IMPORT, Quantity.REACTIVE_ENERGY_INDUCTIVE}
    # The simulator refuses a detail level the EAN does not encode.
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_create_mock_mandate(
            ean, data_service_type=DataServiceType.DAILY
        )
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_create_mock_mandate("541441100000000000")
    live, live_sim = await make(environment="live")
    with pytest.raises(MeetdataInvalidRequestError):
        await live.async_create_mock_mandate(ean)
    assert live_sim.request_count["mock"] == 0
    assert live_sim.token_requests == 0


async def test_mock_mandate_answer_shapes(make: Make) -> None:
    """The mock answer may be a mandates list or carry no mandate at all."""
    client, sim = await make()
    ean = "541451010000000004"
    listed = orjson.dumps({"data": {"mandates": [{"status": "Requested", "ean": ean}]}})
    sim.fail_next(201, path="mock", body=listed)
    mandate = await client.async_create_mock_mandate(ean)
    assert mandate.status is MandateStatus.REQUESTED
    sim.fail_next(204, path="mock", body=b"")
    mandate = await client.async_create_mock_mandate(ean, status=MandateStatus.FINISHED)
    assert mandate.status is MandateStatus.FINISHED
    assert mandate.energy_type is EnergyType.GAS


async def test_gas_daily_and_latest_for_bare_meter(make: Make) -> None:
    """A Meter without attributes asks the finest level; gas steps are hours."""
    client, sim = await make()
    bare = Meter("fluvius", GAS_EAN, MeterKind.GAS)
    series = series_map(
        await client.async_get_history(
            bare, utc(2025, 10, 25, 22), utc(2025, 10, 26, 23)
        )
    )
    assert len(series[Quantity.GAS_VOLUME]) == 25
    assert len(series[Quantity.GAS_ENERGY]) == 25
    assert series[Quantity.GAS_ENERGY][0].value == pytest.approx(
        series[Quantity.GAS_VOLUME][0].value * 11.02, abs=0.002
    )


async def test_history_segments_yield_to_unaligned_fine_period(make: Make) -> None:
    """Daily segments around a fine period that starts/ends mid-day yield to it."""
    client, _ = await make()
    meter = Meter(
        "fluvius",
        DIGITAL_EAN,
        MeterKind.ELECTRICITY,
        attributes={
            "dataServiceTypes": "VH_dag,VH_kwartier_uur",
            "dailyPeriodFrom": "2024-06-01T22:00:00Z",
            "quarterHourlyPeriodFrom": "2024-07-01T10:00:00Z",
            "quarterHourlyPeriodTo": "2024-07-02T10:00:00Z",
        },
    )
    series = series_map(
        await client.async_get_history(meter, utc(2024, 6, 29, 22), utc(2024, 7, 3, 22))
    )
    intervals = series[Quantity.ENERGY_IMPORT]
    assert intervals[0].start == utc(2024, 6, 29, 22)
    assert intervals[0].end == utc(2024, 6, 30, 22)
    fine = [i for i in intervals if i.end - i.start == timedelta(minutes=15)]
    assert (fine[0].start, fine[-1].end, len(fine)) == (
        utc(2024, 7, 1, 10),
        utc(2024, 7, 2, 10),
        96,
    )
    assert intervals[-1].start == utc(2024, 7, 2, 22)
    assert len(intervals) == 1 + 96 + 1
    # A period that lies entirely in the future asks nothing.
    assert await client.async_get_history(meter, utc(2026, 1, 1), utc(2026, 2, 1)) == []
