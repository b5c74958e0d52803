"""Cost statistics of a Kenter connection: quarter-hour amounts times their price.

The import price is a sensor whose state changes every quarter hour (a dynamic
contract); the test's recorder records it. Each hour's cost must be the sum of
its four quarters' amounts times the price of each quarter, on the day clocks
go back (25 hours) too; the export compensation uses a fixed price.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry
from pytest_homeassistant_custom_component.components.recorder.common import (
    async_wait_recording_done,
)

from custom_components.meetdata import prices
from custom_components.meetdata.api.models import Quantity
from custom_components.meetdata.const import CONF_HISTORY_DAYS, DOMAIN
from custom_components.meetdata.statistics_rows import HOUR, statistic_id

from ...conftest import Serve
from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import stat_rows
from ...simulators.kenter import KenterSimulator
from .fixtures import AMSTERDAM, METER_CODE, meter_of, setup_entry

QUARTER = timedelta(minutes=15)
PRICE_ENTITY = "sensor.day_ahead_price"
EXPORT_PRICE = 0.07
#: 26 October 2025: clocks go back, the local day has 25 hours.
DAY_START = datetime(2025, 10, 26, tzinfo=AMSTERDAM).astimezone(UTC)
DAY_END = datetime(2025, 10, 27, tzinfo=AMSTERDAM).astimezone(UTC)


def _price(quarter: datetime) -> float:
    """Return the test's day-ahead price (EUR/kWh) of a quarter hour."""
    index = int(quarter.timestamp()) // 900
    return round(0.05 + 0.03 * (index % 7) - 0.01 * (index % 3), 4)


def _record_prices(
    hass: HomeAssistant, start: datetime, end: datetime, unit: str = "EUR/kWh"
) -> None:
    """Set the price entity once per quarter in [start, end), at that quarter."""
    scale = 1000 if unit.endswith("MWh") else 100 if unit.startswith("ct") else 1
    quarter = start
    while quarter < end:
        hass.states.async_set(
            PRICE_ENTITY,
            str(_price(quarter) * scale),
            {"unit_of_measurement": unit},
            timestamp=quarter.timestamp(),
        )
        quarter += QUARTER


def _costs(
    sim: KenterSimulator,
    counter: str,
    start: datetime,
    end: datetime,
    price: float | None = None,
) -> dict[int, float]:
    """Return each hour's cost by hand: quarter amount x quarter price."""
    hours: dict[int, float] = {}
    for item in sim.source_intervals(METER_CODE, counter, start, end):
        hour = int(item.start.timestamp()) // HOUR * HOUR
        rate = _price(item.start) if price is None else price
        hours[hour] = hours.get(hour, 0.0) + item.value * rate
    return hours


@pytest.fixture
def sim() -> KenterSimulator:
    """Return the demo account with its clock stopped at this second."""
    return KenterSimulator(now=datetime.now(UTC).replace(microsecond=0))


async def _entry(
    hass: HomeAssistant, serve: Serve, sim: KenterSimulator
) -> MockConfigEntry:
    return await setup_entry(
        hass,
        serve,
        sim,
        "Kenter costs",
        {
            CONF_HISTORY_DAYS: 1,
            "import_price": {"source": "entity", "entity_id": PRICE_ENTITY},
            "export_price": {"source": "fixed", "price": EXPORT_PRICE},
        },
    )


async def _import_day(entry: MockConfigEntry) -> None:
    importer = entry.runtime_data.history.importer
    await importer.async_import_period(
        meter_of(entry), DAY_START, DAY_END, timedelta(days=1)
    )


def _assert_costs(rows: list[dict[str, float]], expected: dict[int, float]) -> None:
    assert [int(row["start"]) for row in rows] == sorted(expected)
    assert [row["state"] for row in rows] == pytest.approx(
        [expected[int(row["start"])] for row in rows], rel=1e-9
    )
    total = 0.0
    for row in rows:
        total += expected[int(row["start"])]
        assert row["sum"] - rows[0]["sum"] + rows[0]["state"] == pytest.approx(
            total, rel=1e-9
        )


async def _assert_the_day_priced(
    hass: HomeAssistant, serve: Serve, sim: KenterSimulator
) -> None:
    """Import the DST day with the prices recorded; each hour is priced by hand."""
    await async_wait_recording_done(hass)
    entry = await _entry(hass, serve, sim)
    await _import_day(entry)
    cost_id = statistic_id(meter_of(entry), Quantity.ENERGY_IMPORT_COST)
    rows = await stat_rows(hass, cost_id, DAY_START, DAY_END, ("state", "sum"))
    _assert_costs(rows, _costs(sim, "LVR", DAY_START, DAY_END))


@pytest.mark.recorder_db
async def test_quarter_hour_prices_on_the_day_clocks_go_back(
    hass: HomeAssistant, serve: Serve, sim: KenterSimulator
) -> None:
    """25 hourly rows; each is its quarters' amounts times their own prices."""
    _record_prices(hass, DAY_START - timedelta(hours=1), DAY_END)
    await async_wait_recording_done(hass)
    entry = await _entry(hass, serve, sim)
    await _import_day(entry)
    meter = meter_of(entry)

    cost_id = statistic_id(meter, Quantity.ENERGY_IMPORT_COST)
    rows = await stat_rows(hass, cost_id, DAY_START, DAY_END, ("state", "sum"))
    expected = _costs(sim, "LVR", DAY_START, DAY_END)
    assert len(expected) == 25
    _assert_costs(rows, expected)

    compensation_id = statistic_id(meter, Quantity.ENERGY_EXPORT_COMPENSATION)
    rows = await stat_rows(hass, compensation_id, DAY_START, DAY_END, ("state", "sum"))
    _assert_costs(rows, _costs(sim, "TLV", DAY_START, DAY_END, EXPORT_PRICE))


@pytest.mark.recorder_db
async def test_one_price_entity_for_import_and_export_is_read_once(
    hass: HomeAssistant,
    serve: Serve,
    sim: KenterSimulator,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A dynamic contract pays back the price it charges: one history read per window."""
    _record_prices(hass, DAY_START - timedelta(hours=1), DAY_END)
    await async_wait_recording_done(hass)
    dynamic = {"source": "entity", "entity_id": PRICE_ENTITY}
    entry = await setup_entry(
        hass,
        serve,
        sim,
        "Kenter dynamic",
        {CONF_HISTORY_DAYS: 1, "import_price": dynamic, "export_price": dynamic},
    )
    reads: list[tuple[str, datetime, datetime]] = []
    original = prices.entity_steps

    def counted(
        hass: HomeAssistant, entity_id: str, kind: Any, start: datetime, *rest: Any
    ) -> Any:
        reads.append((entity_id, start, rest[0]))
        return original(hass, entity_id, kind, start, *rest)

    monkeypatch.setattr(prices, "entity_steps", counted)
    await _import_day(entry)
    # The 25-hour day is read in two windows of at most a day: one read each.
    assert reads == [
        (PRICE_ENTITY, DAY_START, DAY_START + timedelta(days=1)),
        (PRICE_ENTITY, DAY_START + timedelta(days=1), DAY_END),
    ]

    meter = meter_of(entry)
    for quantity, counter in (
        (Quantity.ENERGY_IMPORT_COST, "LVR"),
        (Quantity.ENERGY_EXPORT_COMPENSATION, "TLV"),
    ):
        rows = await stat_rows(
            hass, statistic_id(meter, quantity), DAY_START, DAY_END, ("state", "sum")
        )
        _assert_costs(rows, _costs(sim, counter, DAY_START, DAY_END))


@pytest.mark.recorder_db
async def test_a_corrected_quarter_changes_its_hour_and_rechains_the_rest(
    hass: HomeAssistant, serve: Serve, sim: KenterSimulator
) -> None:
    """Kenter corrects a quarter of the repeated hour: its cost and later sums follow."""
    _record_prices(hass, DAY_START, DAY_END)
    await async_wait_recording_done(hass)
    entry = await _entry(hass, serve, sim)
    await _import_day(entry)
    meter = meter_of(entry)
    cost_id = statistic_id(meter, Quantity.ENERGY_IMPORT_COST)
    before = await stat_rows(hass, cost_id, DAY_START, DAY_END, ("state", "sum"))

    corrected = datetime(2025, 10, 26, 1, 15, tzinfo=UTC)  # 02:15 CET, second pass
    sim.set_amounts[(METER_CODE, "LVR", corrected)] = 123.0
    await _import_day(entry)
    rows = await stat_rows(hass, cost_id, DAY_START, DAY_END, ("state", "sum"))
    expected = _costs(sim, "LVR", DAY_START, DAY_END)
    _assert_costs(rows, expected)
    hour = int(corrected.timestamp()) // HOUR * HOUR
    changed = [
        row["start"] for row, old in zip(rows, before, strict=True) if row != old
    ]
    assert changed[0] == hour
    assert rows[-1]["sum"] - before[-1]["sum"] == pytest.approx(
        expected[hour] - next(r["state"] for r in before if r["start"] == hour)
    )


@pytest.mark.recorder_db
async def test_hours_without_a_price_get_their_cost_when_it_arrives(
    hass: HomeAssistant, serve: Serve, sim: KenterSimulator
) -> None:
    """No price recorded yet: no cost rows; once recorded, the next run fills them once."""
    entry = await _entry(hass, serve, sim)
    meter = meter_of(entry)
    cost_id = statistic_id(meter, Quantity.ENERGY_IMPORT_COST)
    energy_id = statistic_id(meter, Quantity.ENERGY_IMPORT)
    now = sim.now_utc()
    energy = await stat_rows(hass, energy_id, now - timedelta(days=2), None, ("state",))
    assert energy
    assert await stat_rows(hass, cost_id, now - timedelta(days=2)) == []

    # The price arrives: recorded from before the first imported hour on.
    first = datetime.fromtimestamp(energy[0]["start"], UTC)
    _record_prices(hass, first, now)
    await async_wait_recording_done(hass)
    history = entry.runtime_data.history
    for _ in range(2):  # a second run re-reads only the overlap: nothing doubles
        await history.async_refresh()
        await hass.async_block_till_done(wait_background_tasks=True)

    rows = await stat_rows(hass, cost_id, first, None, ("state", "sum"))
    stop = datetime.fromtimestamp(energy[-1]["start"], UTC) + timedelta(hours=1)
    expected = _costs(sim, "LVR", first, min(stop, now))
    _assert_costs(rows, expected)
    assert rows[-1]["sum"] == pytest.approx(sum(expected.values()), rel=1e-9)


@pytest.mark.recorder_db
async def test_a_price_in_mwh_is_converted(
    hass: HomeAssistant, serve: Serve, sim: KenterSimulator
) -> None:
    """A price sensor in EUR/MWh prices each kWh at a thousandth of its state."""
    _record_prices(hass, DAY_START, DAY_END, unit="EUR/MWh")
    await _assert_the_day_priced(hass, serve, sim)


@pytest.mark.recorder_db
async def test_each_recorded_price_counts_in_its_own_unit(
    hass: HomeAssistant, serve: Serve, sim: KenterSimulator
) -> None:
    """A price sensor that went from ct/kWh to EUR/kWh at noon: both halves priced right."""
    noon = DAY_START + timedelta(hours=13)
    _record_prices(hass, DAY_START, noon, unit="ct/kWh")
    _record_prices(hass, noon, DAY_END)
    await _assert_the_day_priced(hass, serve, sim)


@pytest.mark.recorder_db
async def test_a_price_entity_that_is_no_price_raises_a_repair_issue(
    hass: HomeAssistant, serve: Serve, sim: KenterSimulator
) -> None:
    """A unit that is no energy price: an issue, no costs; fixed: costs catch up."""
    now = sim.now_utc()
    start = now - timedelta(days=2)
    hass.states.async_set(
        PRICE_ENTITY,
        "0.3",
        {"unit_of_measurement": "EUR/m³"},
        timestamp=start.timestamp(),
    )
    await async_wait_recording_done(hass)
    entry = await _entry(hass, serve, sim)
    issue_id = f"{entry.entry_id}_price_entity_invalid_import_price"
    issue = ir.async_get(hass).async_get_issue(DOMAIN, issue_id)
    assert issue is not None
    assert issue.translation_key == "price_entity_invalid_import_price"
    assert issue.translation_placeholders == {
        "entry": "Kenter costs",
        "entity_id": PRICE_ENTITY,
        "expected": "EUR/kWh, EUR/MWh, EUR/Wh",
    }
    cost_id = statistic_id(meter_of(entry), Quantity.ENERGY_IMPORT_COST)
    assert await stat_rows(hass, cost_id, start) == []

    hass.states.async_set(
        PRICE_ENTITY,
        "0.3",
        {"unit_of_measurement": "EUR/kWh"},
        timestamp=start.timestamp() + 1,
    )
    await async_wait_recording_done(hass)
    await entry.runtime_data.history.async_refresh()
    await hass.async_block_till_done(wait_background_tasks=True)
    assert ir.async_get(hass).async_get_issue(DOMAIN, issue_id) is None
    energy = await stat_rows(
        hass,
        statistic_id(meter_of(entry), Quantity.ENERGY_IMPORT),
        start,
        None,
        ("state",),
    )
    rows = await stat_rows(hass, cost_id, start, None, ("state",))
    assert [r["start"] for r in rows] == [e["start"] for e in energy]
    assert [r["state"] for r in rows] == pytest.approx(
        [e["state"] * 0.3 for e in energy], rel=1e-9
    )
