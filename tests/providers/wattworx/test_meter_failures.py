"""Wattworx: one EAN's day values and detail values fail while ean/list works.

The other EANs keep their sensors and statistics; the failing EAN is
unavailable (a 403 raises the no-access issue naming it) and its gap is filled
once it answers again. The repair issue of an unsigned authorisation stays
about its own EAN meanwhile. See tests/providers/meter_failure_scenario.py.
"""

# Fixtures imported from other modules are parameters here, not redefinitions.
# ruff: noqa: F811

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from aiohttp import web
from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
import pytest

from custom_components.meetdata.const import DOMAIN
from custom_components.meetdata.providers.wattworx.client.times import local_day_start

from ...faults.conftest import MakeProxy, make_proxy  # noqa: F401
from ...faults.rows import ROW_BY_NAME
from ...ha_conftest import auto_recorder, settle_background_imports  # noqa: F401
from ...simulators.wattworx import (
    EAN_PENDING,
    EAN_POWER,
    EAN_POWER_2,
    WattworxSimulator,
)
from ..meter_failure_scenario import (
    FAULT_NAMES,
    HOUR_S,
    Expected,
    Loaded,
    Scenario,
    meter_faults,
    run_scenario,
)

pytestmark = pytest.mark.recorder_db

ROW = ROW_BY_NAME["wattworx"]
FORBIDDEN = (
    b"<?xml version='1.0' encoding='utf-8'?><error><code>403</code>"
    b"<message>No signed authorisation for EAN</message></error>"
)


def _failing(request: web.Request) -> bool:
    return f"/code/{EAN_POWER}/" in request.path


def _expected(sim: WattworxSimulator) -> Expected:
    """Return the simulator's kWh per UTC hour of both EANs' imports."""
    result: Expected = {}
    end = local_day_start(sim.today)
    for ean in (EAN_POWER, EAN_POWER_2):
        hours: dict[float, float] = defaultdict(float)
        for start, _, amount in sim.intervals(ean, end - timedelta(days=5), end)[
            "energy_import"
        ]:
            hours[start.timestamp() // HOUR_S * HOUR_S] += amount
        result[f"{DOMAIN}:wattworx_{ean}_energy_import"] = dict(hours)
    return result


def _scenario(fault: str) -> Scenario:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    sim = WattworxSimulator(now=now - timedelta(days=1))

    def advance() -> None:
        sim.now = now

    return Scenario(
        row=ROW,
        sim=sim,
        entry_data=lambda origin: ROW.entry_data(origin, sim),
        failing=EAN_POWER,
        healthy=EAN_POWER_2,
        fault=meter_faults(_failing, FORBIDDEN)[fault],
        advance=advance,
        issue="no_permission" if fault == "forbidden_403" else None,
        expected=lambda: _expected(sim),
        # First: ean/list and the day values of the four signed EANs (a new
        # day). Then one ean/list for all (nothing new for the healthy EANs)
        # and the failing EAN's day values, asked until they answer.
        fault_costs=(5, 2),
    )


@pytest.mark.parametrize("fault", FAULT_NAMES)
async def test_one_ean_fails(
    hass: HomeAssistant,
    make_proxy: MakeProxy,
    caplog: pytest.LogCaptureFixture,
    fault: str,
) -> None:
    """One EAN fails: the others go on, it is unavailable, then its gap fills."""

    async def unsigned_issue_stays(loaded: Loaded) -> None:
        issues = ir.async_get(hass)
        prefix = f"{loaded.entry.entry_id}_wattworx_not_signed_"
        assert issues.async_get_issue(DOMAIN, prefix + EAN_PENDING) is not None
        assert issues.async_get_issue(DOMAIN, prefix + EAN_POWER) is None

    await run_scenario(
        hass, make_proxy, caplog, _scenario(fault), during_fault=unsigned_issue_stays
    )
