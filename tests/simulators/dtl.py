"""Simulator of a metering company's pull API for Liander "Dynamisch Terugleveren".

It serves the DTL profile documented in ``custom_components/meetdata/providers/dtl/client/model.py``:
``GET /meters?klant_ean=…`` (repeatable) and ``GET /meetdata?klant_ean=…&meter_ean=…
&start_tijd=…&eind_tijd=…`` behind HTTP Basic authentication, JSON arrays out.

Data is deterministic: :meth:`DtlSimulator.value` computes every 5-minute value from
the seed, the meter and the interval's UTC start (a solar curve on the UTC clock with
seeded "clouds", a seeded site consumption, seeded reactive power and voltages).
Intervals exist whose start lies in [floor5(now) - retention, floor5(now)); the
metering company keeps 31 days. :meth:`DtlSimulator.rows` returns exactly the rows
``/meetdata`` serves (gaps applied, injected rows excluded) so tests can compute
expected values by hand.

Run ``python -m tests.simulators.dtl --port 8765`` to serve it on 127.0.0.1.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
import json
import math
import sys
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import hdrs, web

TIMEZONE = ZoneInfo("Europe/Amsterdam")
INTERVAL = timedelta(minutes=5)
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo-dtl-password"
METING_TYPES: tuple[str, ...] = (
    "actief_vermogen",
    "blind_vermogen",
    "spanning_l1",
    "spanning_l2",
    "spanning_l3",
)
UNITS: dict[str, str] = {
    "actief_vermogen": "kW",
    "blind_vermogen": "kVAr",
    "spanning_l1": "V",
    "spanning_l2": "V",
    "spanning_l3": "V",
}
_MASK = (1 << 64) - 1


def with_check_digit(body: str) -> str:
    """Append the GS1 check digit to a 17-digit EAN body."""
    total = sum(
        int(digit) * (3 if index % 2 == 0 else 1)
        for index, digit in enumerate(reversed(body))
    )
    return body + str((10 - total % 10) % 10)


CUSTOMER_EAN = with_check_digit("87168714000012345")
PRODUCTION_METER_EAN = with_check_digit("87168714000098761")
TRANSFER_METER_EAN = with_check_digit("87168714000098762")
SECOND_CUSTOMER_EAN = with_check_digit("87168714000054321")
SECOND_TRANSFER_METER_EAN = with_check_digit("87168714000098763")
UNKNOWN_CUSTOMER_EAN = with_check_digit("87168714000099999")


@dataclass(frozen=True, slots=True)
class SimMeter:
    """One meter the simulator serves."""

    klant_ean: str
    meter_ean: str
    meter_type: str
    index: int
    #: Peak solar power of the customer's installation in kW (0: none).
    peak_kw: int
    #: Base consumption of the site in kW (0 for a production meter).
    base_kw: int


@dataclass(slots=True)
class SimRequest:
    """One request the simulator received."""

    method: str
    path: str
    query: list[tuple[str, str]]
    authorization: bool
    status: int = 0


@dataclass(frozen=True, slots=True)
class Gap:
    """Intervals starting in [start, end) that the metering company lacks."""

    start: datetime
    end: datetime
    meter_ean: str | None = None
    meting_types: frozenset[str] | None = None

    def covers(self, meter_ean: str, meting_type: str, moment: datetime) -> bool:
        """Return whether this gap removes the given row."""
        return (
            self.start <= moment < self.end
            and (self.meter_ean is None or self.meter_ean == meter_ean)
            and (self.meting_types is None or meting_type in self.meting_types)
        )


@dataclass(slots=True)
class ForcedResponse:
    """A canned response for the next matching requests."""

    status: int
    body: bytes
    content_type: str
    headers: dict[str, str]
    path: str | None
    remaining: int


def _floor(moment: datetime) -> datetime:
    """Floor an aware moment to the 5-minute grid, in UTC."""
    moment = moment.astimezone(UTC)
    return moment.replace(
        minute=moment.minute - moment.minute % 5, second=0, microsecond=0
    )


def _ceil(moment: datetime) -> datetime:
    """Ceil an aware moment to the 5-minute grid, in UTC."""
    floored = _floor(moment)
    return floored if floored == moment else floored + INTERVAL


def _parse_param(value: str) -> datetime | None:
    """Parse an ISO 8601 timestamp that must carry an offset."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return None if moment.tzinfo is None else moment.astimezone(UTC)


def _error(status: int, message: str) -> web.Response:
    """Return a JSON error body."""
    return web.json_response({"error": message}, status=status)


class DtlSimulator:
    """State, data and fault knobs of one simulated metering company."""

    def __init__(
        self,
        *,
        now: datetime | None = None,
        seed: int = 2025,
        username: str = DEMO_USERNAME,
        password: str = DEMO_PASSWORD,
        retention: timedelta = timedelta(days=31),
        max_window: timedelta | None = timedelta(days=7),
    ) -> None:
        """Create the demo account: two customers, three meters."""
        #: A fixed "now" (None: follow the real clock, for a long-running server).
        self.fixed_now = now
        self.seed = seed
        self.username = username
        self.password = password
        self.retention = retention
        #: Longest period one /meetdata request may span (None: no limit) → 400.
        self.max_window = max_window
        self.meters: list[SimMeter] = [
            SimMeter(CUSTOMER_EAN, PRODUCTION_METER_EAN, "bruto_productie", 1, 900, 0),
            SimMeter(CUSTOMER_EAN, TRANSFER_METER_EAN, "overdrachtspunt", 2, 900, 150),
            SimMeter(
                SECOND_CUSTOMER_EAN,
                SECOND_TRANSFER_METER_EAN,
                "overdrachtspunt",
                3,
                0,
                40,
            ),
        ]
        #: Customers that withdrew consent: /meters leaves them out, /meetdata 404s.
        self.hidden_customers: set[str] = set()
        self.gaps: list[Gap] = []
        #: "by_time" (all types per interval) or "by_type" (each type chronologically).
        self.order = "by_time"
        #: Append one malformed row of each kind to every /meetdata answer.
        self.inject_malformed = False
        #: Raw rows appended to every /meetdata answer (any JSON value).
        self.extra_rows: list[Any] = []
        #: Raw rows appended to every /meters answer (any JSON value).
        self.extra_meter_rows: list[Any] = []
        #: Seconds to wait before answering each request.
        self.delay = 0.0
        self.requests: list[SimRequest] = []
        self.request_count: Counter[str] = Counter()
        self._forced: deque[ForcedResponse] = deque()

    # --- knobs -------------------------------------------------------------

    def force(
        self,
        status: int,
        *,
        count: int = 1,
        body: bytes | str | None = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
        path: str | None = None,
    ) -> None:
        """Answer the next ``count`` requests (to ``path``, or any) with this response.

        Forced responses are sent before authentication is checked.
        """
        if body is None:
            body = json.dumps({"error": f"forced {status}"})
        if isinstance(body, str):
            body = body.encode()
        self._forced.append(
            ForcedResponse(status, body, content_type, headers or {}, path, count)
        )

    def add_meter(
        self, klant_ean: str, meter_ean: str, meter_type: str = "overdrachtspunt"
    ) -> SimMeter:
        """Add a meter of a customer (listed by /meters from now on)."""
        index = max((m.index for m in self.meters), default=0) + 1
        meter = SimMeter(klant_ean, meter_ean, meter_type, index, 0, 60)
        self.meters.append(meter)
        return meter

    def remove_meter(self, meter_ean: str) -> None:
        """Take a meter away (no longer listed, its data no longer served)."""
        self.meters.remove(self.meter(meter_ean))

    def add_gap(
        self,
        start: datetime,
        end: datetime,
        *,
        meter_ean: str | None = None,
        meting_types: Iterable[str] | None = None,
    ) -> None:
        """Drop the intervals starting in [start, end) (of one meter / some types)."""
        self.gaps.append(
            Gap(
                start.astimezone(UTC),
                end.astimezone(UTC),
                meter_ean,
                None if meting_types is None else frozenset(meting_types),
            )
        )

    # --- data --------------------------------------------------------------

    def meter(self, meter_ean: str) -> SimMeter:
        """Return the simulated meter with this EAN."""
        for meter in self.meters:
            if meter.meter_ean == meter_ean:
                return meter
        raise KeyError(meter_ean)

    @property
    def now(self) -> datetime:
        """Return the simulated current time."""
        return self.fixed_now if self.fixed_now is not None else datetime.now(UTC)

    @now.setter
    def now(self, value: datetime) -> None:
        """Fix the current time (set ``fixed_now = None`` for the real clock)."""
        self.fixed_now = value

    @property
    def data_end(self) -> datetime:
        """Return the end of the newest complete interval (floor5(now))."""
        return _floor(self.now)

    @property
    def data_start(self) -> datetime:
        """Return the start of the oldest interval the company still keeps."""
        return self.data_end - self.retention

    def _noise(self, *parts: int) -> float:
        """Return a deterministic number in [0, 1) (splitmix64 over the parts)."""
        state = self.seed & _MASK
        for part in parts:
            state = (state + 0x9E3779B97F4A7C15 + (part & _MASK)) & _MASK
            mixed = state
            mixed = ((mixed ^ (mixed >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
            mixed = ((mixed ^ (mixed >> 27)) * 0x94D049BB133111EB) & _MASK
            state = mixed ^ (mixed >> 31)
        return state / 2**64

    def _production_kw(self, meter: SimMeter, slot: int, start: datetime) -> int:
        """Gross production of the customer's installation (LDN +, ODN -)."""
        if not meter.peak_kw:
            return 0
        customer = int(meter.klant_ean[-6:])
        hour = start.hour + start.minute / 60
        season = math.cos(2 * math.pi * (start.timetuple().tm_yday - 172) / 365)
        half_day = 6.0 + 2.2 * season  # hours between solar noon and sunset
        distance = abs(hour - 11.7)
        sun = 0.0
        if distance < half_day:
            sun = math.cos(math.pi / 2 * distance / half_day) * (0.65 + 0.35 * season)
        if sun == 0.0:
            # Inverters in standby draw a little from the grid at night.
            return 1 if self._noise(customer, slot, 7) < 0.5 else 0
        cloud = 0.5 + 0.5 * self._noise(customer, slot, 11)
        return -round(meter.peak_kw * sun * cloud)

    def value(self, meter_ean: str, meting_type: str, start: datetime) -> float:
        """Return the value the simulator serves for this meter, type and UTC start."""
        meter = self.meter(meter_ean)
        start = start.astimezone(UTC)
        slot = int(start.timestamp()) // 300
        kind = METING_TYPES.index(meting_type)
        noise = self._noise(meter.index, slot, kind)
        if meting_type == "actief_vermogen":
            production = self._production_kw(meter, slot, start)
            if meter.meter_type == "bruto_productie":
                return float(production)
            consumption = meter.base_kw + round(meter.base_kw * 0.4 * noise)
            return float(consumption + production)
        if meting_type == "blind_vermogen":
            scale = 40 if meter.meter_type == "overdrachtspunt" else 20
            return float(round((noise - 0.5) * scale))
        return round(228.0 + 6.0 * noise, 1)

    def interval_starts(self, start: datetime, end: datetime) -> list[datetime]:
        """Return the UTC interval starts in [start, end) the company keeps."""
        first = _ceil(max(start.astimezone(UTC), self.data_start))
        stop = min(end.astimezone(UTC), self.data_end)
        result: list[datetime] = []
        moment = first
        while moment < stop:
            result.append(moment)
            moment += INTERVAL
        return result

    def _gapped(self, meter_ean: str, meting_type: str, moment: datetime) -> bool:
        """Return whether a gap removes this row."""
        return any(gap.covers(meter_ean, meting_type, moment) for gap in self.gaps)

    def _row(
        self, meter: SimMeter, meting_type: str, start: datetime
    ) -> dict[str, Any]:
        """Build one /meetdata row."""
        local = start.astimezone(TIMEZONE)
        value = self.value(meter.meter_ean, meting_type, start)
        return {
            "tijd": f"{local.hour:02d}:{local.minute:02d}",
            "datum": local.date().isoformat(),
            "klant_ean": meter.klant_ean,
            "meter_ean": meter.meter_ean,
            "waarde": value if meting_type.startswith("spanning") else int(value),
            "meting_type": meting_type,
            "waarde_type": UNITS[meting_type],
        }

    def rows(
        self, meter_ean: str, start: datetime, end: datetime
    ) -> list[dict[str, Any]]:
        """Return the rows /meetdata serves for [start, end), without injected rows."""
        meter = self.meter(meter_ean)
        starts = self.interval_starts(start, end)
        pairs: list[tuple[str, datetime]]
        if self.order == "by_type":
            pairs = [(kind, moment) for kind in METING_TYPES for moment in starts]
        else:
            pairs = [(kind, moment) for moment in starts for kind in METING_TYPES]
        return [
            self._row(meter, kind, moment)
            for kind, moment in pairs
            if not self._gapped(meter_ean, kind, moment)
        ]

    def expected(
        self, meter_ean: str, meting_type: str, start: datetime, end: datetime
    ) -> list[tuple[datetime, float]]:
        """Return (UTC start, value) of one type as served, gaps applied."""
        return [
            (moment, self.value(meter_ean, meting_type, moment))
            for moment in self.interval_starts(start, end)
            if not self._gapped(meter_ean, meting_type, moment)
        ]

    def latest_start(self, meter_ean: str) -> datetime | None:
        """Return the start of the newest interval with any row (datum_laatste_meting)."""
        moment = self.data_end - INTERVAL
        while moment >= self.data_start:
            if any(not self._gapped(meter_ean, kind, moment) for kind in METING_TYPES):
                return moment
            moment -= INTERVAL
        return None

    def malformed_rows(self, meter_ean: str) -> list[Any]:
        """Return the malformed rows ``inject_malformed`` appends (one of each kind)."""
        meter = self.meter(meter_ean)
        moment = self.data_end - INTERVAL
        good = self._row(meter, "actief_vermogen", moment)
        missing = dict(good)
        del missing["waarde"]
        return [
            "not an object",
            missing,
            {**good, "meting_type": "frequentie", "waarde_type": "Hz"},
            {**good, "waarde_type": "W"},
            {**good, "waarde": "veel"},
            {**good, "tijd": "12:03"},
        ]

    # --- HTTP --------------------------------------------------------------

    def _take_forced(self, path: str) -> ForcedResponse | None:
        """Pop the first forced response that applies to ``path``."""
        for forced in self._forced:
            if forced.path is None or forced.path == path:
                forced.remaining -= 1
                if forced.remaining <= 0:
                    self._forced.remove(forced)
                return forced
        return None

    def _authorized(self, request: web.Request) -> bool:
        """Check the Basic credentials."""
        scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        if scheme.lower() != "basic" or not token:
            return False
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except ValueError:
            return False
        username, colon, password = decoded.partition(":")
        return bool(colon) and username == self.username and password == self.password

    @web.middleware
    async def _middleware(
        self,
        request: web.Request,
        handler: Any,
    ) -> web.StreamResponse:
        """Log, delay, force, authenticate — then handle."""
        entry = SimRequest(
            request.method,
            request.path,
            list(request.query.items()),
            hdrs.AUTHORIZATION in request.headers,
        )
        self.requests.append(entry)
        self.request_count[request.path] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        response: web.StreamResponse
        if forced := self._take_forced(request.path):
            response = web.Response(
                status=forced.status,
                body=forced.body,
                content_type=forced.content_type,
                headers=forced.headers,
            )
        elif not self._authorized(request):
            response = _error(401, "ongeldige inloggegevens")
            response.headers[hdrs.WWW_AUTHENTICATE] = 'Basic realm="meetbedrijf"'
        else:
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                entry.status = exc.status
                raise
        entry.status = response.status
        return response

    async def _handle_meters(self, request: web.Request) -> web.Response:
        """Call 1: the meters of the requested customers."""
        customers = request.query.getall("klant_ean", [])
        if not customers:
            return _error(400, "klant_ean ontbreekt")
        result: list[Any] = []
        for customer in customers:
            if customer in self.hidden_customers:
                continue
            for meter in self.meters:
                if meter.klant_ean != customer:
                    continue
                latest = self.latest_start(meter.meter_ean)
                result.append(
                    {
                        "klant_ean": meter.klant_ean,
                        "meter_ean": meter.meter_ean,
                        "meter_type": meter.meter_type,
                        "datum_laatste_meting": (
                            None
                            if latest is None
                            else latest.astimezone(TIMEZONE).isoformat()
                        ),
                    }
                )
        result.extend(self.extra_meter_rows)
        return web.json_response(result)

    async def _handle_meetdata(self, request: web.Request) -> web.Response:
        """Call 2: the 5-minute rows of one meter and period."""
        query = request.query
        names = ("klant_ean", "meter_ean", "start_tijd", "eind_tijd")
        if any(name not in query for name in names):
            return _error(
                400, "klant_ean, meter_ean, start_tijd en eind_tijd zijn verplicht"
            )
        start = _parse_param(query["start_tijd"])
        end = _parse_param(query["eind_tijd"])
        if start is None or end is None:
            return _error(400, "start_tijd en eind_tijd: ISO 8601 met offset")
        if start >= end:
            return _error(400, "start_tijd moet voor eind_tijd liggen")
        if self.max_window is not None and end - start > self.max_window:
            return _error(400, "periode te lang")
        meter = next(
            (
                meter
                for meter in self.meters
                if meter.meter_ean == query["meter_ean"]
                and meter.klant_ean == query["klant_ean"]
                and meter.klant_ean not in self.hidden_customers
            ),
            None,
        )
        if meter is None:
            return _error(404, "onbekende klant_ean/meter_ean")
        result: list[Any] = list(self.rows(meter.meter_ean, start, end))
        if self.inject_malformed:
            result.extend(self.malformed_rows(meter.meter_ean))
        result.extend(self.extra_rows)
        return web.json_response(result)

    def build_app(self) -> web.Application:
        """Return the aiohttp application serving this simulator."""
        app = web.Application(middlewares=[self._middleware])
        app.router.add_get("/meters", self._handle_meters)
        app.router.add_get("/meetdata", self._handle_meetdata)
        return app


def main(argv: list[str] | None = None) -> None:
    """Serve the simulator on 127.0.0.1 and print the demo credentials."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=2025)
    args = parser.parse_args(argv)
    simulator = DtlSimulator(seed=args.seed)
    sys.stdout.write(
        f"DTL simulator on http://127.0.0.1:{args.port}\n"
        f"  username: {DEMO_USERNAME}\n"
        f"  password: {DEMO_PASSWORD}\n"
        f"  customer EANs: {CUSTOMER_EAN} (production {PRODUCTION_METER_EAN}, "
        f"transfer point {TRANSFER_METER_EAN}), {SECOND_CUSTOMER_EAN} "
        f"(transfer point {SECOND_TRANSFER_METER_EAN})\n"
    )
    sys.stdout.flush()
    web.run_app(simulator.build_app(), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
