"""CEMM statistics per tariff: hourly low/normal rows that match the P1 registers.

An account of two CEMMs: the default one (23-07 low tariff, registers that
drift from the minute power) and a second P1 meter whose grid operator starts
the low tariff at 21:00 and bills a holiday at low tariff. Tolerances: low +
normal equals the total row to 1e-9 kWh; a day's rows equal the register
increase to 1e-6 kWh (the simulator's totals carry full precision, finer
than the meter's 0.001 kWh).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
import itertools
from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.api.models import Meter, Quantity
from custom_components.meetdata.statistics_rows import statistic_id

from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import meter_by_key, stat_rows
from ...simulators.cemm import DEFAULT_UID, CemmSimulator, local_date, local_midnight

pytestmark = pytest.mark.recorder_db

Q = Quantity
SECOND_UID = "00-11-22-33-44-55"
#: P1 meter key → CEMM uid.
P1_METERS = {"ffffffffffff_p1": DEFAULT_UID, "001122334455_p1": SECOND_UID}
#: (total, low, normal, low register, normal register)
TARIFFS = (
    (Q.ENERGY_IMPORT, Q.ENERGY_IMPORT_LOW, Q.ENERGY_IMPORT_NORMAL, "t1", "t2"),
    (Q.ENERGY_EXPORT, Q.ENERGY_EXPORT_LOW, Q.ENERGY_EXPORT_NORMAL, "t3", "t4"),
)
HOURLY = 1e-9
REGISTER = 1e-6


@pytest.fixture
def cemm_sim() -> CemmSimulator:
    """Two CEMMs with different tariff schedules; the clock stopped at this minute."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    sim = CemmSimulator(now=now, history_start=date(2025, 1, 1), drift=40)
    sim.add_device(
        SECOND_UID,
        {"p1": "p1", "s01": "solar_energy"},
        drift=25,
        low_from=21,
        low_days=frozenset({local_date(now) - timedelta(days=1)}),
    )
    return sim


def _delta(sim: CemmSimulator, uid: str, name: str, day: date) -> float:
    """How much register ``name`` rose during local ``day``."""
    before = sim.registers(uid, local_midnight(day))[name]
    return sim.registers(uid, local_midnight(day + timedelta(days=1)))[name] - before


def _assert_chained(rows: list[dict[str, Any]]) -> None:
    """Every hour once, in order; every sum the previous sum plus the amount."""
    starts = [row["start"] for row in rows]
    assert starts == [starts[0] + 3600 * i for i in range(len(rows))]
    for previous, row in itertools.pairwise(rows):
        assert row["sum"] == pytest.approx(previous["sum"] + row["state"], abs=1e-9)


async def _rows(
    hass: HomeAssistant,
    meter: Meter,
    quantity: Quantity,
    start: datetime,
    end: datetime | None = None,
) -> list[dict[str, Any]]:
    return await stat_rows(hass, statistic_id(meter, quantity), start, end)


async def _check(
    hass: HomeAssistant,
    sim: CemmSimulator,
    entry: MockConfigEntry,
    since: datetime,
    until: datetime | None = None,
) -> set[date]:
    """Check both invariants for every P1 meter; return the complete days checked."""
    checked: set[date] = set()
    for key, uid in P1_METERS.items():
        meter = meter_by_key(entry, key)
        for total_q, low_q, normal_q, low_name, normal_name in TARIFFS:
            total = {
                row["start"]: row["state"]
                for row in await _rows(hass, meter, total_q, since, until)
            }
            low = await _rows(hass, meter, low_q, since, until)
            normal = await _rows(hass, meter, normal_q, since, until)
            assert low
            assert [row["start"] for row in low] == [row["start"] for row in normal]
            _assert_chained(low)
            _assert_chained(normal)
            for low_row, normal_row in zip(low, normal, strict=True):
                assert 0 <= low_row["state"] <= total[low_row["start"]] + HOURLY
                assert low_row["state"] + normal_row["state"] == pytest.approx(
                    total[low_row["start"]], abs=HOURLY
                )
            for name, rows in ((low_name, low), (normal_name, normal)):
                per_day: dict[date, list[float]] = {}
                for row in rows:
                    day = local_date(int(row["start"]))
                    per_day.setdefault(day, []).append(row["state"])
                for day, states in per_day.items():
                    first = local_midnight(day)
                    hours = (local_midnight(day + timedelta(days=1)) - first) // (
                        timedelta(hours=1)
                    )
                    if len(states) < hours:
                        continue  # a day the stored rows only partly cover
                    assert sum(states) == pytest.approx(
                        _delta(sim, uid, name, day), abs=REGISTER
                    ), (key, name, day)
                    checked.add(day)
    return checked


async def test_tariff_rows_add_up_for_every_meter(
    hass: HomeAssistant, cemm_sim: CemmSimulator, loaded_cemm: MockConfigEntry
) -> None:
    """Both P1 meters: low + normal is each hour's total; each day matches t1..t4."""
    since = datetime.now(UTC) - timedelta(days=4)
    yesterday = local_date(cemm_sim.now) - timedelta(days=1)
    assert yesterday in await _check(hass, cemm_sim, loaded_cemm, since)
    # The holiday of the second meter is low all day.
    second = meter_by_key(loaded_cemm, "001122334455_p1")
    normal = await _rows(
        hass,
        second,
        Q.ENERGY_IMPORT_NORMAL,
        local_midnight(yesterday),
        local_midnight(yesterday + timedelta(days=1)),
    )
    assert normal
    assert sum(row["state"] for row in normal) == pytest.approx(0.0, abs=REGISTER)
    # Today's tariff rows stop before the hour of the newest register reading.
    p1 = meter_by_key(loaded_cemm, "ffffffffffff_p1")
    low = await _rows(hass, p1, Q.ENERGY_IMPORT_LOW, since)
    total = await _rows(hass, p1, Q.ENERGY_IMPORT, since)
    reading = int(cemm_sim.now.timestamp()) // 300 * 300
    assert low[-1]["start"] + 3600 <= reading < low[-1]["start"] + 7200
    assert total[-1]["start"] >= low[-1]["start"]


async def test_correction_rechains_tariffs_and_total(
    hass: HomeAssistant, cemm_sim: CemmSimulator, loaded_cemm: MockConfigEntry
) -> None:
    """A minute of yesterday's night corrected: low, normal and total re-chain.

    A run without a change writes nothing; after the correction the low
    statistic's sums grow by exactly t1's new increase, normal's stay.
    """
    history = loaded_cemm.runtime_data.history
    importer = history.importer
    p1 = meter_by_key(loaded_cemm, "ffffffffffff_p1")
    since = datetime.now(UTC) - timedelta(days=4)
    quantities = (Q.ENERGY_IMPORT, Q.ENERGY_IMPORT_LOW, Q.ENERGY_IMPORT_NORMAL)
    before = {q: await _rows(hass, p1, q, since) for q in quantities}
    written = importer.rows_written
    await history.async_refresh()
    await hass.async_block_till_done()
    assert importer.rows_written == written

    yesterday = local_date(cemm_sim.now) - timedelta(days=1)
    t1_before = _delta(cemm_sim, DEFAULT_UID, "t1", yesterday)
    t2_before = _delta(cemm_sim, DEFAULT_UID, "t2", yesterday)
    minute = local_midnight(yesterday) + timedelta(hours=2, minutes=30)
    cemm_sim.correct_minute(DEFAULT_UID, minute, 6000)
    grown = _delta(cemm_sim, DEFAULT_UID, "t1", yesterday) - t1_before
    assert grown > 0.05
    assert _delta(cemm_sim, DEFAULT_UID, "t2", yesterday) == pytest.approx(t2_before)

    await history.async_refresh()
    await hass.async_block_till_done()
    assert importer.rows_written > written
    after = {q: await _rows(hass, p1, q, since) for q in quantities}
    for quantity, change in (
        (Q.ENERGY_IMPORT, grown),
        (Q.ENERGY_IMPORT_LOW, grown),
        (Q.ENERGY_IMPORT_NORMAL, 0.0),
    ):
        rows = after[quantity]
        assert [r["start"] for r in rows] == [r["start"] for r in before[quantity]]
        _assert_chained(rows)
        assert rows[-1]["sum"] - before[quantity][-1]["sum"] == pytest.approx(
            change, abs=REGISTER
        )
    hour = int(minute.timestamp()) // 3600 * 3600
    low_hour = {r["start"]: r["state"] for r in after[Q.ENERGY_IMPORT_LOW]}
    old_hour = {r["start"]: r["state"] for r in before[Q.ENERGY_IMPORT_LOW]}
    assert low_hour[hour] > old_hour[hour] + 0.05
    assert yesterday in await _check(hass, cemm_sim, loaded_cemm, since)


@pytest.mark.parametrize(
    ("day", "hours"), [(date(2025, 3, 30), 23), (date(2025, 10, 26), 25)]
)
async def test_dst_days_per_tariff(
    hass: HomeAssistant,
    cemm_sim: CemmSimulator,
    loaded_cemm: MockConfigEntry,
    day: date,
    hours: int,
) -> None:
    """23 and 25 rows per tariff, each day matching its registers, for both meters."""
    importer = loaded_cemm.runtime_data.history.importer
    start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
    for key in P1_METERS:
        meter = meter_by_key(loaded_cemm, key)
        await importer.async_import_period(meter, start, end, timedelta(days=7))
        for _, low_q, normal_q, _, _ in TARIFFS:
            for quantity in (low_q, normal_q):
                assert len(await _rows(hass, meter, quantity, start, end)) == hours
    assert await _check(hass, cemm_sim, loaded_cemm, start, end) == {day}
