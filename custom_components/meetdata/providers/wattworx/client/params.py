"""Paths and parameters of the Wattworx API v1: the one place for guesses.

The Wattworx document lost its tables of optional parameters in extraction.
Only their names survive in the text: a date range, ``format``,
``values=WH|KWH`` and ``tf``. Everything this client assumes about them lives
in this module, so a correction touches one file:

* Identifiers follow the document's path-segment style
  (``/code/EAN/``, ``/id/ID/``, ``/client/ID/``, ``/date/YYYYMMDD/``); a date
  range is written the same way: ``/from/YYYYMMDD/to/YYYYMMDD``, both dates
  local (Europe/Amsterdam) and ``to`` inclusive. Day detail values allow at most
  60 days per request (``to - from + 1 <= 60``).
* ``values`` and ``tf`` are written as the document writes them, as query
  parameters (``?values=KWH&tf=4``). ``values=KWH`` is always sent for day
  detail values: the default changed from WH to KWH on 2026-03-08T23:00:00.
  ``tf=4`` asks for UTC ``datetime`` values (the document's example shifts
  23:45 local to 22:45), so the repeated October hour is never ambiguous.
  Without ``tf`` the ``datetime`` values are local Amsterdam time.
* A day detail row is labelled with its quarter's start and carries the
  registers at the quarter's end (the last row of a day reads what the day
  values give for that day). The WH example shows all four registers, the KWH
  one only ``kwhConsReading``/``kwhProdReading``: the low registers are used
  whenever a row has them (the low/normal split needs them), never required.
* ``format`` is not sent: XML is the documented default and the only format
  this client parses.
* Month and day values are meter readings in kWh (and m³ for gas); ``values``
  only concerns day detail values, where WH mode gives Wh readings.
* Every endpoint is called with GET, as the document only gives URLs (the key
  may even be put in them); the key itself always travels as a Bearer token.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from urllib.parse import quote
from zoneinfo import ZoneInfo

DEFAULT_BASE_URL = "https://wattworx.nl/api/v1/"
TIME_ZONE = ZoneInfo("Europe/Amsterdam")
METHOD = "GET"

# Endpoints (the first two path segments after the base URL).
EAN_LIST = ("ean", "list")
EAN_TYPES = ("ean", "eantype")
EAN_AUTHORISATION_STATUS = ("ean", "authorisationstatus")
EAN_MONTH_VALUES = ("ean", "monthvalues")
EAN_DAY_VALUES = ("ean", "dayvalues")
EAN_DAY_DETAIL_VALUES = ("ean", "innerdayvalues")
EAN_ADD = ("ean", "add")
EAN_DELETE = ("ean", "delete")
EAN_REQUEST_DAY_VALUES = ("ean", "requestdayvalues")
CLIENT_LIST = ("client", "list")
CLIENT_ADD = ("client", "add")
CLIENT_DELETE = ("client", "delete")

VALUES_WH = "WH"
VALUES_KWH = "KWH"
TF_UTC = "4"
MAX_DETAIL_DAYS = 60
MAX_DAY_REQUEST_PAST_DAYS = 30
AUTHORISATION_SIGNED = "Getekend"


def build_url(base_url: str, *segments: str) -> str:
    """Join the base URL and path segments, each segment URL-encoded."""
    return (
        base_url.rstrip("/") + "/" + "/".join(quote(seg, safe="") for seg in segments)
    )


def format_date(day: date) -> str:
    """Return a date as the API's YYYYMMDD path value."""
    return day.strftime("%Y%m%d")


def date_range(start: date | None, end: date | None) -> tuple[str, ...]:
    """Return the path segments of an (optional, inclusive) local date range."""
    segments: tuple[str, ...] = ()
    if start is not None:
        segments += ("from", format_date(start))
    if end is not None:
        segments += ("to", format_date(end))
    return segments


def detail_query(values: str, time_format: str | None) -> dict[str, str]:
    """Return the query parameters of a day detail request."""
    query = {"values": values}
    if time_format is not None:
        query["tf"] = time_format
    return query


def split_days(
    first: date, last: date, max_days: int = MAX_DETAIL_DAYS
) -> Iterator[tuple[date, date]]:
    """Yield inclusive (from, to) windows of at most ``max_days`` days."""
    while first <= last:
        to = min(last, first + timedelta(days=max_days - 1))
        yield first, to
        first = to + timedelta(days=1)
