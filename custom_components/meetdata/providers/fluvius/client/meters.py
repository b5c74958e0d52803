"""Fluvius meters: entry attributes from mandates, models, submeters, merged answers."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from ....api.errors import MeetdataInvalidRequestError, MeetdataResponseError
from ....api.models import Meter, MeterKind
from .mandates import (
    DataServiceType,
    EnergyType,
    Granularity,
    Mandate,
    format_utc,
    parse_utc,
)
from .parse import EnergyData, EnergyMeter, SeriesMap
from .provider import PROVIDER

_METERING_MODELS: Final = {
    "metering-on-meter": "Digital meter",
    "metering-on-headpoint": "AMR meter",
    "metering-on-headpoint-and-meter": "Digital meter (EAN and meter level)",
}


_SUBMETER_MODELS: Final = {
    MeterKind.PRODUCTION: "production submeter",
    MeterKind.AUXILIARY: "auxiliary submeter",
}


# Meter attribute names (strings, as Meter.attributes holds strings only).
ATTR_EAN: Final = "ean"


ATTR_ENERGY_TYPE: Final = "energyType"


ATTR_DATA_SERVICE_TYPE: Final = "dataServiceType"


ATTR_DATA_SERVICE_TYPES: Final = "dataServiceTypes"


ATTR_PERIOD_FROM: Final = "dataPeriodFrom"


ATTR_PERIOD_TO: Final = "dataPeriodTo"


ATTR_DAILY_FROM: Final = "dailyPeriodFrom"


ATTR_DAILY_TO: Final = "dailyPeriodTo"


ATTR_FINE_FROM: Final = "quarterHourlyPeriodFrom"


ATTR_FINE_TO: Final = "quarterHourlyPeriodTo"


ATTR_STATUS: Final = "status"


ATTR_RENEWAL_STATUS: Final = "renewalStatus"


ATTR_EXPIRATION: Final = "expiration"


ATTR_REFERENCE: Final = "referenceNumber"


ATTR_METERING_TYPE: Final = "meteringType"


ATTR_HEADPOINT: Final = "headpoint"


ATTR_SEQ_NUMBER: Final = "seqNumber"


ATTR_INSTALLATION_TYPE: Final = "installationType"


ATTR_GCF: Final = "gasConversionFactor"


_PERIOD_ATTRS: Final = {
    Granularity.DAILY: (ATTR_DAILY_FROM, ATTR_DAILY_TO),
    Granularity.HOURLY_QUARTERHOURLY: (ATTR_FINE_FROM, ATTR_FINE_TO),
}


def _attr_time(meter: Meter, name: str) -> datetime | None:
    """Read an ISO timestamp attribute of a meter ("" or absent: None)."""
    raw = meter.attributes.get(name)
    if not raw:
        return None
    try:
        return parse_utc(raw, name)
    except MeetdataResponseError:
        return None


def _check_ean(ean: str) -> None:
    """Refuse an EAN that is not 18 digits before sending anything."""
    if len(ean) != 18 or not ean.isdigit():
        raise MeetdataInvalidRequestError("An EAN must be 18 digits", meter=ean)


def _request_ean(meter: Meter) -> str:
    """Return the EAN to ask GET Energy for: the headpoint for submeters."""
    return meter.attributes.get(ATTR_HEADPOINT) or meter.via or meter.key


def _mandate_attributes(ean: str, mandates: list[Mandate]) -> dict[str, str]:
    """Summarize the approved mandates of one EAN as Meter attributes."""
    services = sorted({m.data_service_type for m in mandates if m.data_service_type})
    attrs: dict[str, str] = {ATTR_EAN: ean}
    first = mandates[0]
    if first.energy_type is not None:
        attrs[ATTR_ENERGY_TYPE] = first.energy_type.value
    if services:
        attrs[ATTR_DATA_SERVICE_TYPES] = ",".join(s.value for s in services)
        attrs[ATTR_DATA_SERVICE_TYPE] = (
            DataServiceType.QUARTER_HOURLY.value
            if DataServiceType.QUARTER_HOURLY in services
            else DataServiceType.DAILY.value
        )
    froms = [m.data_period_from for m in mandates]
    tos = [m.data_period_to for m in mandates]
    attrs[ATTR_PERIOD_FROM] = "" if None in froms else _iso(min(f for f in froms if f))
    attrs[ATTR_PERIOD_TO] = "" if None in tos else _iso(max(t for t in tos if t))
    for mandate in mandates:
        if mandate.data_service_type is None:
            continue
        granularity = (
            Granularity.DAILY
            if mandate.data_service_type is DataServiceType.DAILY
            else Granularity.HOURLY_QUARTERHOURLY
        )
        lo_attr, hi_attr = _PERIOD_ATTRS[granularity]
        attrs[lo_attr] = _iso(mandate.data_period_from)
        attrs[hi_attr] = _iso(mandate.data_period_to)
    attrs[ATTR_STATUS] = first.status.value if first.status else ""
    renewals = [m.renewal_status for m in mandates if m.renewal_status]
    attrs[ATTR_RENEWAL_STATUS] = renewals[0].value if renewals else ""
    expirations = [m.expiration for m in mandates if m.expiration]
    attrs[ATTR_EXPIRATION] = _iso(min(expirations)) if expirations else ""
    references = [m.reference_number for m in mandates if m.reference_number]
    if references:
        attrs[ATTR_REFERENCE] = references[0]
    return attrs


def _model(base: str | None, attrs: dict[str, str], *, gas: bool) -> str:
    """Describe a meter: its type, energy type and finest mandated detail level.

    E.g. "Digital meter · electricity · quarter-hour" or "PV production
    submeter · quarter-hour" (submeters share the headpoint's energy type).
    """
    service = attrs.get(ATTR_DATA_SERVICE_TYPE)
    level = {
        DataServiceType.QUARTER_HOURLY.value: "hourly" if gas else "quarter-hour",
        DataServiceType.DAILY.value: "daily",
    }.get(service or "")
    energy = None if base and "submeter" in base else ("gas" if gas else "electricity")
    parts = [part for part in (base, energy, level) if part]
    text = " · ".join(parts)
    return text[:1].upper() + text[1:]


def _submeter(sub: EnergyMeter, head_ean: str, head_attrs: dict[str, str]) -> Meter:
    """Build the Meter of an AMR submeter (its own EAN, via the headpoint)."""
    attributes = {
        k: v
        for k, v in head_attrs.items()
        if k not in (ATTR_EAN, ATTR_METERING_TYPE, ATTR_GCF)
    }
    attributes[ATTR_EAN] = sub.ean
    attributes[ATTR_HEADPOINT] = head_ean
    attributes[ATTR_METERING_TYPE] = sub.metering_type
    if sub.seq_number:
        attributes[ATTR_SEQ_NUMBER] = sub.seq_number
    if sub.installation_type:
        attributes[ATTR_INSTALLATION_TYPE] = sub.installation_type
    return Meter(
        provider=PROVIDER,
        key=sub.ean,
        kind=sub.kind,
        model=_model(
            " ".join(
                filter(
                    None,
                    (
                        sub.installation_type,
                        _SUBMETER_MODELS.get(sub.kind, "submeter"),
                    ),
                )
            ),
            attributes,
            gas=sub.energy_type is EnergyType.GAS,
        ),
        serial=sub.meter_ids[0] if sub.meter_ids else None,
        via=head_ean,
        attributes=attributes,
    )


def _merge(parts: list[EnergyData]) -> EnergyData:
    """Concatenate the per-window answers of one EAN, meter by meter."""
    first = parts[0]
    if len(parts) == 1:
        return first
    merged = EnergyData(
        headpoint=_copy_meter(first.headpoint),
        submeters=[_copy_meter(s) for s in first.submeters],
    )
    for part in parts[1:]:
        for meter in part.meters():
            target = merged.meter(meter.ean)
            if target is None:
                target = _copy_meter(meter)
                target.daily, target.fine = {}, {}
                merged.submeters.append(target)
            _extend(target.daily, meter.daily)
            _extend(target.fine, meter.fine)
            for meter_id in meter.meter_ids:
                if meter_id not in target.meter_ids:
                    target.meter_ids.append(meter_id)
            target.gas_conversion_factor = (
                meter.gas_conversion_factor or target.gas_conversion_factor
            )
    return merged


def _copy_meter(meter: EnergyMeter) -> EnergyMeter:
    """Copy an EnergyMeter with fresh series lists (cached answers stay intact)."""
    return EnergyMeter(
        ean=meter.ean,
        kind=meter.kind,
        metering_type=meter.metering_type,
        energy_type=meter.energy_type,
        via=meter.via,
        seq_number=meter.seq_number,
        installation_type=meter.installation_type,
        meter_ids=list(meter.meter_ids),
        gas_conversion_factor=meter.gas_conversion_factor,
        daily={q: list(v) for q, v in meter.daily.items()},
        fine={q: list(v) for q, v in meter.fine.items()},
    )


def _extend(target: SeriesMap, extra: SeriesMap) -> None:
    """Append the series of a later window."""
    for quantity, intervals in extra.items():
        target.setdefault(quantity, []).extend(intervals)


def _iso(moment: datetime | None) -> str:
    """Format an optional timestamp for Meter.attributes ("" when open)."""
    return format_utc(moment) if moment else ""
