"""One table of the five providers: a simulator, a config entry, and flow inputs.

The tests in tests/core/test_*_all_providers.py run once per provider against
each provider's simulator over HTTP. A :class:`ProviderCase` says how to serve
the simulator, which entry points at it, how its credentials change, what the
reauth and reconfigure forms take, what the options offer and what the
diagnostics must (not) show. Provider-specific flows (Kenter's one-EAN reauth,
Fluvius' kept URLs, wrong accounts) stay in tests/providers/<p>/.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from homeassistant.const import CONF_API_KEY, CONF_PASSWORD, CONF_USERNAME
from homeassistant.core import HomeAssistant
from homeassistant.helpers import device_registry as dr
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.const import (
    CONF_BASE_URL,
    CONF_HISTORY_DAYS,
    CONF_METERS,
    CONF_PROVIDER,
    CONF_UPDATE_INTERVAL,
    DOMAIN,
)
from custom_components.meetdata.providers.dtl.spec import CONF_CUSTOMER_EANS
from custom_components.meetdata.providers.kenter.client import meter_key
from custom_components.meetdata.providers.kenter.spec import (
    CONF_ADD_ANOTHER,
    CONF_CONNECTIONS,
    CONF_EAN,
    CONF_PASSCODE,
)
from custom_components.meetdata.providers.wattworx.spec import account_unique_id

from .helpers import flow_input
from .simulators import cemm, dtl, fluvius, kenter, wattworx

#: A flow step: the form input and the errors it must answer with.
type Step = tuple[dict[str, Any], dict[str, str]]
#: What a case's simulator is: one of the five simulator classes.
type Sim = Any
#: Reads the entry after a flow or an options change.
type EntryCheck = Callable[[HomeAssistant, MockConfigEntry], None]

REDACTED = "**REDACTED**"


def _nothing(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    """Check nothing beyond the common assertions."""


@dataclass(frozen=True, kw_only=True)
class ProviderCase:
    """How the shared flow and diagnostics tests drive one provider."""

    provider: str
    #: A fresh simulator (its clock stopped at ``now``).
    make_sim: Callable[[datetime], Sim]
    #: The simulator's base URL from the URL it is served at.
    url_of: Callable[[str], str]
    #: The entry data pointing at the simulator (without ``provider``).
    entry_data: Callable[[Sim, str], dict[str, Any]]
    title: str
    unique_id: str
    history_days: int
    #: Change the account's credentials; return the reauth steps (stale input
    #: refused first) and the final input that succeeds.
    rotate: Callable[[Sim, pytest.MonkeyPatch], tuple[list[Step], dict[str, Any]]]
    reauth_step: str = "reauth_confirm"
    #: Fields of the reauth form; ``None`` does not check them.
    reauth_fields: list[str] | None = None
    #: Errors the reauth form shows before any input.
    reauth_first_errors: dict[str, str] | None = None
    #: The data after a successful reauth (entry data, given the old data).
    reauth_data: Callable[[dict[str, Any]], dict[str, Any]]
    #: Reconfigure: optional credential change, the refused steps, the final
    #: input and the data stored.
    reconfigure: Callable[
        [Sim, str, pytest.MonkeyPatch],
        tuple[list[Step], dict[str, Any], dict[str, Any]],
    ]
    reconfigure_step: str = "reconfigure"
    #: Options: the defaults the form suggests, and what to choose.
    option_defaults: dict[str, Any]
    option_choice: dict[str, Any]
    after_options: EntryCheck = _nothing
    #: Diagnostics: secrets never shown, how entry data looks redacted.
    secrets: tuple[str, ...]
    redacted: dict[str, Any]
    meters: frozenset[str]
    #: Every meter key shown (True) or at least ``meters`` (False).
    all_meters: bool = True
    latest: tuple[str, str] | None = None
    history_suffix: str | None = None
    diagnostics_extra: Callable[[dict[str, Any]], None] = field(
        default=lambda diagnostics: None
    )

    def __str__(self) -> str:
        """Name the case in test ids."""
        return self.provider

    def make_entry(self, hass: HomeAssistant, sim: Sim, served: str) -> MockConfigEntry:
        """Add the provider's entry, pointing at the served simulator."""
        entry = MockConfigEntry(
            domain=DOMAIN,
            title=self.title,
            unique_id=self.unique_id,
            data={CONF_PROVIDER: self.provider, **self.entry_data(sim, served)},
            options={CONF_HISTORY_DAYS: self.history_days},
        )
        entry.add_to_hass(hass)
        return entry


def _now() -> datetime:
    return datetime.now(UTC).replace(second=0, microsecond=0)


# ---------------------------------------------------------------- CEMM


def _cemm_rotate(
    sim: cemm.CemmSimulator, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Step], dict[str, Any]]:
    sim.api_key = "renewed-key"
    refused: list[Step] = [
        ({CONF_API_KEY: "old-key"}, {"base": "invalid_auth"}),
        ({CONF_API_KEY: ""}, {CONF_API_KEY: "empty"}),
    ]
    return refused, {CONF_API_KEY: "renewed-key"}


def _cemm_reconfigure(
    sim: cemm.CemmSimulator, url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Step], dict[str, Any], dict[str, Any]]:
    refused: list[Step] = [
        (
            flow_input({CONF_API_KEY: "nope", CONF_BASE_URL: url}),
            {"base": "invalid_auth"},
        ),
        (flow_input({CONF_API_KEY: "", CONF_BASE_URL: url}), {CONF_API_KEY: "empty"}),
    ]
    sim.api_key = "second-key"
    final = flow_input({CONF_API_KEY: "second-key", CONF_BASE_URL: url})
    return refused, final, {CONF_API_KEY: "second-key", CONF_BASE_URL: url}


def _cemm_after_options(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert entry.runtime_data.latest.update_interval.total_seconds() == 300
    assert [m.key for m in entry.runtime_data.latest.meters] == ["ffffffffffff_p1"]
    assert hass.states.get("sensor.cemm_ff_ff_ff_ff_ff_ff_p1_power") is not None
    devices = dr.async_entries_for_config_entry(dr.async_get(hass), entry.entry_id)
    assert sorted(device.name for device in devices) == ["CEMM FF-FF-FF-FF-FF-FF p1"]
    assert hass.states.get("sensor.cemm_ff_ff_ff_ff_ff_ff_p1_gas_gas") is None


def _cemm_diagnostics(diagnostics: dict[str, Any]) -> None:
    assert diagnostics["latest_update_success"] is True


CEMM = ProviderCase(
    provider="cemm",
    make_sim=lambda now: cemm.CemmSimulator(now=now, history_start=date(2025, 1, 1)),
    url_of=lambda served: served + "/v1/",
    entry_data=lambda sim, url: {CONF_API_KEY: cemm.DEMO_API_KEY, CONF_BASE_URL: url},
    title="CEMM FF-FF-FF-FF-FF-FF",
    unique_id="cemm_ffffffffffff",
    history_days=2,
    rotate=_cemm_rotate,
    reauth_data=lambda old: old | {CONF_API_KEY: "renewed-key"},
    reconfigure=_cemm_reconfigure,
    option_defaults={
        CONF_UPDATE_INTERVAL: 1,
        CONF_HISTORY_DAYS: 2,
        CONF_METERS: [
            "ffffffffffff",
            "ffffffffffff_p1",
            "ffffffffffff_p1_gas",
            "ffffffffffff_s01",
        ],
    },
    option_choice={
        CONF_UPDATE_INTERVAL: 5,
        CONF_HISTORY_DAYS: 1,
        CONF_METERS: ["ffffffffffff_p1"],
    },
    after_options=_cemm_after_options,
    secrets=(cemm.DEMO_API_KEY,),
    redacted={CONF_API_KEY: REDACTED},
    meters=frozenset({"ffffffffffff", "ffffffffffff_p1"}),
    all_meters=False,
    latest=("ffffffffffff_p1", "power"),
    history_suffix="_energy_import",
    diagnostics_extra=_cemm_diagnostics,
)


# ---------------------------------------------------------------- Kenter

KENTER_EAN_E = "876600504607071300"
KENTER_EAN_G = "871687120000096366"
KENTER_PASSCODE = {KENTER_EAN_E: "jTx7HCB", KENTER_EAN_G: "oTW66As"}
KENTER_KEY_E = meter_key(KENTER_EAN_E, "V066005019551812")
KENTER_KEY_G = meter_key(KENTER_EAN_G, "Z0NR000042279210")


def _kenter_connections(**changed: str) -> list[dict[str, str]]:
    codes = KENTER_PASSCODE | changed
    return [
        {CONF_EAN: ean, CONF_PASSCODE: codes[ean]}
        for ean in (KENTER_EAN_E, KENTER_EAN_G)
    ]


def _kenter_rotate(
    sim: kenter.KenterSimulator, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Step], dict[str, Any]]:
    sim.connections[KENTER_EAN_E].passcode = "new-e"
    refused: list[Step] = [
        ({CONF_EAN: KENTER_EAN_E, CONF_PASSCODE: " "}, {CONF_PASSCODE: "empty"}),
        (
            {CONF_EAN: KENTER_EAN_E, CONF_PASSCODE: "still-wrong"},
            {CONF_PASSCODE: "invalid_auth_ean"},
        ),
    ]
    return refused, {CONF_EAN: KENTER_EAN_E, CONF_PASSCODE: "new-e"}


def _kenter_reconfigure(
    sim: kenter.KenterSimulator, url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Step], dict[str, Any], dict[str, Any]]:
    both = [KENTER_EAN_E, KENTER_EAN_G]
    refused: list[Step] = [
        ({CONF_CONNECTIONS: [], CONF_ADD_ANOTHER: False}, {"base": "no_connections"})
    ]
    final = {CONF_CONNECTIONS: both, CONF_ADD_ANOTHER: False}
    return refused, final, {CONF_CONNECTIONS: _kenter_connections(), CONF_BASE_URL: url}


KENTER = ProviderCase(
    provider="kenter",
    make_sim=lambda now: kenter.KenterSimulator(now=now),
    url_of=lambda served: served + kenter.PATH,
    entry_data=lambda sim, url: {
        CONF_CONNECTIONS: _kenter_connections(),
        CONF_BASE_URL: url,
    },
    title="Kenter Kwekerij Jan Janssen, Hoogevoort B.V.",
    unique_id=f"kenter_{KENTER_EAN_G}_{KENTER_EAN_E}",
    history_days=2,
    rotate=_kenter_rotate,
    reauth_step="reauth_kenter",
    reauth_first_errors={"base": "invalid_auth_ean"},
    reauth_data=lambda old: old
    | {CONF_CONNECTIONS: _kenter_connections(**{KENTER_EAN_E: "new-e"})},
    reconfigure=_kenter_reconfigure,
    reconfigure_step="reconfigure_kenter",
    option_defaults={CONF_HISTORY_DAYS: 2, CONF_METERS: [KENTER_KEY_E, KENTER_KEY_G]},
    option_choice={CONF_HISTORY_DAYS: 1, CONF_METERS: [KENTER_KEY_G]},
    # Every passcode of the simulator, also of connections not in the entry.
    secrets=(*KENTER_PASSCODE.values(), "Zq8sW2k", "Rt5mP9x"),
    redacted={
        CONF_CONNECTIONS: [
            {CONF_EAN: KENTER_EAN_E, CONF_PASSCODE: REDACTED},
            {CONF_EAN: KENTER_EAN_G, CONF_PASSCODE: REDACTED},
        ]
    },
    meters=frozenset({KENTER_KEY_E, KENTER_KEY_G}),
    latest=(KENTER_KEY_E, "energy_import_interval"),
)


# ---------------------------------------------------------------- Wattworx


def _wattworx_rotate(
    sim: wattworx.WattworxSimulator, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Step], dict[str, Any]]:
    sim.keys["rotated-key"] = set(sim.keys.pop(wattworx.DEMO_KEY))
    refused: list[Step] = [
        ({CONF_API_KEY: wattworx.DEMO_KEY}, {"base": "invalid_auth"}),
        ({CONF_API_KEY: "bad key"}, {CONF_API_KEY: "wattworx_invalid_key_format"}),
    ]
    return refused, {CONF_API_KEY: "rotated-key"}


def _closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/api/v1/"


def _wattworx_reconfigure(
    sim: wattworx.WattworxSimulator, url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Step], dict[str, Any], dict[str, Any]]:
    closed = flow_input(
        {CONF_API_KEY: wattworx.DEMO_KEY, CONF_BASE_URL: _closed_port_url()}
    )
    sim.keys["second-key"] = {1111, 2222}
    final = flow_input({CONF_API_KEY: "second-key", CONF_BASE_URL: url})
    return (
        [(closed, {"base": "cannot_connect"})],
        final,
        {CONF_API_KEY: "second-key", CONF_BASE_URL: url},
    )


def _wattworx_diagnostics(diagnostics: dict[str, Any]) -> None:
    meters = {meter["key"]: meter for meter in diagnostics["meters"]}
    assert meters[wattworx.EAN_POWER]["attributes"]["grid_operator"] == "Liander NWN"
    assert (
        meters[wattworx.EAN_PENDING]["attributes"]["authorisation_status"]
        == wattworx.PENDING
    )


WATTWORX = ProviderCase(
    provider="wattworx",
    make_sim=lambda now: wattworx.WattworxSimulator(now=now),
    url_of=lambda served: served + "/api/v1/",
    entry_data=lambda sim, url: {
        CONF_API_KEY: wattworx.DEMO_KEY,
        CONF_BASE_URL: url,
    },
    title="Wattworx Klant 1, Klant 2 BV",
    unique_id=account_unique_id("1111,2222"),
    history_days=3,
    rotate=_wattworx_rotate,
    reauth_data=lambda old: old | {CONF_API_KEY: "rotated-key"},
    reconfigure=_wattworx_reconfigure,
    option_defaults={CONF_HISTORY_DAYS: 3},
    option_choice={CONF_HISTORY_DAYS: 1},
    secrets=(wattworx.DEMO_KEY,),
    redacted={CONF_API_KEY: REDACTED},
    meters=frozenset({wattworx.EAN_POWER, wattworx.EAN_GAS, wattworx.EAN_PENDING}),
    all_meters=False,
    latest=(wattworx.EAN_POWER, "energy_import_normal"),
    history_suffix="_gas_volume",
    diagnostics_extra=_wattworx_diagnostics,
)


# ---------------------------------------------------------------- DTL

DTL_METERS = [dtl.PRODUCTION_METER_EAN, dtl.TRANSFER_METER_EAN]


def _dtl_data(url: str, **changes: str) -> dict[str, str]:
    return {
        CONF_BASE_URL: url,
        CONF_USERNAME: dtl.DEMO_USERNAME,
        CONF_PASSWORD: dtl.DEMO_PASSWORD,
        CONF_CUSTOMER_EANS: dtl.CUSTOMER_EAN,
    } | changes


def _dtl_rotate(
    sim: dtl.DtlSimulator, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Step], dict[str, Any]]:
    sim.password = "nieuw-wachtwoord"
    refused: list[Step] = [
        ({CONF_PASSWORD: dtl.DEMO_PASSWORD}, {"base": "invalid_auth"}),
        ({CONF_PASSWORD: ""}, {CONF_PASSWORD: "empty"}),
    ]
    return refused, {CONF_PASSWORD: "nieuw-wachtwoord"}


def _dtl_reconfigure(
    sim: dtl.DtlSimulator, url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Step], dict[str, Any], dict[str, Any]]:
    sim.password = "tweede-wachtwoord"
    refused: list[Step] = [(_dtl_data(url), {"base": "invalid_auth"})]
    final = _dtl_data(url, password="tweede-wachtwoord")
    return refused, final, final


def _dtl_after_options(hass: HomeAssistant, entry: MockConfigEntry) -> None:
    assert entry.runtime_data.latest.update_interval == timedelta(days=1)


DTL = ProviderCase(
    provider="dtl",
    # 800 days instead of a month, as in the DTL tests (DST days of 2025).
    make_sim=lambda now: dtl.DtlSimulator(now=now, retention=timedelta(days=800)),
    url_of=lambda served: served,
    entry_data=lambda sim, url: _dtl_data(url),
    title=f"DTL 127.0.0.1 ({dtl.CUSTOMER_EAN})",
    unique_id=f"dtl_127.0.0.1_{dtl.CUSTOMER_EAN}",
    history_days=1,
    rotate=_dtl_rotate,
    reauth_fields=[CONF_PASSWORD],
    reauth_data=lambda old: old | {CONF_PASSWORD: "nieuw-wachtwoord"},
    reconfigure=_dtl_reconfigure,
    option_defaults={CONF_UPDATE_INTERVAL: 5, CONF_METERS: DTL_METERS},
    option_choice={
        CONF_UPDATE_INTERVAL: 1440,
        CONF_HISTORY_DAYS: 1,
        CONF_METERS: DTL_METERS,
    },
    after_options=_dtl_after_options,
    secrets=(dtl.DEMO_PASSWORD,),
    redacted={CONF_PASSWORD: REDACTED, CONF_USERNAME: REDACTED},
    meters=frozenset(DTL_METERS),
    latest=(dtl.TRANSFER_METER_EAN, "power"),
    history_suffix="_energy_import",
)


# ---------------------------------------------------------------- Fluvius

FLUVIUS_PROD = fluvius.FluviusSimulator.submeter_ean(
    fluvius.AMR_INJECTION_EAN, "production"
)
FLUVIUS_AUX = fluvius.FluviusSimulator.submeter_ean(
    fluvius.AMR_INJECTION_EAN, "auxiliary"
)
FLUVIUS_METERS = [
    fluvius.DIGITAL_EAN,
    fluvius.AMR_INJECTION_EAN,
    FLUVIUS_PROD,
    FLUVIUS_AUX,
    fluvius.GAS_EAN,
]


def _fluvius_sim(now: datetime) -> fluvius.FluviusSimulator:
    from .providers.fluvius.fixtures import make_sim

    return make_sim()


def _fluvius_data(sim: fluvius.FluviusSimulator, url: str) -> dict[str, Any]:
    from .providers.fluvius.fixtures import form

    return form(sim, url)


def _fluvius_rotate(
    sim: fluvius.FluviusSimulator, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Step], dict[str, Any]]:
    monkeypatch.setattr(fluvius, "DEMO_CLIENT_SECRET", "renewed-secret")
    sim.revoke_tokens()
    key = fluvius.DEMO_SUBSCRIPTION_KEY
    refused: list[Step] = [
        (
            flow_input({"client_secret": "old", "subscription_key": key}),
            {"client_secret": "fluvius_invalid_secret"},
        ),
        (
            flow_input(
                {"client_secret": "renewed-secret", "subscription_key": "wrong"}
            ),
            {"subscription_key": "fluvius_invalid_subscription_key"},
        ),
    ]
    final = flow_input({"client_secret": "renewed-secret", "subscription_key": key})
    return refused, final


def _fluvius_reconfigure(
    sim: fluvius.FluviusSimulator, url: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[Step], dict[str, Any], dict[str, Any]]:
    data = _fluvius_data(sim, url)
    plain = {k: v for k, v in data.items() if "url" not in k}
    refused: list[Step] = [
        (
            flow_input(plain | {"scope": "api://other/.default"}),
            {"scope": "fluvius_invalid_scope"},
        )
    ]
    return refused, flow_input(plain), data


FLUVIUS = ProviderCase(
    provider="fluvius",
    make_sim=_fluvius_sim,
    url_of=lambda served: served,
    entry_data=_fluvius_data,
    title=f"Fluvius {fluvius.DEMO_CLIENT_ID} (sandbox)",
    unique_id=f"fluvius_{fluvius.DEMO_TENANT}_{fluvius.DEMO_CLIENT_ID}",
    history_days=3,
    rotate=_fluvius_rotate,
    reauth_fields=["client_secret", "subscription_key"],
    reauth_data=lambda old: old | {"client_secret": "renewed-secret"},
    reconfigure=_fluvius_reconfigure,
    option_defaults={CONF_HISTORY_DAYS: 3, CONF_METERS: FLUVIUS_METERS},
    option_choice={CONF_HISTORY_DAYS: 1, CONF_METERS: [fluvius.DIGITAL_EAN]},
    secrets=(
        fluvius.DEMO_CLIENT_SECRET,
        fluvius.DEMO_SUBSCRIPTION_KEY,
        "sim-access-token",
    ),
    redacted={"client_secret": REDACTED, "subscription_key": REDACTED},
    meters=frozenset({fluvius.DIGITAL_EAN}),
    all_meters=False,
)

CASES = (CEMM, KENTER, WATTWORX, DTL, FLUVIUS)

#: ``@all_providers`` runs a test once per provider (ids: cemm, kenter, ...).
all_providers = pytest.mark.parametrize("case", CASES, ids=str)


async def serve_case(
    case: ProviderCase, serve: Any, now: datetime | None = None
) -> tuple[Sim, str]:
    """Return a fresh simulator of ``case`` and its served base URL."""
    sim = case.make_sim(now or _now())
    return sim, case.url_of(await serve(sim.build_app()))
