"""Simulator of Kenter's Near-RealTime Data webservice (SOAP 1.1).

Faithful to Kenter's manual: POST /realtime/1.0/ takes getMeterMetaData,
getLatestMeasurement and getMeterData envelopes with a list of ``meter``
elements (EAN-code, passcode, optional meter code, and for getMeterData a
period); every fault 1000-1009 of section 2.5 is returned for the input that
causes it, as HTTP 500 with a FaultException detail. GET
/realtime/1.0/soap.wsdl serves the WSDL shipped with the client.

Data are deterministic: ``value(meter_code, counter, start)`` is a pure
function of the seed, the meter code, the counter and the interval start, and
``source_intervals`` gives what a getMeterData answer is built from.
Electricity meters have quarter-hour counters LVR, TLV, LVB, TLB; gas meters
an hourly VN. A measureValue's timestamp marks the start of its interval and
is written in Europe/Amsterdam with its offset, like the manual's examples.

Run standalone: ``python -m tests.simulators.kenter --port 8080``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import math
from pathlib import Path
import re
from typing import Literal
from xml.sax.saxutils import escape
import zlib
from zoneinfo import ZoneInfo

from aiohttp import web
from lxml import etree

TZ = ZoneInfo("Europe/Amsterdam")
#: The service's XML namespace (the WSDL's targetNamespace).
NAMESPACE = "https://kenter.realm2m.nl/api/kenter/1.0/"
#: The simulator's own copy of the WSDL the document publishes.
WSDL_PATH = Path(__file__).with_name("kenter.wsdl")
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
PATH = "/realtime/1.0/"
WSDL_URL_PATH = "/realtime/1.0/soap.wsdl"
PRODUCTION_URL = "https://api-realtime.kenter.nu/realtime/1.0/"
MAX_PERIOD = timedelta(days=31)
#: How a period's length is counted for fault 1005 (the document does not say).
type PeriodClock = Literal["elapsed", "wall"]
CONTENT_TYPE = "text/xml; charset=utf-8"


class MeterKind(StrEnum):
    """What a meter measures (the values the integration uses too)."""

    ELECTRICITY = "electricity"
    GAS = "gas"


@dataclass(frozen=True, slots=True)
class Interval:
    """An amount over [start, end)."""

    start: datetime
    end: datetime
    value: float


COUNTER_LENGTHS: dict[str, timedelta] = {
    "LVR": timedelta(minutes=15),
    "TLV": timedelta(minutes=15),
    "LVB": timedelta(minutes=15),
    "TLB": timedelta(minutes=15),
    "VN": timedelta(hours=1),
}
KIND_COUNTERS: dict[MeterKind, tuple[str, ...]] = {
    MeterKind.ELECTRICITY: ("LVR", "TLV", "LVB", "TLB"),
    MeterKind.GAS: ("VN",),
}
KIND_TYPES: dict[MeterKind, str] = {
    MeterKind.ELECTRICITY: "Elektriciteitsmeter",
    MeterKind.GAS: "Gasmeter",
}
_DATE_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$")
_MASK = (1 << 64) - 1

type TimestampStyle = Literal["offset", "utc", "naive"]


@dataclass
class SimMeter:
    """One meter of a connection."""

    code: str
    kind: MeterKind
    counter_type: Literal["interval", "register"] = "interval"
    counters: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        """Set the default counters of the kind."""
        if not self.counters:
            self.counters = KIND_COUNTERS[self.kind]


@dataclass
class SimConnection:
    """One connection (aansluiting): EAN-code, passcode and its meters."""

    ean: str
    passcode: str
    name: str
    address: str
    location: str
    meters: list[SimMeter] = field(default_factory=list)
    insufficient_rights: bool = False


def demo_connections() -> list[SimConnection]:
    """Return the demo account: the manual's two examples plus two more."""
    return [
        # The manual's example EAN-code; its GS1 check digit is wrong.
        SimConnection(
            "876600504607071300",
            "jTx7HCB",
            "Kwekerij Jan Janssen",
            "Gasperielaan 2B",
            "Amsterdam",
            [SimMeter("V066005019551812", MeterKind.ELECTRICITY)],
        ),
        SimConnection(
            "871687120000096366",
            "oTW66As",
            "Hoogevoort B.V.",
            "Gasperielaan 2",
            "Amsterdam",
            [SimMeter("Z0NR000042279210", MeterKind.GAS)],
        ),
        SimConnection(
            "871694840000012349",
            "Zq8sW2k",
            "Tuinderij De Kas",
            "Westlandseweg 10",
            "Naaldwijk",
            [
                SimMeter("E0031004567812345", MeterKind.ELECTRICITY),
                SimMeter("G0057001234567890", MeterKind.GAS),
            ],
        ),
        # Valid passcode, but the user may not read it: fault 1007.
        SimConnection(
            "871687120000099121",
            "Rt5mP9x",
            "Opslag Noord",
            "Havenweg 1",
            "Zaandam",
            [SimMeter("E0042000000000001", MeterKind.ELECTRICITY)],
            insufficient_rights=True,
        ),
    ]


@dataclass
class _Forced:
    """A canned answer for the next request(s)."""

    status: int
    body: bytes
    headers: dict[str, str]
    remaining: int


class SimFaultError(Exception):
    """A fault the simulator answers with."""

    def __init__(self, code: int, message: str) -> None:
        """Store errorCode and errorMessage."""
        super().__init__(message)
        self.code = code
        self.message = message


def _mix(number: int) -> float:
    """Return a deterministic pseudo-random number in [0, 1) for an integer."""
    number = (number * 0x9E3779B97F4A7C15) & _MASK
    number ^= number >> 31
    number = (number * 0xBF58476D1CE4E5B9) & _MASK
    number ^= number >> 29
    return number / 2.0**64


def _profile(counter: str, hour: int, noise: float) -> float:
    """Return a plausible amount for a greenhouse: lamps at night, sun by day."""
    if counter == "LVR":
        base = 30.0 if hour < 6 or hour >= 22 else 8.0
        return base * (0.8 + 0.4 * noise)
    if counter == "TLV":
        if 8 <= hour < 18:
            return 14.0 * math.sin(math.pi * (hour - 7) / 11) * (0.6 + 0.4 * noise)
        return 0.0
    if counter == "LVB":
        return (9.0 if hour < 6 or hour >= 22 else 2.0) * (0.7 + 0.6 * noise)
    if counter == "TLB":
        return (1.5 if 8 <= hour < 18 else 0.0) * noise
    return 20.0 + 40.0 * noise  # VN, m3 per hour


class KenterSimulator:
    """State and knobs of a simulated Kenter webservice."""

    def __init__(
        self,
        connections: Iterable[SimConnection] | None = None,
        *,
        seed: int = 1,
        now: datetime | None = None,
        timestamp_style: TimestampStyle = "offset",
        fault_namespace: str = NAMESPACE,
        delay: float = 0.0,
        period_clock: PeriodClock = "elapsed",
        max_period: timedelta = MAX_PERIOD,
    ) -> None:
        """Create the simulator; ``now`` fixes the clock (None: real time).

        ``period_clock`` is how the "maximum of 31 days" (fault 1005) is
        counted, which the document leaves open: in elapsed time, or on the
        Dutch wall clock (31 days and one hour across the March change).
        """
        self.connections: dict[str, SimConnection] = {
            conn.ean: conn
            for conn in (demo_connections() if connections is None else connections)
        }
        self.seed = seed
        self.now = now
        self.timestamp_style: TimestampStyle = timestamp_style
        self.fault_namespace = fault_namespace
        self.delay = delay
        self.period_clock: PeriodClock = period_clock
        self.max_period = max_period
        self.requests: list[tuple[str, str]] = []
        self.request_counts: Counter[str] = Counter()
        self.operation_counts: Counter[str] = Counter()
        self.bodies: list[bytes] = []
        self._forced: list[_Forced] = []
        #: Amounts set by a test: (meter code, counter, interval start) -> value.
        self.set_amounts: dict[tuple[str, str, datetime], float] = {}

    # ------------------------------------------------------------------ knobs

    @property
    def request_count(self) -> int:
        """Return how many requests were served."""
        return len(self.requests)

    def force_response(
        self,
        status: int,
        body: bytes | str = b"",
        *,
        count: int = 1,
        headers: dict[str, str] | None = None,
    ) -> None:
        """Answer the next ``count`` requests with this status and body."""
        raw = body.encode() if isinstance(body, str) else body
        self._forced.append(_Forced(status, raw, dict(headers or {}), count))

    def force_fault(
        self, code: int, message: str | None = None, count: int = 1
    ) -> None:
        """Answer the next ``count`` requests with fault ``code``."""
        text = message or f"Simulated fault {code}"
        self.force_response(500, self.fault_body(code, text), count=count)

    def force_malformed(self, count: int = 1) -> None:
        """Answer the next ``count`` requests with a truncated envelope (HTTP 200)."""
        body = f'<S:Envelope xmlns:S="{SOAP_ENV}"><S:Body><ns2:getMeterDataResponse'
        self.force_response(200, body, count=count)

    def now_utc(self) -> datetime:
        """Return the simulator's clock."""
        return self.now.astimezone(UTC) if self.now else datetime.now(UTC)

    # ------------------------------------------------------------------- data

    def meter(self, meter_code: str) -> SimMeter:
        """Return a meter by code."""
        for conn in self.connections.values():
            for meter in conn.meters:
                if meter.code == meter_code:
                    return meter
        raise KeyError(meter_code)

    def _base(self, meter_code: str, counter: str) -> int:
        """Return the hash seed of one counter."""
        return zlib.crc32(f"{self.seed}:{meter_code}:{counter}".encode())

    def value(self, meter_code: str, counter: str, start: datetime) -> float:
        """Return the amount of the interval starting at ``start`` (or register)."""
        meter = self.meter(meter_code)
        return self._value_fn(meter, counter)(start, start.astimezone(TZ).hour)

    def _value_fn(
        self, meter: SimMeter, counter: str
    ) -> Callable[[datetime, int], float]:
        """Return f(start, local hour) -> value for one counter of one meter."""
        base = self._base(meter.code, counter)
        seconds = int(COUNTER_LENGTHS[counter].total_seconds())
        if meter.counter_type == "register":
            mean = _profile(counter, 12, 0.5)

            def register(start: datetime, hour: int) -> float:
                index = int(start.timestamp()) // seconds
                return round(1000.0 + (index + 1) * mean, 3)

            return register

        def amount(start: datetime, hour: int) -> float:
            if (
                set_amount := self.set_amounts.get((meter.code, counter, start))
            ) is not None:
                return set_amount
            index = int(start.timestamp()) // seconds
            return round(_profile(counter, hour, _mix(base + index)), 3)

        return amount

    def _slots(
        self, length: timedelta, first: datetime, last: datetime
    ) -> list[tuple[datetime, int, str]]:
        """Return (start, local hour, stamp) for interval starts in [first, last]."""
        seconds = int(length.total_seconds())
        epoch = math.ceil(first.timestamp() / seconds) * seconds
        end = last.timestamp()
        slots: list[tuple[datetime, int, str]] = []
        while epoch <= end:
            start = datetime.fromtimestamp(epoch, UTC)
            local = start.astimezone(TZ)
            slots.append((start, local.hour, self._stamp(start, local)))
            epoch += seconds
        return slots

    def _stamp(self, start: datetime, local: datetime) -> str:
        """Render a timestamp in the configured style."""
        if self.timestamp_style == "utc":
            return start.strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.timestamp_style == "naive":
            return local.replace(tzinfo=None).isoformat()
        return local.isoformat()

    def _last_complete(self, length: timedelta) -> datetime:
        """Return the start of the last interval that is complete by now."""
        seconds = int(length.total_seconds())
        epoch = int(self.now_utc().timestamp()) // seconds * seconds - seconds
        return datetime.fromtimestamp(epoch, UTC)

    def source_intervals(
        self, meter_code: str, counter: str, start: datetime, end: datetime
    ) -> list[Interval]:
        """Return the intervals that start in [start, end) and are complete by now."""
        length = COUNTER_LENGTHS[counter]
        fn = self._value_fn(self.meter(meter_code), counter)
        last = min(self._last_complete(length), end - timedelta(microseconds=1))
        return [
            Interval(slot, slot + length, fn(slot, hour))
            for slot, hour, _ in self._slots(length, start, last)
        ]

    def latest(self, meter_code: str, counter: str) -> tuple[datetime, float]:
        """Return (interval start, value) of the latest complete interval."""
        start = self._last_complete(COUNTER_LENGTHS[counter])
        return start, self.value(meter_code, counter, start)

    # ---------------------------------------------------------------- answers

    def fault_body(self, code: int, message: str) -> str:
        """Render a fault as in the manual's section 2.5."""
        text = escape(message)
        return (
            f'<S:Envelope xmlns:S="{SOAP_ENV}"><S:Body>'
            '<S:Fault xmlns:ns4="http://www.w3.org/2003/05/soap-envelope">'
            f"<faultcode>S:Server</faultcode><faultstring>{text}</faultstring>"
            f'<detail><ns2:FaultException xmlns:ns2="{self.fault_namespace}">'
            f"<errorCode>{code}</errorCode><errorMessage>{text}</errorMessage>"
            "</ns2:FaultException></detail></S:Fault></S:Body></S:Envelope>"
        )

    @staticmethod
    def client_fault(message: str) -> str:
        """Render a fault without detail, as JAX-WS does for broken requests."""
        return (
            f'<S:Envelope xmlns:S="{SOAP_ENV}"><S:Body><S:Fault>'
            f"<faultcode>S:Client</faultcode><faultstring>{escape(message)}"
            "</faultstring></S:Fault></S:Body></S:Envelope>"
        )

    def _authorize(self, meter: dict[str, str]) -> tuple[SimConnection, list[SimMeter]]:
        """Check one meter element (2.1); return its connection and meters."""
        ean = meter.get("eanCode", "").strip()
        if not ean:
            raise SimFaultError(
                1009,
                "A meter without EAN-code was given, EAN-code cannot be left empty",
            )
        if not ean.isdigit() or len(ean) != 18:
            raise SimFaultError(1000, f"The EAN-code {ean} is invalid")
        conn = self.connections.get(ean)
        if conn is None or meter.get("passcode") != conn.passcode:
            raise SimFaultError(
                1001,
                "The combination of EAN-code and passcode is invalid for "
                f"EAN-code {ean}",
            )
        if conn.insufficient_rights:
            raise SimFaultError(1007, f"Insufficient rights for EAN-code {ean}")
        code = meter.get("meterCode", "").strip()
        if not code:
            return conn, list(conn.meters)
        for sim_meter in conn.meters:
            if sim_meter.code == code:
                return conn, [sim_meter]
        raise SimFaultError(
            1006, f"The meter code {code} does not exist for EAN-code {ean}"
        )

    @staticmethod
    def _date(text: str) -> datetime | None:
        """Parse a date in the manual's 2.6 format (YYYY-MM-DDTHH:MI:SS+HH:MI)."""
        if not _DATE_FORMAT.match(text):
            return None
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            return None

    def _span(self, start: datetime, end: datetime) -> timedelta:
        """Return a period's length on the clock the simulator counts."""
        if self.period_clock == "wall":
            wall_start = start.astimezone(TZ).replace(tzinfo=None)
            return end.astimezone(TZ).replace(tzinfo=None) - wall_start
        return end - start

    def _period(self, meter: dict[str, str], ean: str) -> tuple[datetime, datetime]:
        """Check the period of a getMeterData meter element (2.4, 2.6)."""
        start = self._date(meter.get("startDate", "").strip())
        if start is None:
            raise SimFaultError(
                1002, f"Incorrect date format for start date given at EAN-code {ean}"
            )
        end_text = meter.get("endDate", "").strip()
        end = self.now_utc() if not end_text else self._date(end_text)
        if end is None:
            raise SimFaultError(
                1003, f"Incorrect date format for end date given at EAN-code {ean}"
            )
        if end < start:
            raise SimFaultError(
                1004, f"The end date is prior to the start date at EAN-code {ean}"
            )
        if self._span(start, end) > self.max_period:
            raise SimFaultError(
                1005, f"Maximum period of 31 days exceeded at EAN-code {ean}"
            )
        return start.astimezone(UTC), end.astimezone(UTC)

    def _metadata(self, meters: list[dict[str, str]]) -> list[str]:
        """Render getMeterMetaData's return elements."""
        parts: list[str] = []
        for meter in meters:
            conn, sim_meters = self._authorize(meter)
            parts.extend(
                f"<return><eanCode>{conn.ean}</eanCode>"
                f"<meterCode>{escape(m.code)}</meterCode>"
                f"<type>{KIND_TYPES[m.kind]}</type><name>{escape(conn.name)}</name>"
                f"<address>{escape(conn.address)}</address>"
                f"<location>{escape(conn.location)}</location></return>"
                for m in sim_meters
            )
        return parts

    def _latest(self, meters: list[dict[str, str]]) -> list[str]:
        """Render getLatestMeasurement's return elements."""
        parts: list[str] = []
        for meter in meters:
            conn, sim_meters = self._authorize(meter)
            for sim_meter in sim_meters:
                for counter in sim_meter.counters:
                    start, value = self.latest(sim_meter.code, counter)
                    stamp = self._stamp(start, start.astimezone(TZ))
                    parts.append(
                        f"<return><eanCode>{conn.ean}</eanCode>"
                        f"<meterCode>{escape(sim_meter.code)}</meterCode>"
                        f"<counterType>{sim_meter.counter_type}</counterType>"
                        f"<counterCode>{counter}</counterCode><measureValue>"
                        f"<timestamp>{stamp}</timestamp><value>{value}</value>"
                        "</measureValue></return>"
                    )
        return parts

    def _meter_data(self, meters: list[dict[str, str]]) -> list[str]:
        """Render getMeterData's return elements: values stamped in [start, end]."""
        parts: list[str] = []
        for meter in meters:
            conn, sim_meters = self._authorize(meter)
            start, end = self._period(meter, conn.ean)
            for sim_meter in sim_meters:
                slots: dict[timedelta, list[tuple[datetime, int, str]]] = {}
                for counter in sim_meter.counters:
                    length = COUNTER_LENGTHS[counter]
                    if length not in slots:
                        last = min(end, self._last_complete(length))
                        slots[length] = self._slots(length, start, last)
                    fn = self._value_fn(sim_meter, counter)
                    parts.append(
                        f"<return><eanCode>{conn.ean}</eanCode>"
                        f"<meterCode>{escape(sim_meter.code)}</meterCode>"
                        f"<counterType>{sim_meter.counter_type}</counterType>"
                        f"<counterCode>{counter}</counterCode>"
                    )
                    parts.extend(
                        f"<measureValue><timestamp>{stamp}</timestamp>"
                        f"<value>{fn(slot, hour)}</value></measureValue>"
                        for slot, hour, stamp in slots[length]
                    )
                    parts.append("</return>")
        return parts

    def answer(self, body: bytes) -> tuple[int, str]:
        """Answer one SOAP request body: (HTTP status, envelope)."""
        parser = etree.XMLParser(
            resolve_entities=False, no_network=True, load_dtd=False
        )
        try:
            root = etree.fromstring(body, parser=parser)
        except etree.XMLSyntaxError:
            return 500, self.client_fault(
                "Couldn't create SOAP message: XML reader error"
            )
        request_body = root.find(f"{{{SOAP_ENV}}}Body")
        if (
            root.tag != f"{{{SOAP_ENV}}}Envelope"
            or request_body is None
            or not len(request_body)
        ):
            return 500, self.client_fault("Couldn't create SOAP message: no SOAP body")
        operation_el = request_body[0]
        qname = etree.QName(operation_el)
        renderers = {
            "getMeterMetaData": self._metadata,
            "getLatestMeasurement": self._latest,
            "getMeterData": self._meter_data,
        }
        renderer = renderers.get(qname.localname)
        if qname.namespace != NAMESPACE or renderer is None:
            return 500, self.client_fault(f"Cannot find dispatch method for {qname}")
        meters = [
            {
                child.tag: (child.text or "")
                for child in meter
                if isinstance(child.tag, str)
            }
            for meter in operation_el.iterchildren("meter")
        ]
        if not meters:
            return 500, self.fault_body(1008, "The meterlist cannot be empty")
        try:
            parts = renderer(meters)
        except SimFaultError as fault:
            return 500, self.fault_body(fault.code, fault.message)
        return 200, "".join(
            (
                f'<S:Envelope xmlns:S="{SOAP_ENV}"><S:Body>'
                f'<ns2:{qname.localname}Response xmlns:ns2="{NAMESPACE}">',
                *parts,
                f"</ns2:{qname.localname}Response></S:Body></S:Envelope>",
            )
        )

    # -------------------------------------------------------------------- app

    @staticmethod
    def operation_of(body: bytes) -> str:
        """Return the operation a request body asks for ("" if unreadable)."""
        try:
            root = etree.fromstring(
                body, parser=etree.XMLParser(resolve_entities=False, no_network=True)
            )
            return str(etree.QName(root.find(f"{{{SOAP_ENV}}}Body")[0]).localname)
        except (etree.XMLSyntaxError, TypeError, IndexError, ValueError):
            return ""

    async def _soap(self, request: web.Request) -> web.Response:
        """Handle POST /realtime/1.0/."""
        body = await request.read()
        operation = self.operation_of(body)
        self.requests.append((request.path, operation))
        self.request_counts[request.path] += 1
        self.operation_counts[operation] += 1
        self.bodies.append(body)
        if self.delay:
            await asyncio.sleep(self.delay)
        if self._forced:
            forced = self._forced[0]
            forced.remaining -= 1
            if forced.remaining <= 0:
                self._forced.pop(0)
            headers = {"Content-Type": CONTENT_TYPE, **forced.headers}
            return web.Response(status=forced.status, body=forced.body, headers=headers)
        status, text = self.answer(body)
        return web.Response(
            status=status, body=text.encode(), headers={"Content-Type": CONTENT_TYPE}
        )

    async def _wsdl(self, request: web.Request) -> web.Response:
        """Handle GET /realtime/1.0/soap.wsdl: the shipped WSDL, pointing here."""
        self.requests.append((request.path, "wsdl"))
        self.request_counts[request.path] += 1
        here = str(request.url.with_path(PATH).with_query(None))
        text = WSDL_PATH.read_text(encoding="utf-8").replace(PRODUCTION_URL, here)
        return web.Response(body=text.encode(), headers={"Content-Type": CONTENT_TYPE})

    def build_app(self) -> web.Application:
        """Return the aiohttp application serving this simulator."""
        app = web.Application(client_max_size=4 * 1024 * 1024)
        app.router.add_post(PATH, self._soap)
        app.router.add_get(WSDL_URL_PATH, self._wsdl)
        return app


def main() -> None:  # pragma: no cover - developer entry point
    """Serve the simulator on 127.0.0.1 and print the demo credentials."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sim = KenterSimulator(seed=args.seed)
    print(f"Kenter simulator on http://127.0.0.1:{args.port}{PATH}")  # noqa: T201
    print(f"WSDL: http://127.0.0.1:{args.port}{WSDL_URL_PATH}")  # noqa: T201
    for conn in sim.connections.values():
        codes = ", ".join(f"{m.code} ({m.kind})" for m in conn.meters)
        note = "  [insufficient rights: fault 1007]" if conn.insufficient_rights else ""
        print(f"  EAN {conn.ean}  passcode {conn.passcode}  meters {codes}{note}")  # noqa: T201
    web.run_app(sim.build_app(), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":  # pragma: no cover
    main()
