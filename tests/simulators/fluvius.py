"""Simulator of the Fluvius API for professional grid users (sandbox and live).

Serves the Azure AD token endpoint (``/{tenant}/oauth2/v2.0/token``) and the
API under both environment prefixes: GET ``api/mandate``, GET
``api/mandate/energy`` and (sandbox only) POST ``api/mandate/mock``, with
bodies wrapped as ``{"_meta": ..., "data": ...}``.

Data are deterministic: every value is a function of the seed, the EAN, the
quantity and the slice start (``FluviusSimulator.expected_intervals`` returns
what a client should make of them). Values appear ``publish_delay`` after the
end of their slice; a deterministic few first appear estimated (EST on digital
meters, NVAL with another value on AMR meters) and are corrected
``correction_delay`` after the slice end (READ / VAL); AMR values are NVAL
until then. Advance ``sim.now`` to see corrections, and query by insertTime to
see when each version arrived.

Digital electricity meters count offtake and injection in a day and a night
register (night: weekdays 22:00-07:00 Brussels time and all weekend): a
quarter-hour carries the register of its tariff only (both, the idle one 0,
with ``both_registers``), a day both registers. ``registers()`` returns the
meter's register readings, from which a test takes per-day deltas.

Run standalone: ``python -m tests.simulators.fluvius --port 8765``.
"""

from __future__ import annotations

import argparse
import asyncio
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
import math
import time
from typing import Any
import zlib
from zoneinfo import ZoneInfo

from aiohttp import web
import orjson

BRUSSELS = ZoneInfo("Europe/Brussels")


class Quantity(StrEnum):
    """The quantities the simulator generates (values as the client's Quantity)."""

    ENERGY_IMPORT = "energy_import"
    ENERGY_EXPORT = "energy_export"
    REACTIVE_ENERGY_INDUCTIVE = "reactive_energy_inductive"
    REACTIVE_ENERGY_CAPACITIVE = "reactive_energy_capacitive"
    GAS_VOLUME = "gas_volume"
    GAS_ENERGY = "gas_energy"
    PRODUCTION = "production"
    AUXILIARY = "auxiliary"
    ENERGY_IMPORT_DAY = "energy_import_day"
    ENERGY_IMPORT_NIGHT = "energy_import_night"
    ENERGY_EXPORT_DAY = "energy_export_day"
    ENERGY_EXPORT_NIGHT = "energy_export_night"


#: Tariff quantities of a digital meter: (its total, day register?).
TARIFFS = {
    Quantity.ENERGY_IMPORT_DAY: (Quantity.ENERGY_IMPORT, True),
    Quantity.ENERGY_IMPORT_NIGHT: (Quantity.ENERGY_IMPORT, False),
    Quantity.ENERGY_EXPORT_DAY: (Quantity.ENERGY_EXPORT, True),
    Quantity.ENERGY_EXPORT_NIGHT: (Quantity.ENERGY_EXPORT, False),
}
#: The registers ``FluviusSimulator.registers`` reads: name -> (total, day?).
REGISTERS = {
    "offtake_day": (Quantity.ENERGY_IMPORT, True),
    "offtake_night": (Quantity.ENERGY_IMPORT, False),
    "injection_day": (Quantity.ENERGY_EXPORT, True),
    "injection_night": (Quantity.ENERGY_EXPORT, False),
}


class Quality(StrEnum):
    """Quality of an expected interval (values as the client's Quality)."""

    MEASURED = "measured"
    ESTIMATED = "estimated"
    VALIDATED = "validated"


@dataclass(frozen=True, slots=True)
class SimInterval:
    """An interval as the client should produce it."""

    start: datetime
    end: datetime
    value: float
    quality: Quality


class MeterType(StrEnum):
    """Digital or AMR meter."""

    DIGITAL = "digital"
    AMR = "amr"


class Direction(StrEnum):
    """Directions a sandbox headpoint measures."""

    OFFTAKE = "offtake"
    OFFTAKE_INJECTION = "offtake_injection"
    INJECTION = "injection"


class EnergyType(StrEnum):
    """E or G."""

    ELECTRICITY = "E"
    GAS = "G"


class ServiceType(StrEnum):
    """Detail level of a mandate."""

    DAILY = "VH_dag"
    QUARTER_HOURLY = "VH_kwartier_uur"


@dataclass(frozen=True, slots=True)
class SandboxEan:
    """What a sandbox EAN encodes (the document's addendum)."""

    ean: str
    meter_type: MeterType
    energy_type: EnergyType
    direction: Direction
    data_service_type: ServiceType
    production_submeter: str | None
    auxiliary_submeter: bool
    non_production_submeter: bool


# Addendum tables: (meter, energy, direction, submeter) digits allowed, and the
# production installation per data-model range (upper bound, type, auxiliary).
_COMBINATIONS = {
    ("5", "0", "2", "0"), ("5", "0", "0", "0"), ("5", "1", "2", "0"),
    ("5", "1", "0", "0"), ("4", "0", "0", "0"), ("4", "0", "1", "0"),
    ("4", "1", "0", "0"), ("5", "0", "2", "1"), ("5", "0", "0", "1"),
    ("5", "0", "0", "2"), ("5", "1", "0", "2"),
}  # fmt: skip
_INSTALLATIONS = [
    (99, "PV", True), (199, "PV", False), (299, "WTR", True), (399, "WTR", False),
    (499, "WND", True), (599, "WND", False), (999, "WKKA", False),
]  # fmt: skip


def decode_sandbox_ean(ean: str) -> SandboxEan | None:
    """Decode ``5414 M E D G S 000000 NNN``; None for combinations not allowed."""
    if len(ean) != 18 or not ean.isdigit() or ean[:4] != "5414" or ean[9:15] != "0" * 6:
        return None
    meter, energy, direction, detail, sub = ean[4], ean[5], ean[6], ean[7], ean[8]
    if (meter, energy, direction, sub) not in _COMBINATIONS or detail not in "01":
        return None
    installation, auxiliary = None, False
    if sub == "1":
        model = int(ean[15:])
        installation, auxiliary = next(
            (kind, aux) for top, kind, aux in _INSTALLATIONS if model <= top
        )
    return SandboxEan(
        ean,
        MeterType.DIGITAL if meter == "4" else MeterType.AMR,
        EnergyType.ELECTRICITY if energy == "0" else EnergyType.GAS,
        {"0": Direction.OFFTAKE, "1": Direction.OFFTAKE_INJECTION}.get(
            direction, Direction.INJECTION
        ),
        ServiceType.DAILY if detail == "0" else ServiceType.QUARTER_HOURLY,
        installation,
        auxiliary,
        sub == "2",
    )


DEMO_TENANT = "demo-tenant"
DEMO_CLIENT_ID = "demo-client"
DEMO_CLIENT_SECRET = "demo-fluvius-secret"
DEMO_SUBSCRIPTION_KEY = "demo-sub-key"
DEMO_SCOPE = "api://demo-fluvius/.default"

SANDBOX_PREFIX = "/ext/mijnfluvius-profnetgebruiker-sbx/v1"
LIVE_PREFIX = "/ext/mijnfluvius-profnetgebruiker/v1"

# Demo EANs, per the sandbox scheme of the document's addendum.
DIGITAL_EAN = "541440110000000001"  # digital electricity, offtake+injection, 15'
AMR_INJECTION_EAN = "541450211000000001"  # AMR injection, 15', PV prod + aux
GAS_EAN = "541441010000000001"  # digital gas, hourly
REQUESTED_EAN = "541440000000000002"  # a mandate still awaiting approval
REJECTED_EAN = "541440000000000003"

DEFAULT_NOW = datetime(2025, 11, 15, 6, 0, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)
MAX_PERIOD = timedelta(days=185)
FORMAT = "%Y-%m-%dT%H:%M:%SZ"

_STATE_RANK = {"EST": 0, "NVAL": 0, "READ": 1, "VAL": 2}
_QUALITY = {
    "READ": Quality.MEASURED,
    "VAL": Quality.VALIDATED,
    "EST": Quality.ESTIMATED,
    "NVAL": Quality.ESTIMATED,
}


_FMT_CACHE: dict[datetime, str] = {}


def _fmt(moment: datetime) -> str:
    """Format a UTC timestamp as the API does (memoized: slices share them)."""
    text = _FMT_CACHE.get(moment)
    if text is None:
        if len(_FMT_CACHE) > 500_000:
            _FMT_CACHE.clear()
        text = _FMT_CACHE[moment] = moment.astimezone(UTC).strftime(FORMAT)
    return text


def _parse(value: str) -> datetime:
    """Parse YYYY-MM-DDTHH:MM:SSZ strictly (ValueError otherwise)."""
    return datetime.strptime(value, FORMAT).replace(tzinfo=UTC)


def local_midnight(moment: datetime) -> datetime:
    """Return the Brussels midnight at or before ``moment`` (UTC)."""
    local = moment.astimezone(BRUSSELS)
    return datetime(local.year, local.month, local.day, tzinfo=BRUSSELS).astimezone(UTC)


def next_local_midnight(moment: datetime) -> datetime:
    """Return the first Brussels midnight after ``moment`` (UTC)."""
    local = local_midnight(moment).astimezone(BRUSSELS) + timedelta(days=1, hours=3)
    return local_midnight(local)


def is_day_tariff(start: datetime) -> bool:
    """Return whether a quarter falls in the day register (Mon-Fri 7-22 h local).

    The rest (weekday nights and whole weekends) is night tariff, as on a
    Flemish digital meter with a day/night (dual) tariff.
    """
    local = start.astimezone(BRUSSELS)
    return local.weekday() < 5 and 7 <= local.hour < 22


@dataclass(slots=True)
class SimMandate:
    """A mandate held by the simulator."""

    ean: str
    status: str = "Approved"
    energy_type: str = "E"
    data_service_type: str = "VH_kwartier_uur"
    data_period_from: datetime | None = None
    data_period_to: datetime | None = None
    expiration: datetime | None = None
    renewal_status: str | None = None
    reference_number: str | None = None
    last_updated: datetime = DEFAULT_NOW

    def to_json(self) -> dict[str, Any]:
        """Render as GET Mandate does (EAN only for Approved/Finished)."""
        item: dict[str, Any] = {"status": self.status}
        if self.reference_number:
            item["referenceNumber"] = self.reference_number
        if self.status in ("Approved", "Finished"):
            item["ean"] = self.ean
            item["energyType"] = self.energy_type
        if self.data_period_from:
            item["dataPeriodFrom"] = _fmt(self.data_period_from)
        if self.data_period_to:
            item["dataPeriodTo"] = _fmt(self.data_period_to)
        item["dataServiceType"] = self.data_service_type
        if self.expiration:
            item["mandateExpirationDate"] = _fmt(self.expiration)
        if self.renewal_status:
            item["renewalStatus"] = self.renewal_status
        return item


@dataclass(slots=True)
class Fault:
    """A forced answer for the next ``count`` matching requests."""

    status: int
    count: int
    path: str | None = None
    retry_after: str | None = None
    body: bytes | None = None
    #: Matching requests to let through before the fault applies.
    after: int = 0


@dataclass(frozen=True, slots=True)
class RecordedRequest:
    """One request the simulator received."""

    method: str
    kind: str
    path: str
    query: dict[str, list[str]]
    authorization: str | None
    subscription_key: str | None


@dataclass(frozen=True, slots=True)
class _Owner:
    """An EAN whose values a slice carries: the headpoint or a submeter."""

    ean: str
    role: str  # headpoint, production, auxiliary, offtake-sub
    seq: str | None = None
    installation: str | None = None


@dataclass(slots=True)
class _Value:
    """One quantity of one owner in one fine slice (current version)."""

    value: float
    state: str
    inserted: datetime
    day_tariff: bool


@dataclass(slots=True)
class _Slice:
    """One fine slice (15 min, or 1 h for gas) of a profile."""

    start: datetime
    end: datetime
    values: dict[tuple[str, Quantity], _Value] = field(default_factory=dict)


class FluviusSimulator:
    """State and knobs of the simulated Fluvius API.

    Knobs: ``now`` (simulated clock), ``token_expires_in``, ``token_max_uses``
    (a token dies after N API calls), ``revoke_tokens()``, ``fail_next()``
    (status, count, path, Retry-After), ``malformed_next()``, ``delay``
    (seconds per API request), ``forbidden_eans`` (403), ``meter_exchanges``
    (EAN -> moment a second physical meter takes over), ``submeters_in_data``
    (subHeadpoints beside instead of inside the headpoint), ``both_registers``
    (digital quarter-hours carry day and night, the idle one 0),
    ``register_start`` (where the tariff registers start counting),
    ``set_offtake`` ((EAN, quarter start) -> its true offtake in kWh),
    ``kept_estimates`` ((EAN, quarter start) -> an offtake published as EST
    and never corrected),
    ``publish_delay`` and ``correction_delay``. Counters: ``request_count`` (by kind: token,
    mandate, energy, mock), ``requests``, ``energy_requests``,
    ``token_requests``.
    """

    def __init__(
        self,
        *,
        seed: int = 1,
        now: datetime = DEFAULT_NOW,
        token_expires_in: float = 3599,
    ) -> None:
        """Create the simulator with the demo mandates."""
        self.seed = seed
        self.now = now
        self.token_expires_in = token_expires_in
        self.token_max_uses: int | None = None
        self.publish_delay = timedelta(hours=26)
        self.correction_delay = timedelta(days=3)
        self.delay = 0.0
        self.forbidden_eans: set[str] = set()
        self.meter_exchanges: dict[str, datetime] = {}
        self.submeters_in_data = False
        self.both_registers = False
        #: The digital meters' tariff registers count from here (installation).
        self.register_start = local_midnight(now - timedelta(days=400))
        self._register_days: dict[tuple[str, datetime], Counter[str]] = {}
        self.set_offtake: dict[tuple[str, datetime], float] = {}
        self.kept_estimates: dict[tuple[str, datetime], float] = {}
        self.faults: list[Fault] = []
        self.malformed: list[Fault] = []
        self.request_count: Counter[str] = Counter()
        self.requests: list[RecordedRequest] = []
        self._tokens: dict[str, tuple[float, int]] = {}
        self._token_serial = 0
        self.mandates: list[SimMandate] = self._demo_mandates()

    # ----------------------------------------------------------------- knobs

    @staticmethod
    def _demo_mandates() -> list[SimMandate]:
        """Return the demo account's mandates."""
        jan25 = datetime(2024, 12, 31, 23, tzinfo=UTC)
        return [
            SimMandate(
                DIGITAL_EAN,
                data_service_type="VH_dag",
                data_period_from=datetime(2023, 6, 30, 22, tzinfo=UTC),
                expiration=datetime(2026, 6, 30, 22, tzinfo=UTC),
            ),
            SimMandate(
                DIGITAL_EAN,
                data_period_from=datetime(2024, 6, 30, 22, tzinfo=UTC),
                expiration=datetime(2027, 6, 30, 22, tzinfo=UTC),
                reference_number="REF-123456",
            ),
            SimMandate(
                AMR_INJECTION_EAN,
                data_period_from=jan25,
                expiration=datetime(2026, 1, 31, 23, tzinfo=UTC),
                renewal_status="ToBeRenewed",
            ),
            SimMandate(
                GAS_EAN,
                energy_type="G",
                data_period_from=jan25,
                expiration=datetime(2027, 12, 31, 23, tzinfo=UTC),
            ),
            SimMandate(REQUESTED_EAN, status="Requested", data_service_type="VH_dag"),
            SimMandate(REJECTED_EAN, status="Rejected", data_service_type="VH_dag"),
        ]

    def advance(self, delta: timedelta) -> None:
        """Move the simulated clock forward."""
        self.now += delta

    def fail_next(
        self,
        status: int,
        count: int = 1,
        *,
        path: str | None = None,
        retry_after: str | None = None,
        body: bytes | None = None,
        after: int = 0,
    ) -> None:
        """Answer the next ``count`` requests (of kind ``path``) with ``status``.

        ``after`` lets that many matching requests through first.
        """
        self.faults.append(Fault(status, count, path, retry_after, body, after))

    def malformed_next(
        self, count: int = 1, *, path: str | None = None, body: bytes = b"{nope"
    ) -> None:
        """Answer the next ``count`` requests with HTTP 200 and a broken body."""
        self.malformed.append(Fault(200, count, path, None, body))

    def revoke_tokens(self) -> None:
        """Invalidate every issued token (the API answers 401 to them)."""
        self._tokens.clear()

    @property
    def energy_requests(self) -> int:
        """Return how many GET Energy requests arrived."""
        return self.request_count["energy"]

    @property
    def token_requests(self) -> int:
        """Return how many token requests arrived."""
        return self.request_count["token"]

    def base_url(self, server_url: str, environment: str = "sandbox") -> str:
        """Return the API base URL of an environment on a served simulator."""
        prefix = SANDBOX_PREFIX if environment == "sandbox" else LIVE_PREFIX
        return f"{server_url}{prefix}/"

    @staticmethod
    def token_url(server_url: str, tenant: str = DEMO_TENANT) -> str:
        """Return the token endpoint URL on a served simulator."""
        return f"{server_url}/{tenant}/oauth2/v2.0/token"

    # ------------------------------------------------------------- data model

    def _noise(self, ean: str, tag: str, moment: datetime) -> float:
        """Return a deterministic number in [0, 1)."""
        prefix = zlib.crc32(f"{self.seed}|{ean}|{tag}|".encode())
        return zlib.crc32(b"%d" % int(moment.timestamp()), prefix) / 4294967296.0

    @staticmethod
    def submeter_ean(headpoint: str, role: str) -> str:
        """Return the EAN the simulator gives a submeter of a headpoint."""
        digit = {"production": "1", "auxiliary": "2", "offtake-sub": "3"}[role]
        return f"54144881{digit}{headpoint[-9:]}"

    def owners(self, info: SandboxEan) -> list[_Owner]:
        """Return the headpoint and submeters the simulator serves for an EAN."""
        owners = [_Owner(info.ean, "headpoint")]
        if info.production_submeter:
            owners.append(
                _Owner(
                    self.submeter_ean(info.ean, "production"),
                    "production",
                    "1",
                    info.production_submeter,
                )
            )
            if info.auxiliary_submeter:
                owners.append(
                    _Owner(
                        self.submeter_ean(info.ean, "auxiliary"),
                        "auxiliary",
                        "1",
                        info.production_submeter,
                    )
                )
        if info.non_production_submeter:
            owners.append(
                _Owner(self.submeter_ean(info.ean, "offtake-sub"), "offtake-sub", "2")
            )
        return owners

    def _versions(
        self,
        info: SandboxEan,
        estimated: bool,
        end: datetime,
        true_value: float,
    ) -> list[tuple[datetime, float, str]]:
        """Return the versions (insert time, value, state) of one value."""
        published = end + self.publish_delay
        corrected = end + max(self.correction_delay, self.publish_delay)
        first = round(true_value * 0.8, 3) if estimated else true_value
        if info.meter_type is MeterType.AMR:
            return [(published, first, "NVAL"), (corrected, true_value, "VAL")]
        if estimated:
            return [(published, first, "EST"), (corrected, true_value, "READ")]
        return [(published, true_value, "READ")]

    def _context(
        self, info: SandboxEan, start: datetime
    ) -> tuple[float, float, float, float, float]:
        """Return what every owner of a slice derives its values from."""
        ean = info.ean
        local = start.astimezone(BRUSSELS)
        hour = local.hour + local.minute / 60
        n1 = self._noise(ean, "a", start)
        n2 = self._noise(ean, "b", start)
        season = 0.6 + 0.4 * math.cos((local.toordinal() % 365.25 - 172) / 58.0)
        sun = max(0.0, math.sin(math.pi * (hour - 6.5) / 13.0)) * season
        return hour, n1, n2, season, sun

    def _true_values(
        self,
        info: SandboxEan,
        owner: _Owner,
        start: datetime,
        context: tuple[float, float, float, float, float] | None = None,
    ) -> dict[Quantity, float]:
        """Return the final (corrected) values of one slice of one owner."""
        hour, n1, n2, season, sun = context or self._context(info, start)
        if info.energy_type.value == "G":
            m3 = round(0.05 + 0.6 * (1.2 - season) * (1 + n1), 3)
            gcf = self._gcf_value(start)
            return {Quantity.GAS_VOLUME: m3, Quantity.GAS_ENERGY: round(m3 * gcf, 3)}
        amr = info.meter_type is MeterType.AMR
        scale = 40.0 if amr else 1.0
        offtake = self.set_offtake.get(
            (info.ean, start),
            round(scale * (0.03 + 0.12 * (1 + math.sin(hour / 3.8)) * (0.5 + n1)), 3),
        )
        injection = round(scale * 0.5 * sun * (0.6 + 0.4 * n2), 3)
        if owner.role == "production":
            return {
                Quantity.PRODUCTION: round(injection * 1.04 + 0.01, 3),
                Quantity.REACTIVE_ENERGY_INDUCTIVE: round(injection * 0.1, 3),
                Quantity.REACTIVE_ENERGY_CAPACITIVE: round(injection * 0.02, 3),
            }
        if owner.role == "auxiliary":
            return {Quantity.AUXILIARY: round(0.2 + 0.1 * n1, 3)}
        if owner.role == "offtake-sub":
            return {Quantity.ENERGY_IMPORT: round(offtake * 0.3, 3)}
        values: dict[Quantity, float] = {}
        main = 0.0
        if info.direction in (Direction.OFFTAKE, Direction.OFFTAKE_INJECTION):
            values[Quantity.ENERGY_IMPORT] = main = offtake
        if info.direction in (Direction.INJECTION, Direction.OFFTAKE_INJECTION):
            values[Quantity.ENERGY_EXPORT] = injection
            if info.direction is Direction.INJECTION:
                main = injection
        if amr:
            values[Quantity.REACTIVE_ENERGY_INDUCTIVE] = round(
                main * 0.3 + 0.05 * n2, 3
            )
            values[Quantity.REACTIVE_ENERGY_CAPACITIVE] = round(main * 0.05, 3)
        return values

    def _gcf(self, start: datetime) -> str:
        """Return the gas conversion factor state: P this month, D before."""
        local, now = start.astimezone(BRUSSELS), self.now.astimezone(BRUSSELS)
        return "P" if (local.year, local.month) >= (now.year, now.month) else "D"

    def _gcf_value(self, start: datetime) -> float:
        """Return the conversion factor the simulator uses (kWh per m³)."""
        return 10.95 if self._gcf(start) == "P" else 11.02

    def _step(self, info: SandboxEan) -> timedelta:
        """Return the fine step: 1 h for gas, 15 min for electricity."""
        return HOUR if info.energy_type.value == "G" else QUARTER

    def _slices(
        self,
        info: SandboxEan,
        start: datetime,
        end: datetime,
        *,
        insert_window: tuple[datetime, datetime] | None = None,
    ) -> Iterator[_Slice]:
        """Yield the fine slices in [start, end) visible now (readTime or insertTime)."""
        step = self._step(info)
        owners = self.owners(info)
        epoch = datetime(2000, 1, 1, tzinfo=UTC)
        cursor = epoch + -((epoch - start) // step) * step
        now = self.now
        while cursor + step <= end:
            sl_end = cursor + step
            sl = _Slice(cursor, sl_end)
            day = is_day_tariff(cursor)
            context = self._context(info, cursor)
            for owner in owners:
                values = self._true_values(info, owner, cursor, context)
                estimated = self._noise(owner.ean, "est", cursor) < 0.04
                for quantity, true in values.items():
                    versions = self._versions(info, estimated, sl_end, true)
                    kept = self.kept_estimates.get((owner.ean, cursor))
                    if kept is not None and quantity is Quantity.ENERGY_IMPORT:
                        versions = [(sl_end + self.publish_delay, kept, "EST")]
                    chosen = None
                    for inserted, value, state in versions:
                        if inserted > now:
                            continue
                        if insert_window and not (
                            insert_window[0] <= inserted < insert_window[1]
                        ):
                            continue
                        chosen = (inserted, value, state)
                    if chosen is not None:
                        sl.values[(owner.ean, quantity)] = _Value(
                            chosen[1], chosen[2], chosen[0], day
                        )
            if sl.values:
                yield sl
            cursor = sl_end

    def _daily(
        self,
        info: SandboxEan,
        start: datetime,
        end: datetime,
        *,
        insert_window: tuple[datetime, datetime] | None = None,
    ) -> list[tuple[datetime, datetime, dict[tuple[str, Quantity], list[_Value]]]]:
        """Return complete local days in [start, end) with their fine values."""
        days = []
        day = local_midnight(start)
        if day < start:
            day = next_local_midnight(day)
        step = self._step(info)
        while True:
            day_end = next_local_midnight(day)
            if day_end > end:
                break
            fine = list(self._slices(info, day, day_end))
            expected = int((day_end - day) / step)
            if len(fine) == expected:
                grouped: dict[tuple[str, Quantity], list[_Value]] = {}
                for sl in fine:
                    for key, val in sl.values.items():
                        grouped.setdefault(key, []).append(val)
                newest = max(v.inserted for vals in grouped.values() for v in vals)
                if (
                    insert_window is None
                    or insert_window[0] <= newest < insert_window[1]
                ):
                    days.append((day, day_end, grouped))
            day = day_end
        return days

    def expected_intervals(
        self,
        ean: str,
        quantity: str,
        start: datetime,
        end: datetime,
        *,
        daily: bool = False,
        headpoint: str | None = None,
    ) -> list[SimInterval]:
        """Return the intervals a client should produce for a readTime query now.

        ``headpoint`` is the headpoint EAN when ``ean`` is a submeter. Mandate
        periods are not applied here.
        """
        info = decode_sandbox_ean(headpoint or ean)
        assert info is not None
        quantity = Quantity(quantity)
        tariff: bool | None = None
        if quantity in TARIFFS:
            if info.meter_type is MeterType.AMR or headpoint not in (None, ean):
                return []  # AMR meters and submeters give totals only
            quantity, tariff = TARIFFS[quantity]
        result: list[SimInterval] = []
        if daily:
            for d_start, d_end, grouped in self._daily(info, start, end):
                vals = grouped.get((ean, quantity))
                if vals and tariff is not None:
                    part = [v for v in vals if v.day_tariff is tariff]
                    if not part:  # an idle register: 0, READ
                        result.append(
                            SimInterval(d_start, d_end, 0.0, Quality.MEASURED)
                        )
                        continue
                    vals = part
                if vals:
                    state = min((v.state for v in vals), key=_STATE_RANK.__getitem__)
                    total = round(sum(v.value for v in vals), 3)
                    result.append(SimInterval(d_start, d_end, total, _QUALITY[state]))
            return result
        for sl in self._slices(info, start, end):
            val = sl.values.get((ean, quantity))
            if val is not None:
                value = val.value
                if tariff is not None and val.day_tariff is not tariff:
                    value = 0.0  # the idle register of this quarter
                result.append(SimInterval(sl.start, sl.end, value, _QUALITY[val.state]))
        return result

    def registers(self, ean: str, at: datetime) -> dict[str, float]:
        """Return a digital electricity meter's tariff registers (kWh) at ``at``.

        ``offtake_day``, ``offtake_night`` and, when it measures injection,
        ``injection_day`` and ``injection_night``: what the meter's display
        shows (the API serves no registers), counting the final (corrected)
        quarter-hour values since ``register_start`` on top of a base reading,
        at the display's resolution of 1 Wh. ``at`` is floored to the quarter.
        """
        info = decode_sandbox_ean(ean)
        assert info is not None
        assert info.meter_type is MeterType.DIGITAL
        assert info.energy_type is EnergyType.ELECTRICITY
        at = at - timedelta(minutes=at.minute % 15, seconds=at.second)
        at = at.replace(microsecond=0)
        if not self.register_start <= at <= self.now:
            raise ValueError("no register reading at that moment")
        counts: Counter[str] = Counter()
        day = self.register_start
        while day < at:
            day_end = next_local_midnight(day)
            if day_end <= at:
                key = (ean, day)
                cached = self._register_days.get(key)
                if cached is None:
                    cached = self._register_days[key] = self._wh(info, day, day_end)
                counts.update(cached)
            else:
                counts.update(self._wh(info, day, at))
            day = day_end
        names = [
            name
            for name, (quantity, _) in REGISTERS.items()
            if quantity is Quantity.ENERGY_IMPORT
            or info.direction is Direction.OFFTAKE_INJECTION
        ]
        return {
            name: (self._register_base(ean, name) + counts[name]) / 1000
            for name in names
        }

    def _register_base(self, ean: str, name: str) -> int:
        """Return a register's reading at ``register_start`` (Wh)."""
        return 1_000_000 + int(9_000_000 * self._noise(ean, name, self.register_start))

    def _wh(self, info: SandboxEan, start: datetime, end: datetime) -> Counter[str]:
        """Return the Wh each tariff register counted in [start, end)."""
        counts: Counter[str] = Counter()
        owner = _Owner(info.ean, "headpoint")
        cursor = start
        while cursor < end:
            values = self._true_values(info, owner, cursor)
            day = is_day_tariff(cursor)
            for name, (quantity, day_register) in REGISTERS.items():
                value = values.get(quantity)
                if value is not None and day is day_register:
                    counts[name] += round(value * 1000)
            cursor += QUARTER
        return counts

    # --------------------------------------------------------------- rendering

    def _measurements(
        self,
        info: SandboxEan,
        owner: _Owner,
        values: dict[Quantity, _Value] | dict[Quantity, list[_Value]],
        *,
        daily: bool,
        level: str,
        complex_types: set[str],
        gcf: str | None,
    ) -> list[dict[str, Any]]:
        """Render the measurements list of one slice of one owner."""
        active = not complex_types or "active" in complex_types
        reactive = not complex_types or "reactive" in complex_types
        if info.energy_type.value == "G":
            items: list[dict[str, Any]] = []
            vol = values.get(Quantity.GAS_VOLUME)
            kwh = values.get(Quantity.GAS_ENERGY)
            direction = (
                "injection" if info.direction is Direction.INJECTION else "offtake"
            )
            if vol is not None and level != "ean":
                items.append({direction: {"total": self._reg(vol, "m3")}})
            if kwh is not None:
                items.append(
                    {
                        direction: {"total": self._reg(kwh, "kWh")},
                        "gasConversionFactor": gcf,
                    }
                )
            return items
        item: dict[str, Any] = {}
        names = {
            Quantity.ENERGY_IMPORT: "offtake",
            Quantity.ENERGY_EXPORT: "injection",
            Quantity.PRODUCTION: "production",
            Quantity.AUXILIARY: "auxiliary",
        }
        main_direction = None
        for quantity, name in names.items():
            val = values.get(quantity)
            if val is None:
                continue
            main_direction = main_direction or name
            if not active:
                continue
            if info.meter_type is MeterType.DIGITAL and owner.role == "headpoint":
                if daily:
                    assert isinstance(val, list)
                    day = [v for v in val if v.day_tariff]
                    night = [v for v in val if not v.day_tariff]
                    item[name] = {
                        "day": self._reg(day, "kWh")
                        if day
                        else {"value": 0.0, "unit": "kWh", "validationState": "READ"},
                        "night": self._reg(night, "kWh")
                        if night
                        else {"value": 0.0, "unit": "kWh", "validationState": "READ"},
                    }
                else:
                    assert isinstance(val, _Value)
                    active_reg = "day" if val.day_tariff else "night"
                    item[name] = {active_reg: self._reg(val, "kWh")}
                    if self.both_registers:
                        idle = "night" if val.day_tariff else "day"
                        item[name][idle] = {
                            "value": 0.0,
                            "unit": "kWh",
                            "validationState": val.state,
                        }
            else:
                item[name] = {"total": self._reg(val, "kWh")}
        if reactive and main_direction:
            for quantity, reg in (
                (Quantity.REACTIVE_ENERGY_INDUCTIVE, "inductive"),
                (Quantity.REACTIVE_ENERGY_CAPACITIVE, "capacitive"),
            ):
                val = values.get(quantity)
                if val is not None:
                    item.setdefault(main_direction, {})[reg] = self._reg(val, "kVArh")
        return [item] if item else []

    def _reg(self, val: _Value | list[_Value], unit: str) -> dict[str, Any]:
        """Render a register from one value or the sum of a day's values."""
        if isinstance(val, list):
            state = min((v.state for v in val), key=_STATE_RANK.__getitem__)
            return {
                "value": round(sum(v.value for v in val), 3),
                "unit": unit,
                "validationState": state,
            }
        return {"value": val.value, "unit": unit, "validationState": val.state}

    def render_energy(
        self,
        ean: str,
        start: datetime,
        end: datetime,
        *,
        levels: set[str],
        insert_window: tuple[datetime, datetime] | None = None,
        complex_types: set[str] | None = None,
        periods: dict[str, list[tuple[datetime | None, datetime | None]]] | None = None,
    ) -> dict[str, Any]:
        """Build the GET Energy body for [start, end) (readTime or insertTime)."""
        info = decode_sandbox_ean(ean)
        assert info is not None
        complex_types = complex_types or set()
        owners = self.owners(info)
        gas = info.energy_type.value == "G"
        fine_key = "hourlyEnergy" if gas else "quarterHourlyEnergy"
        exchange = self.meter_exchanges.get(ean)

        def allowed(level: str, lo: datetime, hi: datetime) -> bool:
            if periods is None:
                return True
            return any(
                (p_lo is None or lo >= p_lo) and (p_hi is None or hi <= p_hi)
                for p_lo, p_hi in periods.get(level, [])
            )

        # Generate only where a mandate and the clock allow (cheap backfills).
        lows = [lo for spans in (periods or {}).values() for lo, _ in spans]
        if periods and None not in lows:
            start = max(start, min(lo for lo in lows if lo is not None))
        end = min(end, self.now)
        fine: list[_Slice] = []
        if "fine" in levels:
            if insert_window is not None:
                lo = start - self.correction_delay - timedelta(days=1)
                fine = [
                    s
                    for s in self._slices(info, lo, end, insert_window=insert_window)
                    if allowed("fine", s.start, s.end)
                ]
            else:
                fine = [
                    s
                    for s in self._slices(info, start, end)
                    if allowed("fine", s.start, s.end)
                ]
        days: list[Any] = []
        if "daily" in levels:
            if insert_window is not None:
                lo = local_midnight(start - self.correction_delay - timedelta(days=2))
                days = self._daily(info, lo, end, insert_window=insert_window)
            else:
                days = self._daily(info, start, end)
            days = [d for d in days if allowed("daily", d[0], d[1])]

        def slices_for(
            owner: _Owner, level: str, meter_no: int | None
        ) -> dict[str, list[dict[str, Any]]]:
            out: dict[str, list[dict[str, Any]]] = {}

            def gcf_of(moment: datetime) -> str | None:
                return self._gcf(moment) if gas else None

            if fine:
                rows = []
                for sl in fine:
                    if meter_no is not None and exchange is not None:
                        if (sl.start >= exchange) != (meter_no == 2):
                            continue
                    own = {q: v for (e, q), v in sl.values.items() if e == owner.ean}
                    meas = self._measurements(
                        info,
                        owner,
                        own,
                        daily=False,
                        level=level,
                        complex_types=complex_types,
                        gcf=gcf_of(sl.start),
                    )
                    if meas:
                        rows.append(
                            {
                                "start": _fmt(sl.start),
                                "end": _fmt(sl.end),
                                "measurements": meas,
                            }
                        )
                out[fine_key] = rows
            if days:
                rows = []
                for d_start, d_end, grouped in days:
                    vals_d: dict[Quantity, list[_Value]] = {}
                    for (e, q), vals in grouped.items():
                        if e != owner.ean:
                            continue
                        if meter_no is not None and exchange is not None:
                            step = self._step(info)
                            vals = [
                                v
                                for i, v in enumerate(vals)
                                if (d_start + i * step >= exchange) == (meter_no == 2)
                            ]
                        if vals:
                            vals_d[q] = vals
                    meas = self._measurements(
                        info,
                        owner,
                        vals_d,
                        daily=True,
                        level=level,
                        complex_types=complex_types,
                        gcf=gcf_of(d_start),
                    )
                    if meas:
                        rows.append(
                            {
                                "start": _fmt(d_start),
                                "end": _fmt(d_end),
                                "measurements": meas,
                            }
                        )
                out["dailyEnergy"] = rows
            return out

        head_owner = owners[0]
        headpoint: dict[str, Any] = {"ean": ean, "energyType": info.energy_type.value}
        if info.meter_type is MeterType.AMR:
            headpoint = {"$type": "metering-on-headpoint", **headpoint}
            headpoint.update(slices_for(head_owner, "headpoint", None))
        else:
            meter_prefix = "7FLO21" if gas else "1SAG31"
            physical = []
            numbers: list[int | None] = [1, 2] if exchange is not None else [None]
            for number in numbers:
                pm: dict[str, Any] = {
                    "seqNumber": str(number or 1),
                    "meterID": f"{meter_prefix}{ean[-8:]}"
                    + ("" if number in (None, 1) else "B"),
                }
                pm.update(slices_for(head_owner, "meter", number))
                physical.append(pm)
            if gas:
                headpoint = {"$type": "metering-on-headpoint-and-meter", **headpoint}
                headpoint.update(slices_for(head_owner, "ean", None))
            else:
                headpoint = {"$type": "metering-on-meter", **headpoint}
            headpoint["physicalMeters"] = physical
        subs = []
        for owner in owners[1:]:
            sub_type = {
                "production": "submetering-production",
                "auxiliary": "submetering-auxiliary",
                "offtake-sub": "submetering-offtake",
            }[owner.role]
            sub: dict[str, Any] = {
                "$type": sub_type,
                "ean": owner.ean,
                "seqNumber": owner.seq,
            }
            if owner.installation:
                sub["type"] = owner.installation
            sub.update(slices_for(owner, "sub", None))
            subs.append(sub)
        data: dict[str, Any] = {"fetchTime": _fmt(self.now), "headpoint": headpoint}
        if subs:
            if self.submeters_in_data:
                data["subHeadpoints"] = subs
            else:
                headpoint["subHeadpoints"] = subs
        return {"_meta": self._meta(), "data": data}

    def _meta(self) -> dict[str, Any]:
        """Return the _meta block."""
        return {"version": "v1", "generatedAt": _fmt(self.now)}

    # ------------------------------------------------------------------- HTTP

    def build_app(self) -> web.Application:
        """Return the aiohttp application."""
        app = web.Application()
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        for prefix, env in ((SANDBOX_PREFIX, "sandbox"), (LIVE_PREFIX, "live")):
            app.router.add_get(
                f"{prefix}/api/mandate", self._wrap("mandate", self._mandates)
            )
            app.router.add_get(
                f"{prefix}/api/mandate/energy", self._wrap("energy", self._energy)
            )
            app.router.add_post(
                f"{prefix}/api/mandate/mock",
                self._wrap("mock", self._mock if env == "sandbox" else self._not_found),
            )
        return app

    def _record(self, request: web.Request, kind: str) -> None:
        """Count and record a request."""
        self.request_count[kind] += 1
        self.requests.append(
            RecordedRequest(
                request.method,
                kind,
                request.path,
                {k: request.query.getall(k) for k in request.query},
                request.headers.get("Authorization"),
                request.headers.get("Ocp-Apim-Subscription-Key"),
            )
        )

    def _forced(self, kind: str) -> web.Response | None:
        """Return a forced fault or malformed answer, if one is queued."""
        for queue, malformed in ((self.faults, False), (self.malformed, True)):
            for fault in queue:
                if fault.count > 0 and (fault.path is None or fault.path == kind):
                    if fault.after > 0:
                        fault.after -= 1
                        continue
                    fault.count -= 1
                    if malformed:
                        return web.Response(
                            status=200, body=fault.body, content_type="application/json"
                        )
                    headers = (
                        {"Retry-After": fault.retry_after} if fault.retry_after else {}
                    )
                    body = (
                        fault.body
                        if fault.body is not None
                        else orjson.dumps(
                            {
                                "statusCode": fault.status,
                                "message": f"Simulated error {fault.status}",
                            }
                        )
                    )
                    return web.Response(
                        status=fault.status,
                        body=body,
                        headers=headers,
                        content_type="application/json",
                    )
        return None

    @staticmethod
    def _json(payload: Any, status: int = 200) -> web.Response:
        """Return a JSON response."""
        return web.Response(
            status=status, body=orjson.dumps(payload), content_type="application/json"
        )

    def _error(self, status: int, message: str) -> web.Response:
        """Return an API error body."""
        return self._json(
            {"_meta": self._meta(), "errors": [{"status": status, "message": message}]},
            status,
        )

    def _wrap(self, kind: str, handler: Any) -> Any:
        """Wrap an API handler with counting, faults, delay and auth checks."""

        async def wrapped(request: web.Request) -> web.StreamResponse:
            self._record(request, kind)
            if self.delay:
                await asyncio.sleep(self.delay)
            forced = self._forced(kind)
            if forced is not None:
                return forced
            if (
                request.headers.get("Ocp-Apim-Subscription-Key")
                != DEMO_SUBSCRIPTION_KEY
            ):
                return self._json(
                    {
                        "statusCode": 401,
                        "message": "Access denied due to missing or invalid subscription key.",
                    },
                    401,
                )
            auth = request.headers.get("Authorization", "")
            token = auth.removeprefix("Bearer ")
            entry = self._tokens.get(token)
            if (
                not auth.startswith("Bearer ")
                or entry is None
                or entry[0] <= time.monotonic()
            ):
                return self._json(
                    {
                        "statusCode": 401,
                        "message": "Unauthorized. Access token is missing or invalid.",
                    },
                    401,
                )
            if self.token_max_uses is not None and entry[1] >= self.token_max_uses:
                return self._json(
                    {
                        "statusCode": 401,
                        "message": "Unauthorized. Access token has expired.",
                    },
                    401,
                )
            self._tokens[token] = (entry[0], entry[1] + 1)
            result: web.StreamResponse = await handler(request)
            return result

        return wrapped

    async def _token(self, request: web.Request) -> web.Response:
        """Azure AD v2.0 token endpoint (client credentials)."""
        self._record(request, "token")
        forced = self._forced("token")
        if forced is not None:
            return forced
        form = await request.post()
        if request.match_info["tenant"] != DEMO_TENANT:
            return self._json(
                {
                    "error": "invalid_request",
                    "error_description": "AADSTS90002: Tenant not found.",
                },
                400,
            )
        if form.get("grant_type") != "client_credentials":
            return self._json({"error": "unsupported_grant_type"}, 400)
        if (
            form.get("client_id") != DEMO_CLIENT_ID
            or form.get("client_secret") != DEMO_CLIENT_SECRET
        ):
            return self._json(
                {
                    "error": "invalid_client",
                    "error_description": "AADSTS7000215: Invalid client secret provided.",
                },
                401,
            )
        if form.get("scope") != DEMO_SCOPE:
            return self._json({"error": "invalid_scope"}, 400)
        self._token_serial += 1
        token = f"sim-access-token-{self.seed}-{self._token_serial}"
        self._tokens[token] = (time.monotonic() + self.token_expires_in, 0)
        return self._json(
            {
                "token_type": "Bearer",
                "expires_in": self.token_expires_in,
                "ext_expires_in": self.token_expires_in,
                "access_token": token,
            }
        )

    async def _not_found(self, request: web.Request) -> web.Response:
        """Answer 404 (mock mandates do not exist in live)."""
        return self._error(404, "Resource not found")

    async def _mandates(self, request: web.Request) -> web.Response:
        """GET Mandate with its filters."""
        q = request.query
        try:
            last_from = _parse(q["lastUpdatedFrom"]) if "lastUpdatedFrom" in q else None
            last_to = _parse(q["lastUpdatedTo"]) if "lastUpdatedTo" in q else None
            expiration = (
                _parse(q["mandateExpirationDate"])
                if "mandateExpirationDate" in q
                else None
            )
        except ValueError:
            return self._error(
                400, "Invalid date format, expected YYYY-MM-DDTHH:MM:SSZ"
            )
        ean = q.get("ean")
        if ean is not None and (len(ean) != 18 or not ean.isdigit()):
            return self._error(400, "ean must be 18 digits")
        services = q.getall("dataServiceTypes", [])
        if len(services) > 2 or any(
            s not in ("VH_dag", "VH_kwartier_uur") for s in services
        ):
            return self._error(400, "Invalid dataServiceTypes")
        if q.get("status") not in (
            None,
            "Requested",
            "Approved",
            "Rejected",
            "Finished",
        ):
            return self._error(400, "Invalid status")
        if q.get("energyType") not in (None, "E", "G"):
            return self._error(400, "Invalid energyType")
        found = []
        for m in self.mandates:
            if m.status == "Removed":
                continue
            if ean is not None and m.ean != ean:
                continue
            if "status" in q and m.status != q["status"]:
                continue
            if "energyType" in q and m.energy_type != q["energyType"]:
                continue
            if services and m.data_service_type not in services:
                continue
            if "referenceNumber" in q and m.reference_number != q["referenceNumber"]:
                continue
            if (
                "renewalStatus" in q
                and (m.renewal_status or "").casefold() != q["renewalStatus"].casefold()
            ):
                continue
            if expiration is not None and m.expiration != expiration:
                continue
            if last_from is not None and m.last_updated < last_from:
                continue
            if last_to is not None and m.last_updated >= last_to:
                continue
            found.append(m.to_json())
        if not found:
            return self._error(404, "No mandates found")
        return self._json(
            {
                "_meta": self._meta(),
                "data": {"fetchTime": _fmt(self.now), "mandates": found},
            }
        )

    async def _mock(self, request: web.Request) -> web.Response:
        """POST Create Mock Mandate (sandbox only)."""
        try:
            body = orjson.loads(await request.read())
        except orjson.JSONDecodeError:
            return self._error(400, "Body is not JSON")
        if not isinstance(body, dict):
            return self._error(400, "Body is not an object")
        status = body.get("status")
        ean = body.get("ean")
        if status not in ("Requested", "Approved", "Rejected", "Finished"):
            return self._error(400, "status is required")
        if not isinstance(ean, str):
            return self._error(400, "ean is required")
        info = decode_sandbox_ean(ean)
        if info is None:
            return self._error(400, "Unrealistic combination: not a sandbox EAN")
        service = body.get("dataServiceType", info.data_service_type.value)
        if service == "VH_kwartier":
            service = "VH_kwartier_uur"
        if service != info.data_service_type.value:
            return self._error(400, "dataServiceType does not match the EAN")
        energy = body.get("energyType", info.energy_type.value)
        if energy != info.energy_type.value:
            return self._error(400, "energyType does not match the EAN")
        try:
            start = (
                _parse(body["dataPeriodFrom"])
                if "dataPeriodFrom" in body
                else local_midnight(self.now - timedelta(days=730))
            )
            stop = _parse(body["dataPeriodTo"]) if "dataPeriodTo" in body else None
            expiration = (
                _parse(body["mandateExpirationDate"])
                if "mandateExpirationDate" in body
                else start + timedelta(days=3 * 365)
            )
        except ValueError:
            return self._error(
                400, "Invalid date format, expected YYYY-MM-DDTHH:MM:SSZ"
            )
        mandate = SimMandate(
            ean,
            status=status,
            energy_type=energy,
            data_service_type=service,
            data_period_from=start,
            data_period_to=stop,
            expiration=expiration,
            renewal_status=body.get("renewalStatus"),
            reference_number=body.get("referenceNumber"),
            last_updated=self.now,
        )
        self.mandates.append(mandate)
        return self._json(
            {"_meta": self._meta(), "data": {"mandate": mandate.to_json()}}, 201
        )

    async def _energy(self, request: web.Request) -> web.Response:
        """GET Energy."""
        q = request.query
        for name in ("ean", "periodType", "from", "to"):
            if name not in q:
                return self._error(400, f"{name} is required")
        ean = q["ean"]
        if len(ean) != 18 or not ean.isdigit():
            return self._error(400, "ean must be 18 digits")
        period_type = q["periodType"]
        if period_type not in ("readTime", "insertTime"):
            return self._error(400, "periodType must be readTime or insertTime")
        try:
            start, end = _parse(q["from"]), _parse(q["to"])
        except ValueError:
            return self._error(
                400, "Invalid date format, expected YYYY-MM-DDTHH:MM:SSZ"
            )
        if end <= start:
            return self._error(400, "to must be later than from")
        if end - start > MAX_PERIOD:
            return self._error(400, "The period may not exceed 185 days")
        if period_type == "readTime" and start < self.now - timedelta(days=3 * 366):
            return self._error(400, "Data can be requested up to 3 years back")
        if period_type == "insertTime" and start < self.now - MAX_PERIOD - timedelta(
            days=1
        ):
            return self._error(400, "insertTime can be requested up to 6 months back")
        granularities = q.getall("granularity", [])
        if len(granularities) > 2 or any(
            g not in ("daily", "hourly_quarterhourly") for g in granularities
        ):
            return self._error(400, "Invalid granularity")
        complex_types = q.getall("complexEnergyTypes", [])
        if len(complex_types) > 2 or any(
            c not in ("active", "reactive") for c in complex_types
        ):
            return self._error(400, "Invalid complexEnergyTypes")
        if ean in self.forbidden_eans:
            return self._error(403, "No access to the requested data")
        info = decode_sandbox_ean(ean)
        levels_asked = {"daily" if g == "daily" else "fine" for g in granularities} or {
            "daily",
            "fine",
        }
        periods: dict[str, list[tuple[datetime | None, datetime | None]]] = {}
        for m in self.mandates:
            if m.ean != ean or m.status != "Approved":
                continue
            level = "daily" if m.data_service_type == "VH_dag" else "fine"
            if level not in levels_asked:
                continue
            if (m.data_period_from is None or m.data_period_from < end) and (
                m.data_period_to is None or m.data_period_to > start
            ):
                periods.setdefault(level, []).append(
                    (m.data_period_from, m.data_period_to)
                )
        if info is None or not periods:
            return self._error(
                404, "No valid mandate found for this EAN, period or granularity"
            )
        window = (start, end) if period_type == "insertTime" else None
        body = self.render_energy(
            ean,
            start,
            end,
            levels=set(periods),
            insert_window=window,
            complex_types=set(complex_types),
            periods=periods,
        )
        return self._json(body)


def main() -> None:
    """Serve the simulator on 127.0.0.1 for development."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    sim = FluviusSimulator(seed=args.seed, now=datetime.now(UTC).replace(microsecond=0))
    url = f"http://127.0.0.1:{args.port}"
    print(  # noqa: T201
        "Fluvius simulator\n"
        f"  sandbox base URL: {sim.base_url(url)}\n"
        f"  live base URL:    {sim.base_url(url, 'live')}\n"
        f"  token URL:        {sim.token_url(url)}\n"
        f"  tenant_id={DEMO_TENANT} client_id={DEMO_CLIENT_ID} "
        f"client_secret={DEMO_CLIENT_SECRET}\n"
        f"  scope={DEMO_SCOPE} subscription_key={DEMO_SUBSCRIPTION_KEY}\n"
        f"  EANs: digital {DIGITAL_EAN}, AMR injection {AMR_INJECTION_EAN}, gas {GAS_EAN}"
    )
    web.run_app(sim.build_app(), host="127.0.0.1", port=args.port, print=None)


if __name__ == "__main__":
    main()
