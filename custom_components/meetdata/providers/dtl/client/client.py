"""Client of a metering company's pull API for Liander "Dynamisch Terugleveren".

Liander's document is a functional proposal: it names two calls, their inputs and
outputs, but no paths or JSON shapes. Meetdata talks to metering companies that
implement the following profile (``Provider.DTL``):

Transport and authentication
    HTTPS only; plain HTTP is accepted for ``127.0.0.1``, ``::1`` and ``localhost``
    (a local simulator) and refused otherwise. The base URL (scheme, host and an
    optional path prefix, no query) is configured by the user; there is no default.
    Every request carries HTTP Basic authentication (username/password, UTF-8).
    Credentials never go into the URL: a base URL with ``user:pass@`` is refused.

Call 1, available data
    ``GET {base}/meters?klant_ean=A&klant_ean=B`` (one parameter per expected
    customer EAN) returns a JSON array of objects
    ``{"klant_ean", "meter_ean", "meter_type", "datum_laatste_meting"}``.
    ``meter_type`` is ``bruto_productie`` (gross-production meter) or
    ``overdrachtspunt`` (transfer-point meter); ``datum_laatste_meting`` is an ISO
    8601 timestamp with offset (may be null when a meter has no data yet; a value
    without offset is read as Europe/Amsterdam time). Customers the API does not
    return (consent withdrawn, unknown EAN) are reported by
    :meth:`DtlClient.async_get_available` / :meth:`DtlClient.async_missing_customers`.
    Rows of customers we did not ask for and repeated meter EANs are ignored.

Call 2, measurements
    ``GET {base}/meetdata?klant_ean=…&meter_ean=…&start_tijd=…&eind_tijd=…``
    (ISO 8601 with offset, sent in Europe/Amsterdam time, ``eind_tijd``
    exclusive) returns a JSON array of objects ``{"tijd", "datum", "klant_ean",
    "meter_ean", "waarde", "meting_type", "waarde_type"}``. ``datum``
    (YYYY-MM-DD) and ``tijd`` (HH:MM) are the Europe/Amsterdam local START of a
    5-minute interval. ``meting_type``/``waarde_type``:

    - ``actief_vermogen``/``kW``: net active power over 3 phases, 5-minute mean,
      integer; + is LDN (delivered by the grid), - is ODN (taken by the grid);
    - ``blind_vermogen``/``kVAr``: net reactive power, same sign rule;
    - ``spanning_l1``, ``spanning_l2``, ``spanning_l3``/``V``: line voltage per
      phase, 5-minute mean, one decimal.

    Rows come in chronological order (per meting_type; rows of different types
    may be interleaved by time or grouped by type). The repeated October hour
    is told apart by that order: the second run of 02:00-02:55 is fold=1. When
    only one of the two instants lies inside the requested window, the window
    decides. If a server leaves out the complete first run, the rows of the
    second run cannot be recognised and are read as the first. Local times
    that do not exist (the skipped March hour) are malformed. A ``tijd`` with
    an explicit offset is honoured as such.

    One request spans at most :data:`MAX_WINDOW` (7 days); longer periods are
    split. The metering company keeps a month: ``max_history`` is 31 days.

Status mapping
    401 → MeetdataAuthError, 403 → MeetdataPermissionError, 404 on ``/meters``
    → MeetdataNotFoundError (wrong base URL or path), 404 on ``/meetdata`` →
    MeetdataNotFoundError for that meter, 400 → MeetdataInvalidRequestError,
    429 → MeetdataRateLimitError (``Retry-After`` in seconds or as HTTP date),
    5xx → MeetdataConnectionError, 204 → empty array, any other status (3xx
    included: redirects are not followed) or a body that is not a JSON array
    → MeetdataResponseError.

Malformed rows
    A row that is not an object, misses a field, has an unknown meting_type, a
    unit that does not match its meting_type, a non-numeric or non-finite value,
    an unparsable or non-existent local time, a time off the 5-minute grid,
    another meter/customer EAN, or that repeats an interval already read, is
    skipped and counted: per call in ``DtlMeasurements.skipped_rows`` /
    ``DtlAvailability.skipped_rows`` and in total in ``DtlClient.skipped_rows``
    (plus a debug log line without secrets). Numeric strings are accepted as
    values. Rows outside the requested window are dropped without counting.

Model mapping
    One :class:`Meter` per meter EAN: key = meter_ean, kind PRODUCTION for
    ``bruto_productie`` and TRANSFER_POINT for ``overdrachtspunt``, model
    "Gross production meter" or "Transfer-point meter", name = model + meter
    EAN, attributes
    ``klant_ean``, ``meter_type`` and ``datum_laatste_meting`` (ISO 8601, UTC;
    left out when unknown).

    Latest readings (one ``/meters`` call plus one ``/meetdata`` call per meter
    over [datum_laatste_meting - 2 h, datum_laatste_meting + 1 h)): the newest
    value of each type as POWER (kW, net: + from the grid), REACTIVE_POWER
    (kvar), VOLTAGE_L1..L3 (V), and LAST_MEASUREMENT = the START of the newest
    5-minute interval. Every reading's timestamp is the start of its interval.
    A meter the API no longer lists, without datum_laatste_meting, or answered
    with 404 has no latest readings.

    History (5-minute intervals ``[start, start + 5 min)``, quality MEASURED):
    POWER, REACTIVE_POWER and VOLTAGE_L1..L3 as mean series (value = the
    5-minute average), plus DERIVED energy amounts ``kW * 5/60`` kWh split by
    sign. Transfer-point meter: ENERGY_IMPORT = the positive part (LDN, from
    the grid), ENERGY_EXPORT = the negative part as a positive amount (ODN).
    Gross-production meter: by the same sign rule production flows into the
    grid and is negative, so PRODUCTION = the negative part as a positive
    amount, and AUXILIARY = the positive part (the installation's own
    consumption, e.g. inverters at night). Both derived series have an interval
    (possibly 0) for every 5-minute power value; missing intervals stay missing.
    A meter without a ``klant_ean`` attribute is looked up with call 1 first.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache, partial
import logging
import math
from typing import Any, Final
from zoneinfo import ZoneInfo

import aiohttp
from multidict import MultiDict
import orjson
from yarl import URL

from ....api.base import MeterDataClient
from ....api.errors import (
    MeetdataAuthError,
    MeetdataConnectionError,
    MeetdataInvalidRequestError,
    MeetdataNotFoundError,
    MeetdataPermissionError,
    MeetdataRateLimitError,
    MeetdataResponseError,
)
from ....api.http import (
    DEFAULT_TIMEOUT,
    MAX_RESPONSE_BYTES,
    HttpResponse,
    parse_retry_after,
    request,
)
from ....api.models import (
    Interval,
    IntervalSeries,
    LatestReadings,
    Meter,
    MeterKind,
    Provider,
    Quality,
    Quantity,
    Reading,
)

__all__ = [
    "MAX_HISTORY",
    "MAX_WINDOW",
    "DtlAvailability",
    "DtlClient",
    "DtlMeasurements",
    "DtlMeterInfo",
    "MeterType",
    "MetingType",
    "is_ean_format",
    "is_valid_ean",
]

_LOGGER = logging.getLogger(__name__)

TIMEZONE: Final = ZoneInfo("Europe/Amsterdam")
INTERVAL: Final = timedelta(minutes=5)
MAX_HISTORY: Final = timedelta(days=31)
MAX_WINDOW: Final = timedelta(days=7)
LATEST_LOOKBACK: Final = timedelta(hours=2)
LATEST_LOOKAHEAD: Final = timedelta(hours=1)
EXECUTOR_THRESHOLD: Final = 64 * 1024
LOCAL_HOSTS: Final = frozenset({"127.0.0.1", "::1", "localhost"})

METERS_PATH: Final = "/meters"
MEETDATA_PATH: Final = "/meetdata"
ROW_FIELDS: Final = (
    "tijd",
    "datum",
    "klant_ean",
    "meter_ean",
    "waarde",
    "meting_type",
    "waarde_type",
)
_ROW_FIELDS: Final = frozenset(ROW_FIELDS)
#: Measurements with more samples than this become intervals in an executor.
EXECUTOR_SAMPLES: Final = 1500
_BOM: Final = b"\xef\xbb\xbf"
# Hours of energy in one 5-minute interval: kW * 5/60 = kWh.
INTERVAL_HOURS: Final = INTERVAL.total_seconds() / 3600


class MeterType(StrEnum):
    """The ``meter_type`` values of call 1."""

    BRUTO_PRODUCTIE = "bruto_productie"
    OVERDRACHTSPUNT = "overdrachtspunt"


class MetingType(StrEnum):
    """The ``meting_type`` values of call 2."""

    ACTIEF_VERMOGEN = "actief_vermogen"
    BLIND_VERMOGEN = "blind_vermogen"
    SPANNING_L1 = "spanning_l1"
    SPANNING_L2 = "spanning_l2"
    SPANNING_L3 = "spanning_l3"


METER_KINDS: Final[dict[MeterType, MeterKind]] = {
    MeterType.BRUTO_PRODUCTIE: MeterKind.PRODUCTION,
    MeterType.OVERDRACHTSPUNT: MeterKind.TRANSFER_POINT,
}

METER_MODELS: Final[dict[MeterType, str]] = {
    MeterType.BRUTO_PRODUCTIE: "Gross production meter",
    MeterType.OVERDRACHTSPUNT: "Transfer-point meter",
}

# The waarde_type each meting_type must carry (compared case-insensitively).
METING_UNITS: Final[dict[MetingType, str]] = {
    MetingType.ACTIEF_VERMOGEN: "kW",
    MetingType.BLIND_VERMOGEN: "kVAr",
    MetingType.SPANNING_L1: "V",
    MetingType.SPANNING_L2: "V",
    MetingType.SPANNING_L3: "V",
}

METING_QUANTITIES: Final[dict[MetingType, Quantity]] = {
    MetingType.ACTIEF_VERMOGEN: Quantity.POWER,
    MetingType.BLIND_VERMOGEN: Quantity.REACTIVE_POWER,
    MetingType.SPANNING_L1: Quantity.VOLTAGE_L1,
    MetingType.SPANNING_L2: Quantity.VOLTAGE_L2,
    MetingType.SPANNING_L3: Quantity.VOLTAGE_L3,
}

type Sample = tuple[datetime, float]
"""The UTC start of a 5-minute interval and its value."""


@dataclass(frozen=True, slots=True)
class DtlMeterInfo:
    """One row of call 1."""

    klant_ean: str
    meter_ean: str
    meter_type: MeterType
    #: The last measurement as the API reports it, in UTC (None: unknown).
    datum_laatste_meting: datetime | None


@dataclass(frozen=True, slots=True)
class DtlAvailability:
    """The answer of call 1."""

    meters: list[DtlMeterInfo]
    #: Expected customer EANs the API returned no meter for.
    missing_customers: list[str]
    skipped_rows: int = 0


@dataclass(frozen=True, slots=True)
class DtlMeasurements:
    """The parsed answer(s) of call 2 for one meter and period."""

    klant_ean: str
    meter_ean: str
    #: Chronological samples per meting_type (every type present, maybe empty).
    values: dict[MetingType, list[Sample]]
    skipped_rows: int = 0


def is_ean_format(code: str) -> bool:
    """Return whether ``code`` consists of exactly 18 ASCII digits."""
    return len(code) == 18 and code.isascii() and code.isdigit()


def is_valid_ean(code: str) -> bool:
    """Return whether ``code`` is an 18-digit EAN with a correct GS1 check digit."""
    if not is_ean_format(code):
        return False
    digits = [int(char) for char in code]
    total = sum(
        digit * (3 if index % 2 == 0 else 1)
        for index, digit in enumerate(reversed(digits[:-1]))
    )
    return (10 - total % 10) % 10 == digits[-1]


def _validate_base_url(base_url: str) -> str:
    """Return the base URL without trailing slash, or raise when it is unsafe."""
    try:
        url = URL(base_url.strip())
    except (TypeError, ValueError, AttributeError):
        raise MeetdataInvalidRequestError("The base URL is not a valid URL") from None
    if url.user is not None or url.password is not None:
        raise MeetdataInvalidRequestError(
            "The base URL may not contain credentials; enter them as username "
            "and password"
        )
    if not url.is_absolute() or not url.host:
        raise MeetdataInvalidRequestError("The base URL must be an absolute URL")
    scheme = url.scheme.lower()
    if scheme == "http":
        if url.host.lower() not in LOCAL_HOSTS:
            raise MeetdataInvalidRequestError("The base URL must use HTTPS")
    elif scheme != "https":
        raise MeetdataInvalidRequestError("The base URL must use HTTPS")
    if url.query_string or url.fragment:
        raise MeetdataInvalidRequestError(
            "The base URL may not contain a query or fragment"
        )
    return str(url).rstrip("/")


def _validate_customers(customer_eans: Sequence[str] | str) -> tuple[str, ...]:
    """Return the expected customer EANs, stripped and deduplicated, or raise."""
    if isinstance(customer_eans, str):
        customer_eans = [customer_eans]
    result: list[str] = []
    for raw in customer_eans:
        ean = str(raw).strip()
        # The check digit is not verified here: the API decides whether it
        # knows a code (the config flow names a bad check digit as a likely typo).
        if not is_ean_format(ean):
            raise MeetdataInvalidRequestError(
                f"Customer EAN {ean!r} is not an 18-digit EAN", meter=ean
            )
        if ean not in result:
            result.append(ean)
    if not result:
        raise MeetdataInvalidRequestError("At least one customer EAN is required")
    return tuple(result)


def _require_aware(*moments: datetime) -> None:
    """Raise when a moment is naive."""
    for moment in moments:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise MeetdataInvalidRequestError("Start and end must be timezone-aware")


def _format_time(moment: datetime) -> str:
    """Return ``moment`` as ISO 8601 in Europe/Amsterdam time, with offset."""
    return moment.astimezone(TIMEZONE).isoformat()


def _windows(start: datetime, end: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Split [start, end) into windows of at most MAX_WINDOW."""
    while start < end:
        stop = min(start + MAX_WINDOW, end)
        yield start, stop
        start = stop


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


class DtlClient(MeterDataClient):
    """Client of one metering-company account under the DTL profile."""

    provider = Provider.DTL
    max_history = MAX_HISTORY
    history_quantities = (
        Quantity.POWER,
        Quantity.REACTIVE_POWER,
        Quantity.VOLTAGE_L1,
        Quantity.VOLTAGE_L2,
        Quantity.VOLTAGE_L3,
        Quantity.ENERGY_IMPORT,
        Quantity.ENERGY_EXPORT,
        Quantity.PRODUCTION,
        Quantity.AUXILIARY,
    )

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        username: str,
        password: str,
        customer_eans: Sequence[str],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        max_response_bytes: int = MAX_RESPONSE_BYTES,
    ) -> None:
        """Validate the settings; raise MeetdataInvalidRequestError when unusable."""
        self._session = session
        self._base_url = _validate_base_url(base_url)
        if not username or not password:
            raise MeetdataInvalidRequestError("A username and a password are required")
        try:
            self._auth = aiohttp.BasicAuth(username, password, encoding="utf-8")
        except ValueError:
            raise MeetdataInvalidRequestError(
                "The username may not contain a colon"
            ) from None
        self._customers = _validate_customers(customer_eans)
        self._timeout = timeout
        self._max_bytes = max_response_bytes
        #: Malformed rows skipped since this client was created.
        self.skipped_rows = 0

    @property
    def base_url(self) -> str:
        """Return the normalised base URL."""
        return self._base_url

    @property
    def customer_eans(self) -> tuple[str, ...]:
        """Return the expected customer EANs."""
        return self._customers

    async def _get(
        self, path: str, params: MultiDict[str], meter: str | None = None
    ) -> HttpResponse:
        """Send one GET and map every non-success status to a MeetdataError."""
        response = await request(
            self._session,
            "GET",
            f"{self._base_url}{path}",
            params=params,
            auth=self._auth,
            timeout=self._timeout,
            max_bytes=self._max_bytes,
            secret_params=(),
        )
        status = response.status
        if 200 <= status < 300:
            return response
        where = f"{path} answered HTTP {status}"
        if status == 401:
            raise MeetdataAuthError(
                f"{where}: username or password refused", meter=meter
            )
        if status == 403:
            raise MeetdataPermissionError(f"{where}: access refused", meter=meter)
        if status == 404:
            if meter is None:
                raise MeetdataNotFoundError(f"{where}: check the base URL")
            raise MeetdataNotFoundError(
                f"{where}: meter {meter} not found", meter=meter
            )
        if status == 400:
            raise MeetdataInvalidRequestError(f"{where}: request refused", meter=meter)
        if status == 429:
            raise MeetdataRateLimitError(
                f"{where}: too many requests",
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
                meter=meter,
            )
        if status >= 500:
            raise MeetdataConnectionError(f"{where}: server error", meter=meter)
        raise MeetdataResponseError(f"{where}: unexpected status", meter=meter)

    async def _parse[T](self, body: bytes, parse: Callable[[bytes], T]) -> T:
        """Parse small bodies inline and large ones in the executor."""
        if len(body) > EXECUTOR_THRESHOLD:
            return await asyncio.get_running_loop().run_in_executor(None, parse, body)
        return parse(body)

    def _count_skipped(self, skipped: int, what: str) -> None:
        """Add to the skipped-row total and log it (no secrets)."""
        if skipped:
            self.skipped_rows += skipped
            _LOGGER.debug("Skipped %d malformed %s rows", skipped, what)

    async def async_get_available(self) -> DtlAvailability:
        """Call 1: return the meters of the expected customers and who is missing."""
        params: MultiDict[str] = MultiDict(
            ("klant_ean", ean) for ean in self._customers
        )
        response = await self._get(METERS_PATH, params)
        body = b"[]" if response.status == 204 else response.body
        meters, skipped = await self._parse(
            body, partial(_parse_meters, customers=self._customers)
        )
        self._count_skipped(skipped, "meters")
        present = {meter.klant_ean for meter in meters}
        missing = [ean for ean in self._customers if ean not in present]
        return DtlAvailability(meters, missing, skipped)

    async def async_missing_customers(self) -> list[str]:
        """Return the expected customer EANs the API returned no meter for."""
        return (await self.async_get_available()).missing_customers

    async def async_get_measurements(
        self, klant_ean: str, meter_ean: str, start: datetime, end: datetime
    ) -> DtlMeasurements:
        """Call 2 for [start, end), split into windows of at most MAX_WINDOW."""
        _require_aware(start, end)
        start, end = start.astimezone(UTC), end.astimezone(UTC)
        values: dict[MetingType, list[Sample]] = {kind: [] for kind in MetingType}
        skipped = 0
        for window_start, window_end in _windows(start, end):
            params: MultiDict[str] = MultiDict(
                [
                    ("klant_ean", klant_ean),
                    ("meter_ean", meter_ean),
                    ("start_tijd", _format_time(window_start)),
                    ("eind_tijd", _format_time(window_end)),
                ]
            )
            response = await self._get(MEETDATA_PATH, params, meter=meter_ean)
            body = b"[]" if response.status == 204 else response.body
            part = await self._parse(
                body,
                partial(
                    _parse_measurements,
                    klant_ean=klant_ean,
                    meter_ean=meter_ean,
                    start=window_start,
                    end=window_end,
                ),
            )
            for kind, samples in part.values.items():
                values[kind].extend(samples)
            skipped += part.skipped_rows
        self._count_skipped(skipped, f"meetdata ({meter_ean})")
        return DtlMeasurements(klant_ean, meter_ean, values, skipped)

    async def async_get_meters(self) -> list[Meter]:
        """Return one meter per meter EAN of the expected customers."""
        available = await self.async_get_available()
        meters: list[Meter] = []
        for info in available.meters:
            attributes = {
                "klant_ean": info.klant_ean,
                "meter_type": info.meter_type.value,
            }
            if info.datum_laatste_meting is not None:
                attributes["datum_laatste_meting"] = (
                    info.datum_laatste_meting.isoformat()
                )
            meters.append(
                Meter(
                    provider=Provider.DTL,
                    key=info.meter_ean,
                    kind=METER_KINDS[info.meter_type],
                    name=f"{METER_MODELS[info.meter_type]} {info.meter_ean}",
                    model=METER_MODELS[info.meter_type],
                    attributes=attributes,
                )
            )
        return meters

    async def async_get_latest(self, meters: Sequence[Meter]) -> LatestReadings:
        """Return the newest 5-minute values of these meters."""
        if not meters:
            return {}
        available = await self.async_get_available()
        by_key = {info.meter_ean: info for info in available.meters}
        result: LatestReadings = {}
        for meter in meters:
            info = by_key.get(meter.key)
            if info is None or info.datum_laatste_meting is None:
                continue
            anchor = info.datum_laatste_meting
            try:
                data = await self.async_get_measurements(
                    info.klant_ean,
                    info.meter_ean,
                    anchor - LATEST_LOOKBACK,
                    anchor + LATEST_LOOKAHEAD,
                )
            except MeetdataNotFoundError:
                continue
            if readings := _build_latest(data):
                result[meter.key] = readings
        return result

    async def _klant_ean_of(self, meter: Meter) -> str:
        """Return the customer EAN of ``meter`` (from its attributes or call 1)."""
        if klant_ean := meter.attributes.get("klant_ean"):
            return klant_ean
        for info in (await self.async_get_available()).meters:
            if info.meter_ean == meter.key:
                return info.klant_ean
        raise MeetdataNotFoundError(
            f"Meter {meter.key} is not listed for the configured customers",
            meter=meter.key,
        )

    async def async_get_history(
        self, meter: Meter, start: datetime, end: datetime
    ) -> list[IntervalSeries]:
        """Return the 5-minute series of ``meter`` for intervals starting in [start, end)."""
        _require_aware(start, end)
        if start >= end:
            empty = DtlMeasurements("", meter.key, {kind: [] for kind in MetingType})
            return _build_history(meter, empty)
        klant_ean = await self._klant_ean_of(meter)
        data = await self.async_get_measurements(klant_ean, meter.key, start, end)
        if sum(map(len, data.values.values())) > EXECUTOR_SAMPLES:
            # A 7-day window becomes ~14 000 intervals: not in the event loop.
            return await asyncio.get_running_loop().run_in_executor(
                None, _build_history, meter, data
            )
        return _build_history(meter, data)
