"""CEMM Open API answers parsed: devices, IO, realtime values, day/month/year series."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
import importlib
import itertools
import json
import logging
import math
from typing import Any, Final
from zoneinfo import ZoneInfo

from ....api.errors import MeetdataInvalidRequestError, MeetdataResponseError
from ....api.models import Quantity

_LOGGER = logging.getLogger(__name__)

DEFAULT_BASE_URL: Final = "https://open-api.cemm.nl/v1/"


TIMEZONE: Final = ZoneInfo("Europe/Amsterdam")


ALIAS_P1: Final = "p1"


ALIAS_GAS: Final = "p1-gas"


S0_ALIASES: Final = ("s01", "s02", "s03")


ALIASES: Final = (ALIAS_P1, ALIAS_GAS, *S0_ALIASES)


#: Bodies larger than this are parsed in an executor.
EXECUTOR_PARSE_BYTES: Final = 64 * 1024


_MINUTE: Final = timedelta(minutes=1)


_KWH_PER_WATT_MINUTE: Final = 1 / 1000 / 60


# P1 realtime keys (kWh registers) and the quantity each one becomes.
_P1_REGISTERS: Final = {
    "t1": Quantity.ENERGY_IMPORT_LOW,
    "t2": Quantity.ENERGY_IMPORT_NORMAL,
    "t3": Quantity.ENERGY_EXPORT_LOW,
    "t4": Quantity.ENERGY_EXPORT_NORMAL,
}


_TARIFFS: Final = {1: "low", 2: "normal"}


#: Sensor names the client reads: a malformed one refuses the answer, a
#: malformed unknown one (a field the API added later) is skipped.
_KNOWN_SENSORS: Final = frozenset(
    {
        *_P1_REGISTERS,
        "electric_power",
        "electric_energy",
        "electric_energy_low",
        "electric_energy_high",
        "rate",
        "gas",
    }
)


def _pick_loads() -> Callable[[bytes], Any]:
    """Return orjson.loads when available (it ships with Home Assistant), else json.loads."""
    try:
        module = importlib.import_module("orjson")
    except ImportError:  # pragma: no cover - orjson is installed with Home Assistant
        return json.loads
    loads: Callable[[bytes], Any] = module.loads
    return loads


_loads: Final = _pick_loads()


@dataclass(frozen=True, slots=True)
class CemmMeasurement:
    """One MeasurementArray ``[timestamp ms, value]`` with the timestamp as UTC datetime."""

    timestamp: datetime
    value: float


@dataclass(frozen=True, slots=True)
class CemmIo:
    """One activated I/O (meter, sensor or actuator) of a CEMM."""

    io_id: int
    port: int
    type: str
    port_option: str | None = None
    full_id: int | None = None


@dataclass(frozen=True, slots=True)
class CemmValues:
    """A realtime or totals answer: one measurement per sensor name.

    Measurements whose timestamp is 0 (e.g. ``"switch": [0, 0]``) or whose value
    is null mean "no value" and are left out of ``values``.
    """

    io_id: int
    time: datetime | None
    values: dict[str, CemmMeasurement]


@dataclass(frozen=True, slots=True)
class CemmSeries:
    """A day, month or year answer: a list of measurements per sensor name.

    Each list is sorted by timestamp (the API sends some of them in descending
    order); "no value" entries (timestamp 0 or null value) are left out.
    """

    io_id: int
    time: datetime | None
    series: dict[str, list[CemmMeasurement]]


def uid_key(uid: str) -> str:
    """Return the meter key of a CEMM: its uid lower-cased without dashes."""
    return uid.lower().replace("-", "")


def alias_key(uid: str, alias: str) -> str:
    """Return the meter key of one alias of a CEMM, e.g. ``ffffffffffff_p1_gas``."""
    return f"{uid_key(uid)}_{alias.replace('-', '_')}"


def _local_midnight(day: date) -> datetime:
    """Return local midnight (Europe/Amsterdam) of ``day`` as a UTC datetime."""
    return datetime.combine(day, time(0), TIMEZONE).astimezone(UTC)


def _local_date(moment: datetime) -> date:
    """Return the local (Europe/Amsterdam) date of an aware datetime."""
    return moment.astimezone(TIMEZONE).date()


def _time_param(moment: datetime) -> str:
    """Return the ``time`` query parameter (epoch seconds) for an aware datetime."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise MeetdataInvalidRequestError("CEMM time parameter must be timezone-aware")
    return str(math.floor(moment.timestamp()))


def _day_param(day: date) -> datetime:
    """Return a moment safely inside local ``day`` (the middle of the day)."""
    start = _local_midnight(day)
    end = _local_midnight(day + timedelta(days=1))
    return start + (end - start) / 2


def _parse_json(body: bytes) -> Any:
    """Decode a JSON body; malformed JSON becomes MeetdataResponseError."""
    try:
        return _loads(body)
    except (ValueError, RecursionError):
        raise MeetdataResponseError("CEMM Open API returned malformed JSON") from None


def _as_object(value: Any, what: str) -> dict[str, Any]:
    """Return ``value`` if it is a JSON object."""
    if not isinstance(value, dict):
        raise MeetdataResponseError(f"CEMM Open API: {what} is not an object")
    return value


def _as_list(value: Any, what: str) -> list[Any]:
    """Return ``value`` if it is a JSON array."""
    if not isinstance(value, list):
        raise MeetdataResponseError(f"CEMM Open API: {what} is not an array")
    return value


def _field(obj: dict[str, Any], name: str, what: str) -> Any:
    """Return a required field of a JSON object."""
    if name not in obj:
        raise MeetdataResponseError(f"CEMM Open API: {what} lacks '{name}'")
    return obj[name]


def _as_int(value: Any, what: str) -> int:
    """Return ``value`` as int (integral floats accepted, booleans refused)."""
    if isinstance(value, bool):
        raise MeetdataResponseError(f"CEMM Open API: {what} is not an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    raise MeetdataResponseError(f"CEMM Open API: {what} is not an integer")


def _as_str(value: Any, what: str) -> str:
    """Return ``value`` if it is a string."""
    if not isinstance(value, str):
        raise MeetdataResponseError(f"CEMM Open API: {what} is not a string")
    return value


def _ms_to_datetime(value: int, what: str) -> datetime:
    """Convert epoch milliseconds to an aware UTC datetime."""
    try:
        return datetime.fromtimestamp(value / 1000, UTC)
    except (OverflowError, OSError, ValueError):
        raise MeetdataResponseError(
            f"CEMM Open API: {what} has an impossible timestamp"
        ) from None


def _measurement(value: Any, what: str) -> CemmMeasurement | None:
    """Parse one MeasurementArray; None when it means "no value"."""
    pair = _as_list(value, what)
    if len(pair) < 2:
        raise MeetdataResponseError(
            f"CEMM Open API: {what} is not a [timestamp, value] pair"
        )
    stamp = _as_int(pair[0], f"{what} timestamp")
    raw = pair[1]
    if stamp == 0 or raw is None:
        return None
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise MeetdataResponseError(f"CEMM Open API: {what} value is not a number")
    number = float(raw)
    if not math.isfinite(number):
        raise MeetdataResponseError(f"CEMM Open API: {what} value is not finite")
    return CemmMeasurement(_ms_to_datetime(stamp, what), number)


def _optional_time(obj: dict[str, Any], what: str) -> datetime | None:
    """Parse the optional ``time`` field (milliseconds) of an answer."""
    raw = obj.get("time")
    if raw is None:
        return None
    return _ms_to_datetime(_as_int(raw, f"{what} time"), what)


def _parse_uids(payload: Any) -> list[str]:
    """Parse the ``cemm/`` answer into a list of uids."""
    data = _as_list(_field(_as_object(payload, "answer"), "data", "answer"), "data")
    uids: list[str] = []
    for index, item in enumerate(data):
        what = f"device {index}"
        uid = _as_str(_field(_as_object(item, what), "uid", what), f"{what} uid")
        if not uid:
            raise MeetdataResponseError(f"CEMM Open API: {what} has an empty uid")
        uids.append(uid)
    return uids


def _parse_io(payload: Any) -> list[CemmIo]:
    """Parse an I/O list answer (``io/`` or by alias)."""
    data = _as_list(_field(_as_object(payload, "answer"), "data", "answer"), "data")
    ios: list[CemmIo] = []
    for index, item in enumerate(data):
        what = f"io {index}"
        obj = _as_object(item, what)
        port_option = obj.get("port_option")
        full_id = obj.get("full_id")
        ios.append(
            CemmIo(
                io_id=_as_int(_field(obj, "io_id", what), f"{what} io_id"),
                port=_as_int(_field(obj, "port", what), f"{what} port"),
                type=_as_str(_field(obj, "type", what), f"{what} type"),
                port_option=None
                if port_option is None
                else _as_str(port_option, f"{what} port_option"),
                full_id=None
                if full_id is None
                else _as_int(full_id, f"{what} full_id"),
            )
        )
    return ios


def _parse_values(payload: Any) -> CemmValues:
    """Parse a realtime or totals answer."""
    obj = _as_object(payload, "answer")
    io_id = _as_int(_field(obj, "io_id", "answer"), "io_id")
    data = _as_object(_field(obj, "data", "answer"), "data")
    values: dict[str, CemmMeasurement] = {}
    for name, raw in data.items():
        try:
            measurement = _measurement(raw, name)
        except MeetdataResponseError:
            if name in _KNOWN_SENSORS:
                raise
            _LOGGER.debug("CEMM Open API: unreadable unknown field %r skipped", name)
            continue
        if measurement is not None:
            values[name] = measurement
    return CemmValues(io_id, _optional_time(obj, "answer"), values)


def _parse_series(payload: Any) -> CemmSeries:
    """Parse a day, month or year answer."""
    obj = _as_object(payload, "answer")
    io_id = _as_int(_field(obj, "io_id", "answer"), "io_id")
    data = _as_object(_field(obj, "data", "answer"), "data")
    series: dict[str, list[CemmMeasurement]] = {}
    for name, raw in data.items():
        try:
            entries = [
                measurement
                for index, item in enumerate(_as_list(raw, name))
                if (measurement := _measurement(item, f"{name}[{index}]")) is not None
            ]
        except MeetdataResponseError:
            if name in _KNOWN_SENSORS:
                raise
            _LOGGER.debug("CEMM Open API: unreadable unknown field %r skipped", name)
            continue
        entries.sort(key=lambda entry: entry.timestamp)
        series[name] = entries
    return CemmSeries(io_id, _optional_time(obj, "answer"), series)


def _require(series: CemmSeries, name: str, what: str) -> list[CemmMeasurement]:
    """Return one named array of a series answer; missing means a malformed answer."""
    if name not in series.series:
        raise MeetdataResponseError(f"CEMM Open API: {what} lacks '{name}'")
    return series.series[name]


def _aligned(entries: Iterable[CemmMeasurement]) -> list[CemmMeasurement]:
    """Drop entries not on a whole minute, such as the 23:59:59 end-of-day marker."""
    return [
        entry
        for entry in entries
        if entry.timestamp.second == 0 and entry.timestamp.microsecond == 0
    ]


def _grid_spacing(stamps: Sequence[datetime]) -> timedelta | None:
    """Return the smallest positive spacing between sorted timestamps, if any."""
    spacing: timedelta | None = None
    for earlier, later in itertools.pairwise(stamps):
        step = later - earlier
        if step > timedelta(0) and (spacing is None or step < spacing):
            spacing = step
    return spacing


def _guess_spacing(stamp: datetime) -> timedelta:
    """Guess the gas grid from one timestamp: on the hour → hourly, else 5 min."""
    local = stamp.astimezone(TIMEZONE)
    if local.minute == 0:
        return timedelta(hours=1)
    if local.minute % 5 == 0:
        return timedelta(minutes=5)
    return _MINUTE


@dataclass(frozen=True, slots=True)
class _Ref:
    """Where a meter lives: CEMM uid and alias."""

    uid: str
    alias: str
