"""Day and night registers of GET Energy answers: tariff series beside the totals."""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest

from custom_components.meetdata.api.errors import MeetdataResponseError
from custom_components.meetdata.api.models import Interval, Quantity
from custom_components.meetdata.providers.fluvius.client import parse_energy
from custom_components.meetdata.providers.fluvius.client.parse import EnergyMeter

Q = Quantity
START = "2025-01-06T10:00:00Z"


def _reg(value: Any, unit: str = "kWh", state: str = "READ") -> dict[str, Any]:
    return {"value": value, "unit": unit, "validationState": state}


def _quarter(registers: dict[str, Any], direction: str = "offtake") -> bytes:
    """Return a digital meter's answer of one quarter-hour with these registers."""
    return _answer(
        "metering-on-meter",
        physical=[
            {
                "meterID": "1SAG",
                "quarterHourlyEnergy": [
                    {"start": START, "measurements": [{direction: registers}]}
                ],
            }
        ],
    )


def _answer(kind: str, **parts: Any) -> bytes:
    head: dict[str, Any] = {"$type": kind, "ean": "541440110000000001"}
    head["energyType"] = "E"
    if "physical" in parts:
        head["physicalMeters"] = parts.pop("physical")
    head.update(parts)
    return orjson.dumps({"_meta": {}, "data": {"headpoint": head}})


def _fine(body: bytes) -> dict[Quantity, list[Interval]]:
    meter: EnergyMeter = parse_energy(body).headpoint
    return meter.fine


def _one(fine: dict[Quantity, list[Interval]], quantity: Quantity) -> tuple[float, str]:
    [item] = fine[quantity]
    return item.value, str(item.quality)


@pytest.mark.parametrize(
    ("registers", "day", "night"),
    [
        # A quarter-hour carries the register of its tariff only.
        ({"day": _reg(0.25)}, (0.25, "measured"), (0.0, "measured")),
        (
            {"night": _reg(0.125, "kWh", "EST")},
            (0.0, "estimated"),
            (0.125, "estimated"),
        ),
        # Generic path: string values, Wh, lower-case states.
        ({"day": _reg("250", "Wh", "read")}, (0.25, "measured"), (0.0, "measured")),
        # Both registers, the idle one 0 (or without value).
        ({"day": _reg(0.0), "night": _reg(0.5)}, (0.0, "measured"), (0.5, "measured")),
        ({"day": _reg(None), "night": _reg(0.5)}, (0.0, "measured"), (0.5, "measured")),
    ],
)
def test_lone_and_paired_registers(
    registers: dict[str, Any], day: tuple[float, str], night: tuple[float, str]
) -> None:
    """The total is day + night; a register the slice lacks counted 0."""
    fine = _fine(_quarter(registers))
    assert _one(fine, Q.ENERGY_IMPORT_DAY) == day
    assert _one(fine, Q.ENERGY_IMPORT_NIGHT) == night
    value, quality = _one(fine, Q.ENERGY_IMPORT)
    assert value == day[0] + night[0]
    assert quality == min(day[1], night[1], key=["estimated", "measured"].index)
    assert Q.ENERGY_EXPORT not in fine


def test_total_is_the_worst_quality_and_injection_splits_too() -> None:
    """A day with both registers: each keeps its state, the total the worst."""
    body = _answer(
        "metering-on-meter",
        physical=[
            {
                "dailyEnergy": [
                    {
                        "start": "2025-01-05T23:00:00Z",
                        "end": "2025-01-06T23:00:00Z",
                        "measurements": [
                            {
                                "offtake": {
                                    "day": _reg(7.5),
                                    "night": _reg(4.25, "kWh", "EST"),
                                },
                                "injection": {
                                    "day": _reg(3.0),
                                    "night": _reg(0.0),
                                },
                            }
                        ],
                    }
                ]
            }
        ],
    )
    daily = parse_energy(body).headpoint.daily
    assert _one(daily, Q.ENERGY_IMPORT) == (11.75, "estimated")
    assert _one(daily, Q.ENERGY_IMPORT_DAY) == (7.5, "measured")
    assert _one(daily, Q.ENERGY_IMPORT_NIGHT) == (4.25, "estimated")
    assert _one(daily, Q.ENERGY_EXPORT) == (3.0, "measured")
    assert _one(daily, Q.ENERGY_EXPORT_DAY) == (3.0, "measured")
    assert _one(daily, Q.ENERGY_EXPORT_NIGHT) == (0.0, "measured")


def test_registers_win_over_a_disagreeing_total(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The bill prices the registers: a total beside them that differs is ignored."""
    caplog.set_level(logging.DEBUG)
    fine = _fine(_quarter({"total": _reg(9.0), "day": _reg(0.25), "night": _reg(0.5)}))
    assert _one(fine, Q.ENERGY_IMPORT) == (0.75, "measured")
    assert _one(fine, Q.ENERGY_IMPORT_DAY) == (0.25, "measured")
    assert "not its day + night registers" in caplog.text
    caplog.clear()
    # A total that agrees, beside a lone register, is no news.
    fine = _fine(_quarter({"total": _reg(0.25), "night": _reg(0.25)}))
    assert _one(fine, Q.ENERGY_IMPORT) == (0.25, "measured")
    assert _one(fine, Q.ENERGY_IMPORT_DAY) == (0.0, "measured")
    assert "registers count" not in caplog.text


def test_totals_only_have_no_split() -> None:
    """AMR totals (day and night combined) and reactive registers: no tariffs."""
    body = _answer(
        "metering-on-headpoint",
        quarterHourlyEnergy=[
            {
                "start": START,
                "measurements": [
                    {
                        "injection": {
                            "total": _reg(1.0, "kWh", "VAL"),
                            "inductive": _reg(0.5, "kVArh", "VAL"),
                        }
                    }
                ],
            }
        ],
    )
    fine = _fine(body)
    assert set(fine) == {Q.ENERGY_EXPORT, Q.REACTIVE_ENERGY_INDUCTIVE}


def test_split_registers_keep_reactive_registers() -> None:
    """A lone day register beside reactive ones: split and reactive both kept."""
    fine = _fine(
        _quarter({"night": _reg(0.5), "capacitive": _reg(0.25, "kVArh")}, "injection")
    )
    assert _one(fine, Q.ENERGY_EXPORT_NIGHT) == (0.5, "measured")
    assert _one(fine, Q.ENERGY_EXPORT_DAY) == (0.0, "measured")
    assert _one(fine, Q.REACTIVE_ENERGY_CAPACITIVE) == (0.25, "measured")


def test_production_registers_are_summed_without_split() -> None:
    """Only offtake and injection have tariffs: other directions add up as before."""
    body = _answer(
        "metering-on-headpoint",
        quarterHourlyEnergy=[
            {
                "start": START,
                "measurements": [
                    {"production": {"day": _reg(1.0), "night": _reg(2.0)}},
                    {"auxiliary": {"night": _reg(0.5)}},
                ],
            }
        ],
    )
    fine = _fine(body)
    assert set(fine) == {Q.PRODUCTION, Q.AUXILIARY}
    assert _one(fine, Q.PRODUCTION) == (3.0, "measured")
    assert _one(fine, Q.AUXILIARY) == (0.5, "measured")


@pytest.mark.parametrize(
    ("registers", "value"),
    [
        ({"day": _reg(1.0), "night": _reg(None)}, 1.0),  # a register without value
        ({"day": _reg(1.5)}, 1.5),  # a lone register
        ({"total": _reg(4.0), "day": _reg(1.0), "night": _reg(2.0)}, 4.0),
    ],
)
def test_production_total_wins_and_lone_registers(
    registers: dict[str, Any], value: float
) -> None:
    """Without a split, a total beats day/night; lone or valueless ones as before."""
    body = _answer(
        "metering-on-headpoint",
        quarterHourlyEnergy=[
            {"start": START, "measurements": [{"production": registers}]}
        ],
    )
    assert _one(_fine(body), Q.PRODUCTION) == (value, "measured")


def test_gas_day_and_night_volumes_add_up() -> None:
    """Gas has no tariffs: day and night volumes are one m³ series."""
    body = orjson.dumps(
        {
            "data": {
                "headpoint": {
                    "$type": "metering-on-headpoint-and-meter",
                    "ean": "541441010000000001",
                    "energyType": "G",
                    "hourlyEnergy": [
                        {
                            "start": START,
                            "measurements": [
                                {
                                    "offtake": {
                                        "day": _reg(1, "m3"),
                                        "night": _reg(2, "m3"),
                                    }
                                },
                                {
                                    "offtake": {
                                        "total": {
                                            **_reg(33.0),
                                            "gasConversionFactor": "D",
                                        }
                                    }
                                },
                            ],
                        }
                    ],
                }
            }
        }
    )
    head = parse_energy(body).headpoint
    assert _one(head.fine, Q.GAS_VOLUME) == (3.0, "measured")
    assert _one(head.fine, Q.GAS_ENERGY) == (33.0, "measured")
    assert head.gas_conversion_factor == "D"
    assert set(head.fine) == {Q.GAS_VOLUME, Q.GAS_ENERGY}


def test_ean_level_total_keeps_meter_level_split_out() -> None:
    """The EAN level's total wins; the meter level's split of it is not mixed in."""
    slice_ = {"start": START}
    body = _answer(
        "metering-on-headpoint-and-meter",
        quarterHourlyEnergy=[
            {**slice_, "measurements": [{"offtake": {"total": _reg(1.0)}}]}
        ],
        physical=[
            {
                "quarterHourlyEnergy": [
                    {
                        **slice_,
                        "measurements": [
                            {
                                "offtake": {"day": _reg(0.75)},
                                "injection": {"night": _reg(0.5)},
                            }
                        ],
                    }
                ]
            }
        ],
    )
    fine = _fine(body)
    assert _one(fine, Q.ENERGY_IMPORT) == (1.0, "measured")
    assert Q.ENERGY_IMPORT_DAY not in fine
    assert Q.ENERGY_IMPORT_NIGHT not in fine
    # Injection only exists on the meter level: filled with its split.
    assert _one(fine, Q.ENERGY_EXPORT) == (0.5, "measured")
    assert _one(fine, Q.ENERGY_EXPORT_NIGHT) == (0.5, "measured")


def test_meter_exchange_sums_tariffs_per_quarter() -> None:
    """Two physical meters in one quarter: totals and tariffs add up alike."""

    def meter(meter_id: str, registers: dict[str, Any]) -> dict[str, Any]:
        return {
            "meterID": meter_id,
            "quarterHourlyEnergy": [
                {"start": START, "measurements": [{"offtake": registers}]}
            ],
        }

    body = _answer(
        "metering-on-meter",
        physical=[
            meter("OLD", {"day": _reg(0.25)}),
            meter("NEW", {"day": _reg(0.5, "kWh", "EST")}),
        ],
    )
    fine = _fine(body)
    assert _one(fine, Q.ENERGY_IMPORT) == (0.75, "estimated")
    assert _one(fine, Q.ENERGY_IMPORT_DAY) == (0.75, "estimated")
    assert _one(fine, Q.ENERGY_IMPORT_NIGHT) == (0.0, "estimated")


@pytest.mark.parametrize(
    "registers",
    [
        {"day": _reg(1.0, "m3")},
        {"day": _reg(1.0), "night": _reg(1.0, "kVArh")},
        {"night": _reg(1.0, "kVArh")},
        {"day": 3},
        {"day": _reg(1.0), "night": {"unit": "kWh"}},
    ],
)
def test_bad_tariff_registers(registers: dict[str, Any]) -> None:
    """A day/night register that is not active energy is a response error."""
    with pytest.raises(MeetdataResponseError):
        parse_energy(_quarter(registers))


def test_production_day_and_night_in_different_units() -> None:
    """Summed registers of one slice must be of one kind."""
    body = _answer(
        "metering-on-headpoint",
        quarterHourlyEnergy=[
            {
                "start": START,
                "measurements": [
                    {"production": {"day": _reg(1.0), "night": _reg(1.0, "m3")}}
                ],
            }
        ],
    )
    with pytest.raises(MeetdataResponseError):
        parse_energy(body)


@pytest.mark.parametrize("registers", [{"day": _reg(1.0, "m3")}])
def test_volume_in_an_electricity_tariff(registers: dict[str, Any]) -> None:
    """A volume in an offtake day register is no electricity: refused."""
    with pytest.raises(MeetdataResponseError, match="not active energy"):
        parse_energy(_quarter(registers))
