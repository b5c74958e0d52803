"""The sandbox's fictitious EAN scheme (addendum "POST Create Mock Mandate").

A sandbox EAN ``5414 M E D G S 000000 NNN`` encodes: M meter (4 digital,
5 AMR), E energy (0 electricity, 1 gas), D direction (0 offtake only,
1 offtake and injection - digital only, 2 injection only - AMR only),
G detail level (0 VH_dag, 1 VH_kwartier_uur), S submeter (0 none,
1 production (and auxiliary) - AMR only, 2 non-production - AMR only) and
NNN one of 1000 data models. Only the addendum's combinations are allowed.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .mandates import DataServiceType, EnergyType


class MeterType(StrEnum):
    """Digital meter or AMR (telemetered) meter."""

    DIGITAL = "digital"
    AMR = "amr"


class Direction(StrEnum):
    """Which directions the headpoint measures."""

    OFFTAKE = "offtake"
    OFFTAKE_INJECTION = "offtake_injection"
    INJECTION = "injection"


# (meter, energy, direction, submeter) digits of the addendum's tables.
_ALLOWED = frozenset(
    {
        ("5", "0", "2", "0"),
        ("5", "0", "0", "0"),
        ("5", "1", "2", "0"),
        ("5", "1", "0", "0"),
        ("4", "0", "0", "0"),
        ("4", "0", "1", "0"),
        ("4", "1", "0", "0"),
        ("5", "0", "2", "1"),
        ("5", "0", "0", "1"),
        ("5", "0", "0", "2"),
        ("5", "1", "0", "2"),
    }
)
# Data model number ranges of the production submeters: (last, type, auxiliary).
_PRODUCTION_MODELS = (
    (99, "PV", True),
    (199, "PV", False),
    (299, "WTR", True),
    (399, "WTR", False),
    (499, "WND", True),
    (599, "WND", False),
    (999, "WKKA", False),
)
_DIRECTIONS = {
    "0": Direction.OFFTAKE,
    "1": Direction.OFFTAKE_INJECTION,
    "2": Direction.INJECTION,
}


@dataclass(frozen=True, slots=True)
class SandboxEan:
    """What a sandbox EAN says about the meter the sandbox will simulate."""

    ean: str
    meter_type: MeterType
    energy_type: EnergyType
    direction: Direction
    data_service_type: DataServiceType
    production_submeter: str | None
    auxiliary_submeter: bool
    non_production_submeter: bool
    model: int


def decode_sandbox_ean(ean: str) -> SandboxEan | None:
    """Decode a sandbox EAN; None when it is not one of the allowed combinations."""
    if len(ean) != 18 or not ean.isdigit() or not ean.startswith("5414"):
        return None
    meter, energy, direction, detail, sub = ean[4], ean[5], ean[6], ean[7], ean[8]
    if ean[9:15] != "000000" or detail not in "01":
        return None
    if (meter, energy, direction, sub) not in _ALLOWED:
        return None
    model = int(ean[15:])
    production: str | None = None
    auxiliary = False
    if sub == "1":
        for last, kind, aux in _PRODUCTION_MODELS:
            if model <= last:
                production, auxiliary = kind, aux
                break
    return SandboxEan(
        ean=ean,
        meter_type=MeterType.DIGITAL if meter == "4" else MeterType.AMR,
        energy_type=EnergyType.ELECTRICITY if energy == "0" else EnergyType.GAS,
        direction=_DIRECTIONS[direction],
        data_service_type=(
            DataServiceType.DAILY if detail == "0" else DataServiceType.QUARTER_HOURLY
        ),
        production_submeter=production,
        auxiliary_submeter=auxiliary,
        non_production_submeter=sub == "2",
        model=model,
    )
