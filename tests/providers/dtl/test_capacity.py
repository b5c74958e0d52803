"""The capacity tariff from the metering company's 5-minute power.

The DTL profile gives the active power (kW, + import, - export) per 5
minutes; the client turns each into an import amount (kWh), three of them
make a quarter, and a quarter's import times four is its average power.
By hand, a quarter's power is the mean of its three 5-minute values' import
part (``max(kW, 0)``). An entry of both demo customers imports this month:
for both transfer points, every hour of yesterday holds the max, min and
mean of its four quarters, and the peak sensor shows the month's highest
quarter (the demo data are whole kW, so several quarters may share it).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from homeassistant.const import CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.api.models import Meter, MeterKind, Quantity
from custom_components.meetdata.const import (
    CONF_BASE_URL,
    CONF_HISTORY_DAYS,
    CONF_PROVIDER,
    DOMAIN,
)
from custom_components.meetdata.providers.dtl.client.model import MAX_HISTORY
from custom_components.meetdata.providers.dtl.spec import CONF_CUSTOMER_EANS
from custom_components.meetdata.statistics_rows import statistic_id

from ...conftest import Serve
from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...helpers import assert_quarter_hour_power, entity_id_of, sensor_state, stat_rows
from ...simulators.dtl import (
    CUSTOMER_EAN,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    PRODUCTION_METER_EAN,
    SECOND_CUSTOMER_EAN,
    SECOND_TRANSFER_METER_EAN,
    TRANSFER_METER_EAN,
    DtlSimulator,
)

pytestmark = pytest.mark.recorder_db

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
DAY = timedelta(days=1)
QUARTER_S = 900
TRANSFER_METERS = (TRANSFER_METER_EAN, SECOND_TRANSFER_METER_EAN)


def _local_midnight(moment: datetime, back: int = 0) -> datetime:
    local = moment.astimezone(AMSTERDAM).date() - back * DAY
    return datetime(local.year, local.month, local.day, tzinfo=AMSTERDAM).astimezone(
        UTC
    )


def _month_start(moment: datetime) -> datetime:
    local = moment.astimezone(AMSTERDAM)
    return datetime(local.year, local.month, 1, tzinfo=AMSTERDAM).astimezone(UTC)


def _quarter_powers(
    sim: DtlSimulator, meter_ean: str, start: datetime, end: datetime
) -> dict[int, float]:
    """Return the power (kW) of every complete quarter in [start, end), by hand."""
    parts: dict[int, list[float]] = defaultdict(list)
    for moment, kw in sim.expected(meter_ean, "actief_vermogen", start, end):
        ts = int(moment.timestamp())
        parts[ts - ts % QUARTER_S].append(max(kw, 0.0))
    return {quarter: sum(kws) / 3 for quarter, kws in parts.items() if len(kws) == 3}


@pytest.fixture
def dtl_sim() -> DtlSimulator:
    """Return the demo metering company stopped at this minute (40 days kept)."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return DtlSimulator(now=now, retention=timedelta(days=40))


@pytest.fixture
async def dtl_entry(
    hass: HomeAssistant, serve: Serve, dtl_sim: DtlSimulator
) -> MockConfigEntry:
    """Return an entry of both customers whose history reaches this month's start.

    It also reaches yesterday's start (on the 1st of a month). Home
    Assistant's time zone is Dutch: months are Dutch months.
    """
    await hass.config.async_set_time_zone("Europe/Amsterdam")
    now = dtl_sim.now
    first = min(_month_start(now), _local_midnight(now, back=1))
    if first < now - MAX_HISTORY + timedelta(hours=2):
        pytest.skip("this month began longer ago than the history the API keeps")
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=f"DTL 127.0.0.1 ({CUSTOMER_EAN}, {SECOND_CUSTOMER_EAN})",
        unique_id=f"dtl_127.0.0.1_{CUSTOMER_EAN}_{SECOND_CUSTOMER_EAN}",
        data={
            CONF_PROVIDER: "dtl",
            CONF_BASE_URL: await serve(dtl_sim.build_app()),
            CONF_USERNAME: DEMO_USERNAME,
            CONF_PASSWORD: DEMO_PASSWORD,
            CONF_CUSTOMER_EANS: f"{CUSTOMER_EAN}, {SECOND_CUSTOMER_EAN}",
        },
        options={CONF_HISTORY_DAYS: min((now - first) // DAY + 2, 31)},
    )
    entry.add_to_hass(hass)
    return entry


async def test_quarter_hour_power_and_peak_of_each_transfer_point(
    hass: HomeAssistant, dtl_sim: DtlSimulator, dtl_entry: MockConfigEntry
) -> None:
    """Yesterday's hours and this month's peak of both transfer points, by hand."""
    assert await hass.config_entries.async_setup(dtl_entry.entry_id)
    await hass.async_block_till_done(wait_background_tasks=True)
    assert dtl_entry.runtime_data.history.last_update_success

    now = dtl_sim.now
    yesterday, today = _local_midnight(now, back=1), _local_midnight(now)
    month_start = _month_start(now)
    for meter_ean in TRANSFER_METERS:
        meter = Meter("dtl", meter_ean, MeterKind.ELECTRICITY)
        stat_id = statistic_id(meter, Quantity.QUARTER_HOUR_POWER)
        assert stat_id == f"meetdata:dtl_{meter_ean}_quarter_hour_power"

        # Every hour of yesterday: its four quarters' max, min and mean.
        await assert_quarter_hour_power(
            hass,
            stat_id,
            _quarter_powers(dtl_sim, meter_ean, yesterday, today),
            yesterday,
            today,
        )

        # This month's highest quarter, and every quarter that reaches it.
        month = _quarter_powers(dtl_sim, meter_ean, month_start, now)
        if not month:
            pytest.skip("no complete quarter of this month yet")
        peak = max(month.values())
        highest = {
            datetime.fromtimestamp(quarter, UTC)
            for quarter, power in month.items()
            if power == pytest.approx(peak)
        }
        month_rows = await stat_rows(hass, stat_id, month_start, None, ("max",))
        assert max(row["max"] for row in month_rows) == pytest.approx(peak)

        state = sensor_state(hass, f"dtl_{meter_ean}_{Quantity.CAPACITY_PEAK}")
        assert float(state.state) == pytest.approx(peak)
        assert state.attributes["unit_of_measurement"] == "kW"
        assert state.attributes["peak_start"] in highest
        assert state.attributes["estimates_left_out"] is False

    # The production meter's power is production, not import: no peak.
    key = f"dtl_{PRODUCTION_METER_EAN}_{Quantity.CAPACITY_PEAK}"
    assert entity_id_of(hass, key) is None
