"""Wattworx time values: dates, local datetimes (DST-aware) and UTC."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from ..errors import MeetdataResponseError
from .params import TIME_ZONE


def local_day_start(day: date) -> datetime:
    """Return local midnight at the start of ``day`` as a UTC datetime."""
    return datetime(day.year, day.month, day.day, tzinfo=TIME_ZONE).astimezone(UTC)


def local_date(moment: datetime) -> date:
    """Return the Amsterdam date of an aware datetime."""
    return moment.astimezone(TIME_ZONE).date()


def parse_date(text: str) -> date:
    """Parse YYYY-MM-DD (or YYYYMMDD)."""
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise MeetdataResponseError(
            f"Invalid date {text[:40]!r} from Wattworx"
        ) from None


def parse_naive(text: str) -> datetime:
    """Parse 'YYYY-MM-DD HH:MM:SS' (an explicit offset is kept)."""
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        raise MeetdataResponseError(
            f"Invalid datetime {text[:40]!r} from Wattworx"
        ) from None


def parse_unix(text: str) -> datetime:
    """Parse a unix timestamp in seconds."""
    try:
        return datetime.fromtimestamp(int(text.strip()), UTC)
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
            moment = naive.astimezone(UTC)
        else:
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
