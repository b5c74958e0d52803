"""Property tests of the tariff split (api/tariffs.py): its invariants hold for any day."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
import math
import os
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.meetdata.api.tariffs import DUTCH_SCHEDULES, adds_up, split_day

TZ = ZoneInfo("Europe/Amsterdam")
FAST = settings(
    max_examples=int(os.environ.get("MEETDATA_HYPOTHESIS_EXAMPLES", "300")),
    database=None,
    deadline=None,
)
#: Tolerance of every equality: 1e-9 relative, or 1e-12 kWh near zero.
REL, ABS = 1e-9, 1e-12


def _day_hours(day: date) -> list[datetime]:
    """Return the UTC hour starts of local ``day`` (23, 24 or 25 of them)."""
    start = datetime.combine(day, time(0), TZ).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(0), TZ).astimezone(UTC)
    count = int((end - start).total_seconds() // 3600)
    return [start + timedelta(hours=i) for i in range(count)]


DAYS = st.one_of(
    st.dates(date(2024, 1, 1), date(2027, 12, 31)),
    st.sampled_from([date(2025, 3, 30), date(2025, 10, 26), date(2026, 3, 29)]),
)
AMOUNT = st.one_of(
    st.just(0.0),
    st.floats(0, 10, allow_nan=False),
    st.floats(1e-12, 1e-6),
)


@st.composite
def fitted_days(draw: st.DrawFn) -> tuple[dict[datetime, float], float, float]:
    """A day of hourly totals and low/normal deltas that add up to them."""
    hours = _day_hours(draw(DAYS))
    totals = {hour: draw(AMOUNT) for hour in hours}
    whole = math.fsum(totals.values())
    fraction = draw(st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0, 1)))
    low = whole * fraction
    return totals, low, whole - low


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=REL, abs_tol=ABS)


@FAST
@given(fitted_days())
def test_fitted_day_matches_registers(
    day: tuple[dict[datetime, float], float, float],
) -> None:
    """Every hour splits into its total; the tariffs add up to the deltas."""
    totals, low, normal = day
    assert adds_up(totals, low, normal)
    split = split_day(totals, low, normal, tz=TZ)
    assert split.low.keys() == split.normal.keys() == totals.keys()
    for hour, total in totals.items():
        assert 0.0 <= split.low[hour] <= total
        assert split.normal[hour] >= 0.0
        assert _close(split.low[hour] + split.normal[hour], total)
    assert _close(math.fsum(split.low.values()), low)
    assert _close(math.fsum(split.normal.values()), normal)


@FAST
@given(
    st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0, max_size=25),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(allow_nan=True, allow_infinity=True),
)
def test_anything_keeps_hours_whole(
    values: list[float], low: float, normal: float
) -> None:
    """Negative, NaN, huge or empty input: no error, low within each positive hour."""
    start = datetime(2025, 6, 2, 22, tzinfo=UTC)
    totals = {start + timedelta(hours=i): v for i, v in enumerate(values)}
    split = split_day(totals, low, normal, tz=TZ)
    for hour, total in totals.items():
        share = split.low[hour]
        if math.isfinite(total) and total > 0:
            assert 0.0 <= share <= total
            assert _close(share + split.normal[hour], total)
        else:
            assert share == 0.0
    assert all(math.isfinite(v) for v in split.low.values())


@pytest.mark.parametrize(
    ("day", "evening"),
    [(date(2025, 6, 3), 23), (date(2025, 6, 3), 21), (date(2025, 6, 7), 23)],
)
def test_a_right_schedule_gives_its_hours(day: date, evening: int) -> None:
    """When the low delta is what a schedule's hours hold, those hours are low."""
    hours = _day_hours(day)
    totals = {hour: 0.5 + (i % 5) / 10 for i, hour in enumerate(hours)}
    schedule = next(s for s in DUTCH_SCHEDULES if s.evening == evening)
    is_low = {h: schedule.is_low(h.astimezone(TZ)) for h in hours}
    low = math.fsum(v for h, v in totals.items() if is_low[h])
    split = split_day(totals, low, math.fsum(totals.values()) - low, tz=TZ)
    if day.weekday() < 5:
        assert split.schedule is schedule
    for hour, total in totals.items():
        assert split.low[hour] == pytest.approx(total if is_low[hour] else 0.0)


def test_holiday_is_corrected_to_the_registers() -> None:
    """A weekday wholly at low tariff (a holiday): every hour becomes low."""
    hours = _day_hours(date(2025, 12, 25))  # a Thursday
    totals = dict.fromkeys(hours, 1.0)
    split = split_day(totals, 24.0, 0.0, tz=TZ)
    assert split.low == totals
    assert all(v == 0.0 for v in split.normal.values())


def test_one_tariff_meter_chooses_no_schedule() -> None:
    """All normal: the schedule without low hours, nothing low."""
    hours = _day_hours(date(2025, 6, 3))
    totals = dict.fromkeys(hours, 0.25)
    split = split_day(totals, 0.0, 6.0, tz=TZ)
    assert split.schedule.evening is None
    assert set(split.low.values()) == {0.0}


def test_low_share_of_a_low_heavy_day_scales_the_schedule() -> None:
    """Fewer kWh at low than the schedule's hours hold: each low hour scaled alike."""
    hours = _day_hours(date(2025, 6, 3))
    totals = dict.fromkeys(hours, 1.0)  # 8 low hours (23-07): 8 kWh
    split = split_day(totals, 6.0, 18.0, tz=TZ)
    lows = sorted(v for v in split.low.values() if v)
    assert lows == pytest.approx([0.75] * 8)


def test_no_consumption_and_mismatched_registers() -> None:
    """A day of zeros splits into zeros; totals off the registers keep their ratio."""
    hours = _day_hours(date(2025, 6, 3))
    zeros = split_day(dict.fromkeys(hours, 0.0), 0.0, 0.0, tz=TZ)
    assert set(zeros.low.values()) == set(zeros.normal.values()) == {0.0}
    totals = dict.fromkeys(hours, 1.0)
    assert not adds_up(totals, 1.0, 1.0)
    split = split_day(totals, 1.0, 1.0, tz=TZ)
    assert math.fsum(split.low.values()) == pytest.approx(12.0)
    huge = split_day({hours[0]: 1e308, hours[1]: 1e308}, 1e308, 1e308, tz=TZ)
    assert set(huge.low.values()) == {0.0}
    assert not adds_up({hours[0]: 1e308, hours[1]: 1e308}, 1.0, 1.0)
    assert not adds_up({hours[0]: 1.0}, 1e308, 1e308)
    capped = split_day({hours[0]: 1.0, hours[8]: 1.0}, 1e308, 1e308, tz=TZ)
    assert capped.low == {hours[0]: 1.0, hours[8]: 0.0}


def test_naive_hours_and_no_schedules_are_refused() -> None:
    """Hour starts without a zone or an empty list of schedules are a caller error."""
    with pytest.raises(ValueError, match="timezone-aware"):
        split_day({datetime(2025, 6, 3, 1): 1.0}, 1.0, 0.0, tz=TZ)
    with pytest.raises(ValueError, match="schedule"):
        split_day({}, 0.0, 0.0, tz=TZ, schedules=())
