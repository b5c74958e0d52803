"""Map Wattworx records onto the shared Meetdata models."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from itertools import pairwise
import logging
from typing import cast

from ....api.errors import MeetdataResponseError
from ....api.models import Interval, IntervalSeries, Meter, MeterKind, Quantity, Reading
from .models import DayDetailValue, DayValue, Device, Registers
from .provider import PROVIDER
from .times import day_end

_LOGGER = logging.getLogger(__name__)

QUARTER = timedelta(minutes=15)

ATTR_DEVICE_ID = "device_id"
ATTR_EANTYPE = "eantype"
ATTR_METER_ID = "meter_id"
ATTR_GRID_OPERATOR = "grid_operator"
ATTR_CLIENT_ID = "client_id"
ATTR_CLIENT_NAME = "client_name"
ATTR_KVK = "kvk"
ATTR_AUTHORISATION = "authorisation"
ATTR_AUTHORISATION_STATUS = "authorisation_status"
ATTR_LAST_STATUS = "last_status"
ATTR_FIRST_DATA_DATE = "first_data_date"
ATTR_LAST_DATA_DATE = "last_data_date"


def format_address(device: Device) -> str | None:
    """Return 'STREET 1, 9999AA CITY' from the parts the device list gives."""
    place = " ".join(part for part in (device.zip, device.city) if part)
    return ", ".join(part for part in (device.address, place) if part) or None


def device_to_meter(device: Device) -> Meter | None:
    """Return the Meter of a device (None when its type is unknown)."""
    kind = device.kind
    if kind is None:
        _LOGGER.warning(
            "Skipping Wattworx EAN %s of unknown type %s", device.ean, device.eantype
        )
        return None
    client = device.client
    raw: dict[str, str | None] = {
        ATTR_DEVICE_ID: device.id,
        ATTR_EANTYPE: device.eantype,
        ATTR_METER_ID: device.meter_id,
        ATTR_GRID_OPERATOR: device.rnb,
        ATTR_LAST_STATUS: device.last_status,
    }
    if client is not None:
        raw |= {
            ATTR_CLIENT_ID: client.id,
            ATTR_CLIENT_NAME: client.name,
            ATTR_AUTHORISATION: client.authorisation,
            ATTR_AUTHORISATION_STATUS: client.authorisation_status,
            ATTR_FIRST_DATA_DATE: _iso(client.first_data_date),
            ATTR_LAST_DATA_DATE: _iso(client.last_data_date),
        }
    return Meter(
        provider=PROVIDER,
        key=device.ean,
        kind=kind,
        name=f"{device.address or device.ean} ({device.eantype})",
        address=format_address(device),
        model=" · ".join(part for part in (device.eantype, device.rnb) if part),
        serial=device.meter_id,
        via=client_key(client.id) if client is not None else None,
        attributes={key: value for key, value in raw.items() if value},
    )


def client_key(client_id: str) -> str:
    """Return the meter key of the gateway that stands for a client."""
    return f"client_{client_id}"


def client_meters(devices: Iterable[Device]) -> list[Meter]:
    """Return one gateway meter per client that owns one of these devices.

    A multi-client key reaches the EANs of several clients; each client is
    a device in Home Assistant that its EANs hang under.
    """
    clients: dict[str, Meter] = {}
    for device in devices:
        client = device.client
        if client is None or client.id in clients:
            continue
        raw = {ATTR_CLIENT_ID: client.id, ATTR_CLIENT_NAME: client.name}
        if client.kvk:
            raw[ATTR_KVK] = client.kvk
        clients[client.id] = Meter(
            provider=PROVIDER,
            key=client_key(client.id),
            kind=MeterKind.GATEWAY,
            name=client.name or f"Wattworx client {client.id}",
            model="Client",
            attributes={key: value for key, value in raw.items() if value},
        )
    return list(clients.values())


def _iso(day: date | None) -> str | None:
    """Return an ISO date or None."""
    return day.isoformat() if day is not None else None


def unique_devices(devices: Iterable[Device]) -> dict[str, Device]:
    """Return one device per EAN, the one with the latest data on duplicates."""
    result: dict[str, Device] = {}
    for device in devices:
        known = result.get(device.ean)
        if known is None or _last_date(device) > _last_date(known):
            result[device.ean] = device
    return result


def _last_date(device: Device) -> date:
    """Return the last data date of a device, or date.min."""
    if device.client is None or device.client.last_data_date is None:
        return date.min
    return device.client.last_data_date


def latest_readings(
    kind: MeterKind, day: DayValue | None, last_data_date: date
) -> dict[Quantity, Reading]:
    """Return the registers of the newest day (at the end of that day).

    Day values are readings at the end of their (local) day; LAST_MEASUREMENT
    is the end of the last data date of the device list.
    """
    last = day_end(last_data_date)
    result = {Quantity.LAST_MEASUREMENT: Reading(Quantity.LAST_MEASUREMENT, last, last)}
    if day is None:
        return result
    moment = day_end(day.date)
    regs = day.readings
    if kind is MeterKind.GAS:
        pairs = [(Quantity.GAS_VOLUME, regs.gas)]
    else:
        pairs = [
            (Quantity.ENERGY_IMPORT_NORMAL, regs.cons),
            (Quantity.ENERGY_IMPORT_LOW, regs.cons_low),
            (Quantity.ENERGY_EXPORT_NORMAL, regs.prod),
            (Quantity.ENERGY_EXPORT_LOW, regs.prod_low),
        ]
    for quantity, value in pairs:
        if value is not None:
            result[quantity] = Reading(quantity, value, moment)
    return result


#: Register differences are rounded to this many decimals (kWh): readings
#: have at most four, so float noise never reaches a statistic.
_DIGITS = 6


@dataclass(frozen=True, slots=True)
class _Direction:
    """One direction of a connection: its amount, registers and quantities."""

    amount: Callable[[DayDetailValue], float | None]
    normal: Callable[[Registers], float | None]
    low: Callable[[Registers], float | None]
    total_q: Quantity
    normal_q: Quantity
    low_q: Quantity


_IMPORT = _Direction(
    lambda row: row.cons,
    lambda regs: regs.cons,
    lambda regs: regs.cons_low,
    Quantity.ENERGY_IMPORT,
    Quantity.ENERGY_IMPORT_NORMAL,
    Quantity.ENERGY_IMPORT_LOW,
)
_EXPORT = _Direction(
    lambda row: row.prod,
    lambda regs: regs.prod,
    lambda regs: regs.prod_low,
    Quantity.ENERGY_EXPORT,
    Quantity.ENERGY_EXPORT_NORMAL,
    Quantity.ENERGY_EXPORT_LOW,
)


def _tariff_split(
    direction: _Direction, before: Registers | None, after: Registers
) -> tuple[float, float] | None:
    """Return (normal, low) kWh between two readings (None: no exact split).

    Both readings need both registers of the direction; a register that
    decreases (a reset or a new meter) gives no split either.
    """
    if before is None:
        return None
    values = (
        direction.normal(before),
        direction.normal(after),
        direction.low(before),
        direction.low(after),
    )
    if any(value is None for value in values):
        return None
    n0, n1, l0, l1 = cast("tuple[float, float, float, float]", values)
    normal, low = round(n1 - n0, _DIGITS), round(l1 - l0, _DIGITS)
    if normal < 0 or low < 0:
        return None
    return normal, low


def electricity_series(
    meter_key: str, details: Sequence[DayDetailValue], start: datetime, end: datetime
) -> list[IntervalSeries]:
    """Return 15-minute import/export amounts, total and per tariff, in [start, end).

    A row is labelled with its quarter's start and carries the registers at
    the quarter's end, so a quarter's tariff amounts are the differences
    between its row's registers and the previous row's (the caller fetches
    the row before ``start``). Where both readings have both registers of a
    direction, the quarter's normal and low amounts are those differences and
    its total is their sum: the registers are what the bill uses, so they win
    over a ``kwhCons``/``kwhProd`` that disagrees. A quarter without that
    (a reading missing, a register that decreases at a reset or meter
    exchange) gets no tariff amounts and the kWh amount as its total. So
    every quarter has low + normal == total or no tariff amounts at all.

    With values=KWH every row carries the kWh amounts of its quarter
    (``kwhCons``/``kwhProd``); a row without either means the server did not
    honour values=KWH, which is refused rather than guessed around.
    """
    ordered: dict[datetime, DayDetailValue] = {}
    for row in details:
        if row.cons is None and row.prod is None:
            raise MeetdataResponseError(
                f"Wattworx day detail of {meter_key} without kWh amounts"
            )
        ordered[row.time] = row
    totals: list[IntervalSeries] = []
    tariffs: list[IntervalSeries] = []
    for direction in (_IMPORT, _EXPORT):
        total: list[Interval] = []
        normal: list[Interval] = []
        low: list[Interval] = []
        unsplit = 0
        for moment, row in sorted(ordered.items()):
            if not start <= moment < end:
                continue
            previous = ordered.get(moment - QUARTER)
            split = _tariff_split(
                direction,
                previous.readings if previous is not None else None,
                row.readings,
            )
            stop = moment + QUARTER
            if split is None:
                unsplit += 1
                amount = direction.amount(row)
                if amount is not None:
                    total.append(Interval(moment, stop, amount))
                continue
            normal.append(Interval(moment, stop, split[0]))
            low.append(Interval(moment, stop, split[1]))
            total.append(Interval(moment, stop, round(split[0] + split[1], _DIGITS)))
        if unsplit:
            _LOGGER.debug(
                "%s: %d quarters of %s without a tariff split (readings missing "
                "or decreasing)",
                meter_key,
                unsplit,
                direction.total_q,
            )
        totals.append(IntervalSeries(meter_key, direction.total_q, total))
        tariffs += [
            IntervalSeries(meter_key, direction.normal_q, normal),
            IntervalSeries(meter_key, direction.low_q, low),
        ]
    return totals + tariffs


def gas_series(
    meter_key: str, details: Sequence[DayDetailValue], start: datetime, end: datetime
) -> IntervalSeries:
    """Return gas amounts (m³) starting in [start, end) from meter readings.

    Gas rows are readings (``m3ConsReading``) at a moment (``timestamp``),
    hourly. The amount of [t_i, t_i+1) is reading_i+1 - reading_i, so the
    interval starting at the last hour of a window needs the first reading
    of the next one: the caller fetches one hour past ``end`` and joins all
    windows before taking differences. A decreasing reading (meter exchange)
    gives no interval; a gap gives one interval spanning it.
    """
    readings: dict[datetime, float] = {}
    for row in details:
        if row.readings.gas is not None:
            readings[row.time] = row.readings.gas
    points = sorted(readings.items())
    intervals: list[Interval] = []
    for (t0, r0), (t1, r1) in pairwise(points):
        if not start <= t0 < end:
            continue
        amount = round(r1 - r0, 6)
        if amount < 0:
            _LOGGER.debug("Gas reading of %s decreases at %s; skipped", meter_key, t1)
            continue
        intervals.append(Interval(t0, t1, amount))
    return IntervalSeries(meter_key, Quantity.GAS_VOLUME, intervals)
