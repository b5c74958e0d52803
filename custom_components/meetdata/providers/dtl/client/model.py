"""The DTL profile's vocabulary: limits, paths, meter and measurement types, EAN checks.

Liander's document is a functional proposal: it names two calls, their inputs and
outputs, but no paths or JSON shapes. Meetdata talks to metering companies that
implement the following profile (``PROVIDER``):

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
    with new data, over [datum_laatste_meting - 2 h, datum_laatste_meting +
    1 h)): the newest
    value of each type as POWER (kW, net: + from the grid), REACTIVE_POWER
    (kvar), VOLTAGE_L1..L3 (V), and LAST_MEASUREMENT = the START of the newest
    5-minute interval. Every reading's timestamp is the start of its interval.
    A meter the API no longer lists, without datum_laatste_meting, or answered
    with 404 has no latest readings. The client keeps each meter's readings
    once they are settled (all five types at datum_laatste_meting): while a
    meter's datum_laatste_meting (and customer) stays the same, the next polls
    return those readings without a ``/meetdata`` call, so a poll with no new
    data is the one ``/meters`` call for the whole account.

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

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Final
from zoneinfo import ZoneInfo

from yarl import URL

from ....api.errors import MeetdataInvalidRequestError
from ....api.models import MeterKind, Quantity

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
