"""Tests of the Wattworx client against the simulator over real HTTP."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from itertools import pairwise
import json
import sys

import aiohttp
import pytest

from custom_components.meetdata.api.errors import (
    MeetdataAuthError,
    MeetdataConnectionError,
    MeetdataInvalidRequestError,
    MeetdataNotFoundError,
    MeetdataPermissionError,
    MeetdataRateLimitError,
    MeetdataResponseError,
    MeetdataTimeoutError,
)
from custom_components.meetdata.api.http import parse_retry_after as _retry_after
from custom_components.meetdata.api.models import Meter, MeterKind, Quantity
from custom_components.meetdata.providers.wattworx.client import (
    DEFAULT_BASE_URL,
    WattworxClient,
)
from custom_components.meetdata.providers.wattworx.client.models import kind_for_type
from custom_components.meetdata.providers.wattworx.client.params import (
    build_url,
    split_days,
)
from custom_components.meetdata.providers.wattworx.client.times import LocalTimeResolver
from custom_components.meetdata.providers.wattworx.client.xmlsafe import parse_xml

from ...conftest import Serve
from ...simulators import wattworx as simmod
from ...simulators.wattworx import (
    DEMO_KEY,
    EAN_GAS,
    EAN_GAS_2,
    EAN_PENDING,
    EAN_POWER,
    EAN_POWER_2,
    SINGLE_CLIENT_KEY,
    WattworxSimulator,
)

NOW = datetime(2025, 11, 15, 12, 0, tzinfo=UTC)
NEW_EAN = "871234567890999999"

type MakeClient = Callable[..., WattworxClient]


@pytest.fixture
def sim() -> WattworxSimulator:
    """Return a simulator with a fixed clock (last data date 2025-11-14)."""
    return WattworxSimulator(now=NOW)


@pytest.fixture
async def base_url(serve: Serve, sim: WattworxSimulator) -> str:
    """Serve the simulator; return its API base URL."""
    return f"{await serve(sim.build_app())}/api/v1/"


@pytest.fixture
def make_client(http_session: aiohttp.ClientSession, base_url: str) -> MakeClient:
    """Build clients against the simulator."""

    def _make(key: str = DEMO_KEY, **kwargs: object) -> WattworxClient:
        return WattworxClient(http_session, key, base_url=base_url, **kwargs)  # type: ignore[arg-type]

    return _make


@pytest.fixture
def client(make_client: MakeClient) -> WattworxClient:
    """Return a client with the two-client demo key."""
    return make_client()


def _meter(ean: str, kind: MeterKind, **attributes: str) -> Meter:
    """Return a bare Wattworx meter."""
    return Meter("wattworx", ean, kind, attributes=attributes)


def _local(year: int, month: int, day: int, hour: int = 0) -> datetime:
    """Return an Amsterdam wall time as UTC."""
    return datetime(year, month, day, hour, tzinfo=simmod.TZ).astimezone(UTC)


def _as_tuples(series: list) -> list[tuple[datetime, datetime, float]]:  # type: ignore[type-arg]
    """Return intervals as (start, end, value) tuples."""
    return [(i.start, i.end, i.value) for i in series]


# ----------------------------------------------------------------------
# Meters, account, authentication


async def test_meters_multi_client(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """A gateway per client, one meter per EAN behind it, kinds from the type."""
    meters = {meter.key: meter for meter in await client.async_get_meters()}
    assert set(meters) == {
        "client_1111",
        "client_2222",
        EAN_POWER,
        EAN_GAS,
        EAN_POWER_2,
        EAN_GAS_2,
        EAN_PENDING,
    }
    klant = meters["client_1111"]
    assert (klant.kind, klant.name, klant.model) == (
        MeterKind.GATEWAY,
        "Klant 1",
        "Client",
    )
    assert klant.attributes == {
        "client_id": "1111",
        "client_name": "Klant 1",
        "kvk": "1234567890",
    }
    power = meters[EAN_POWER]
    assert power.provider == "wattworx"
    assert power.kind is MeterKind.ELECTRICITY
    assert meters[EAN_GAS].kind is MeterKind.GAS
    assert meters[EAN_GAS_2].kind is MeterKind.GAS
    assert power.name == "STADSTRAAT 111 (KVBE)"
    assert power.address == "STADSTRAAT 111, 9999AA GRONINGEN"
    assert power.model == "KVBE · Liander NWN"
    assert power.serial == "BC233232j44444"
    assert power.via == "client_1111"
    assert meters[EAN_GAS_2].via == "client_2222"
    assert set(client.known_devices) == {
        EAN_POWER,
        EAN_GAS,
        EAN_POWER_2,
        EAN_GAS_2,
        EAN_PENDING,
    }
    assert power.attributes == {
        "device_id": "9998",
        "eantype": "KVBE",
        "meter_id": "BC233232j44444",
        "grid_operator": "Liander NWN",
        "last_status": "Intervalstanden van 14-11-2025 gepubliceerd",
        "client_id": "1111",
        "client_name": "Klant 1",
        "authorisation": "MA00222",
        "authorisation_status": "Getekend",
        "first_data_date": "2024-01-01",
        "last_data_date": "2025-11-14",
    }
    pending = meters[EAN_PENDING].attributes
    assert pending["authorisation_status"] == "Validatie in behandeling"
    assert "first_data_date" not in pending
    assert client.earliest_history(power) == datetime(2023, 12, 31, 23, tzinfo=UTC)
    assert client.earliest_history(meters[EAN_PENDING]) is None
    bad = _meter(EAN_POWER, MeterKind.ELECTRICITY, first_data_date="soon")
    assert client.earliest_history(bad) is None
    # The key travels as a Bearer token only.
    request = sim.requests[-1]
    assert request.bearer
    assert not request.key_in_url
    assert DEMO_KEY not in request.path


async def test_single_client_key(make_client: MakeClient) -> None:
    """A single-client key sees only its own devices and client id."""
    client = make_client(SINGLE_CLIENT_KEY)
    meters = await client.async_get_meters()
    assert {meter.key for meter in meters} == {"client_1111", EAN_POWER, EAN_GAS}
    assert await client.async_account_id() == "1111"


async def test_account_id(client: WattworxClient, sim: WattworxSimulator) -> None:
    """The account id source is the sorted client ids, never the key."""
    assert await client.async_account_id() == "1111,2222"
    sim.respond_next(b"<clients/>")
    with pytest.raises(MeetdataResponseError):
        await client.async_account_id()


async def test_wrong_and_missing_key(make_client: MakeClient) -> None:
    """A refused key is an auth error without the key in the message."""
    client = make_client("wrong-secret-key")
    with pytest.raises(MeetdataAuthError) as err:
        await client.async_get_meters()
    assert "wrong-secret-key" not in str(err.value)
    assert "Invalid or missing API key" in str(err.value)
    for bad in ("  ", "abc\ndef", "sleutel met spaties"):
        with pytest.raises(MeetdataAuthError) as err:
            await make_client(bad).async_get_meters()
        assert "def" not in str(err.value)
        assert "spaties" not in str(err.value)


async def test_duplicate_and_unknown_devices(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """A duplicated EAN keeps its newest entry; unknown types are skipped."""
    body = f"""<devices>
      <device><id>1</id><ean>{EAN_POWER}</ean><eantype>KVBE</eantype>
        <client><id>1</id><lastDataDate>2024-01-01</lastDataDate></client></device>
      <device><id>2</id><ean>{EAN_POWER}</ean><eantype>KVBE</eantype>
        <client><id>2</id><lastDataDate>2025-01-01</lastDataDate></client></device>
      <device><id>3</id><ean>{EAN_POWER}</ean><eantype>KVBE</eantype></device>
      <device><id>4</id><ean>{NEW_EAN}</ean><eantype>WARMTE</eantype></device>
      <device><id>5</id><ean>{EAN_GAS}</ean></device>
    </devices>""".encode()
    sim.respond_next(body)
    meters = await client.async_get_meters()
    assert [meter.key for meter in meters] == ["client_2", EAN_POWER]
    assert meters[0].name == "Wattworx client 2"
    assert meters[1].attributes["device_id"] == "2"
    assert meters[1].address is None
    assert meters[1].name == f"{EAN_POWER} (KVBE)"
    assert meters[1].via == "client_2"


# ----------------------------------------------------------------------
# Reference endpoints and readings


async def test_device_types_and_statuses(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """Device types and authorisation statuses are listed."""
    types = await client.async_get_device_types()
    assert [t.code for t in types] == ["KVBE", "KVBG", "GVBE", "GVBG"]
    assert types[0].description == "Kleinverbruik elektriciteit"
    statuses = await client.async_get_authorisation_statuses()
    assert statuses[0].name == "Getekend"
    assert statuses[0].id == "1"
    assert "Validatie in behandeling" in {s.name for s in statuses}
    # Plain-text lists are understood too; an empty entry is ignored.
    sim.respond_next(b"<eantypes><eantype>KVBE</eantype><eantype/></eantypes>")
    assert [t.code for t in await client.async_get_device_types()] == ["KVBE"]
    sim.respond_next(b"<x><authorisationstatus><id>1</id></authorisationstatus></x>")
    with pytest.raises(MeetdataResponseError):
        await client.async_get_authorisation_statuses()


async def test_month_values(client: WattworxClient, sim: WattworxSimulator) -> None:
    """Month readings by EAN or device id, electricity and gas."""
    months = await client.async_get_month_values(
        EAN_POWER, date(2025, 1, 1), date(2025, 12, 31)
    )
    assert [(m.year, m.month) for m in months] == [(2025, n) for n in range(1, 12)]
    end_of_june = _local(2025, 7, 1)
    assert months[5].readings.cons == pytest.approx(
        sim.registers(EAN_POWER, end_of_june)["cons"]
    )
    assert months[-1].readings.cons_low == pytest.approx(
        sim.registers(EAN_POWER, _local(2025, 11, 15))["cons_low"]
    )
    assert sim.requests[-1].path.endswith(
        f"/code/{EAN_POWER}/from/20250101/to/20251231"
    )
    by_id = await client.async_get_month_values(device_id="9999")
    assert by_id[-1].readings.gas == pytest.approx(
        sim.registers(EAN_GAS, _local(2025, 11, 15))["gas"]
    )
    assert by_id[-1].readings.cons is None
    assert "/id/9999" in sim.requests[-1].path
    # The document's own example (its closing-tag typo repaired).
    sim.respond_next(
        b"<month><year>2013</year><month>11</month>"
        b"<m3ConsReading>1123.1</m3ConsReading></month>"
    )
    (month,) = await client.async_get_month_values(EAN_GAS)
    assert (month.year, month.month, month.readings.gas) == (2013, 11, 1123.1)
    sim.respond_next(b"<months><month><year>x</year><month>1</month></month></months>")
    with pytest.raises(MeetdataResponseError):
        await client.async_get_month_values(EAN_GAS)


async def test_day_values(client: WattworxClient, sim: WattworxSimulator) -> None:
    """Day readings are the registers at the end of each local day."""
    days = await client.async_get_day_values(
        EAN_POWER, date(2025, 10, 25), date(2025, 10, 27)
    )
    assert [d.date for d in days] == [
        date(2025, 10, 25),
        date(2025, 10, 26),
        date(2025, 10, 27),
    ]
    regs = sim.registers(EAN_POWER, _local(2025, 10, 27))
    assert days[1].readings.cons == pytest.approx(regs["cons"])
    assert days[1].readings.prod_low == pytest.approx(regs["prod_low"])
    default = await client.async_get_day_values(device_id="10002")
    assert [d.date for d in default][-1] == date(2025, 11, 14)
    assert len(default) == 7


# ----------------------------------------------------------------------
# Day detail values


async def test_day_detail_kwh_utc(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """values=KWH and tf=4 are always sent; amounts match the source."""
    rows = await client.async_get_day_detail_values(
        EAN_POWER, date(2025, 6, 1), date(2025, 6, 1)
    )
    request = sim.requests[-1]
    assert (request.params["values"], request.params["tf"]) == ("KWH", "4")
    assert request.path.endswith("/from/20250601/to/20250601")
    assert len(rows) == 96
    source = sim.intervals(EAN_POWER, _local(2025, 6, 1), _local(2025, 6, 2))
    assert [r.time for r in rows] == [s[0] for s in source["energy_import"]]
    assert [r.cons for r in rows] == [s[2] for s in source["energy_import"]]
    assert [r.prod for r in rows] == [s[2] for s in source["energy_export"]]
    assert any(r.prod for r in rows)
    # The normal-tariff register is the one at the end of the quarter.
    noon = datetime(2025, 6, 1, 12, tzinfo=UTC)
    row = next(r for r in rows if r.time == noon)
    regs = sim.registers(EAN_POWER, noon + timedelta(minutes=15))
    assert row.readings.cons == pytest.approx(regs["cons"])


async def test_day_detail_wh_local(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """WH readings are scaled to kWh; local times resolve the repeated hour."""
    rows = await client.async_get_day_detail_values(
        EAN_POWER, date(2025, 10, 26), date(2025, 10, 26), values="WH", time_format=None
    )
    assert sim.requests[-1].params["values"] == "WH"
    assert "tf" not in sim.requests[-1].params
    assert len(rows) == 100
    times = [r.time for r in rows]
    assert times[0] == datetime(2025, 10, 25, 22, tzinfo=UTC)
    assert all(b - a == timedelta(minutes=15) for a, b in pairwise(times))
    assert rows[0].cons is None
    regs = sim.registers(EAN_POWER, times[10] + timedelta(minutes=15))
    assert rows[10].readings.cons == pytest.approx(regs["cons"])
    assert rows[10].readings.cons_low == pytest.approx(regs["cons_low"])
    utc_rows = await client.async_get_day_detail_values(
        EAN_POWER, date(2025, 10, 26), date(2025, 10, 26), values="WH"
    )
    assert [r.time for r in utc_rows] == times


async def test_day_detail_spring_day_local(client: WattworxClient) -> None:
    """2025-03-30 has 92 quarters in local time too."""
    rows = await client.async_get_day_detail_values(
        EAN_POWER_2, date(2025, 3, 30), date(2025, 3, 30), time_format=None
    )
    assert len(rows) == 92
    assert rows[8].time == datetime(2025, 3, 30, 1, tzinfo=UTC)


async def test_day_detail_split_into_60_days(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """A 61-day range takes two requests of at most 60 days."""
    rows = await client.async_get_day_detail_values(
        EAN_GAS, date(2025, 8, 1), date(2025, 9, 30)
    )
    assert sim.request_count["ean/innerdayvalues"] == 2
    assert [r.path.split("/from/")[1] for r in sim.requests] == [
        "20250801/to/20250929",
        "20250930/to/20250930",
    ]
    assert len(rows) == 61 * 24
    assert rows[0].time == _local(2025, 8, 1)
    assert rows[0].readings.gas == pytest.approx(
        sim.registers(EAN_GAS, _local(2025, 8, 1))["gas"]
    )


async def test_day_detail_argument_checks(client: WattworxClient) -> None:
    """Bad arguments are refused before anything is sent."""
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_get_day_detail_values(
            EAN_POWER, date(2025, 1, 1), date(2025, 1, 1), values="MWH"
        )
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_get_day_detail_values(
            EAN_POWER, date(2025, 1, 1), date(2025, 1, 1), time_format="1"
        )
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_get_day_detail_values(
            EAN_POWER, date(2025, 1, 2), date(2025, 1, 1)
        )
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_get_day_values(EAN_POWER, device_id="9998")
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_get_day_values()
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_get_day_values(device_id="99/../1")
    with pytest.raises(MeetdataInvalidRequestError) as err:
        await client.async_get_day_values("87123/../list")
    assert err.value.meter == "87123/../list"


async def test_tf_or_values_not_honoured(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """Local times where UTC was asked, or WH rows, are refused, not guessed."""
    meter = _meter(EAN_POWER, MeterKind.ELECTRICITY)
    start, end = _local(2025, 6, 1), _local(2025, 6, 2)
    sim.ignore_tf = True
    with pytest.raises(MeetdataResponseError, match="outside the requested"):
        await client.async_get_history(meter, start, end)
    sim.ignore_tf = False
    sim.force_values = "WH"
    with pytest.raises(MeetdataResponseError, match="without kWh amounts"):
        await client.async_get_history(meter, start, end)


async def test_day_detail_bad_times(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """Impossible local times and bad values are response errors."""
    day = date(2025, 3, 30)
    cases = [
        b"<d><daydetail><datetime>2025-03-30 02:15:00</datetime>"
        b"<kwhCons>1</kwhCons></daydetail></d>",
        b"<d><daydetail><datetime>2025-03-30 05:00:00</datetime></daydetail>"
        b"<daydetail><datetime>2025-03-30 04:00:00</datetime></daydetail></d>",
        b"<d><daydetail><datetime>yesterday</datetime></daydetail></d>",
        b"<d><daydetail><timestamp>12.5</timestamp></daydetail></d>",
        b"<d><daydetail><datetime>2025-03-30 05:00:00</datetime>"
        b"<kwhCons>nan</kwhCons></daydetail></d>",
        b"<d><daydetail><datetime>2025-03-30 05:00:00</datetime>"
        b"<kwhCons>1,5</kwhCons></daydetail></d>",
        b"<d><daydetail><kwhCons>1</kwhCons></daydetail></d>",
    ]
    for body in cases:
        sim.respond_next(body)
        with pytest.raises(MeetdataResponseError):
            await client.async_get_day_detail_values(
                EAN_POWER, day, day, time_format=None
            )
    # An explicit offset is honoured whatever the mode.
    sim.respond_next(
        b"<d><daydetail><datetime>2025-03-30T05:00:00+02:00</datetime>"
        b"<kwhCons>0.5</kwhCons></daydetail></d>"
    )
    (row,) = await client.async_get_day_detail_values(EAN_POWER, day, day)
    assert row.time == datetime(2025, 3, 30, 3, tzinfo=UTC)


def test_local_time_resolver() -> None:
    """The repeated October hour is resolved by order."""
    resolver = LocalTimeResolver()
    wall = ["01:45", "02:00", "02:45", "02:00", "02:45", "03:00"]
    result = [
        resolver.resolve(datetime.fromisoformat(f"2025-10-26 {t}:00")) for t in wall
    ]
    assert [r.strftime("%H:%M") for r in result] == [
        "23:45",
        "00:00",
        "00:45",
        "01:00",
        "01:45",
        "02:00",
    ]


# ----------------------------------------------------------------------
# History


async def test_history_electricity_dst_days(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """25-hour and 23-hour days give 100 and 92 quarters of the source.

    Per tariff the day's quarters add up to the day's register differences.
    """
    meter = _meter(EAN_POWER, MeterKind.ELECTRICITY)
    for day, quarters in ((date(2025, 10, 26), 100), (date(2025, 3, 30), 92)):
        start = _local(day.year, day.month, day.day)
        end = start + timedelta(minutes=15 * quarters)
        series = await client.async_get_history(meter, start, end)
        # The first quarter's opening reading is the last row of the day before.
        previous = day - timedelta(days=1)
        assert sim.requests[-1].path.endswith(
            f"/from/{previous:%Y%m%d}/to/{day:%Y%m%d}"
        )
        source = sim.intervals(EAN_POWER, start, end)
        by_quantity = {s.quantity: s for s in series}
        assert set(by_quantity) == {
            Quantity.ENERGY_IMPORT,
            Quantity.ENERGY_EXPORT,
            Quantity.ENERGY_IMPORT_LOW,
            Quantity.ENERGY_IMPORT_NORMAL,
            Quantity.ENERGY_EXPORT_LOW,
            Quantity.ENERGY_EXPORT_NORMAL,
        }
        opening, closing = (
            sim.registers(EAN_POWER, start),
            sim.registers(EAN_POWER, end),
        )
        for quantity, register in (
            (Quantity.ENERGY_IMPORT_LOW, "cons_low"),
            (Quantity.ENERGY_IMPORT_NORMAL, "cons"),
            (Quantity.ENERGY_EXPORT_LOW, "prod_low"),
            (Quantity.ENERGY_EXPORT_NORMAL, "prod"),
        ):
            tariff = by_quantity[quantity].intervals
            assert len(tariff) == quarters
            assert sum(iv.value for iv in tariff) == pytest.approx(
                closing[register] - opening[register], abs=1e-6
            )
        imports = _as_tuples(by_quantity[Quantity.ENERGY_IMPORT].intervals)
        assert imports == source["energy_import"]
        assert len(imports) == quarters
        exports = _as_tuples(by_quantity[Quantity.ENERGY_EXPORT].intervals)
        assert exports == source["energy_export"]
        assert by_quantity[Quantity.ENERGY_IMPORT].meter_key == EAN_POWER
    # One request per day: the end at local midnight needs no extra day.
    assert sim.request_count["ean/innerdayvalues"] == 2


async def test_history_electricity_long_partial(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """A 64-day window with odd bounds is split and trimmed to [start, end)."""
    meter = _meter(EAN_POWER_2, MeterKind.ELECTRICITY)
    start = datetime(2025, 6, 1, 7, 20, tzinfo=UTC)
    end = datetime(2025, 8, 3, 13, 5, tzinfo=UTC)
    series = await client.async_get_history(meter, start, end)
    imports = series[0].intervals
    assert sim.request_count["ean/innerdayvalues"] == 2
    assert imports[0].start == datetime(2025, 6, 1, 7, 30, tzinfo=UTC)
    assert imports[-1].start == datetime(2025, 8, 3, 13, 0, tzinfo=UTC)
    assert (
        _as_tuples(imports) == sim.intervals(EAN_POWER_2, start, end)["energy_import"]
    )
    assert all(i.value == 0 for i in series[1].intervals)


async def test_history_clipped_and_empty(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """No request before firstDataDate, none for an empty window."""
    meter = _meter(EAN_POWER, MeterKind.ELECTRICITY, first_data_date="2024-01-01")
    start, end = datetime(2023, 11, 1, tzinfo=UTC), _local(2024, 1, 2)
    series = await client.async_get_history(meter, start, end)
    assert sim.requests[-1].path.endswith("/from/20240101/to/20240101")
    assert len(series[0].intervals) == 96
    assert await client.async_get_history(meter, end, end) == []
    assert await client.async_get_history(meter, start, _local(2023, 12, 1)) == []
    assert sim.request_count["ean/innerdayvalues"] == 1


async def test_history_argument_checks(client: WattworxClient) -> None:
    """Naive bounds and other meter kinds are refused."""
    meter = _meter(EAN_POWER, MeterKind.ELECTRICITY)
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_get_history(
            meter, datetime(2025, 1, 1), datetime(2025, 1, 2)
        )
    other = _meter(EAN_POWER, MeterKind.PRODUCTION)
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_get_history(other, _local(2025, 1, 1), _local(2025, 1, 2))


async def test_history_gas(client: WattworxClient, sim: WattworxSimulator) -> None:
    """Hourly gas amounts are reading differences, across DST and windows."""
    meter = _meter(EAN_GAS, MeterKind.GAS)
    start, end = _local(2025, 10, 26), _local(2025, 10, 27)
    (series,) = await client.async_get_history(meter, start, end)
    assert series.quantity is Quantity.GAS_VOLUME
    assert len(series.intervals) == 25
    assert _as_tuples(series.intervals) == pytest.approx(
        sim.intervals(EAN_GAS, start, end)["gas_volume"]
    )
    # The closing reading of the last hour comes from the next day.
    assert sim.requests[-1].path.endswith("/from/20251026/to/20251027")


async def test_history_gas_across_windows(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """The hour at a 60-day window boundary uses the next window's reading."""
    meter = _meter(EAN_GAS_2, MeterKind.GAS)
    start = datetime(2025, 7, 1, 10, 30, tzinfo=UTC)
    end = datetime(2025, 9, 1, 15, 0, tzinfo=UTC)
    (series,) = await client.async_get_history(meter, start, end)
    assert sim.request_count["ean/innerdayvalues"] == 2
    source = sim.intervals(EAN_GAS_2, start, end)["gas_volume"]
    assert _as_tuples(series.intervals) == pytest.approx(source)
    assert series.intervals[0].start == datetime(2025, 7, 1, 11, tzinfo=UTC)
    assert series.intervals[-1].end == end


async def test_history_gas_gaps_and_resets(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """A gap gives one spanning interval; a decreasing reading none."""
    base = int(datetime(2025, 5, 1, 22, tzinfo=UTC).timestamp())
    readings = [(0, "10.000"), (3600, "10.500"), (10800, "11.000"), (14400, "2.000"),
                (18000, "2.250")]  # fmt: skip
    body = (
        "<daydetails>"
        + "".join(
            f"<daydetail><timestamp>{base + s}</timestamp>"
            f"<m3ConsReading>{r}</m3ConsReading></daydetail>"
            for s, r in readings
        )
        + "<daydetail><timestamp>"
        + str(base + 21600)
        + "</timestamp></daydetail>"
    )
    sim.respond_next((body + "</daydetails>").encode())
    meter = _meter(EAN_GAS, MeterKind.GAS)
    (series,) = await client.async_get_history(
        meter, _local(2025, 5, 2), _local(2025, 5, 2, 12)
    )
    start = datetime(2025, 5, 1, 22, tzinfo=UTC)
    assert _as_tuples(series.intervals) == [
        (start, start + timedelta(hours=1), 0.5),
        (start + timedelta(hours=1), start + timedelta(hours=3), 0.5),
        (start + timedelta(hours=4), start + timedelta(hours=5), 0.25),
    ]


# ----------------------------------------------------------------------
# Latest readings


async def test_latest(client: WattworxClient, sim: WattworxSimulator) -> None:
    """Registers of the last data date; one list request plus one per meter."""
    meters = await client.async_get_meters()
    sim.requests.clear()
    sim.request_count.clear()
    latest = await client.async_get_latest(meters)
    assert set(latest) == {EAN_POWER, EAN_GAS, EAN_POWER_2, EAN_GAS_2}
    assert sim.request_count == {"ean/list": 1, "ean/dayvalues": 4}
    moment = _local(2025, 11, 15)
    regs = sim.registers(EAN_POWER, moment)
    power = latest[EAN_POWER]
    assert power[Quantity.ENERGY_IMPORT_NORMAL].value == pytest.approx(regs["cons"])
    assert power[Quantity.ENERGY_IMPORT_LOW].value == pytest.approx(regs["cons_low"])
    assert power[Quantity.ENERGY_EXPORT_NORMAL].value == pytest.approx(regs["prod"])
    assert power[Quantity.ENERGY_EXPORT_LOW].value == pytest.approx(regs["prod_low"])
    assert power[Quantity.ENERGY_IMPORT_NORMAL].timestamp == moment
    assert power[Quantity.LAST_MEASUREMENT].value == moment
    gas = latest[EAN_GAS_2]
    assert set(gas) == {Quantity.GAS_VOLUME, Quantity.LAST_MEASUREMENT}
    assert gas[Quantity.GAS_VOLUME].value == pytest.approx(
        sim.registers(EAN_GAS_2, moment)["gas"]
    )
    assert sim.requests[-1].path.endswith("/from/20251114/to/20251114")


async def test_latest_edge_cases(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """Foreign, unknown and failing meters are left out; no day gives a date only."""
    assert await client.async_get_latest([]) == {}
    foreign = Meter("cemm", "x", MeterKind.ELECTRICITY)
    assert await client.async_get_latest([foreign]) == {}
    assert not sim.requests
    meters = [
        _meter(EAN_POWER, MeterKind.ELECTRICITY),
        _meter(EAN_GAS, MeterKind.GAS),
        _meter(NEW_EAN, MeterKind.ELECTRICITY),
    ]
    sim.fail_next(404, endpoint="ean/dayvalues", message="EAN not found")
    sim.respond_next(b"<days/>", endpoint="ean/dayvalues")
    latest = await client.async_get_latest(meters)
    assert set(latest) == {EAN_GAS}
    assert set(latest[EAN_GAS]) == {Quantity.LAST_MEASUREMENT}
    # A device without a last data date has nothing to read.
    sim.respond_next(
        f"<devices><device><id>1</id><ean>{EAN_GAS}</ean><eantype>KVBG</eantype>"
        "<client><id>1</id><authorisationstatus>Getekend</authorisationstatus>"
        "</client></device></devices>".encode()
    )
    assert await client.async_get_latest(meters) == {}


async def test_history_of_unsigned_ean_is_empty(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """Once the device list shows an EAN unsigned, history asks nothing."""
    meters = {meter.key: meter for meter in await client.async_get_meters()}
    sim.requests.clear()
    start, end = _local(2025, 11, 1), _local(2025, 11, 2)
    assert await client.async_get_history(meters[EAN_PENDING], start, end) == []
    assert not sim.requests


# ----------------------------------------------------------------------
# Account management


async def test_add_and_delete_ean(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """Adding an EAN leaves it pending; deleting removes it."""
    added = await client.async_add_ean("1111", NEW_EAN, "KVBE")
    assert (added.code, added.authorisation_status) == (
        NEW_EAN,
        "Validatie in behandeling",
    )
    assert added.id is not None
    assert sim.requests[-1].path == (
        f"/api/v1/ean/add/client/1111/code/{NEW_EAN}/eantype/KVBE"
    )
    meters = {m.key: m for m in await client.async_get_meters()}
    assert (
        meters[NEW_EAN].attributes["authorisation_status"] == "Validatie in behandeling"
    )
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_add_ean("1111", NEW_EAN, "KVBE")
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_add_ean("1111", "871234567890999998", "WARMTE")
    with pytest.raises(MeetdataNotFoundError):
        await client.async_add_ean("3333", "871234567890999998", "KVBE")
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_add_ean("abc", NEW_EAN, "KVBE")
    deleted = await client.async_delete_ean("1111", NEW_EAN)
    assert (deleted.code, deleted.status) == (NEW_EAN, "Verwijderd")
    assert NEW_EAN not in sim.devices
    with pytest.raises(MeetdataNotFoundError) as err:
        await client.async_delete_ean("1111", NEW_EAN)
    assert err.value.meter == NEW_EAN
    sim.respond_next(b"<ean><id>1</id></ean>")
    with pytest.raises(MeetdataResponseError):
        await client.async_delete_ean("1111", NEW_EAN)
    sim.respond_next(b"<eans><ean><code>1</code></ean><ean><code>2</code></ean></eans>")
    with pytest.raises(MeetdataResponseError):
        await client.async_delete_ean("1111", NEW_EAN)


async def test_clients(client: WattworxClient, sim: WattworxSimulator) -> None:
    """Client overview, add (URL-encoded details) and delete."""
    clients = await client.async_get_clients()
    assert [c.id for c in clients] == ["1111", "2222"]
    second = clients[1]
    assert second.kvk == "7654321000"
    assert [(a.number, a.status, a.eans) for a in second.authorisations] == [
        ("MA9999", "Getekend", (EAN_POWER_2, EAN_GAS_2)),
        ("MA10000", "Validatie in behandeling", (EAN_PENDING,)),
    ]
    new = await client.async_add_client(
        "A/B & Zn BV", "Kerkstraat 1/a", "1234 AB", "'s-Hertogenbosch"
    )
    assert (new.name, new.address, new.zip, new.city) == (
        "A/B & Zn BV",
        "Kerkstraat 1/a",
        "1234 AB",
        "'s-Hertogenbosch",
    )
    assert "/name/A%2FB%20" in sim.requests[-1].path
    assert sim.requests[-1].params["name"] == "A/B & Zn BV"
    assert await client.async_account_id() == f"1111,2222,{new.id}"
    removed = await client.async_delete_client(new.id)
    assert (removed.id, removed.status) == (new.id, "Removed")
    with pytest.raises(MeetdataNotFoundError):
        await client.async_delete_client(new.id)
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_add_client("Naam", "Straat 1", "1234AB", " ")
    removed = await client.async_delete_client("2222")
    assert EAN_GAS_2 not in sim.devices


async def test_request_day_values(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """First a queued status, then the day values; limits are enforced."""
    day = date(2025, 11, 10)
    first = await client.async_request_day_values(EAN_POWER, day)
    assert first.queued
    assert first.status == "Dayrequest for 2025-11-10 queued"
    assert first.days == ()
    assert sim.requests[-1].path.endswith(f"/code/{EAN_POWER}/date/20251110")
    second = await client.async_request_day_values(EAN_POWER, day)
    assert not second.queued
    assert [d.date for d in second.days] == [day]
    assert second.days[0].readings.cons == pytest.approx(
        sim.registers(EAN_POWER, _local(2025, 11, 11))["cons"]
    )
    future = date(2025, 11, 20)
    assert (await client.async_request_day_values(EAN_GAS, future)).queued
    assert (await client.async_request_day_values(EAN_GAS, future)).queued
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_request_day_values(EAN_POWER, date(2025, 10, 1))
    with pytest.raises(MeetdataInvalidRequestError):
        await client.async_request_day_values(EAN_GAS_2, day)
    with pytest.raises(MeetdataPermissionError) as err:
        await client.async_request_day_values(EAN_PENDING, day)
    assert err.value.meter == EAN_PENDING
    sim.queue_day_requests = False
    direct = await client.async_request_day_values(EAN_GAS, day)
    assert not direct.queued
    assert direct.days[0].readings.gas is not None
    sim.respond_next(
        b"<ean><id>1</id><eanCode>1</eanCode><status>Onbekend</status></ean>"
    )
    odd = await client.async_request_day_values(EAN_GAS, day)
    assert (odd.queued, odd.status, odd.days) == (False, "Onbekend", ())


# ----------------------------------------------------------------------
# Errors


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (400, MeetdataInvalidRequestError),
        (401, MeetdataAuthError),
        (403, MeetdataAuthError),
        (404, MeetdataNotFoundError),
        (422, MeetdataInvalidRequestError),
        (429, MeetdataRateLimitError),
        (500, MeetdataConnectionError),
        (503, MeetdataConnectionError),
        (418, MeetdataResponseError),
    ],
)
async def test_status_mapping(
    client: WattworxClient,
    sim: WattworxSimulator,
    status: int,
    error: type[Exception],
) -> None:
    """Every documented status maps onto the error hierarchy."""
    sim.fail_next(status, message=f"Boom {DEMO_KEY}")
    with pytest.raises(error) as err:
        await client.async_get_devices()
    assert type(err.value) is error
    assert DEMO_KEY not in str(err.value)
    assert "**REDACTED**" in str(err.value)
    assert str(status) in str(err.value)


async def test_ean_errors(client: WattworxClient, sim: WattworxSimulator) -> None:
    """Unknown EAN → not found; unsigned EAN → permission; both name the EAN."""
    with pytest.raises(MeetdataNotFoundError) as err:
        await client.async_get_day_values(NEW_EAN)
    assert err.value.meter == NEW_EAN
    with pytest.raises(MeetdataPermissionError) as perm:
        await client.async_get_day_detail_values(
            EAN_PENDING, date(2025, 11, 1), date(2025, 11, 1)
        )
    assert perm.value.meter == EAN_PENDING
    sim.fail_next(404, message="\x00odd\nmessage " + "x" * 500)
    with pytest.raises(MeetdataNotFoundError) as err:
        await client.async_get_day_values(device_id="1")
    assert err.value.meter == "1"
    assert "\x00" not in str(err.value)
    assert len(str(err.value)) < 300


async def test_rate_limit_retry_after(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """Retry-After in seconds or as an HTTP date."""
    sim.fail_next(429, retry_after="12")
    with pytest.raises(MeetdataRateLimitError) as err:
        await client.async_get_devices()
    assert err.value.retry_after == 12.0
    when = format_datetime(datetime.now(UTC) + timedelta(seconds=100), usegmt=True)
    sim.fail_next(429, retry_after=when)
    with pytest.raises(MeetdataRateLimitError) as err:
        await client.async_get_devices()
    assert err.value.retry_after is not None
    assert 90 < err.value.retry_after <= 100
    sim.fail_next(429, retry_after="soon")
    with pytest.raises(MeetdataRateLimitError) as err:
        await client.async_get_devices()
    assert err.value.retry_after is None
    assert _retry_after(None) is None
    assert _retry_after("Wed, 21 Oct 2015 07:28:00") == 0.0


async def test_error_bodies(client: WattworxClient, sim: WattworxSimulator) -> None:
    """Error bodies with status 200, without code, or not XML at all."""
    sim.respond_next(b"<error><code>401</code><message>Key expired</message></error>")
    with pytest.raises(MeetdataAuthError, match="Key expired"):
        await client.async_get_devices()
    sim.respond_next(b"<error><message>Something</message></error>")
    with pytest.raises(MeetdataResponseError, match="Something"):
        await client.async_get_devices()
    sim.respond_next(b"<error>Plain text</error>")
    with pytest.raises(MeetdataResponseError, match="Plain text"):
        await client.async_get_devices()
    sim.respond_next(b"<html>Bad gateway</html>", status=502, content_type="text/html")
    with pytest.raises(MeetdataConnectionError, match="502$"):
        await client.async_get_devices()
    sim.respond_next(b"not xml", status=500, content_type="text/plain")
    with pytest.raises(MeetdataConnectionError):
        await client.async_get_devices()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<devices><device><id>&lol3;</id><ean>1</ean></device></devices>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE devices [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<devices><device><id>&xxe;</id><ean>1</ean></device></devices>"""


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        b'<!doctype devices SYSTEM "http://example.com/x.dtd"><devices/>',
        '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><devices/>'.encode(
            "utf-16"
        ),
        b"<devices><device><id>1</id>",
        b"",
        b"   ",
        b'{"devices": []}',
        b"<devices><device><id>1</id></device></devices>",
        b"<devices><device><id>1</id><ean>2</ean><client><id>1</id>"
        b"<firstDataDate>13-07-2012</firstDataDate></client></device></devices>",
    ],
)
async def test_malformed_bodies(
    client: WattworxClient, sim: WattworxSimulator, body: bytes
) -> None:
    """Entity tricks, DOCTYPEs, broken and incomplete XML are refused."""
    sim.respond_next(body)
    with pytest.raises(MeetdataResponseError):
        await client.async_get_devices()


def test_parse_xml_utf16_doctype_after_parse() -> None:
    """A DOCTYPE hidden from the byte scan is caught after parsing."""
    body = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x><x/>'.encode("utf-16")
    with pytest.raises(MeetdataResponseError, match="DOCTYPE"):
        parse_xml(body)
    assert parse_xml(b"<!-- c --><x><?pi?><y>1</y></x>").findtext("y") == "1"


async def test_size_cap_and_large_bodies(
    make_client: MakeClient, sim: WattworxSimulator
) -> None:
    """Bodies over the cap are refused; large ones still parse (executor)."""
    small = make_client(max_bytes=2000)
    with pytest.raises(MeetdataResponseError, match="limit"):
        await small.async_get_devices()
    sim.respond_next(b"<devices>" + b" " * 100_000 + b"</devices>")
    assert await make_client().async_get_devices() == []


async def test_timeout_and_connection_errors(
    make_client: MakeClient,
    sim: WattworxSimulator,
    http_session: aiohttp.ClientSession,
) -> None:
    """Slow answers time out; a closed port is a connection error."""
    sim.delay = 0.2
    with pytest.raises(MeetdataTimeoutError):
        await make_client(timeout=0.05).async_get_devices()
    sim.delay = 0
    closed = WattworxClient(
        http_session, DEMO_KEY, base_url="http://127.0.0.1:9/api/v1"
    )
    with pytest.raises(MeetdataConnectionError) as err:
        await closed.async_get_devices()
    assert DEMO_KEY not in str(err.value)


# ----------------------------------------------------------------------
# Pure helpers


def test_helpers() -> None:
    """URL building, window splitting and type mapping."""
    assert DEFAULT_BASE_URL == "https://wattworx.nl/api/v1/"
    assert build_url(DEFAULT_BASE_URL, "ean", "list") == (
        "https://wattworx.nl/api/v1/ean/list"
    )
    assert build_url("http://h/api/v1", "client", "add", "name", "a b/c") == (
        "http://h/api/v1/client/add/name/a%20b%2Fc"
    )
    windows = list(split_days(date(2025, 1, 1), date(2025, 3, 5)))
    assert windows == [
        (date(2025, 1, 1), date(2025, 3, 1)),
        (date(2025, 3, 2), date(2025, 3, 5)),
    ]
    assert list(split_days(date(2025, 1, 2), date(2025, 1, 1))) == []
    assert kind_for_type("GVBE") is MeterKind.ELECTRICITY
    assert kind_for_type("kvbg") is MeterKind.GAS
    assert kind_for_type(None) is None
    assert kind_for_type("XYZ") is None


# ----------------------------------------------------------------------
# Simulator fidelity (raw HTTP)


async def _raw(
    session: aiohttp.ClientSession, url: str, key: str | None = DEMO_KEY
) -> tuple[int, str]:
    """GET a URL with an optional Bearer key; return status and text."""
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    async with session.get(url, headers=headers) as resp:
        return resp.status, await resp.text()


async def test_simulator_raw(
    http_session: aiohttp.ClientSession, base_url: str, sim: WattworxSimulator
) -> None:
    """Key in the URL, JSON format, defaults and documented errors."""
    status, text = await _raw(http_session, f"{base_url}ean/list/key/{DEMO_KEY}", None)
    assert status == 200
    assert sim.requests[-1].key_in_url
    assert DEMO_KEY not in sim.requests[-1].path
    status, text = await _raw(http_session, f"{base_url}client/list/format/json")
    assert status == 200
    assert json.loads(text)["clients"]["client"][0]["id"] == "1111"
    detail = f"{base_url}ean/innerdayvalues/code/{EAN_POWER}"
    status, text = await _raw(http_session, f"{detail}/from/20250101/to/20250302")
    assert status == 400
    assert "<message>Maximum date range is 60 days</message>" in text
    # Default values mode: KWH now, WH before 2026-03-08T23:00Z (sim clock).
    sim.now = datetime(2026, 3, 9, tzinfo=UTC)
    status, text = await _raw(http_session, f"{detail}/from/20250101")
    assert "<kwhCons>" in text
    assert "<datetime>2025-01-01 00:00:00</datetime>" in text
    sim.now = NOW
    status, text = await _raw(http_session, f"{detail}/values/WH/tf/4")
    assert "<kwhCons>" not in text
    assert "<kwhConsLowReading>" in text
    assert "<datetime>2025-11-07 23:00:00</datetime>" in text
    errors = {
        f"{base_url}ean/list/format/yaml": 400,
        f"{base_url}ean/unknown": 404,
        f"{base_url}ean/list/odd": 400,
        f"{detail}?values=MWH": 400,
        f"{detail}?tf=9": 400,
        f"{detail}/from/2025-01-01": 400,
        f"{detail}/from/20250102/to/20250101": 400,
        f"{base_url}ean/dayvalues": 400,
        f"{base_url}ean/requestdayvalues/code/{EAN_POWER}": 400,
        f"{base_url}ean/delete/client/1111/code/{NEW_EAN}": 404,
        f"{base_url}ean/add/client/1111/code/123/eantype/KVBE": 400,
        f"{base_url}client/delete": 400,
    }
    for url, expected in errors.items():
        status, text = await _raw(http_session, url)
        assert status == expected, url
        assert f"<code>{expected}</code>" in text
    status, _ = await _raw(http_session, f"{base_url}ean/list", None)
    assert status == 401


async def test_simulator_sign_and_month_defaults(
    client: WattworxClient, sim: WattworxSimulator
) -> None:
    """A newly signed EAN has data from yesterday; months default to a year."""
    sim.sign(EAN_PENDING)
    rows = await client.async_get_day_values(EAN_PENDING)
    assert [d.date for d in rows] == [date(2025, 11, 14)]
    months = await client.async_get_month_values(EAN_POWER_2)
    assert (months[0].year, months[0].month) == (2024, 11)
    assert len(months) == 13


def test_simulator_main(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The standalone entry point prints the demo keys and serves the app."""
    served: dict[str, object] = {}

    def fake_run_app(app: object, **kwargs: object) -> None:
        served.update(kwargs)

    monkeypatch.setattr(aiohttp.web, "run_app", fake_run_app)
    monkeypatch.setattr(sys, "argv", ["wattworx", "--port", "8123"])
    simmod.main()
    out = capsys.readouterr().out
    assert DEMO_KEY in out
    assert "http://127.0.0.1:8123/api/v1/" in out
    assert served["port"] == 8123
    assert served["host"] == "127.0.0.1"
