"""Fast parsing of GET Energy answers into interval series.

A 185-day quarter-hour answer holds ~17 800 slices per direction, so the hot
loop avoids per-slice objects other than the ``Interval`` itself: timestamps
are parsed once per distinct string (a slice's end is the next one's start),
units are looked up in a small dict, and registers are read with plain
``dict.get``. Bodies larger than ``EXECUTOR_THRESHOLD`` are parsed in an
executor by the client.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import islice
import logging
import operator
from typing import Any, Final
from zoneinfo import ZoneInfo

from ....api.errors import MeetdataResponseError
from ....api.models import Interval, IntervalSeries, MeterKind, Quality, Quantity
from .mandates import EnergyType, Granularity

_LOGGER = logging.getLogger(__name__)

BRUSSELS: Final = ZoneInfo("Europe/Brussels")
EXECUTOR_THRESHOLD: Final = 64 * 1024

METERING_ON_METER: Final = "metering-on-meter"
METERING_ON_HEADPOINT: Final = "metering-on-headpoint"
METERING_ON_HEADPOINT_AND_METER: Final = "metering-on-headpoint-and-meter"
SUBMETERING_PRODUCTION: Final = "submetering-production"
SUBMETERING_AUXILIARY: Final = "submetering-auxiliary"
SUBMETERING_OFFTAKE: Final = "submetering-offtake"
HEADPOINT_TYPES: Final = frozenset(
    {METERING_ON_METER, METERING_ON_HEADPOINT, METERING_ON_HEADPOINT_AND_METER}
)

# validationState -> Quality. READ and VAL are the only states that count for
# the capacity peak; they are exactly the MEASURED and VALIDATED qualities.
QUALITY_OF_STATE: Final[dict[str, Quality]] = {
    "READ": Quality.MEASURED,
    "VAL": Quality.VALIDATED,
    "EST": Quality.ESTIMATED,
    "NVAL": Quality.ESTIMATED,
}
PEAK_QUALITIES: Final = frozenset({Quality.MEASURED, Quality.VALIDATED})
_RANK: Final = {Quality.ESTIMATED: 0, Quality.MEASURED: 1, Quality.VALIDATED: 2}

_ACTIVE, _VOLUME, _REACTIVE = 0, 1, 2
_UNITS: Final[dict[str, tuple[int, float]]] = {
    "kwh": (_ACTIVE, 1.0),
    "wh": (_ACTIVE, 0.001),
    "mwh": (_ACTIVE, 1000.0),
    "m3": (_VOLUME, 1.0),
    "m³": (_VOLUME, 1.0),
    "kvarh": (_REACTIVE, 1.0),
    "varh": (_REACTIVE, 0.001),
}

# Active energy units needing no conversion: the hot loop's fast path.
_FAST_UNITS: Final[frozenset[object]] = frozenset({"kWh", "kwh", "KWH"})

_DAILY_KEYS: Final = ("dailyEnergy",)
_FINE_KEYS: Final = ("quarterHourlyEnergy", "hourlyEnergy")
_STEP: Final = {
    "quarterHourlyEnergy": timedelta(minutes=15),
    "hourlyEnergy": timedelta(hours=1),
}

Q = Quantity
_INDUCTIVE: Final = Q.REACTIVE_ENERGY_INDUCTIVE
_CAPACITIVE: Final = Q.REACTIVE_ENERGY_CAPACITIVE

#: Totals whose "day" and "night" registers (digital meters) also become
#: series of their own: total -> (day, night). The bill prices each register,
#: so they are the truth: the total is their sum (a "total" field beside them
#: is ignored), and a register a slice lacks counted nothing (0, with the
#: other register's quality).
TARIFF_SPLIT: Final[dict[Quantity, tuple[Quantity, Quantity]]] = {
    Q.ENERGY_IMPORT: (Q.ENERGY_IMPORT_DAY, Q.ENERGY_IMPORT_NIGHT),
    Q.ENERGY_EXPORT: (Q.ENERGY_EXPORT_DAY, Q.ENERGY_EXPORT_NIGHT),
}
#: Per total: (day, night) and (night, day), the (own, other) tariff of a
#: lone day register and of a lone night register.
_LONE: Final = {
    total: ((day, night), (night, day)) for total, (day, night) in TARIFF_SPLIT.items()
}


type SeriesMap = dict[Quantity, list[Interval]]


@dataclass(slots=True)
class EnergyMeter:
    """The parsed data of one EAN in a GET Energy answer (headpoint or submeter)."""

    ean: str
    kind: MeterKind
    metering_type: str
    energy_type: EnergyType | None = None
    via: str | None = None
    seq_number: str | None = None
    installation_type: str | None = None
    meter_ids: list[str] = field(default_factory=list)
    gas_conversion_factor: str | None = None
    daily: SeriesMap = field(default_factory=dict)
    fine: SeriesMap = field(default_factory=dict)

    def series(self, granularity: Granularity) -> SeriesMap:
        """Return the series of one detail level."""
        return self.daily if granularity is Granularity.DAILY else self.fine

    def interval_series(self, granularity: Granularity) -> list[IntervalSeries]:
        """Return the non-empty series of one detail level as IntervalSeries."""
        return [
            IntervalSeries(self.ean, quantity, intervals)
            for quantity, intervals in self.series(granularity).items()
            if intervals
        ]

    def last_end(self) -> datetime | None:
        """Return the end of the newest interval of any quantity and level."""
        ends = [
            intervals[-1].end
            for level in (self.fine, self.daily)
            for intervals in level.values()
            if intervals
        ]
        return max(ends) if ends else None


@dataclass(slots=True)
class EnergyData:
    """A parsed GET Energy answer: the headpoint and its submeters."""

    headpoint: EnergyMeter
    submeters: list[EnergyMeter]

    def meters(self) -> list[EnergyMeter]:
        """Return the headpoint followed by its submeters."""
        return [self.headpoint, *self.submeters]

    def meter(self, ean: str) -> EnergyMeter | None:
        """Return the headpoint or submeter with this EAN."""
        for meter in self.meters():
            if meter.ean == ean:
                return meter
        return None


#: Years a timestamp may have (beyond them date arithmetic overflows).
_SANE_YEARS = (1900, 9000)


class _Parser:
    """Turns slices into intervals; holds the per-answer caches."""

    __slots__ = ("_times", "_units", "gas", "gcf", "total_ignored")

    def __init__(self, *, gas: bool = False) -> None:
        self._times: dict[str, datetime] = {}
        self._units: dict[str, tuple[int, float]] = {}
        self.gas = gas
        self.gcf: str | None = None
        #: A "total" beside day/night registers disagreed with their sum.
        self.total_ignored = False

    def time(self, raw: object) -> datetime:
        """Parse (once) a slice timestamp into an aware UTC datetime."""
        if not isinstance(raw, str):
            raise MeetdataResponseError("Fluvius energy slice has no valid start/end")
        try:
            parsed = datetime.fromisoformat(raw)
        except ValueError:
            raise MeetdataResponseError(
                "Fluvius energy slice has an invalid timestamp"
            ) from None
        # Every API timestamp is UTC; a missing offset is read as UTC too.
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        if not _SANE_YEARS[0] <= parsed.year <= _SANE_YEARS[1]:
            # Conversions, intervals and local midnights around it overflow.
            raise MeetdataResponseError(
                "Fluvius energy slice has an impossible timestamp"
            )
        if parsed.tzinfo is not UTC:
            parsed = parsed.astimezone(UTC)
        self._times[raw] = parsed
        return parsed

    def unit(self, raw: object) -> tuple[int, float]:
        """Look up the kind and kWh/kvarh/m³ factor of a unit string."""
        found = self._units.get(raw) if isinstance(raw, str) else None
        if found is None:
            key = raw.strip().casefold() if isinstance(raw, str) else ""
            found = _UNITS.get(key)
            if found is None:
                raise MeetdataResponseError(f"Fluvius sent an unknown unit: {raw!r}")
            self._units[raw] = found  # type: ignore[index]
        return found

    def container(
        self, owner: dict[str, Any], directions: dict[str, Quantity]
    ) -> tuple[SeriesMap, SeriesMap]:
        """Parse the daily and fine slices directly under one JSON object."""
        daily: SeriesMap = {}
        fine: SeriesMap = {}
        for key in _DAILY_KEYS:
            slices = owner.get(key)
            if slices:
                self.slices(slices, None, directions, daily)
        for key in _FINE_KEYS:
            slices = owner.get(key)
            if slices:
                self.slices(slices, _STEP[key], directions, fine)
        return _deduplicated(daily), _deduplicated(fine)

    def slices(
        self,
        slices: object,
        step: timedelta | None,
        directions: dict[str, Quantity],
        out: SeriesMap,
    ) -> None:
        """Parse a list of slices into ``out`` (the hot loop)."""
        if not isinstance(slices, list):
            raise MeetdataResponseError("Fluvius energy slices are not a list")
        times = self._times
        emit = self.emit
        # Units whose values need no conversion (gas answers may also carry a
        # per-register gasConversionFactor: they always take the generic path).
        fast_units: frozenset[object] = frozenset() if self.gas else _FAST_UNITS
        for sl in slices:
            try:
                raw = sl["start"]
                start = times.get(raw) or self.time(raw)
                raw = sl.get("end")
                if raw is None:
                    end = (
                        start + step
                        if step is not None
                        else _next_local_midnight(start)
                    )
                else:
                    end = times.get(raw) or self.time(raw)
                measurements = sl.get("measurements")
            except (TypeError, KeyError, AttributeError):
                raise MeetdataResponseError(
                    "Fluvius energy slice is not an object with a start"
                ) from None
            if not measurements:
                continue
            if type(measurements) is dict:
                measurements = (measurements,)
            for item in measurements:
                if type(item) is not dict:
                    raise MeetdataResponseError("Fluvius measurement is not an object")
                for direction, registers in item.items():
                    quantity = directions.get(direction)
                    if quantity is None:
                        if direction == "gasConversionFactor" and isinstance(
                            registers, str
                        ):
                            self.gcf = registers
                        continue
                    if type(registers) is not dict:
                        raise MeetdataResponseError(
                            f"Fluvius {direction} registers are not an object"
                        )
                    rec = registers.get("total")
                    # (own, other) tariff of a lone day or night register.
                    lone: tuple[Quantity, Quantity] | None = None
                    if rec is None or len(registers) > 1:
                        day = registers.get("day")
                        night = registers.get("night")
                        if day is None and night is None:
                            pass
                        elif (pairs := _LONE.get(quantity)) is None:
                            if rec is not None:
                                pass  # no split for this quantity: the total wins
                            elif night is None:
                                rec = day
                            elif day is None:
                                rec = night
                            else:
                                self.emit_sum(day, night, quantity, start, end, out)
                        elif rec is None and (day is None or night is None):
                            # A quarter-hour: only the register of its tariff.
                            if night is None:
                                rec, lone = day, pairs[0]
                            else:
                                rec, lone = night, pairs[1]
                        else:
                            self.emit_split(
                                day, night, rec, quantity, pairs[0], start, end, out
                            )
                            rec = None
                    if rec is not None:
                        # Fast path for the common register: float in a known
                        # unit with a known state; anything else goes generic.
                        try:
                            value = rec["value"]
                            fast = rec["unit"] in fast_units
                            quality = QUALITY_OF_STATE.get(rec["validationState"])
                        except (TypeError, KeyError):
                            fast = False
                        if not fast or quality is None or type(value) is not float:
                            if lone is None:
                                emit(rec, quantity, start, end, out)
                            else:
                                split = TARIFF_SPLIT[quantity]
                                self.emit_split(
                                    day, night, None, quantity, split, start, end, out
                                )
                        else:
                            lst = out.get(quantity)
                            if lst is None:
                                lst = out[quantity] = []
                            interval = Interval(start, end, value, quality)
                            lst.append(interval)
                            if lone is not None:
                                own, other = lone
                                lst = out.get(own)
                                if lst is None:
                                    lst = out[own] = []
                                lst.append(interval)
                                lst = out.get(other)
                                if lst is None:
                                    lst = out[other] = []
                                lst.append(Interval(start, end, 0.0, quality))
                    if rec is None or len(registers) > 1:
                        rec = registers.get("inductive")
                        if rec is not None:
                            emit(rec, _INDUCTIVE, start, end, out)
                        rec = registers.get("capacitive")
                        if rec is not None:
                            emit(rec, _CAPACITIVE, start, end, out)

    def read(self, rec: object, reactive: bool) -> tuple[int, float, Quality] | None:
        """Read one register: its unit kind, value (in kWh/kvarh/m³) and quality."""
        try:
            value = rec["value"]  # type: ignore[index]
            raw_unit = rec.get("unit")  # type: ignore[attr-defined]
            state = rec.get("validationState")  # type: ignore[attr-defined]
            if self.gas:
                gcf = rec.get("gasConversionFactor")  # type: ignore[attr-defined]
                if gcf is not None:
                    self.gcf = str(gcf)
        except (TypeError, KeyError, AttributeError):
            raise MeetdataResponseError(
                "Fluvius register is not an object with a value"
            ) from None
        if value is None:
            return None
        kind, factor = self._units.get(raw_unit) or self.unit(raw_unit)
        if kind == _VOLUME:
            if reactive:
                raise MeetdataResponseError("Fluvius sent a volume as reactive energy")
        elif (kind == _REACTIVE) is not reactive:
            raise MeetdataResponseError(
                "Fluvius sent reactive energy in an active register or vice versa"
            )
        if type(value) is not float:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise MeetdataResponseError(
                    "Fluvius register value is not a number"
                ) from None
        if factor != 1.0:
            value *= factor
        quality = QUALITY_OF_STATE.get(state)
        if quality is None:
            quality = QUALITY_OF_STATE.get(
                state.upper() if isinstance(state, str) else "", Quality.ESTIMATED
            )
        return kind, value, quality

    def emit(
        self,
        rec: object,
        quantity: Quantity,
        start: datetime,
        end: datetime,
        out: SeriesMap,
    ) -> None:
        """Append one register value as an Interval of ``quantity``."""
        found = self.read(rec, quantity is _INDUCTIVE or quantity is _CAPACITIVE)
        if found is None:
            return
        kind, value, quality = found
        if kind == _VOLUME:
            quantity = Q.GAS_VOLUME
        lst = out.get(quantity)
        if lst is None:
            lst = out[quantity] = []
        lst.append(Interval(start, end, value, quality))

    def emit_split(
        self,
        day: object,
        night: object,
        total: object,
        quantity: Quantity,
        split: tuple[Quantity, Quantity],
        start: datetime,
        end: datetime,
        out: SeriesMap,
    ) -> None:
        """Append the day and night registers and their sum (the total).

        A register the slice lacks (or gives without value) counted nothing:
        0 with the other register's quality. A quarter-hour carries only the
        register of its tariff, so that one interval is shared by the total.
        """
        first = None if day is None else self._active(day)
        second = None if night is None else self._active(night)
        if first is None:
            if second is None:
                return
            value, quality = second
            whole = Interval(start, end, value, quality)
            items = (whole, Interval(start, end, 0.0, quality), whole)
        elif second is None:
            value, quality = first
            whole = Interval(start, end, value, quality)
            items = (whole, whole, Interval(start, end, 0.0, quality))
        else:
            value = first[0] + second[0]
            quality = first[1] if _RANK[first[1]] <= _RANK[second[1]] else second[1]
            items = (
                Interval(start, end, value, quality),
                Interval(start, end, first[0], first[1]),
                Interval(start, end, second[0], second[1]),
            )
        if total is not None and not self.total_ignored:
            self._check_total(total, value, start)
        for key, item in zip((quantity, *split), items, strict=True):
            lst = out.get(key)
            if lst is None:
                lst = out[key] = []
            lst.append(item)

    def _active(self, rec: object) -> tuple[float, Quality] | None:
        """Read an active energy register (kWh): value and quality."""
        try:
            value = rec["value"]  # type: ignore[index]
            if (
                type(value) is float
                and rec["unit"] in _FAST_UNITS  # type: ignore[index]
                and (quality := QUALITY_OF_STATE.get(rec["validationState"]))  # type: ignore[index]
            ):
                return value, quality
        except (TypeError, KeyError):
            pass
        found = self.read(rec, False)
        if found is None:
            return None
        if found[0] != _ACTIVE:
            raise MeetdataResponseError(
                "Fluvius sent a day or night register that is not active energy"
            )
        return found[1], found[2]

    def _check_total(self, total: object, value: float, start: datetime) -> None:
        """Note (once per answer) a total that is not day + night."""
        given = self.read(total, False)
        if given is not None and abs(given[1] - value) > 0.0005:
            self.total_ignored = True
            _LOGGER.debug(
                "Fluvius sent a total of %s at %s that is not its day + night "
                "registers (%s kWh); the registers count",
                given[1],
                start.isoformat(),
                value,
            )

    def emit_sum(
        self,
        day: object,
        night: object,
        quantity: Quantity,
        start: datetime,
        end: datetime,
        out: SeriesMap,
    ) -> None:
        """Append day + night as one Interval (a direction without total)."""
        first = self.read(day, False)
        second = self.read(night, False)
        if first is None or second is None:
            part = first or second
            if part is None:
                return
            kind, value, quality = part
        else:
            if first[0] != second[0]:
                raise MeetdataResponseError(
                    "Fluvius day and night registers differ in unit"
                )
            kind = first[0]
            value = first[1] + second[1]
            quality = first[2] if _RANK[first[2]] <= _RANK[second[2]] else second[2]
        if kind == _VOLUME:
            quantity = Q.GAS_VOLUME
        out.setdefault(quantity, []).append(Interval(start, end, value, quality))


def _next_local_midnight(start: datetime) -> datetime:
    """Return the first Brussels midnight after ``start`` (as UTC)."""
    local = start.astimezone(BRUSSELS)
    day = (local + timedelta(days=1)).date()
    return datetime(day.year, day.month, day.day, tzinfo=BRUSSELS).astimezone(UTC)


def _ascending(intervals: list[Interval]) -> bool:
    """Return whether the intervals' starts strictly increase (a C-speed check)."""
    starts = [item.start for item in intervals]
    return all(map(operator.lt, starts, islice(starts, 1, None)))


def _deduplicated(series: SeriesMap) -> SeriesMap:
    """Sort each series; a slice repeated in one answer counts once (the last)."""
    for quantity, intervals in series.items():
        if _ascending(intervals):
            continue
        by_start = {item.start: item for item in intervals}
        series[quantity] = [by_start[start] for start in sorted(by_start)]
    return series
