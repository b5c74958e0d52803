"""CEMM statistics that match the meter: hourly rows add up to the registers.

The simulator's minute power integrates to less than its registers (import
and export inside one minute net out), DSMR 5 gas comes as minute flows in
L/min and DSMR 4 gas as hourly m³, as the CEMM document describes them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
import itertools
from typing import Any

from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.api.models import Quantity
from custom_components.meetdata.statistics_rows import statistic_id

from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import meter_by_key, stat_rows
from ...simulators.cemm import DEFAULT_UID, CemmSimulator, local_date, local_midnight

pytestmark = pytest.mark.recorder_db

P1 = "ffffffffffff_p1"
GAS = "ffffffffffff_p1_gas"
REGISTERS = {
    Quantity.ENERGY_IMPORT: ("t1", "t2"),
    Quantity.ENERGY_EXPORT: ("t3", "t4"),
}


@pytest.fixture
def cemm_sim(request: pytest.FixtureRequest) -> CemmSimulator:
    """A CEMM whose registers drift from its minute power; gas per ``param``."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    gas_format = getattr(request, "param", "minute")
    return CemmSimulator(
        now=now, history_start=date(2025, 1, 1), drift=40, gas_format=gas_format
    )


def _register_delta(sim: CemmSimulator, names: tuple[str, ...], day: date) -> float:
    """Return how much the registers ``names`` rose during local ``day``."""
    before = sim.registers(DEFAULT_UID, local_midnight(day))
    after = sim.registers(DEFAULT_UID, local_midnight(day + timedelta(days=1)))
    return sum(after[name] - before[name] for name in names)


def _per_day(rows: list[dict[str, Any]]) -> dict[date, float]:
    """Sum hourly rows per local day."""
    days: dict[date, float] = {}
    for row in rows:
        day = local_date(int(row["start"]))
        days[day] = days.get(day, 0.0) + row["state"]
    return days


def _assert_chained(rows: list[dict[str, Any]]) -> None:
    """Every row's sum is the previous sum plus its amount; no hour twice or missing."""
    starts = [row["start"] for row in rows]
    assert starts == [starts[0] + 3600 * i for i in range(len(rows))]
    for previous, row in itertools.pairwise(rows):
        assert row["sum"] == pytest.approx(previous["sum"] + row["state"], abs=1e-9)


def _complete_days(sim: CemmSimulator, rows: list[dict[str, Any]]) -> list[date]:
    """Return the local days wholly inside the stored rows and before the clock."""
    first = datetime.fromtimestamp(rows[0]["start"], UTC)
    day = local_date(first)
    found: list[date] = []
    while local_midnight(day + timedelta(days=1)) <= sim.now:
        if local_midnight(day) >= first:
            found.append(day)
        day += timedelta(days=1)
    return found


async def test_energy_rows_add_up_to_the_registers(
    hass: HomeAssistant, cemm_sim: CemmSimulator, loaded_cemm: MockConfigEntry
) -> None:
    """Each day's hourly import/export rows equal the t1+t2 / t3+t4 increase; sums chain."""
    p1 = meter_by_key(loaded_cemm, P1)
    since = datetime.now(UTC) - timedelta(days=4)
    for quantity, names in REGISTERS.items():
        rows = await stat_rows(hass, statistic_id(p1, quantity), since)
        assert len(rows) >= 47
        _assert_chained(rows)
        days = _complete_days(cemm_sim, rows)
        assert days
        per_day = _per_day(rows)
        for day in days:
            delta = _register_delta(cemm_sim, names, day)
            first, following = local_midnight(day), local_midnight(day + timedelta(1))
            integrated = sum(
                minute[1 if quantity is Quantity.ENERGY_IMPORT else 2]
                for minute in cemm_sim.minute_energy(
                    DEFAULT_UID, "p1", first, following
                )
            )
            assert delta - integrated > 0.01  # what the old statistics lacked
            assert per_day[day] == pytest.approx(delta, abs=1e-3)


async def test_second_run_doubles_nothing(
    hass: HomeAssistant, loaded_cemm: MockConfigEntry
) -> None:
    """Fitting again gives the same rows bit for bit: nothing is written twice."""
    importer = loaded_cemm.runtime_data.history.importer
    since = datetime.now(UTC) - timedelta(days=4)
    ids = [
        statistic_id(meter_by_key(loaded_cemm, P1), Quantity.ENERGY_IMPORT),
        statistic_id(meter_by_key(loaded_cemm, P1), Quantity.ENERGY_EXPORT),
        statistic_id(meter_by_key(loaded_cemm, GAS), Quantity.GAS_VOLUME),
    ]
    before = [await stat_rows(hass, stat, since) for stat in ids]
    written = importer.rows_written
    await loaded_cemm.runtime_data.history.async_refresh()
    await hass.async_block_till_done()
    assert importer.rows_written == written
    assert [await stat_rows(hass, stat, since) for stat in ids] == before


@pytest.mark.parametrize("cemm_sim", ["minute", "hour"], indirect=True)
async def test_gas_rows_are_the_simulators_m3(
    hass: HomeAssistant, cemm_sim: CemmSimulator, loaded_cemm: MockConfigEntry
) -> None:
    """DSMR 5 minute L/min and DSMR 4 hourly m³ both give the m³ of each hour.

    Whole days add up to the gas register's increase.
    """
    gas = meter_by_key(loaded_cemm, GAS)
    since = datetime.now(UTC) - timedelta(days=4)
    rows = await stat_rows(hass, statistic_id(gas, Quantity.GAS_VOLUME), since)
    assert rows
    _assert_chained(rows)
    first = datetime.fromtimestamp(rows[0]["start"], UTC)
    expected = {
        moment.timestamp(): amount
        for moment, amount in cemm_sim.hourly_gas(DEFAULT_UID, first, cemm_sim.now)
    }
    assert expected
    for row in rows:
        if row["start"] in expected:
            assert row["state"] == pytest.approx(expected[row["start"]], abs=1e-3)
    per_day = _per_day(rows)
    for day in _complete_days(cemm_sim, rows):
        delta = _register_delta(cemm_sim, ("gas",), day)
        assert per_day[day] == pytest.approx(delta, abs=1e-6)


@pytest.mark.parametrize(
    ("day", "hours"), [(date(2025, 3, 30), 23), (date(2025, 10, 26), 25)]
)
async def test_dst_days_add_up_to_the_registers(
    hass: HomeAssistant,
    cemm_sim: CemmSimulator,
    loaded_cemm: MockConfigEntry,
    day: date,
    hours: int,
) -> None:
    """23 and 25 hourly rows whose amounts add up to the day's register increase."""
    importer = loaded_cemm.runtime_data.history.importer
    start, end = local_midnight(day), local_midnight(day + timedelta(days=1))
    for key, quantities in (
        (P1, REGISTERS),
        (GAS, {Quantity.GAS_VOLUME: ("gas",)}),
    ):
        meter = meter_by_key(loaded_cemm, key)
        await importer.async_import_period(meter, start, end, timedelta(days=7))
        for quantity, names in quantities.items():
            rows = await stat_rows(hass, statistic_id(meter, quantity), start, end)
            assert len(rows) == hours
            _assert_chained(rows)
            delta = _register_delta(cemm_sim, names, day)
            assert sum(row["state"] for row in rows) == pytest.approx(delta, abs=1e-3)
            assert rows[-1]["sum"] == pytest.approx(delta, abs=1e-3)
