"""Metering company: one meter's /meetdata fails while /meters and the others work.

The other meters keep their sensors and statistics; the failing meter is
unavailable (a 403 raises the no-access issue naming it) and its gap is filled
once it answers again. A customer that withdraws consent (the API document:
customers may withdraw it; the API then leaves its meters out of /meters and
answers 404 on /meetdata) gets a repair issue naming its meter. See
tests/providers/meter_failure_scenario.py.
"""

# Fixtures imported from other modules are parameters here, not redefinitions.
# ruff: noqa: F811

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from aiohttp import web
from homeassistant.core import HomeAssistant
import pytest

from custom_components.meetdata.const import DOMAIN

from ...faults.conftest import MakeProxy, make_proxy  # noqa: F401
from ...faults.rows import ROW_BY_NAME
from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...simulators.dtl import (
    CUSTOMER_EAN,
    DEMO_PASSWORD,
    DEMO_USERNAME,
    SECOND_CUSTOMER_EAN,
    SECOND_TRANSFER_METER_EAN,
    TRANSFER_METER_EAN,
    DtlSimulator,
)
from ..meter_failure_scenario import (
    FAULT_NAMES,
    HOUR_S,
    Expected,
    Loaded,
    Scenario,
    meter_faults,
    run_scenario,
    short_overlap,
)

pytestmark = [pytest.mark.recorder_db, pytest.mark.usefixtures(short_overlap.__name__)]

ROW = ROW_BY_NAME["dtl"]
FORBIDDEN = b'{"error": "geen toegang"}'


def _sim() -> tuple[DtlSimulator, datetime]:
    """Return a metering company two hours behind the clock, and the clock."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return DtlSimulator(now=now - timedelta(hours=2)), now


def _entry_data(origin: str) -> dict[str, str]:
    return {
        "base_url": origin,
        "username": DEMO_USERNAME,
        "password": DEMO_PASSWORD,
        "customer_eans": f"{CUSTOMER_EAN}, {SECOND_CUSTOMER_EAN}",
    }


def _expected(sim: DtlSimulator) -> Expected:
    """Return the simulator's mean kW per UTC hour of both transfer meters."""
    result: Expected = {}
    for key in (TRANSFER_METER_EAN, SECOND_TRANSFER_METER_EAN):
        hours: dict[float, list[float]] = defaultdict(list)
        start = sim.now - timedelta(days=3)
        for moment, value in sim.expected(key, "actief_vermogen", start, sim.now):
            hours[moment.timestamp() // HOUR_S * HOUR_S].append(value)
        result[f"{DOMAIN}:dtl_{key}_power"] = {
            hour: sum(values) / len(values) for hour, values in hours.items()
        }
    return result


def _failing(request: web.Request) -> bool:
    return request.query.get("meter_ean") == TRANSFER_METER_EAN


@pytest.mark.parametrize("fault", FAULT_NAMES)
async def test_one_meter_fails(
    hass: HomeAssistant,
    make_proxy: MakeProxy,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    """One meter's /meetdata fails: the others go on, then its gap fills."""
    sim, now = _sim()

    def advance() -> None:
        sim.now = now

    await run_scenario(
        hass,
        make_proxy,
        caplog,
        Scenario(
            row=ROW,
            sim=sim,
            entry_data=_entry_data,
            failing=TRANSFER_METER_EAN,
            healthy=SECOND_TRANSFER_METER_EAN,
            fault=meter_faults(_failing, FORBIDDEN)[fault],
            advance=advance,
            issue="no_permission" if fault == "forbidden_403" else None,
            expected=lambda: _expected(sim),
            expected_field=3,
            # First: /meters and the /meetdata of the three meters (new
            # data). Then one /meters for all (nothing new for the healthy
            # ones) and the failing meter's /meetdata, asked until it answers.
            fault_costs=(4, 2),
        ),
    )


async def test_withdrawn_consent_names_the_meter(
    hass: HomeAssistant, make_proxy: MakeProxy, caplog: pytest.LogCaptureFixture
) -> None:
    """A customer withdraws consent: an issue names its meter; it goes on return."""
    sim, now = _sim()

    def advance() -> None:
        sim.now = now

    async def issue_names_the_customer(loaded: Loaded) -> None:
        issue = loaded.issue(hass, SECOND_TRANSFER_METER_EAN)
        assert issue is not None
        assert issue.translation_key == "dtl_consent_withdrawn"
        assert issue.translation_placeholders == {
            "meter": SECOND_TRANSFER_METER_EAN,
            "customer": SECOND_CUSTOMER_EAN,
            "entry": loaded.entry.title,
        }

    await run_scenario(
        hass,
        make_proxy,
        caplog,
        Scenario(
            row=ROW,
            sim=sim,
            entry_data=_entry_data,
            failing=SECOND_TRANSFER_METER_EAN,
            healthy=TRANSFER_METER_EAN,
            fault=None,
            begin=lambda: sim.hidden_customers.add(SECOND_CUSTOMER_EAN),
            end=lambda: sim.hidden_customers.discard(SECOND_CUSTOMER_EAN),
            advance=advance,
            issue="dtl_consent_withdrawn",
            expected=lambda: _expected(sim),
            expected_field=3,
        ),
        during_fault=issue_names_the_customer,
    )
