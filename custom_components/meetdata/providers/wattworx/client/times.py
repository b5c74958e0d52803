"""Wattworx time values: dates, local datetimes (DST-aware) and UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ....api.errors import MeetdataResponseError
from .params import TIME_ZONE


def local_day_start(day: date) -> datetime:
    """Return local midnight at the start of ``day`` as a UTC datetime."""
    return datetime(day.year, day.month, day.day, tzinfo=TIME_ZONE).astimezone(UTC)


def local_date(moment: datetime) -> date:
    """Return the Amsterdam date of an aware datetime."""
    return moment.astimezone(TIME_ZONE).date()


#: Years a date may have (beyond them date arithmetic overflows).
_SANE_YEARS = (1900, 9000)


def _sane[T: (date, datetime)](value: T, text: str) -> T:
    """Refuse dates so far off that conversions around them overflow."""
    if not _SANE_YEARS[0] <= value.year <= _SANE_YEARS[1]:
        raise MeetdataResponseError(f"Impossible date {text[:40]!r} from Wattworx")
    return value


def parse_date(text: str) -> date:
    """Parse YYYY-MM-DD (or YYYYMMDD)."""
    try:
        return _sane(date.fromisoformat(text.strip()), text)
    except ValueError:
        raise MeetdataResponseError(
            f"Invalid date {text[:40]!r} from Wattworx"
        ) from None


def parse_naive(text: str) -> datetime:
    """Parse 'YYYY-MM-DD HH:MM:SS' (an explicit offset is kept)."""
    try:
        return _sane(datetime.fromisoformat(text.strip()), text)
    except ValueError:
        raise MeetdataResponseError(
            f"Invalid datetime {text[:40]!r} from Wattworx"
        ) from None


def parse_unix(text: str) -> datetime:
    """Parse a unix timestamp in seconds."""
    try:
        return _sane(datetime.fromtimestamp(int(text.strip()), UTC), text)
    except (ValueError, OverflowError, OSError):
        raise MeetdataResponseError(
            f"Invalid timestamp {text[:40]!r} from Wattworx"
        ) from None


class LocalTimeResolver:
    """Turn a chronological run of naive local times into UTC.

    Amsterdam repeats 02:00-02:59 on the last Sunday of October. The first
    occurrence of a repeated time is summer time (fold 0); a time that would
    not come after the previous one is the second occurrence (fold 1).
    Times that do not exist (the skipped spring hour) or that go backwards
    are refused rather than guessed.
    """

    def __init__(self) -> None:
        """Start without a previous time."""
        self._last: datetime | None = None

    def resolve(self, naive: datetime) -> datetime:
        """Return the UTC instant of the next local time in the run."""
        if naive.tzinfo is not None:
            # An absolute time (UTC, an offset, a unix timestamp) needs no
            # order to be understood: repeated or reordered rows are fine.
            return naive.astimezone(UTC)
        moment = self._from_local(naive)
        if self._last is not None and moment <= self._last:
            raise MeetdataResponseError(
                f"Wattworx times out of order at {naive.isoformat()}"
            )
        self._last = moment
        return moment

    def _from_local(self, naive: datetime) -> datetime:
        """Resolve one naive local time, using the order for the fold."""
        first = naive.replace(tzinfo=TIME_ZONE, fold=0)
        second = naive.replace(tzinfo=TIME_ZONE, fold=1)
        if first.utcoffset() != second.utcoffset():
            # Ambiguous in the gap-free sense: either a repeated (autumn) or a
            # skipped (spring) time; a round trip tells which.
            back = first.astimezone(UTC).astimezone(TIME_ZONE).replace(tzinfo=None)
            if back != naive:
                raise MeetdataResponseError(
                    f"Wattworx time {naive.isoformat()} does not exist locally"
                )
            early = first.astimezone(UTC)
            if self._last is not None and early <= self._last:
                return second.astimezone(UTC)
            return early
        return first.astimezone(UTC)


def day_end(day: date) -> datetime:
    """Return the end of a local day (next local midnight) in UTC."""
    return local_day_start(day + timedelta(days=1))
