"""Simulator of the Wattworx API v1 (NL), built from its document.

Serves every endpoint under ``/api/v1/`` with the document's XML bodies
(``format/json`` gives a JSON rendering of the same tree). The key is accepted
as ``Authorization: Bearer KEY`` or as a ``/key/KEY`` path pair. Parameters
are ``/name/value`` path pairs merged with the query string, so
``?values=KWH&tf=4`` and ``/values/KWH/tf/4`` mean the same. What the
document lost, the simulator decides as the client's ``params`` module does:
dates ``/from/YYYYMMDD/to/YYYYMMDD`` (local, inclusive), day detail values at
most 60 days (else 400), ``tf=4`` gives UTC ``datetime`` values, ``values``
defaults to WH before 2026-03-08T23:00:00Z and to KWH after.

Errors are ``<error><code>N</code><message>...</message></error>`` with HTTP
status N: 401 bad key, 403 EAN without a signed authorisation, 404 unknown
EAN/client/endpoint, 400 bad parameters, 422 EAN already registered.

Data is deterministic (a seed, the EAN and the time), closed-form so any
period is cheap:

* electricity (KVBE/GVBE): per UTC quarter k an import amount in whole Wh
  and, for solar connections, an export amount. Each amount counts on the
  low-tariff register (T1: weekdays 23:00-07:00 Amsterdam time, Saturday
  and Sunday all day) or the normal one (T2) of its direction; registers are
  running sums. A day detail row is labelled with its quarter's start and
  carries the four registers at the quarter's end (the last row of a day
  reads what the day values give for that day) and, with values=KWH, the
  quarter's amounts (``kwhCons``/``kwhProd``). Knobs: ``correct()`` (a
  quarter corrected: amount and registers), ``missing_readings`` (rows
  without registers), ``exchanges`` (a new meter counting from 0) and
  ``amount_errors`` (an amount that differs from the registers).
* gas (KVBG/GVBG): hourly amounts in whole litres, registers are running
  sums; a row's ``timestamp`` is a whole hour and ``m3ConsReading`` the
  register at that moment.

``intervals()`` gives the source amounts a client should reproduce and
``registers()`` the readings at a moment (per tariff: their differences are
what a bill splits). Run standalone with
``python -m tests.simulators.wattworx --port 8080``.
"""

from __future__ import annotations

import argparse
import asyncio
from bisect import bisect_right
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
import math
import re
from urllib.parse import unquote
import xml.etree.ElementTree as ET
from zoneinfo import ZoneInfo

from aiohttp import web

DEMO_KEY = "demo-wattworx-key"
SINGLE_CLIENT_KEY = "demo-wattworx-single"
TZ = ZoneInfo("Europe/Amsterdam")
PREFIX = "/api/v1/"
VALUES_SWITCH = datetime(2026, 3, 8, 23, 0, tzinfo=UTC)
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)
MAX_DETAIL_DAYS = 60
MAX_REQUEST_PAST_DAYS = 30
SIGNED = "Getekend"
PENDING = "Validatie in behandeling"

EAN_TYPES = {
    "KVBE": "Kleinverbruik elektriciteit",
    "KVBG": "Kleinverbruik gas",
    "GVBE": "Grootverbruik elektriciteit",
    "GVBG": "Grootverbruik gas",
}
AUTHORISATION_STATUSES = (
    (1, SIGNED, "Machtiging getekend, data wordt opgehaald"),
    (2, PENDING, "Machtiging wordt gevalideerd"),
    (3, "Afgekeurd", "Machtiging afgekeurd"),
    (4, "Verlopen", "Machtiging verlopen"),
    (5, "Ingetrokken", "Machtiging ingetrokken"),
)

# EANs of the demo data (two clients; the last EAN is not signed).
EAN_POWER = "871234567890123456"
EAN_GAS = "871234567890123463"
EAN_POWER_2 = "871234567890123470"
EAN_GAS_2 = "871234567890123487"
EAN_PENDING = "871234567890123494"


@dataclass
class SimClient:
    """A client of the account."""

    id: int
    name: str
    kvk: str | None
    address: str
    zip: str
    city: str


@dataclass
class SimDevice:
    """A connection (EAN) of a client."""

    id: int
    ean: str
    eantype: str
    meter_id: str
    address: str
    zip: str
    city: str
    rnb: str
    client_id: int
    authorisation: str
    authorisation_status: str
    first_data_date: date | None
    solar: bool = False
    #: Days between a day and the publication of its data (lastDataDate is
    #: today minus this): raise it for one device to hold its data back.
    publish_lag_days: int = 1

    @property
    def gas(self) -> bool:
        """Return whether this is a gas connection."""
        return self.eantype.endswith("G")


@dataclass(frozen=True)
class SimRequest:
    """One request as the simulator saw it (the key redacted)."""

    method: str
    endpoint: str
    path: str
    params: dict[str, str]
    bearer: bool
    key_in_url: bool


@dataclass
class _Override:
    """A canned answer for one of the next requests."""

    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/xml"
    endpoint: str | None = None


class _Periodic:
    """Running sums of amounts that repeat with a fixed period."""

    def __init__(self, amounts: list[int]) -> None:
        """Store one period of amounts and its prefix sums."""
        self.amounts = amounts
        self.period = len(amounts)
        self.prefix = [0]
        for amount in amounts:
            self.prefix.append(self.prefix[-1] + amount)

    def amount(self, index: int) -> int:
        """Return the amount of slot ``index`` (any integer)."""
        return self.amounts[index % self.period]

    def total(self, index: int) -> int:
        """Return the sum of the amounts of slots [0, index)."""
        full, rest = divmod(index, self.period)
        return full * self.prefix[-1] + self.prefix[rest]


def _low_tariff(local: datetime) -> bool:
    """Return whether a local (Amsterdam) moment falls in the NL low tariff.

    Low (T1): weekdays 23:00-07:00 and all of Saturday and Sunday; normal
    (T2) otherwise, as Dutch grid operators switch double-tariff meters.
    """
    return local.weekday() >= 5 or local.hour >= 23 or local.hour < 7


def _first_low_quarter(quarter: int) -> int:
    """Return the first low-tariff quarter at or after ``quarter``."""
    while not _low_tariff((EPOCH + quarter * QUARTER).astimezone(TZ)):
        quarter += 4 if (EPOCH + quarter * QUARTER).minute == 0 else 1
    return quarter


class _LowRuns:
    """The low-tariff periods as runs [start, end) of UTC quarter indices.

    Shared by every profile: the schedule is the same for every meter. A run
    boundary is found per hour (the schedule switches on whole local hours),
    so building several years of runs is cheap; runs are added on demand.
    """

    def __init__(self) -> None:
        """Start with no runs; ``upto`` adds them."""
        self.starts: list[int] = []
        self.ends: list[int] = []
        # Scan from a week before the epoch so the epoch lies inside a run.
        self._scanned = -7 * 96

    def upto(self, quarter: int) -> None:
        """Make sure every run that starts before ``quarter`` is known."""
        while self._scanned <= quarter:
            start = self._scanned
            local = (EPOCH + start * QUARTER).astimezone(TZ)
            if not _low_tariff(local):
                start = _first_low_quarter(start)
            end = start
            while _low_tariff((EPOCH + end * QUARTER).astimezone(TZ)):
                end += 4
            self.starts.append(start)
            self.ends.append(end)
            self._scanned = end


_LOW_RUNS = _LowRuns()


class _Profile:
    """The deterministic data of one EAN.

    Electricity amounts repeat with a period of 97 days; which tariff
    register a quarter's amount goes to follows the NL schedule in local
    time (``_low_tariff``), so the low register is a sum over the low runs
    of differences of the periodic running sum (no per-quarter loop).
    """

    def __init__(self, device: SimDevice, seed: int) -> None:
        """Build one period of each amount series of ``device``."""
        salt = int(device.ean[-7:]) * 31 + seed * 7919
        self.gas = device.gas
        if self.gas:
            scale = 20 if device.eantype.startswith("GV") else 1
            litres = []
            for hour in range(24 * 89):
                hod = hour % 24
                base = 20 + (hour * 7919 + salt) % 89
                base += 150 if 4 <= hod < 8 else 0
                base += 100 if 15 <= hod < 21 else 0
                litres.append(base * scale)
            self.volume = _Periodic(litres)
            return
        cons_all, prod_all = [], []
        for quarter in range(96 * 97):
            qod = quarter % 96
            cons = 30 + (quarter * 7919 + salt) % 97 + (80 if 68 <= qod < 88 else 0)
            prod = 0
            if device.solar and 28 <= qod < 68:
                sun = math.sin(math.pi * (qod - 28 + 0.5) / 40)
                cloud = 0.4 + 0.6 * ((quarter * 104729 + salt) % 97) / 96
                prod = int(300 * sun * cloud)
            cons_all.append(cons)
            prod_all.append(prod)
        self.cons = _Periodic(cons_all)
        self.prod = _Periodic(prod_all)
        #: Low-tariff sums of cons/prod over the first n runs of _LOW_RUNS.
        self._low_cum: list[tuple[int, int]] = [(0, 0)]

    def _low_wh(self, quarter: int) -> tuple[int, int]:
        """Return the (import, export) Wh of low quarters in [epoch run, quarter)."""
        runs = _LOW_RUNS
        runs.upto(quarter)
        index = bisect_right(runs.starts, quarter) - 1
        while len(self._low_cum) <= max(index, 0):
            k = len(self._low_cum) - 1
            cons, prod = self._low_cum[-1]
            lo, hi = runs.starts[k], runs.ends[k]
            self._low_cum.append(
                (
                    cons + self.cons.total(hi) - self.cons.total(lo),
                    prod + self.prod.total(hi) - self.prod.total(lo),
                )
            )
        if index < 0:
            return 0, 0
        cons, prod = self._low_cum[index]
        lo, hi = runs.starts[index], min(runs.ends[index], quarter)
        return (
            cons + self.cons.total(hi) - self.cons.total(lo),
            prod + self.prod.total(hi) - self.prod.total(lo),
        )

    def registers_wh(self, quarter: int) -> dict[str, int]:
        """Return electricity registers (Wh) at the start of a quarter."""
        cons_low, prod_low = self._low_wh(quarter)
        return {
            "cons": 10_000_000 + self.cons.total(quarter) - cons_low,
            "cons_low": 8_000_000 + cons_low,
            "prod": 3_000_000 + self.prod.total(quarter) - prod_low,
            "prod_low": 1_000_000 + prod_low,
        }

    def amounts_wh(self, quarter: int) -> tuple[int, int]:
        """Return the (import, export) Wh of one quarter."""
        return self.cons.amount(quarter), self.prod.amount(quarter)

    def litres(self, hour: int) -> int:
        """Return the gas register (litres) at the start of an hour."""
        return 5_000_000 + self.volume.total(hour)


def _slot(moment: datetime, size: timedelta) -> int:
    """Return the index of the slot of ``size`` that starts at ``moment``."""
    return int((moment - EPOCH) // size)


def _day_bounds(day: date) -> tuple[datetime, datetime]:
    """Return local midnight of ``day`` and of the next day, in UTC."""
    start = datetime(day.year, day.month, day.day, tzinfo=TZ).astimezone(UTC)
    nxt = day + timedelta(days=1)
    end = datetime(nxt.year, nxt.month, nxt.day, tzinfo=TZ).astimezone(UTC)
    return start, end


def _kwh(wh: int) -> str:
    """Format Wh as kWh with three decimals."""
    return f"{wh / 1000:.3f}"


def _sub(parent: ET.Element, tag: str, text: object = None) -> ET.Element:
    """Add a child element with optional text."""
    child = ET.SubElement(parent, tag)
    if text is not None:
        child.text = str(text)
    return child


def _to_json(element: ET.Element) -> object:
    """Render an element tree as JSON-ready data (lists for repeated tags)."""
    if len(element) == 0:
        return element.text or ""
    result: dict[str, object] = {}
    for child in element:
        value = _to_json(child)
        if child.tag in result:
            known = result[child.tag]
            if isinstance(known, list):
                known.append(value)
            else:
                result[child.tag] = [known, value]
        else:
            result[child.tag] = value
    return result


type _Handler = Callable[[str, dict[str, str]], ET.Element]


class WattworxError(Exception):
    """An API error answer (status and message)."""

    def __init__(self, status: int, message: str) -> None:
        """Store status and message."""
        super().__init__(message)
        self.status = status
        self.message = message


class WattworxSimulator:
    """State, data and fault knobs of a simulated Wattworx account.

    Knobs: ``now`` (None: the real clock), ``delay`` (seconds per request),
    ``queue_day_requests`` (first day request of a day answers "queued"),
    ``ignore_tf`` (serve local times whatever ``tf`` says), ``force_values``
    (WH/KWH whatever was asked), ``fail_next()`` and ``respond_next()``.
    Every request is logged in ``requests`` and counted per endpoint in
    ``request_count``.
    """

    def __init__(self, seed: int = 1, now: datetime | None = None) -> None:
        """Create the demo account: key → two clients, five EANs."""
        self.seed = seed
        self.now = now
        self.delay = 0.0
        self.queue_day_requests = True
        self.ignore_tf = False
        self.force_values: str | None = None
        self.requests: list[SimRequest] = []
        self.request_count: Counter[str] = Counter()
        self.day_requests: set[tuple[str, date]] = set()
        self._overrides: deque[_Override] = deque()
        self._profiles: dict[str, _Profile] = {}
        #: Corrected quarters: EAN → quarter index → (import, export) Wh added
        #: to the amount and, from the quarter's end on, to its tariff register.
        self.corrections: dict[str, dict[int, tuple[int, int]]] = {}
        #: Day detail rows (EAN, quarter start) served without meter readings.
        self.missing_readings: set[tuple[str, datetime]] = set()
        #: Meter exchanges: EAN → moment from which a new meter counts from 0.
        self.exchanges: dict[str, datetime] = {}
        #: kWh amounts (EAN, quarter start) → Wh served on top of the import
        #: amount while the registers keep the metered value (an estimate).
        self.amount_errors: dict[tuple[str, datetime], int] = {}
        self.clients: dict[int, SimClient] = {
            1111: SimClient(
                1111, "Klant 1", "1234567890", "STADSTRAAT 111", "9999AA", "GRONINGEN"
            ),
            2222: SimClient(
                2222,
                "Klant 2 BV",
                "7654321000",
                "Voorbeeldweg 58",
                "1111AA",
                "Amsterdam",
            ),
        }
        self.keys: dict[str, set[int]] = {
            DEMO_KEY: {1111, 2222},
            SINGLE_CLIENT_KEY: {1111},
        }
        first = date(2024, 1, 1)
        self.devices: dict[str, SimDevice] = {}
        for device in (
            SimDevice(
                9998,
                EAN_POWER,
                "KVBE",
                "BC233232j44444",
                "STADSTRAAT 111",
                "9999AA",
                "GRONINGEN",
                "Liander NWN",
                1111,
                "MA00222",
                SIGNED,
                first,
                solar=True,
            ),
            SimDevice(
                9999,
                EAN_GAS,
                "KVBG",
                "G4-2019-55501",
                "STADSTRAAT 111",
                "9999AA",
                "GRONINGEN",
                "Liander NWN",
                1111,
                "MA00222",
                SIGNED,
                first,
            ),
            SimDevice(
                10001,
                EAN_POWER_2,
                "KVBE",
                "E0031003",
                "Voorbeeldweg 58",
                "1111AA",
                "Amsterdam",
                "Liander",
                2222,
                "MA9999",
                SIGNED,
                date(2024, 6, 1),
            ),
            SimDevice(
                10002,
                EAN_GAS_2,
                "GVBG",
                "G25-7781",
                "Voorbeeldweg 58",
                "1111AA",
                "Amsterdam",
                "Liander",
                2222,
                "MA9999",
                SIGNED,
                date(2024, 6, 1),
            ),
            SimDevice(
                10003,
                EAN_PENDING,
                "KVBE",
                "E0031077",
                "Voorbeeldweg 60",
                "1111AA",
                "Amsterdam",
                "Liander",
                2222,
                "MA10000",
                PENDING,
                None,
            ),
        ):
            self.devices[device.ean] = device

    # ------------------------------------------------------------------
    # Knobs

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        message: str = "Forced failure",
        retry_after: str | None = None,
        endpoint: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests with an XML error of ``status``.

        ``endpoint`` ("ean/dayvalues", ...) limits the knob to that endpoint.
        """
        headers = {"Retry-After": retry_after} if retry_after is not None else {}
        body = self._error_body(status, message)
        for _ in range(count):
            self._overrides.append(_Override(status, body, headers, endpoint=endpoint))

    def respond_next(
        self,
        body: bytes,
        *,
        status: int = 200,
        count: int = 1,
        content_type: str = "application/xml",
        headers: dict[str, str] | None = None,
        endpoint: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests with a raw body (malformed, huge...)."""
        for _ in range(count):
            self._overrides.append(
                _Override(status, body, dict(headers or {}), content_type, endpoint)
            )

    def add_ean(self, code: str, client_id: int, eantype: str = "KVBE") -> SimDevice:
        """Add an EAN to a client (authorisation pending: ``sign`` it for data)."""
        client = self.clients[client_id]
        new_id = max(dev.id for dev in self.devices.values()) + 1 if self.devices else 1
        device = SimDevice(
            new_id,
            code,
            eantype,
            f"M{new_id}",
            client.address,
            client.zip,
            client.city,
            "Enexis",
            client.id,
            f"MA{new_id}",
            PENDING,
            None,
        )
        self.devices[code] = device
        return device

    def remove_ean(self, code: str) -> None:
        """Take an EAN away from the account (the device list leaves it out)."""
        del self.devices[code]

    def sign(self, ean: str) -> None:
        """Mark the authorisation of an EAN as signed (data from yesterday)."""
        device = self.devices[ean]
        device.authorisation_status = SIGNED
        if device.first_data_date is None:
            device.first_data_date = self.today - timedelta(days=1)

    # ------------------------------------------------------------------
    # Data

    @property
    def current(self) -> datetime:
        """Return the simulator's clock."""
        return self.now if self.now is not None else datetime.now(UTC)

    @property
    def today(self) -> date:
        """Return the local date of the clock."""
        return self.current.astimezone(TZ).date()

    def last_data_date(self, device: SimDevice) -> date | None:
        """Return the last day with data: yesterday (by default), for signed devices."""
        if device.authorisation_status != SIGNED or device.first_data_date is None:
            return None
        return self.today - timedelta(days=device.publish_lag_days)

    def _profile(self, device: SimDevice) -> _Profile:
        """Return (and cache) the data profile of a device."""
        profile = self._profiles.get(device.ean)
        if profile is None:
            profile = self._profiles[device.ean] = _Profile(device, self.seed)
        return profile

    def _available(self, device: SimDevice, day: date) -> bool:
        """Return whether ``day`` has data."""
        last = self.last_data_date(device)
        return (
            last is not None
            and device.first_data_date is not None
            and device.first_data_date <= day <= last
        )

    def registers(self, ean: str, moment: datetime) -> dict[str, float]:
        """Return the readings at a moment: kWh (cons, cons_low, prod, prod_low) or m³ (gas)."""
        device = self.devices[ean]
        profile = self._profile(device)
        if device.gas:
            return {"gas": profile.litres(_slot(moment, HOUR)) / 1000}
        regs = self._registers_wh(device, _slot(moment, QUARTER))
        return {name: value / 1000 for name, value in regs.items()}

    def correct(
        self, ean: str, moment: datetime, cons_wh: int, prod_wh: int = 0
    ) -> None:
        """Correct the quarter starting at ``moment``: amounts and registers move."""
        quarter = _slot(moment, QUARTER)
        known = self.corrections.setdefault(ean, {}).get(quarter, (0, 0))
        self.corrections[ean][quarter] = (known[0] + cons_wh, known[1] + prod_wh)

    def _registers_wh(self, device: SimDevice, quarter: int) -> dict[str, int]:
        """Return the registers (Wh) at the start of ``quarter``, with every knob."""
        regs = self._raw_registers_wh(device, quarter)
        exchange = self.exchanges.get(device.ean)
        if exchange is not None and quarter >= _slot(exchange, QUARTER):
            old = self._raw_registers_wh(device, _slot(exchange, QUARTER))
            regs = {name: value - old[name] for name, value in regs.items()}
        return regs

    def _raw_registers_wh(self, device: SimDevice, quarter: int) -> dict[str, int]:
        """Return the registers (Wh) of one meter that never changed, corrected."""
        regs = self._profile(device).registers_wh(quarter)
        for corrected, (cons, prod) in self.corrections.get(device.ean, {}).items():
            if corrected < quarter:
                low = _low_tariff((EPOCH + corrected * QUARTER).astimezone(TZ))
                regs["cons_low" if low else "cons"] += cons
                regs["prod_low" if low else "prod"] += prod
        return regs

    def _amounts_wh(self, device: SimDevice, quarter: int) -> tuple[int, int]:
        """Return the (import, export) Wh of one quarter, corrected."""
        cons, prod = self._profile(device).amounts_wh(quarter)
        extra = self.corrections.get(device.ean, {}).get(quarter, (0, 0))
        return cons + extra[0], prod + extra[1]

    def intervals(
        self, ean: str, start: datetime, end: datetime
    ) -> dict[str, list[tuple[datetime, datetime, float]]]:
        """Return the source amounts starting in [start, end), ignoring availability.

        Electricity: ``energy_import``/``energy_export`` per quarter (kWh);
        gas: ``gas_volume`` per hour (m³).
        """
        device = self.devices[ean]
        profile = self._profile(device)
        if device.gas:
            gas = []
            hour = _slot(start, HOUR)
            moment = EPOCH + hour * HOUR
            if moment < start:
                hour, moment = hour + 1, moment + HOUR
            while moment < end:
                litres = profile.litres(hour + 1) - profile.litres(hour)
                gas.append((moment, moment + HOUR, litres / 1000))
                hour, moment = hour + 1, moment + HOUR
            return {"gas_volume": gas}
        imports, exports = [], []
        quarter = _slot(start, QUARTER)
        moment = EPOCH + quarter * QUARTER
        if moment < start:
            quarter, moment = quarter + 1, moment + QUARTER
        while moment < end:
            cons, prod = self._amounts_wh(device, quarter)
            imports.append((moment, moment + QUARTER, cons / 1000))
            exports.append((moment, moment + QUARTER, prod / 1000))
            quarter, moment = quarter + 1, moment + QUARTER
        return {"energy_import": imports, "energy_export": exports}

    # ------------------------------------------------------------------
    # HTTP

    def build_app(self) -> web.Application:
        """Return the aiohttp application serving this simulator."""
        app = web.Application()
        app.router.add_route("*", "/api/v1/{tail:.*}", self._handle)
        return app

    @staticmethod
    def _error_body(status: int, message: str) -> bytes:
        """Return the XML error body."""
        root = ET.Element("error")
        _sub(root, "code", status)
        _sub(root, "message", message)
        return bytes(ET.tostring(root, encoding="utf-8", xml_declaration=True))

    def _reply(self, root: ET.Element, fmt: str, status: int = 200) -> web.Response:
        """Render a tree as XML (default) or JSON."""
        if fmt == "json":
            return web.json_response({root.tag: _to_json(root)}, status=status)
        return web.Response(
            body=ET.tostring(root, encoding="utf-8", xml_declaration=True),
            status=status,
            content_type="application/xml",
            charset="utf-8",
        )

    async def _handle(self, request: web.Request) -> web.Response:
        """Log, apply knobs, authenticate and dispatch one request."""
        if self.delay:
            await asyncio.sleep(self.delay)
        raw = request.rel_url.raw_path[len(PREFIX) :].strip("/")
        segments = [unquote(seg) for seg in raw.split("/")] if raw else []
        endpoint = "/".join(segments[:2])
        pairs = segments[2:]
        malformed_path = len(pairs) % 2 == 1
        params = dict(zip(pairs[::2], pairs[1::2], strict=False))
        key_in_url = "key" in params
        params.update(request.query)
        url_key = params.pop("key", None)
        header = request.headers.get("Authorization", "")
        bearer = header.startswith("Bearer ")
        shown = re.sub(r"/key/[^/]*", "/key/REDACTED", request.rel_url.raw_path)
        self.requests.append(
            SimRequest(
                request.method, endpoint, shown, dict(params), bearer, key_in_url
            )
        )
        self.request_count[endpoint] += 1
        override = self._take_override(endpoint)
        if override is not None:
            return web.Response(
                body=override.body,
                status=override.status,
                headers=override.headers,
                content_type=override.content_type,
            )
        fmt = params.pop("format", "xml").lower()
        key = header[len("Bearer ") :].strip() if bearer else url_key
        try:
            root = self._dispatch(endpoint, key, params, fmt, malformed_path)
        except WattworxError as err:
            root = ET.Element("error")
            _sub(root, "code", err.status)
            _sub(root, "message", err.message)
            return self._reply(root, fmt, err.status)
        return self._reply(root, fmt)

    def _take_override(self, endpoint: str) -> _Override | None:
        """Pop the first canned answer meant for this endpoint, if any."""
        for override in self._overrides:
            if override.endpoint in (None, endpoint):
                self._overrides.remove(override)
                return override
        return None

    def _dispatch(
        self,
        endpoint: str,
        key: str | None,
        params: dict[str, str],
        fmt: str,
        malformed_path: bool,
    ) -> ET.Element:
        """Check format, key and path, then run the endpoint's handler."""
        if fmt not in ("xml", "json"):
            raise WattworxError(400, "Unknown format")
        if key is None or key not in self.keys:
            raise WattworxError(401, "Invalid or missing API key")
        if malformed_path:
            raise WattworxError(400, "Malformed parameter path")
        handler = self._handlers().get(endpoint)
        if handler is None:
            raise WattworxError(404, "Unknown endpoint")
        return handler(key, params)

    def _handlers(self) -> dict[str, _Handler]:
        """Return the endpoint handlers."""
        return {
            "ean/list": self._ean_list,
            "ean/eantype": self._ean_types,
            "ean/authorisationstatus": self._authorisation_statuses,
            "ean/monthvalues": self._month_values,
            "ean/dayvalues": self._day_values,
            "ean/innerdayvalues": self._day_detail_values,
            "ean/add": self._ean_add,
            "ean/delete": self._ean_delete,
            "ean/requestdayvalues": self._request_day_values,
            "client/list": self._client_list,
            "client/add": self._client_add,
            "client/delete": self._client_delete,
        }

    # ------------------------------------------------------------------
    # Parameters

    def _visible(self, key: str) -> list[SimDevice]:
        """Return the devices of the clients the key may see."""
        clients = self.keys[key]
        return [dev for dev in self.devices.values() if dev.client_id in clients]

    def _device(self, key: str, params: dict[str, str], *, data: bool) -> SimDevice:
        """Return the device named by ``code`` or ``id``; 403 if unsigned."""
        code, dev_id = params.get("code"), params.get("id")
        for device in self._visible(key):
            if device.ean == code or (dev_id is not None and str(device.id) == dev_id):
                if data and device.authorisation_status != SIGNED:
                    raise WattworxError(
                        403, f"No signed authorisation for EAN {device.ean}"
                    )
                return device
        if code is None and dev_id is None:
            raise WattworxError(400, "Parameter code or id is required")
        raise WattworxError(404, "EAN not found")

    @staticmethod
    def _date(params: dict[str, str], name: str) -> date | None:
        """Parse a YYYYMMDD parameter."""
        text = params.get(name)
        if text is None:
            return None
        try:
            return datetime.strptime(text, "%Y%m%d").date()
        except ValueError:
            raise WattworxError(400, f"Invalid date for {name}") from None

    def _range(
        self, params: dict[str, str], device: SimDevice, default_days: int
    ) -> tuple[date, date]:
        """Return the inclusive (from, to) range; default: the last days with data."""
        start, end = self._date(params, "from"), self._date(params, "to")
        last = self.last_data_date(device) or self.today - timedelta(days=1)
        if start is None and end is None:
            end = last
        if start is None:
            assert end is not None
            start = end - timedelta(days=default_days - 1)
        if end is None:
            end = start + timedelta(days=default_days - 1)
        if end < start:
            raise WattworxError(400, "Parameter to is before from")
        return start, end

    # ------------------------------------------------------------------
    # Endpoints

    def _device_element(self, parent: ET.Element, device: SimDevice) -> None:
        """Add one <device> as the document shows it."""
        last = self.last_data_date(device)
        row = _sub(parent, "device")
        _sub(row, "id", device.id)
        _sub(row, "ean", device.ean)
        _sub(row, "eantype", device.eantype)
        _sub(row, "meterId", device.meter_id)
        _sub(row, "address", device.address)
        _sub(row, "zip", device.zip)
        _sub(row, "city", device.city)
        _sub(row, "rnb", device.rnb)
        if last is not None:
            status = f"Intervalstanden van {last:%d-%m-%Y} gepubliceerd"
        else:
            status = "Wacht op machtiging"
        _sub(row, "laststatus", status)
        client = self.clients[device.client_id]
        block = _sub(row, "client")
        _sub(block, "id", client.id)
        _sub(block, "name", client.name)
        _sub(block, "kvk", client.kvk)
        _sub(block, "authorisation", device.authorisation)
        _sub(block, "authorisationstatus", device.authorisation_status)
        first = device.first_data_date if last is not None else None
        _sub(block, "firstDataDate", first.isoformat() if first else None)
        _sub(block, "lastDataDate", last.isoformat() if last else None)

    def _ean_list(self, key: str, params: dict[str, str]) -> ET.Element:
        """Device list: every device of every client of the key."""
        root = ET.Element("devices")
        for device in self._visible(key):
            self._device_element(root, device)
        return root

    def _ean_types(self, key: str, params: dict[str, str]) -> ET.Element:
        """Device types."""
        root = ET.Element("eantypes")
        for code, description in EAN_TYPES.items():
            row = _sub(root, "eantype")
            _sub(row, "name", code)
            _sub(row, "description", description)
        return root

    def _authorisation_statuses(self, key: str, params: dict[str, str]) -> ET.Element:
        """Authorisation statuses."""
        root = ET.Element("authorisationstatuses")
        for status_id, name, description in AUTHORISATION_STATUSES:
            row = _sub(root, "authorisationstatus")
            _sub(row, "id", status_id)
            _sub(row, "name", name)
            _sub(row, "description", description)
        return root

    def _readings(self, row: ET.Element, device: SimDevice, moment: datetime) -> None:
        """Add the kWh (or m³) readings at ``moment``."""
        regs = self.registers(device.ean, moment)
        if device.gas:
            _sub(row, "m3ConsReading", f"{regs['gas']:.3f}")
            return
        _sub(row, "kwhConsReading", f"{regs['cons']:.3f}")
        _sub(row, "kwhConsLowReading", f"{regs['cons_low']:.3f}")
        _sub(row, "kwhProdReading", f"{regs['prod']:.3f}")
        _sub(row, "kwhProdLowReading", f"{regs['prod_low']:.3f}")

    def _month_values(self, key: str, params: dict[str, str]) -> ET.Element:
        """Month values: readings at the end of each month (or of the data)."""
        device = self._device(key, params, data=True)
        start, end = self._range(params, device, 365)
        last = self.last_data_date(device)
        root = ET.Element("months")
        year, month = start.year, start.month
        while date(year, month, 1) <= end:
            nxt = date(year + month // 12, month % 12 + 1, 1)
            closing = min(nxt - timedelta(days=1), last) if last else None
            if (
                closing is not None
                and closing >= date(year, month, 1)
                and self._available(device, closing)
            ):
                row = _sub(root, "month")
                _sub(row, "year", year)
                _sub(row, "month", month)
                self._readings(row, device, _day_bounds(closing)[1])
            year, month = nxt.year, nxt.month
        return root

    def _days_element(self, device: SimDevice, start: date, end: date) -> ET.Element:
        """Return <days> with the readings at the end of each available day."""
        root = ET.Element("days")
        day = start
        while day <= end:
            if self._available(device, day):
                row = _sub(root, "day")
                _sub(row, "date", day.isoformat())
                self._readings(row, device, _day_bounds(day)[1])
            day += timedelta(days=1)
        return root

    def _day_values(self, key: str, params: dict[str, str]) -> ET.Element:
        """Day values."""
        device = self._device(key, params, data=True)
        start, end = self._range(params, device, 7)
        return self._days_element(device, start, end)

    def _day_detail_values(self, key: str, params: dict[str, str]) -> ET.Element:
        """Day detail values (15-minute electricity, hourly gas)."""
        device = self._device(key, params, data=True)
        start, end = self._range(params, device, 7)
        if (end - start).days + 1 > MAX_DETAIL_DAYS:
            raise WattworxError(400, "Maximum date range is 60 days")
        values = params.get("values")
        if values is None:
            values = "WH" if self.current < VALUES_SWITCH else "KWH"
        values = values.upper()
        if values not in ("WH", "KWH"):
            raise WattworxError(400, "Parameter values must be WH or KWH")
        values = self.force_values or values
        tf = params.get("tf")
        if tf not in (None, "4"):
            raise WattworxError(400, "Unknown time format")
        utc = tf == "4" and not self.ignore_tf
        profile = self._profile(device)
        root = ET.Element("daydetails")
        day = start
        while day <= end:
            if self._available(device, day):
                lower, upper = _day_bounds(day)
                if device.gas:
                    self._gas_rows(root, profile, lower, upper)
                else:
                    self._power_rows(root, device, lower, upper, values, utc)
            day += timedelta(days=1)
        return root

    @staticmethod
    def _gas_rows(
        root: ET.Element, profile: _Profile, lower: datetime, upper: datetime
    ) -> None:
        """Add hourly gas readings of [lower, upper)."""
        moment = lower
        while moment < upper:
            row = _sub(root, "daydetail")
            _sub(row, "timestamp", int(moment.timestamp()))
            litres = profile.litres(_slot(moment, HOUR))
            _sub(row, "m3ConsReading", f"{litres / 1000:.3f}")
            moment += HOUR

    def _power_rows(
        self,
        root: ET.Element,
        device: SimDevice,
        lower: datetime,
        upper: datetime,
        values: str,
        utc: bool,
    ) -> None:
        """Add 15-minute electricity rows of [lower, upper).

        A row is labelled with its quarter's start and carries the quarter's
        amounts (values=KWH) and the four registers at the quarter's end.
        """
        moment = lower
        while moment < upper:
            quarter = _slot(moment, QUARTER)
            shown = moment if utc else moment.astimezone(TZ)
            row = _sub(root, "daydetail")
            _sub(row, "datetime", shown.strftime("%Y-%m-%d %H:%M:%S"))
            regs = self._registers_wh(device, quarter + 1)
            readings = (device.ean, moment) not in self.missing_readings
            if values == "WH":
                if readings:
                    _sub(row, "kwhConsLowReading", f"{regs['cons_low']:.1f}")
                    _sub(row, "kwhConsReading", f"{regs['cons']:.1f}")
                    _sub(row, "kwhProdLowReading", f"{regs['prod_low']:.1f}")
                    _sub(row, "kwhProdReading", f"{regs['prod']:.1f}")
            else:
                cons, prod = self._amounts_wh(device, quarter)
                cons += self.amount_errors.get((device.ean, moment), 0)
                if readings:
                    _sub(row, "kwhConsReading", _kwh(regs["cons"]))
                    _sub(row, "kwhConsLowReading", _kwh(regs["cons_low"]))
                    _sub(row, "kwhProdReading", _kwh(regs["prod"]))
                    _sub(row, "kwhProdLowReading", _kwh(regs["prod_low"]))
                _sub(row, "kwhCons", _kwh(cons))
                _sub(row, "kwhProd", _kwh(prod))
            moment += QUARTER

    def _client_of(self, key: str, params: dict[str, str], name: str) -> SimClient:
        """Return the client named by a parameter, if the key may see it."""
        text = params.get(name)
        if text is None or not text.isdigit():
            raise WattworxError(400, f"Parameter {name} is required")
        client_id = int(text)
        if client_id not in self.keys[key] or client_id not in self.clients:
            raise WattworxError(404, "Client not found")
        return self.clients[client_id]

    def _ean_add(self, key: str, params: dict[str, str]) -> ET.Element:
        """Add an EAN to a client (authorisation pending)."""
        client = self._client_of(key, params, "client")
        code, eantype = params.get("code", ""), params.get("eantype", "")
        if not re.fullmatch(r"\d{18}", code):
            raise WattworxError(400, "Parameter code must be an 18-digit EAN")
        if eantype not in EAN_TYPES:
            raise WattworxError(400, "Unknown eantype")
        if code in self.devices:
            raise WattworxError(422, "EAN already registered")
        new_id = self.add_ean(code, client.id, eantype).id
        root = ET.Element("ean")
        _sub(root, "id", new_id)
        _sub(root, "code", code)
        _sub(root, "authorisationstatus", PENDING)
        return root

    def _ean_delete(self, key: str, params: dict[str, str]) -> ET.Element:
        """Delete an EAN from a client."""
        client = self._client_of(key, params, "client")
        device = self.devices.get(params.get("code", ""))
        if device is None or device.client_id != client.id:
            raise WattworxError(404, "EAN not found")
        del self.devices[device.ean]
        root = ET.Element("ean")
        _sub(root, "id", device.id)
        _sub(root, "code", device.ean)
        _sub(root, "status", "Verwijderd")
        return root

    def _request_day_values(self, key: str, params: dict[str, str]) -> ET.Element:
        """Day data request: queued the first time, the day values later."""
        device = self._device(key, params, data=True)
        if device.eantype not in ("KVBE", "KVBG"):
            raise WattworxError(400, "Day requests are only possible for KVBE and KVBG")
        day = self._date(params, "date")
        if day is None:
            raise WattworxError(400, "Parameter date is required")
        if day < self.today - timedelta(days=MAX_REQUEST_PAST_DAYS):
            raise WattworxError(400, "Date is more than 30 days in the past")
        first_time = (device.ean, day) not in self.day_requests
        self.day_requests.add((device.ean, day))
        if (first_time and self.queue_day_requests) or not self._available(device, day):
            root = ET.Element("ean")
            _sub(root, "id", device.id)
            _sub(root, "eanCode", device.ean)
            _sub(root, "status", f"Dayrequest for {day.isoformat()} queued")
            return root
        return self._days_element(device, day, day)

    def _client_list(self, key: str, params: dict[str, str]) -> ET.Element:
        """Client overview with authorisations and their EANs."""
        root = ET.Element("clients")
        for client_id in sorted(self.keys[key]):
            client = self.clients[client_id]
            row = _sub(root, "client")
            for tag in ("id", "name", "kvk", "address", "zip", "city"):
                _sub(row, tag, getattr(client, tag))
            auths = _sub(row, "authorisations")
            groups: dict[tuple[str, str], list[str]] = {}
            for device in self.devices.values():
                if device.client_id == client_id:
                    group = (device.authorisation, device.authorisation_status)
                    groups.setdefault(group, []).append(device.ean)
            for (number, status), eans in groups.items():
                auth = _sub(auths, "authorisation")
                _sub(auth, "number", number)
                _sub(auth, "status", status)
                block = _sub(auth, "eans")
                for ean in eans:
                    _sub(block, "ean", ean)
        return root

    def _client_add(self, key: str, params: dict[str, str]) -> ET.Element:
        """Add a client to the account (visible to this key)."""
        fields = {}
        for name in ("name", "address", "zip", "city"):
            value = params.get(name, "").strip()
            if not value:
                raise WattworxError(400, f"Parameter {name} is required")
            fields[name] = value
        new_id = max(self.clients, default=0) + 1
        self.clients[new_id] = SimClient(new_id, kvk=params.get("kvk"), **fields)
        self.keys[key].add(new_id)
        root = ET.Element("client")
        _sub(root, "id", new_id)
        for name, value in fields.items():
            _sub(root, name, value)
        return root

    def _client_delete(self, key: str, params: dict[str, str]) -> ET.Element:
        """Delete a client and its EANs."""
        client = self._client_of(key, params, "id")
        del self.clients[client.id]
        for ids in self.keys.values():
            ids.discard(client.id)
        for ean in [e for e, dev in self.devices.items() if dev.client_id == client.id]:
            del self.devices[ean]
        root = ET.Element("client")
        _sub(root, "id", client.id)
        _sub(root, "name", client.name)
        _sub(root, "status", "Removed")
        return root


def main() -> None:
    """Serve the simulator on 127.0.0.1 for development."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sim = WattworxSimulator(seed=args.seed)
    print(f"Wattworx simulator on http://127.0.0.1:{args.port}/api/v1/")  # noqa: T201
    print(f"  API key (two clients): {DEMO_KEY}")  # noqa: T201
    print(f"  API key (one client):  {SINGLE_CLIENT_KEY}")  # noqa: T201
    web.run_app(sim.build_app(), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
