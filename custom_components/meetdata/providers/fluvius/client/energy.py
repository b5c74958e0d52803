"""Parse a Fluvius energy answer: the headpoint, its submeters, their merged series."""

from __future__ import annotations

from typing import Any, Final

import orjson

from ....api.errors import MeetdataResponseError
from ....api.models import Interval, MeterKind, Quantity
from .mandates import EnergyType
from .parse import (
    _RANK,
    SUBMETERING_AUXILIARY,
    SUBMETERING_OFFTAKE,
    SUBMETERING_PRODUCTION,
    TARIFF_SPLIT,
    EnergyData,
    EnergyMeter,
    SeriesMap,
    _ascending,
    _Parser,
)

Q = Quantity

# Direction tables per kind of owner: direction -> active energy quantity.
# Day and night registers of offtake and injection add up to that quantity
# and are series of their own as well (parse.TARIFF_SPLIT).
_ELECTRICITY_DIRECTIONS: Final[dict[str, Quantity]] = {
    "offtake": Q.ENERGY_IMPORT,
    "injection": Q.ENERGY_EXPORT,
    "production": Q.PRODUCTION,
    "auxiliary": Q.AUXILIARY,
}


# Gas injection (sandbox "AMR gas injectie") has no Quantity: not mapped.
_GAS_DIRECTIONS: Final[dict[str, Quantity]] = {"offtake": Q.GAS_ENERGY}


_PRODUCTION_DIRECTIONS: Final[dict[str, Quantity]] = {
    "production": Q.PRODUCTION,
    "injection": Q.PRODUCTION,
    "auxiliary": Q.AUXILIARY,
    "offtake": Q.AUXILIARY,
}


_AUXILIARY_DIRECTIONS: Final[dict[str, Quantity]] = {
    "auxiliary": Q.AUXILIARY,
    "offtake": Q.AUXILIARY,
    "production": Q.PRODUCTION,
    "injection": Q.PRODUCTION,
}


#: Day or night quantity -> its total.
_TOTAL_OF: Final = {
    tariff: total for total, split in TARIFF_SPLIT.items() for tariff in split
}


SUBMETER_KINDS: Final[dict[str, MeterKind]] = {
    SUBMETERING_PRODUCTION: MeterKind.PRODUCTION,
    SUBMETERING_AUXILIARY: MeterKind.AUXILIARY,
}


def _normalized(series: SeriesMap) -> SeriesMap:
    """Sort each series and sum intervals that share a start (meter exchanges)."""
    for quantity, intervals in series.items():
        if _ascending(intervals):
            continue
        intervals.sort(key=lambda i: i.start)
        merged: list[Interval] = []
        for item in intervals:
            if merged and merged[-1].start == item.start:
                prev = merged[-1]
                merged[-1] = Interval(
                    prev.start,
                    max(prev.end, item.end),
                    prev.value + item.value,
                    min(prev.quality, item.quality, key=_RANK.__getitem__),
                )
            else:
                merged.append(item)
        series[quantity] = merged
    return series


def _combine(target: SeriesMap, extra: SeriesMap, *, fill_only: bool) -> SeriesMap:
    """Merge ``extra`` into ``target``: fill missing quantities, or sum all.

    A day/night split is filled only together with its total, so that the
    total stays the sum of its tariffs.
    """
    had = set(target)
    for quantity, intervals in extra.items():
        if quantity not in target:
            if fill_only and _TOTAL_OF.get(quantity) in had:
                continue
            target[quantity] = intervals
        elif not fill_only:
            target[quantity] = target[quantity] + intervals
    return _normalized(target) if not fill_only else target


def _str(value: object) -> str | None:
    """Return a string form of an id field (numbers allowed)."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _energy_type(value: object) -> EnergyType | None:
    """Parse energyType E/G."""
    if isinstance(value, str):
        folded = value.strip().upper()
        for member in EnergyType:
            if member.value == folded:
                return member
    return None


def parse_headpoint(data: dict[str, Any]) -> EnergyData:
    """Parse the ``data`` object of a GET Energy answer."""
    head = data.get("headpoint")
    if not isinstance(head, dict):
        raise MeetdataResponseError("Fluvius energy response has no headpoint")
    ean = _str(head.get("ean"))
    if ean is None:
        raise MeetdataResponseError("Fluvius headpoint has no EAN")
    metering_type = head.get("$type")
    if not isinstance(metering_type, str):
        raise MeetdataResponseError("Fluvius headpoint has no $type")
    energy_type = _energy_type(head.get("energyType"))
    gas = energy_type is EnergyType.GAS
    directions = _GAS_DIRECTIONS if gas else _ELECTRICITY_DIRECTIONS
    parser = _Parser(gas=gas)
    meter = EnergyMeter(
        ean=ean,
        kind=MeterKind.GAS if gas else MeterKind.ELECTRICITY,
        metering_type=metering_type,
        energy_type=energy_type,
    )
    # Headpoint-level slices (AMR, and the EAN level of headpoint-and-meter).
    meter.daily, meter.fine = parser.container(head, directions)
    physical = head.get("physicalMeters") or []
    if not isinstance(physical, list):
        raise MeetdataResponseError("Fluvius physicalMeters is not a list")
    on_meter_daily: SeriesMap = {}
    on_meter_fine: SeriesMap = {}
    seen: list[dict[str, Any]] = []
    for item in physical:
        if not isinstance(item, dict):
            raise MeetdataResponseError("Fluvius physical meter is not an object")
        if item in seen:
            continue  # the same meter listed twice is not a meter exchange
        seen.append(item)
        meter_id = _str(item.get("meterID"))
        if meter_id and meter_id not in meter.meter_ids:
            meter.meter_ids.append(meter_id)
        daily, fine = parser.container(item, directions)
        # Several physical meters (a meter exchange): their values add up.
        _combine(on_meter_daily, daily, fill_only=False)
        _combine(on_meter_fine, fine, fill_only=False)
    # The EAN level wins; the meter level fills what it lacks (e.g. gas m³).
    _combine(meter.daily, on_meter_daily, fill_only=True)
    _combine(meter.fine, on_meter_fine, fill_only=True)
    meter.gas_conversion_factor = parser.gcf

    subs = head.get("subHeadpoints")
    if subs is None:
        subs = data.get("subHeadpoints")
    if subs is not None and not isinstance(subs, list):
        raise MeetdataResponseError("Fluvius subHeadpoints is not a list")
    submeters: dict[str, EnergyMeter] = {}
    for sub in subs or []:
        parsed = _parse_submeter(sub, meter)
        submeters.setdefault(parsed.ean, parsed)  # a repeated submeter counts once
    return EnergyData(headpoint=meter, submeters=list(submeters.values()))


def _parse_submeter(sub: object, head: EnergyMeter) -> EnergyMeter:
    """Parse one subHeadpoint (AMR submeter with its own EAN)."""
    if not isinstance(sub, dict):
        raise MeetdataResponseError("Fluvius subHeadpoint is not an object")
    ean = _str(sub.get("ean"))
    if ean is None:
        raise MeetdataResponseError("Fluvius subHeadpoint has no EAN")
    sub_type = sub.get("$type")
    sub_type = sub_type if isinstance(sub_type, str) else SUBMETERING_OFFTAKE
    kind = SUBMETER_KINDS.get(sub_type, head.kind)
    if kind is MeterKind.PRODUCTION:
        directions = _PRODUCTION_DIRECTIONS
    elif kind is MeterKind.AUXILIARY:
        directions = _AUXILIARY_DIRECTIONS
    elif kind is MeterKind.GAS:
        directions = _GAS_DIRECTIONS
    else:
        directions = _ELECTRICITY_DIRECTIONS
    parser = _Parser(gas=head.energy_type is EnergyType.GAS)
    meter = EnergyMeter(
        ean=ean,
        kind=kind,
        metering_type=sub_type,
        energy_type=head.energy_type,
        via=head.ean,
        seq_number=_str(sub.get("seqNumber")),
        installation_type=_str(sub.get("type")),
    )
    meter.daily, meter.fine = parser.container(sub, directions)
    meter_id = _str(sub.get("meterID"))
    if meter_id:
        meter.meter_ids.append(meter_id)
    return meter


def parse_energy(body: bytes) -> EnergyData:
    """Decode and parse a GET Energy body (``{"_meta": ..., "data": {...}}``)."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise MeetdataResponseError("Fluvius energy response is not JSON") from None
    data = payload.get("data") if isinstance(payload, dict) else None
    if not isinstance(data, dict):
        raise MeetdataResponseError("Fluvius energy response has no data object")
    return parse_headpoint(data)
