"""DTL answers parsed: the meter list and the measurement rows as series and readings."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
import math
from typing import Any

import orjson

from ....api.errors import MeetdataResponseError
from ....api.models import (
    Interval,
    IntervalSeries,
    Meter,
    MeterKind,
    Quality,
    Quantity,
    Reading,
)
from .model import (
    _BOM,
    _ROW_FIELDS,
    INTERVAL,
    INTERVAL_HOURS,
    METING_QUANTITIES,
    METING_UNITS,
    TIMEZONE,
    DtlMeasurements,
    DtlMeterInfo,
    MeterType,
    MetingType,
    Sample,
)


def _load_array(body: bytes, what: str) -> list[Any]:
    """Decode a JSON array, or raise MeetdataResponseError."""
    try:
        data = orjson.loads(body.removeprefix(_BOM))
    except orjson.JSONDecodeError:
        raise MeetdataResponseError(f"The {what} answer is not valid JSON") from None
    if not isinstance(data, list):
        raise MeetdataResponseError(f"The {what} answer is not a JSON array")
    return data


def _ean(value: Any) -> str | None:
    """Return an EAN field as a string (JSON strings or integers)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, int):
        return str(value)
    return None


def _number(value: Any) -> float | None:
    """Return a finite number from a JSON number or numeric string."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _parse_moment(value: Any) -> datetime | None:
    """Parse datum_laatste_meting to UTC; no offset means Europe/Amsterdam."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TIMEZONE)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # year 1 or 9999 with an offset
        return None


def _parse_meters(
    body: bytes, customers: tuple[str, ...]
) -> tuple[list[DtlMeterInfo], int]:
    """Parse call 1; return the meters of our customers and the skipped count."""
    meters: list[DtlMeterInfo] = []
    seen: set[str] = set()
    skipped = 0
    for row in _load_array(body, "meters"):
        if not isinstance(row, dict):
            skipped += 1
            continue
        klant_ean = _ean(row.get("klant_ean"))
        meter_ean = _ean(row.get("meter_ean"))
        raw_type = row.get("meter_type")
        try:
            meter_type = MeterType(str(raw_type).strip().lower())
        except ValueError:
            meter_type = None
        if not klant_ean or not meter_ean or meter_type is None:
            skipped += 1
            continue
        if klant_ean not in customers or meter_ean in seen:
            continue
        seen.add(meter_ean)
        meters.append(
            DtlMeterInfo(
                klant_ean=klant_ean,
                meter_ean=meter_ean,
                meter_type=meter_type,
                datum_laatste_meting=_parse_moment(row.get("datum_laatste_meting")),
            )
        )
    return meters, skipped


@lru_cache(maxsize=4096)
def _local_candidates(local: datetime) -> tuple[datetime, ...]:
    """Return the UTC instants a naive Europe/Amsterdam time can mean (0, 1 or 2)."""
    result: list[datetime] = []
    for fold in (0, 1):
        moment = local.replace(tzinfo=TIMEZONE, fold=fold).astimezone(UTC)
        if (
            moment.astimezone(TIMEZONE).replace(tzinfo=None) == local
            and moment not in result
        ):
            result.append(moment)
    result.sort()
    return tuple(result)


class _RowReader:
    """Validates rows of call 2, parsing each distinct type and time only once.

    The five meting_types of an interval share its datum/tijd, and a 7-day
    window repeats five type/unit pairs 10 000 times: caching them makes the
    row check a few dictionary lookups.
    """

    __slots__ = ("_klant_ean", "_meter_ean", "_moments", "_types")

    def __init__(self, klant_ean: str, meter_ean: str) -> None:
        self._klant_ean = klant_ean
        self._meter_ean = meter_ean
        self._types: dict[tuple[str, str], MetingType | None] = {}
        self._moments: dict[tuple[str, str], datetime | None] = {}

    def read(self, row: Any) -> tuple[MetingType, datetime, float] | None:
        """Validate one row; return its type, time and value (None: malformed).

        The time is naive (Europe/Amsterdam wall time) or, when ``tijd`` carried
        an offset, aware UTC.
        """
        if not isinstance(row, dict) or not row.keys() >= _ROW_FIELDS:
            return None
        klant, meter = row["klant_ean"], row["meter_ean"]
        if (klant != self._klant_ean and _ean(klant) != self._klant_ean) or (
            meter != self._meter_ean and _ean(meter) != self._meter_ean
        ):
            return None
        raw_type, raw_unit = row["meting_type"], row["waarde_type"]
        if not isinstance(raw_type, str) or not isinstance(raw_unit, str):
            return None
        type_key = (raw_type, raw_unit)
        if type_key in self._types:
            meting_type = self._types[type_key]
        else:
            meting_type = self._types[type_key] = _meting_type(raw_type, raw_unit)
        if meting_type is None:
            return None
        value = _number(row["waarde"])
        raw_date, raw_time = row["datum"], row["tijd"]
        if (
            value is None
            or not isinstance(raw_date, str)
            or not isinstance(raw_time, str)
        ):
            return None
        time_key = (raw_date, raw_time)
        if time_key in self._moments:
            moment = self._moments[time_key]
        else:
            moment = self._moments[time_key] = _row_moment(raw_date, raw_time)
        if moment is None:
            return None
        return meting_type, moment, value


def _meting_type(raw_type: str, raw_unit: str) -> MetingType | None:
    """Return the meting_type of a row if its unit is the right one."""
    try:
        meting_type = MetingType(raw_type.strip().lower())
    except ValueError:
        return None
    if raw_unit.strip().lower() != METING_UNITS[meting_type].lower():
        return None
    return meting_type


def _row_moment(raw_date: str, raw_time: str) -> datetime | None:
    """Return the start of a row's 5-minute interval (None: malformed)."""
    try:
        day = date.fromisoformat(raw_date.strip())
        clock = time.fromisoformat(raw_time.strip())
    except ValueError:
        return None
    if clock.minute % 5 or clock.second or clock.microsecond:
        return None
    moment = datetime.combine(day, clock)
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC)
    return moment


def _parse_measurements(
    body: bytes, klant_ean: str, meter_ean: str, start: datetime, end: datetime
) -> DtlMeasurements:
    """Parse call 2: keep the rows whose interval starts in [start, end)."""
    values: dict[MetingType, list[Sample]] = {kind: [] for kind in MetingType}
    last: dict[MetingType, datetime] = {}
    seen: set[tuple[MetingType, datetime]] = set()
    candidates_of: dict[datetime, tuple[bool, list[datetime]]] = {}
    skipped = 0
    reader = _RowReader(klant_ean, meter_ean)
    for row in _load_array(body, "meetdata"):
        parsed = reader.read(row)
        if parsed is None:
            skipped += 1
            continue
        meting_type, moment, value = parsed
        # The instants a time can mean, and those inside [start, end): computed
        # once per distinct time (the meting_types of an interval share it).
        found = candidates_of.get(moment)
        if found is None:
            candidates = (
                _local_candidates(moment) if moment.tzinfo is None else (moment,)
            )
            inside = [c for c in candidates if start <= c < end]
            found = candidates_of[moment] = (bool(candidates), inside)
        if not found[0]:  # a wall time skipped in March
            skipped += 1
            continue
        inside = found[1]
        if not inside:
            continue
        previous = last.get(meting_type)
        # The repeated October hour: once this meting_type has passed the
        # first instant, the same wall time again is the second one (fold=1).
        if len(inside) == 2 and previous is not None and inside[0] <= previous:
            instant = inside[1]
        else:
            instant = inside[0]
        if (meting_type, instant) in seen:
            skipped += 1
            continue
        seen.add((meting_type, instant))
        last[meting_type] = instant if previous is None else max(previous, instant)
        values[meting_type].append((instant, value))
    for samples in values.values():
        samples.sort(key=lambda sample: sample[0])
    return DtlMeasurements(klant_ean, meter_ean, values, skipped)


def _mean_series(
    meter_key: str, quantity: Quantity, samples: list[Sample]
) -> IntervalSeries:
    """Build a series of 5-minute averages."""
    return IntervalSeries(
        meter_key,
        quantity,
        [
            Interval(start, start + INTERVAL, value, Quality.MEASURED)
            for start, value in samples
        ],
    )


def _split_series(
    meter_key: str,
    positive: Quantity,
    negative: Quantity,
    samples: list[Sample],
) -> list[IntervalSeries]:
    """Derive energy per interval from power (kW * 5/60) and split it by sign."""
    plus: list[Interval] = []
    minus: list[Interval] = []
    for start, power in samples:
        energy = power * INTERVAL_HOURS
        end = start + INTERVAL
        plus.append(Interval(start, end, max(energy, 0.0), Quality.MEASURED))
        minus.append(Interval(start, end, max(-energy, 0.0), Quality.MEASURED))
    return [
        IntervalSeries(meter_key, positive, plus),
        IntervalSeries(meter_key, negative, minus),
    ]


def _build_history(meter: Meter, data: DtlMeasurements) -> list[IntervalSeries]:
    """Turn measurements into the history series of ``meter``."""
    series = [
        _mean_series(meter.key, METING_QUANTITIES[kind], data.values[kind])
        for kind in MetingType
    ]
    power = data.values[MetingType.ACTIEF_VERMOGEN]
    if meter.kind is MeterKind.PRODUCTION:
        series += _split_series(
            meter.key, Quantity.AUXILIARY, Quantity.PRODUCTION, power
        )
    else:
        series += _split_series(
            meter.key, Quantity.ENERGY_IMPORT, Quantity.ENERGY_EXPORT, power
        )
    return series


def _build_latest(data: DtlMeasurements) -> dict[Quantity, Reading]:
    """Return the newest value of each meting_type and the newest interval start."""
    readings: dict[Quantity, Reading] = {}
    newest: datetime | None = None
    for kind in MetingType:
        samples = data.values[kind]
        if not samples:
            continue
        start, value = samples[-1]
        readings[METING_QUANTITIES[kind]] = Reading(
            METING_QUANTITIES[kind], value, start
        )
        newest = start if newest is None else max(newest, start)
    if newest is not None:
        readings[Quantity.LAST_MEASUREMENT] = Reading(
            Quantity.LAST_MEASUREMENT, newest, newest
        )
    return readings
