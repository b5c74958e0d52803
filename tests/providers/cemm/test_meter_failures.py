"""CEMM: one alias (the gas meter or an S0 input) fails while the others answer.

Every request is first answered with a 202 promise: the healthy aliases still
come through the promise flow while one alias fails. The other aliases keep
their sensors and statistics; the failing one is unavailable (a 403 for one
alias only raises the no-access issue naming it, not a re-authentication) and
its gap is filled once it answers again. An alias answering 412 (s02, s03 of
the demo CEMM) is no meter and never named. See
tests/providers/meter_failure_scenario.py.
"""

# Fixtures imported from other modules are parameters here, not redefinitions.
# ruff: noqa: F811

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiohttp import web
from homeassistant.config_entries import SOURCE_REAUTH
from homeassistant.core import HomeAssistant
import pytest

from custom_components.meetdata.const import DOMAIN
from custom_components.meetdata.providers import PROVIDERS
from custom_components.meetdata.providers.cemm.client.parse import alias_key

from ...faults.conftest import MakeProxy, make_proxy  # noqa: F401
from ...faults.rows import ROW_BY_NAME
from ...ha_conftest import (  # noqa: F401
    auto_recorder,
    fast_promises,
    settle_background_imports,
)
from ...simulators.cemm import DEFAULT_UID, CemmSimulator
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

pytestmark = [
    pytest.mark.recorder_db,
    pytest.mark.usefixtures(short_overlap.__name__, fast_promises.__name__),
]

ROW = ROW_BY_NAME["cemm"]
FORBIDDEN = b'{"error": "Forbidden", "status": 403}'
P1, GAS, S01 = (alias_key(DEFAULT_UID, alias) for alias in ("p1", "p1-gas", "s01"))


def _hourly(pairs: list[tuple[datetime, float]]) -> dict[float, float]:
    hours: dict[float, float] = defaultdict(float)
    for moment, amount in pairs:
        hours[moment.timestamp() // HOUR_S * HOUR_S] += amount
    return dict(hours)


def _expected(sim: CemmSimulator) -> Expected:
    """Return the simulator's hourly amounts of the p1, gas and s01 meters."""
    start, end = sim.now - timedelta(days=3), sim.now
    p1 = sim.minute_energy(DEFAULT_UID, "p1", start, end)
    s01 = sim.minute_energy(DEFAULT_UID, "s01", start, end)
    return {
        f"{DOMAIN}:cemm_{P1}_energy_import": _hourly([(m, i) for m, i, _ in p1]),
        f"{DOMAIN}:cemm_{P1}_energy_export": _hourly([(m, e) for m, _, e in p1]),
        f"{DOMAIN}:cemm_{GAS}_gas_volume": _hourly(
            sim.hourly_gas(DEFAULT_UID, start, end)
        ),
        f"{DOMAIN}:cemm_{S01}_production": _hourly([(m, i) for m, i, _ in s01]),
    }


def _scenario(alias: str, fault: str) -> Scenario:
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    sim = CemmSimulator(now=now - timedelta(hours=2), history_start=date(2025, 1, 1))
    # Every request is answered with a promise first.
    sim.promise_count = 1

    def failing(request: web.Request) -> bool:
        return f"/{alias}/" in request.path

    def advance() -> None:
        sim.now = now

    return Scenario(
        row=ROW,
        sim=sim,
        entry_data=lambda origin: ROW.entry_data(origin, sim),
        failing=alias_key(DEFAULT_UID, alias),
        healthy=P1,
        fault=meter_faults(failing, FORBIDDEN)[fault],
        advance=advance,
        issue="no_permission" if fault == "forbidden_403" else None,
        expected=lambda: _expected(sim),
        # Each healthy alias's realtime values: a promise, then the data (2
        # requests each); the failing alias's one request fails at once.
        fault_costs=(5, 5),
    )


@pytest.mark.parametrize(
    ("alias", "fault"),
    [*(("p1-gas", fault) for fault in FAULT_NAMES), ("s01", "server_error_500")],
)
async def test_one_alias_fails(
    hass: HomeAssistant,
    make_proxy: MakeProxy,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    alias: str,
    fault: str,
) -> None:
    """One alias fails: the others go on through promises, then its gap fills."""
    scenario = _scenario(alias, fault)
    spec = PROVIDERS["cemm"]
    build = spec.build_client

    def on_sim_clock(session: Any, data: Any) -> Any:
        """Let the client judge complete intervals by the simulator's clock."""
        client = build(session, data)
        client._clock = lambda: scenario.sim.now
        return client

    monkeypatch.setattr(spec, "build_client", on_sim_clock)

    async def no_reauth(loaded: Loaded) -> None:
        assert not [
            flow
            for flow in hass.config_entries.flow.async_progress_by_handler(DOMAIN)
            if flow["context"].get("source") == SOURCE_REAUTH
        ]
        assert loaded.proxy.seen, "requests went through the proxy"

    await run_scenario(hass, make_proxy, caplog, scenario, during_fault=no_reauth)
