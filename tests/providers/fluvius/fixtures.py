"""Helpers of the Fluvius end-to-end tests: the demo account near the real now."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.helpers import issue_registry as ir
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.const import (
    CONF_BASE_URL,
    CONF_HISTORY_DAYS,
    CONF_METERS,
    CONF_PROVIDER,
    DOMAIN,
)
from custom_components.meetdata.statistics_rows import HOUR

from ...helpers import stat_rows
from ...simulators.fluvius import (
    AMR_INJECTION_EAN,
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_SCOPE,
    DEMO_SUBSCRIPTION_KEY,
    DEMO_TENANT,
    DIGITAL_EAN,
    GAS_EAN,
    REJECTED_EAN,
    REQUESTED_EAN,
    FluviusSimulator,
    SimInterval,
    SimMandate,
    local_midnight,
)

PROD_EAN = FluviusSimulator.submeter_ean(AMR_INJECTION_EAN, "production")
AUX_EAN = FluviusSimulator.submeter_ean(AMR_INJECTION_EAN, "auxiliary")
UNIQUE_ID = f"fluvius_{DEMO_TENANT}_{DEMO_CLIENT_ID}"
TITLE = f"Fluvius {DEMO_CLIENT_ID} (sandbox)"
SECRETS = (DEMO_CLIENT_SECRET, DEMO_SUBSCRIPTION_KEY, "sim-access-token")

#: Statistics per meter: (meter, quantity, headpoint for submeters).
STATISTICS = (
    (DIGITAL_EAN, "energy_import", None),
    (DIGITAL_EAN, "energy_export", None),
    (AMR_INJECTION_EAN, "energy_export", None),
    (AMR_INJECTION_EAN, "reactive_energy_inductive", None),
    (AMR_INJECTION_EAN, "reactive_energy_capacitive", None),
    (PROD_EAN, "production", AMR_INJECTION_EAN),
    (PROD_EAN, "reactive_energy_inductive", AMR_INJECTION_EAN),
    (PROD_EAN, "reactive_energy_capacitive", AMR_INJECTION_EAN),
    (AUX_EAN, "auxiliary", AMR_INJECTION_EAN),
    (GAS_EAN, "gas_volume", None),
    (GAS_EAN, "gas_energy", None),
)


def make_sim(*, fine_days: int = 200) -> FluviusSimulator:
    """Return the demo account stopped at this minute, mandates relative to it.

    The digital EAN has daily access for three years and quarter-hour access
    for the last ``fine_days`` days; values appear two hours after their slice
    (so yesterday is complete) and estimates are corrected after three days.
    Requested and rejected mandates stay as in the simulator's demo.
    """
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    sim = FluviusSimulator(now=now)
    sim.publish_delay = timedelta(hours=2)
    far = now + timedelta(days=400)
    sim.mandates = [
        SimMandate(
            DIGITAL_EAN,
            data_service_type="VH_dag",
            data_period_from=local_midnight(now - timedelta(days=1090)),
            expiration=far,
        ),
        SimMandate(
            DIGITAL_EAN,
            data_period_from=fine_from(sim, fine_days),
            expiration=far,
            reference_number="REF-123456",
        ),
        SimMandate(
            AMR_INJECTION_EAN,
            data_period_from=local_midnight(now - timedelta(days=700)),
            expiration=far,
        ),
        SimMandate(
            GAS_EAN,
            energy_type="G",
            data_period_from=local_midnight(now - timedelta(days=700)),
            expiration=far,
        ),
        SimMandate(REQUESTED_EAN, status="Requested", data_service_type="VH_dag"),
        SimMandate(REJECTED_EAN, status="Rejected", data_service_type="VH_dag"),
    ]
    return sim


def fine_from(sim: FluviusSimulator, days: int) -> datetime:
    """Return where the digital EAN's quarter-hour access starts."""
    return local_midnight(sim.now - timedelta(days=days))


def form(sim: FluviusSimulator, url: str, **changes: str) -> dict[str, str]:
    """Return the config-flow input of the demo account (advanced mode)."""
    return {
        "environment": "sandbox",
        "tenant_id": DEMO_TENANT,
        "client_id": DEMO_CLIENT_ID,
        "client_secret": DEMO_CLIENT_SECRET,
        "scope": DEMO_SCOPE,
        "subscription_key": DEMO_SUBSCRIPTION_KEY,
        CONF_BASE_URL: sim.base_url(url),
        "token_url": sim.token_url(url),
    } | changes


def make_entry(
    hass: HomeAssistant,
    sim: FluviusSimulator,
    url: str,
    *,
    history_days: int = 3,
    meters: list[str] | None = None,
    **changes: str,
) -> MockConfigEntry:
    """Add a Fluvius entry of the demo account to Home Assistant."""
    options: dict[str, Any] = {CONF_HISTORY_DAYS: history_days}
    if meters is not None:
        options[CONF_METERS] = meters
    entry = MockConfigEntry(
        domain=DOMAIN,
        title=TITLE,
        unique_id=UNIQUE_ID,
        data={CONF_PROVIDER: "fluvius", **form(sim, url, **changes)},
        options=options,
    )
    entry.add_to_hass(hass)
    return entry


async def rows(
    hass: HomeAssistant, stat_id: str, start: datetime, end: datetime | None = None
) -> list[dict[str, Any]]:
    """Return the stored hourly rows of a statistic."""
    return await stat_rows(hass, stat_id, start, end, {"state", "sum"})


def hourly(intervals: Iterable[SimInterval]) -> dict[float, float]:
    """Sum source intervals per UTC hour they start in (epoch seconds)."""
    hours: dict[float, float] = defaultdict(float)
    for item in intervals:
        ts = item.start.timestamp()
        hours[ts - ts % HOUR] += item.value
    return dict(hours)


def fluvius_issues(hass: HomeAssistant) -> dict[str, ir.IssueEntry]:
    """Return our repair issues by id."""
    return {
        issue_id: issue
        for (domain, issue_id), issue in ir.async_get(hass).issues.items()
        if domain == DOMAIN
    }


def issue_of(hass: HomeAssistant, kind: str, ean: str) -> ir.IssueEntry | None:
    """Return the issue of ``kind`` naming ``ean``, if raised."""
    for issue in fluvius_issues(hass).values():
        placeholders = issue.translation_placeholders or {}
        if issue.translation_key == kind and placeholders.get("ean") == ean:
            return issue
    return None
