"""Fluvius cost statistics: a night and a day price, a fixed gas price.

Each hour's import cost is its night-register amount times the night price
plus its day-register amount times the day price (quarter hours, Brussels
tariff times); export compensation likewise; gas (hourly m³) at a fixed
price. Checked on both DST Sundays and after estimates are corrected inside
the overlap, where the later sums are re-chained.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import itertools
from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.meetdata.api.models import Meter, MeterKind, Quantity
from custom_components.meetdata.statistics_rows import statistic_id

from ...conftest import Serve
from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...simulators.fluvius import (
    BRUSSELS,
    DIGITAL_EAN,
    GAS_EAN,
    FluviusSimulator,
    next_local_midnight,
)
from .fixtures import hourly, make_entry, make_sim, rows
from .test_statistics_tariffs import _last_dst_sunday

pytestmark = pytest.mark.recorder_db

NIGHT, DAY = 0.21, 0.32
EXPORT_NIGHT, EXPORT_DAY = 0.015, 0.045
GAS_PRICE = 1.25
OPTIONS = {
    "import_price": {"source": "tariff", "price_low": NIGHT, "price_normal": DAY},
    "export_price": {
        "source": "tariff",
        "price_low": EXPORT_NIGHT,
        "price_normal": EXPORT_DAY,
    },
    "gas_price": {"source": "fixed", "price": GAS_PRICE},
}
#: Cost statistic -> [(amount quantity, price)] of the meter it belongs to.
PRICED = {
    Quantity.ENERGY_IMPORT_COST: (
        DIGITAL_EAN,
        [(Quantity.ENERGY_IMPORT_NIGHT, NIGHT), (Quantity.ENERGY_IMPORT_DAY, DAY)],
    ),
    Quantity.ENERGY_EXPORT_COMPENSATION: (
        DIGITAL_EAN,
        [
            (Quantity.ENERGY_EXPORT_NIGHT, EXPORT_NIGHT),
            (Quantity.ENERGY_EXPORT_DAY, EXPORT_DAY),
        ],
    ),
    Quantity.GAS_COST: (GAS_EAN, [(Quantity.GAS_VOLUME, GAS_PRICE)]),
    # Each tariff on its own, for a grid source per tariff.
    Quantity.ENERGY_IMPORT_NIGHT_COST: (
        DIGITAL_EAN,
        [(Quantity.ENERGY_IMPORT_NIGHT, NIGHT)],
    ),
    Quantity.ENERGY_IMPORT_DAY_COST: (DIGITAL_EAN, [(Quantity.ENERGY_IMPORT_DAY, DAY)]),
    Quantity.ENERGY_EXPORT_NIGHT_COMPENSATION: (
        DIGITAL_EAN,
        [(Quantity.ENERGY_EXPORT_NIGHT, EXPORT_NIGHT)],
    ),
    Quantity.ENERGY_EXPORT_DAY_COMPENSATION: (
        DIGITAL_EAN,
        [(Quantity.ENERGY_EXPORT_DAY, EXPORT_DAY)],
    ),
}


def _stat(ean: str, quantity: Quantity) -> str:
    kind = MeterKind.GAS if ean == GAS_EAN else MeterKind.ELECTRICITY
    return statistic_id(Meter("fluvius", ean, kind), quantity)


def _expected(
    sim: FluviusSimulator, cost: Quantity, start: datetime, end: datetime
) -> dict[float, float]:
    """Return each hour's cost by hand from the simulator's values now."""
    ean, parts = PRICED[cost]
    hours: dict[float, float] = {}
    for quantity, price in parts:
        for hour, amount in hourly(
            sim.expected_intervals(ean, quantity, start, end)
        ).items():
            hours[hour] = hours.get(hour, 0.0) + amount * price
    return hours


async def _entry(
    hass: HomeAssistant, sim: FluviusSimulator, url: str, days: int
) -> MockConfigEntry:
    entry = make_entry(hass, sim, url, history_days=days, meters=[DIGITAL_EAN, GAS_EAN])
    hass.config_entries.async_update_entry(entry, options=entry.options | OPTIONS)
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    return entry


def _assert_chained(stored: list[dict[str, Any]]) -> None:
    assert stored
    for previous, row in itertools.pairwise(stored):
        assert row["sum"] == pytest.approx(previous["sum"] + row["state"], abs=1e-9)


@pytest.mark.parametrize(("month", "hours"), [(3, 23), (10, 25)])
async def test_tariff_prices_on_dst_sundays(
    hass: HomeAssistant, serve: Serve, month: int, hours: int
) -> None:
    """23 / 25 hourly cost rows, each night amount x night price + day x day."""
    real_now = datetime.now(UTC)
    sunday = _last_dst_sunday(real_now, month)
    lo = datetime(sunday.year, sunday.month, sunday.day, tzinfo=BRUSSELS).astimezone(
        UTC
    )
    hi = next_local_midnight(lo)
    back = (real_now - lo).days + 3
    sim = make_sim(fine_days=back + 2)
    sim.now = hi + timedelta(days=5)
    url = await serve(sim.build_app())
    await _entry(hass, sim, url, back)

    for cost in PRICED:
        ean = PRICED[cost][0]
        stored = await rows(hass, _stat(ean, cost), lo - timedelta(days=2))
        _assert_chained(stored)
        inside = [r for r in stored if lo.timestamp() <= r["start"] < hi.timestamp()]
        assert [r["start"] for r in inside] == [
            lo.timestamp() + 3600 * i for i in range(hours)
        ], cost
        want = _expected(sim, cost, lo, hi)
        assert {r["start"]: r["state"] for r in inside} == pytest.approx(
            want, rel=1e-9, abs=1e-12
        )
    # A Sunday is night tariff all day: the import cost is the night price's.
    energy = await rows(hass, _stat(DIGITAL_EAN, Quantity.ENERGY_IMPORT), lo, hi)
    costs = await rows(hass, _stat(DIGITAL_EAN, Quantity.ENERGY_IMPORT_COST), lo, hi)
    assert [c["state"] for c in costs] == pytest.approx(
        [e["state"] * NIGHT for e in energy], rel=1e-9
    )


async def test_corrected_estimates_rechain_the_costs(
    hass: HomeAssistant, serve: Serve
) -> None:
    """Estimates corrected in the overlap: their hours' costs follow, sums chain on."""
    sim = make_sim(fine_days=20)
    real_now = sim.now
    sim.now = real_now - timedelta(days=2)
    url = await serve(sim.build_app())
    entry = await _entry(hass, sim, url, 6)
    since = real_now - timedelta(days=7)
    cost_id = _stat(DIGITAL_EAN, Quantity.ENERGY_IMPORT_COST)
    before = {r["start"]: r for r in await rows(hass, cost_id, since)}

    sim.now = real_now
    await entry.runtime_data.history.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)

    for cost in PRICED:
        ean = PRICED[cost][0]
        stored = await rows(hass, _stat(ean, cost), since)
        _assert_chained(stored)
        start = datetime.fromtimestamp(stored[0]["start"], UTC)
        want = _expected(sim, cost, start, sim.now)
        assert {r["start"]: r["state"] for r in stored} == pytest.approx(
            {hour: value for hour, value in want.items() if hour >= stored[0]["start"]},
            rel=1e-9,
            abs=1e-12,
        ), cost
    after = {r["start"]: r for r in await rows(hass, cost_id, since)}
    changed = [
        hour
        for hour in before
        if after[hour]["state"] != pytest.approx(before[hour]["state"], abs=1e-12)
    ]
    assert changed, "no estimate was corrected in the overlap"
    # The night and day costs are the total's two parts, hour by hour.
    parts = [
        {r["start"]: r["state"] for r in await rows(hass, _stat(DIGITAL_EAN, q), since)}
        for q in (Quantity.ENERGY_IMPORT_NIGHT_COST, Quantity.ENERGY_IMPORT_DAY_COST)
    ]
    assert {hour: parts[0][hour] + parts[1][hour] for hour in after} == pytest.approx(
        {hour: row["state"] for hour, row in after.items()}, rel=1e-9, abs=1e-12
    )


PRICE_ENTITY = "sensor.day_ahead_price"


def _quarter_price(quarter: datetime) -> float:
    """Return the test's day-ahead price (EUR/kWh) of a quarter hour."""
    index = int(quarter.timestamp()) // 900
    return round(0.04 + 0.02 * (index % 5) + 0.01 * (index % 4), 4)


async def test_a_price_entity_prices_each_quarter_on_the_autumn_dst_sunday(
    hass: HomeAssistant, serve: Serve
) -> None:
    """25 hours; each hour's cost is its quarters' amounts times their own prices."""
    real_now = datetime.now(UTC)
    sunday = _last_dst_sunday(real_now, 10)
    lo = datetime(sunday.year, sunday.month, sunday.day, tzinfo=BRUSSELS).astimezone(
        UTC
    )
    hi = next_local_midnight(lo)
    quarter = lo - timedelta(hours=1)
    while quarter < hi + timedelta(hours=1):
        hass.states.async_set(
            PRICE_ENTITY,
            str(_quarter_price(quarter)),
            {"unit_of_measurement": "€/kWh"},
            timestamp=quarter.timestamp(),
        )
        quarter += timedelta(minutes=15)
    await async_wait_recording_done(hass)
    back = (real_now - lo).days + 3
    sim = make_sim(fine_days=back + 2)
    sim.now = hi + timedelta(days=5)
    url = await serve(sim.build_app())
    entry = make_entry(hass, sim, url, history_days=back, meters=[DIGITAL_EAN])
    hass.config_entries.async_update_entry(
        entry,
        options=entry.options
        | {"import_price": {"source": "entity", "entity_id": PRICE_ENTITY}},
    )
    assert await hass.config_entries.async_setup(entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)

    want: dict[float, float] = {}
    for item in sim.expected_intervals(DIGITAL_EAN, Quantity.ENERGY_IMPORT, lo, hi):
        ts = item.start.timestamp()
        hour = ts - ts % 3600
        want[hour] = want.get(hour, 0.0) + item.value * _quarter_price(item.start)
    assert len(want) == 25
    stored = await rows(hass, _stat(DIGITAL_EAN, Quantity.ENERGY_IMPORT_COST), lo, hi)
    _assert_chained(stored)
    assert {r["start"]: r["state"] for r in stored} == pytest.approx(
        want, rel=1e-9, abs=1e-12
    )
    # Each tariff's quarters at the same quarter prices (a Sunday: all night).
    for amounts, cost in (
        (Quantity.ENERGY_IMPORT_NIGHT, Quantity.ENERGY_IMPORT_NIGHT_COST),
        (Quantity.ENERGY_IMPORT_DAY, Quantity.ENERGY_IMPORT_DAY_COST),
    ):
        part: dict[float, float] = {}
        for item in sim.expected_intervals(DIGITAL_EAN, amounts, lo, hi):
            ts = item.start.timestamp()
            hour = ts - ts % 3600
            part[hour] = part.get(hour, 0.0) + item.value * _quarter_price(item.start)
        stored = await rows(hass, _stat(DIGITAL_EAN, cost), lo, hi)
        _assert_chained(stored)
        assert {r["start"]: r["state"] for r in stored} == pytest.approx(
            part, rel=1e-9, abs=1e-12
        ), cost
