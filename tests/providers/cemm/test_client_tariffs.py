"""CEMM P1 energy per tariff from the client: hours that add up to the registers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import aiohttp
import pytest

from custom_components.meetdata.api.models import Interval, IntervalSeries, Quantity
from custom_components.meetdata.providers.cemm.client.client import CemmClient
from custom_components.meetdata.providers.cemm.client.tariffs import (
    TariffReading,
    split_tariffs,
)

from ...conftest import Serve
from ...simulators.cemm import (
    DEFAULT_UID,
    DEMO_API_KEY,
    CemmSimulator,
    local_date,
    local_midnight,
)

Q = Quantity
#: (total, low, normal, low register, normal register)
TARIFFS = (
    (Q.ENERGY_IMPORT, Q.ENERGY_IMPORT_LOW, Q.ENERGY_IMPORT_NORMAL, "t1", "t2"),
    (Q.ENERGY_EXPORT, Q.ENERGY_EXPORT_LOW, Q.ENERGY_EXPORT_NORMAL, "t3", "t4"),
)
#: low + normal == total of an hour to 1e-9 kWh.
EXACT = 1e-9
#: The simulator's totals carry full precision: register deltas to 1e-6 kWh.
REGISTER = 1e-6
HOUR = timedelta(hours=1)


@pytest.fixture
def sim() -> CemmSimulator:
    """One CEMM whose registers drift from the minute power (23-07 low tariff)."""
    return CemmSimulator(drift=40)


@pytest.fixture
async def client(
    sim: CemmSimulator, serve: Serve, http_session: aiohttp.ClientSession
) -> CemmClient:
    """A client of ``sim`` whose clock is the simulator's."""
    url = await serve(sim.build_app())
    return CemmClient(
        http_session,
        DEMO_API_KEY,
        base_url=f"{url}/v1",
        clock=lambda: sim.now,
        promise_retry_delay=0.01,
        promise_timeout=0.2,
    )


async def _history(
    client: CemmClient, start: datetime, end: datetime, uid: str = DEFAULT_UID
) -> dict[Quantity, list[Interval]]:
    meter = next(
        m
        for m in await client.async_get_meters()
        if m.attributes.get("alias") == "p1" and m.attributes.get("uid") == uid
    )
    series: list[IntervalSeries] = await client.async_get_history(meter, start, end)
    return {item.quantity: item.intervals for item in series}


def _hourly(intervals: list[Interval]) -> dict[datetime, float]:
    hours: dict[datetime, float] = {}
    for iv in intervals:
        stamp = int(iv.start.timestamp())
        hour = datetime.fromtimestamp(stamp - stamp % 3600, UTC)
        hours[hour] = hours.get(hour, 0.0) + iv.value
    return hours


def _delta(sim: CemmSimulator, uid: str, name: str, first: date, last: date) -> float:
    """How much register ``name`` rose over local days [first, last]."""
    before = sim.registers(uid, local_midnight(first))[name]
    return sim.registers(uid, local_midnight(last + timedelta(days=1)))[name] - before


def _check_hours(history: dict[Quantity, list[Interval]]) -> None:
    """Each tariff hour is whole, within its total, and low + normal is the total."""
    for total_q, low_q, normal_q, _, _ in TARIFFS:
        total = _hourly(history[total_q])
        low, normal = _hourly(history[low_q]), _hourly(history[normal_q])
        assert low.keys() == normal.keys()
        assert all(iv.end - iv.start == HOUR for iv in history[low_q])
        for hour in low:
            assert 0 <= low[hour] <= total[hour] + EXACT
            assert low[hour] + normal[hour] == pytest.approx(total[hour], abs=EXACT)


def _check_days(
    sim: CemmSimulator,
    history: dict[Quantity, list[Interval]],
    days: list[date],
    uid: str = DEFAULT_UID,
) -> None:
    """Each tariff's hours of each local day add up to its register's increase."""
    for _, low_q, normal_q, low_name, normal_name in TARIFFS:
        for quantity, name in ((low_q, low_name), (normal_q, normal_name)):
            per_day: dict[date, float] = {}
            for iv in history[quantity]:
                day = local_date(iv.start)
                per_day[day] = per_day.get(day, 0.0) + iv.value
            for day in days:
                expected = _delta(sim, uid, name, day, day)
                assert per_day[day] == pytest.approx(expected, abs=REGISTER), (
                    quantity,
                    day,
                )


async def test_days_add_up_per_tariff(sim: CemmSimulator, client: CemmClient) -> None:
    """A week (weekdays, weekend): hours per tariff match t1..t4 per local day."""
    first = date(2025, 6, 9)  # a Monday
    days = [first + timedelta(days=i) for i in range(7)]
    history = await _history(
        client, local_midnight(first), local_midnight(first + timedelta(days=7))
    )
    _check_hours(history)
    _check_days(sim, history, days)
    assert len(history[Q.ENERGY_IMPORT_LOW]) == 7 * 24
    # Weekend days are wholly low tariff.
    saturday = first + timedelta(days=5)
    normal = [
        iv.value
        for iv in history[Q.ENERGY_IMPORT_NORMAL]
        if local_date(iv.start) == saturday
    ]
    assert normal == pytest.approx([0.0] * 24, abs=EXACT)


async def test_windows_inside_a_day_give_the_same_hours(
    sim: CemmSimulator, client: CemmClient
) -> None:
    """Windows that cut days in two: every hour as a whole-day request gives it."""
    start, end = local_midnight(date(2025, 6, 10)), local_midnight(date(2025, 6, 13))
    whole = await _history(client, start, end)
    cut = start + timedelta(hours=13)
    parts = [await _history(client, start, cut), await _history(client, cut, end)]
    for _, low_q, normal_q, _, _ in TARIFFS:
        for quantity in (low_q, normal_q):
            joined = [iv for part in parts for iv in part[quantity]]
            assert joined == whole[quantity]
    assert parts[0][Q.ENERGY_IMPORT_LOW][-1].end == cut


@pytest.mark.parametrize(
    ("day", "hours"), [(date(2025, 3, 30), 23), (date(2025, 10, 26), 25)]
)
async def test_dst_days(
    sim: CemmSimulator, client: CemmClient, day: date, hours: int
) -> None:
    """23 and 25 hours per tariff that add up to the day's register increase."""
    history = await _history(
        client, local_midnight(day), local_midnight(day + timedelta(days=1))
    )
    for _, low_q, normal_q, _, _ in TARIFFS:
        assert len(history[low_q]) == len(history[normal_q]) == hours
    _check_hours(history)
    _check_days(sim, history, [day])


async def test_today_waits_for_the_hour_of_the_newest_reading(
    sim: CemmSimulator, client: CemmClient
) -> None:
    """Today (clock 11:30 local): tariff hours until the hour of the 11:30 reading."""
    today = local_date(sim.now)
    reading = sim.now.replace(minute=sim.now.minute // 5 * 5, second=0)
    for end in (sim.now, local_midnight(today + timedelta(days=1))):
        history = await _history(client, local_midnight(today), end)
        _check_hours(history)
        hours = [iv.start for iv in history[Q.ENERGY_IMPORT_LOW]]
        assert hours
        assert hours[0] == local_midnight(today)
        assert hours[-1] + HOUR <= reading < hours[-1] + 2 * HOUR
        assert max(iv.end for iv in history[Q.ENERGY_IMPORT]) > hours[-1] + HOUR


async def test_a_day_without_totals_has_no_tariff_hours(
    sim: CemmSimulator, client: CemmClient
) -> None:
    """No registers at the end of a day: that day and the next get no tariff hours.

    The total of the two days still adds up to the registers over both.
    """
    first = date(2025, 6, 9)
    gap = first + timedelta(days=1)
    sim.totals_gaps.add((DEFAULT_UID, gap))
    history = await _history(
        client, local_midnight(first), local_midnight(first + timedelta(days=4))
    )
    _check_hours(history)
    for _, low_q, normal_q, _, _ in TARIFFS:
        for quantity in (low_q, normal_q):
            days = {local_date(iv.start) for iv in history[quantity]}
            assert days == {first, first + timedelta(days=3)}
    _check_days(sim, history, [first, first + timedelta(days=3)])
    for total_q, _, _, low_name, normal_name in TARIFFS:
        both = sum(
            iv.value
            for iv in history[total_q]
            if local_date(iv.start) in (gap, gap + timedelta(days=1))
        )
        expected = sum(
            _delta(sim, DEFAULT_UID, name, gap, gap + timedelta(days=1))
            for name in (low_name, normal_name)
        )
        assert both == pytest.approx(expected, abs=REGISTER)


async def test_other_schedules_and_holidays_still_add_up(
    serve: Serve, http_session: aiohttp.ClientSession
) -> None:
    """A 21-07 meter with a holiday at low tariff: every day still exact."""
    holiday = date(2025, 12, 25)  # a Thursday
    sim = CemmSimulator(now=datetime(2026, 1, 6, 12, tzinfo=UTC))
    sim.add_device(
        "00-11-22-33-44-55",
        drift=25,
        low_from=21,
        low_days=frozenset({holiday}),
    )
    url = await serve(sim.build_app())
    client = CemmClient(
        http_session,
        DEMO_API_KEY,
        base_url=f"{url}/v1",
        clock=lambda: sim.now,
        promise_retry_delay=0.01,
        promise_timeout=0.2,
    )
    first = date(2025, 12, 22)
    days = [first + timedelta(days=i) for i in range(5)]
    history = await _history(
        client,
        local_midnight(first),
        local_midnight(days[-1] + timedelta(days=1)),
        uid="00-11-22-33-44-55",
    )
    _check_hours(history)
    _check_days(sim, history, days, uid="00-11-22-33-44-55")
    low = [iv for iv in history[Q.ENERGY_IMPORT_LOW] if local_date(iv.start) == holiday]
    totals = _hourly(history[Q.ENERGY_IMPORT])
    assert [iv.value for iv in low] == pytest.approx([totals[iv.start] for iv in low])
    # 21:00-22:00 on the Monday is low at this meter, 20:00-21:00 is not: the
    # 21-07 schedule was chosen (its hours scaled by the registers' few %).
    evening = local_midnight(first) + timedelta(hours=21)
    low_hours = _hourly(history[Q.ENERGY_IMPORT_LOW])
    assert low_hours[evening] > 0.95 * totals[evening]
    assert low_hours[evening - HOUR] == 0.0


def test_readings_off_the_hour_split_hours_between_spans() -> None:
    """Readings at 23:55: an hour gets its parts of two spans; a gap drops hours.

    Minutes of 0.01 kWh from Monday 23:00 to Thursday 23:55 local, readings at
    Mon, Tue 23:55 and Thu 23:55 (Wednesday's missing): Tuesday's span is
    divided, Wednesday-Thursday (48 h) is not, so the 23:00 hour of Tuesday,
    half in each, gets no rows either.
    """
    start = datetime(2025, 6, 9, 21, 55, tzinfo=UTC)  # Monday 23:55 local
    first = start.replace(minute=0)  # 55 minutes before the first reading
    minutes = [
        Interval(first + timedelta(minutes=i), first + timedelta(minutes=i + 1), 0.01)
        for i in range(3 * 24 * 60 + 55)
    ]
    day = 24 * 60 * 0.01

    def reading(moment: datetime, t1: float, t2: float) -> TariffReading:
        return TariffReading(moment, {"t1": t1, "t2": t2, "t3": 0.0, "t4": 0.0})

    readings = [
        reading(start, 100.0, 200.0),
        reading(start + timedelta(days=1), 100.0 + 5.0, 200.0 + day - 5.0),
        reading(start + timedelta(days=3), 110.0, 200.0 + 3 * day - 10.0),
    ]
    low, normal = split_tariffs(minutes, readings, "t1", "t2")
    hours = [iv.start for iv in low]
    assert hours == [iv.start for iv in normal]
    # Monday 23:00 (a part before the first reading) and Tuesday 23:00 (a part
    # in the undivided span) are left out; Tuesday 00:00-23:00 are there.
    assert hours == [first + HOUR * i for i in range(1, 24)]
    assert sum(iv.value for iv in low) + sum(iv.value for iv in normal) == (
        pytest.approx(23 * 60 * 0.01)
    )
    assert all(iv.value >= 0 for iv in [*low, *normal])
