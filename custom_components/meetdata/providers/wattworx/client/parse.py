"""Turn Wattworx XML bodies into the typed records of ``models``."""

from __future__ import annotations

from datetime import UTC, datetime
import math

from ....api.errors import MeetdataResponseError
from .models import (
    Authorisation,
    AuthorisationStatus,
    ClientInfo,
    DayDetailValue,
    DayRequestResult,
    DayValue,
    Device,
    DeviceClient,
    DeviceType,
    EanChange,
    MonthValue,
    Registers,
)
from .params import VALUES_WH
from .times import LocalTimeResolver, parse_date, parse_naive, parse_unix
from .xmlsafe import Element, child_text, rows


def _required(element: Element, tag: str) -> str:
    """Return a child's text or raise: the document always shows it."""
    text = child_text(element, tag)
    if text is None:
        raise MeetdataResponseError(f"Wattworx <{element.tag}> without <{tag}>")
    return text


def _number(element: Element, tag: str, scale: float = 1.0) -> float | None:
    """Return a child's decimal value divided by ``scale`` (None: absent)."""
    text = child_text(element, tag)
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise MeetdataResponseError(
            f"Invalid number in Wattworx <{tag}>: {text[:40]!r}"
        ) from None
    if not math.isfinite(value):
        raise MeetdataResponseError(f"Invalid number in Wattworx <{tag}>")
    return value / scale


def _integer(element: Element, tag: str) -> int:
    """Return a child's integer value."""
    text = _required(element, tag)
    try:
        return int(text)
    except ValueError:
        raise MeetdataResponseError(
            f"Invalid integer in Wattworx <{tag}>: {text[:40]!r}"
        ) from None


def _registers(element: Element, scale: float = 1.0) -> Registers:
    """Read the reading elements of a month, day or day detail record."""
    return Registers(
        cons=_number(element, "kwhConsReading", scale),
        cons_low=_number(element, "kwhConsLowReading", scale),
        prod=_number(element, "kwhProdReading", scale),
        prod_low=_number(element, "kwhProdLowReading", scale),
        gas=_number(element, "m3ConsReading"),
    )


def parse_error(root: Element) -> tuple[int | None, str | None]:
    """Return (code, message) of an ``<error>`` body."""
    code_text = child_text(root, "code")
    code = int(code_text) if code_text is not None and code_text.isdigit() else None
    message = child_text(root, "message") or child_text(root, "description")
    if message is None and len(root) == 0 and root.text:
        message = str(root.text).strip() or None
    return code, message


def parse_devices(root: Element) -> list[Device]:
    """Parse the device list."""
    devices = []
    for row in rows(root, "device"):
        client = None
        block = row.find("client")
        if block is not None:
            first = child_text(block, "firstDataDate")
            last = child_text(block, "lastDataDate")
            client = DeviceClient(
                id=_required(block, "id"),
                name=child_text(block, "name"),
                kvk=child_text(block, "kvk"),
                authorisation=child_text(block, "authorisation"),
                authorisation_status=child_text(block, "authorisationstatus"),
                first_data_date=parse_date(first) if first else None,
                last_data_date=parse_date(last) if last else None,
            )
        devices.append(
            Device(
                id=_required(row, "id"),
                ean=_required(row, "ean"),
                eantype=child_text(row, "eantype"),
                meter_id=child_text(row, "meterId"),
                address=child_text(row, "address"),
                zip=child_text(row, "zip"),
                city=child_text(row, "city"),
                rnb=child_text(row, "rnb"),
                last_status=child_text(row, "laststatus"),
                client=client,
            )
        )
    return devices


def _code_list(root: Element, tag: str) -> list[tuple[str, str | None, str | None]]:
    """Read (name, id, description) from a list of codes.

    Each record is either plain text (``<eantype>KVBE</eantype>``) or has
    ``<name>``/``<code>``, ``<id>`` and ``<description>`` children.
    """
    result: list[tuple[str, str | None, str | None]] = []
    for row in rows(root, tag):
        if len(row) == 0:
            text = str(row.text or "").strip()
            if text:
                result.append((text, None, None))
            continue
        name = child_text(row, "name") or child_text(row, "code")
        if name is None:
            raise MeetdataResponseError(f"Wattworx <{tag}> without a name")
        result.append((name, child_text(row, "id"), child_text(row, "description")))
    return result


def parse_device_types(root: Element) -> list[DeviceType]:
    """Parse the list of device types."""
    return [
        DeviceType(code=name, description=description)
        for name, _id, description in _code_list(root, "eantype")
    ]


def parse_authorisation_statuses(root: Element) -> list[AuthorisationStatus]:
    """Parse the list of authorisation statuses."""
    return [
        AuthorisationStatus(name=name, id=id_, description=description)
        for name, id_, description in _code_list(root, "authorisationstatus")
    ]


def parse_month_values(root: Element) -> list[MonthValue]:
    """Parse month values (readings in kWh or m³)."""
    return [
        MonthValue(
            year=_integer(row, "year"),
            month=_integer(row, "month"),
            readings=_registers(row),
        )
        for row in rows(root, "month")
    ]


def parse_day_values(root: Element) -> list[DayValue]:
    """Parse day values (readings in kWh or m³)."""
    return [
        DayValue(date=parse_date(_required(row, "date")), readings=_registers(row))
        for row in rows(root, "day")
    ]


def parse_day_details(
    root: Element,
    *,
    values: str,
    utc: bool,
    window: tuple[datetime, datetime] | None = None,
) -> list[DayDetailValue]:
    """Parse day detail values.

    ``values`` is the mode that was asked (WH readings are scaled to kWh);
    ``utc`` says whether ``datetime`` values are UTC (tf=4) or local time.
    Gas rows carry a unix ``timestamp`` and are the same in every mode.
    A ``datetime`` outside ``window`` (the requested local days) means the
    server did not honour ``tf``; that is refused, not guessed around.
    """
    scale = 1000.0 if values == VALUES_WH else 1.0
    resolver = LocalTimeResolver()
    result = []
    for row in rows(root, "daydetail"):
        stamp = child_text(row, "timestamp")
        if stamp is not None:
            moment = resolver.resolve(parse_unix(stamp))
        else:
            naive = parse_naive(_required(row, "datetime"))
            if utc and naive.tzinfo is None:
                moment = resolver.resolve(naive.replace(tzinfo=UTC))
            else:
                moment = resolver.resolve(naive)
            if window is not None and not window[0] <= moment < window[1]:
                raise MeetdataResponseError(
                    f"Wattworx time {naive.isoformat()} outside the requested "
                    "days (time format not honoured?)"
                )
        result.append(
            DayDetailValue(
                time=moment,
                readings=_registers(row, scale),
                cons=_number(row, "kwhCons", scale),
                prod=_number(row, "kwhProd", scale),
            )
        )
    return result


def parse_ean_change(root: Element) -> EanChange:
    """Parse the answer to adding or deleting an EAN."""
    row = _single(root, "ean")
    return EanChange(
        id=child_text(row, "id"),
        code=child_text(row, "code") or _required(row, "eanCode"),
        authorisation_status=child_text(row, "authorisationstatus"),
        status=child_text(row, "status"),
    )


def parse_clients(root: Element) -> list[ClientInfo]:
    """Parse the client overview (or one client record)."""
    clients = []
    for row in rows(root, "client"):
        authorisations = []
        block = row.find("authorisations")
        if block is not None:
            for auth in block.findall("authorisation"):
                eans_block = auth.find("eans")
                eans: tuple[str, ...] = ()
                if eans_block is not None:
                    eans = tuple(
                        str(ean.text).strip()
                        for ean in eans_block.findall("ean")
                        if ean.text and str(ean.text).strip()
                    )
                authorisations.append(
                    Authorisation(
                        number=child_text(auth, "number"),
                        status=child_text(auth, "status"),
                        eans=eans,
                    )
                )
        clients.append(
            ClientInfo(
                id=_required(row, "id"),
                name=child_text(row, "name"),
                kvk=child_text(row, "kvk"),
                address=child_text(row, "address"),
                zip=child_text(row, "zip"),
                city=child_text(row, "city"),
                status=child_text(row, "status"),
                authorisations=tuple(authorisations),
            )
        )
    return clients


def parse_client(root: Element) -> ClientInfo:
    """Parse the answer to adding or deleting a client."""
    return parse_clients(_single(root, "client"))[0]


def parse_day_request(root: Element) -> DayRequestResult:
    """Parse a day data request: ``<ean>`` with a status, or day values."""
    if root.tag == "ean":
        status = child_text(root, "status")
        queued = status is not None and "queued" in status.lower()
        return DayRequestResult(queued=queued, status=status)
    return DayRequestResult(queued=False, days=tuple(parse_day_values(root)))


def _single(root: Element, tag: str) -> Element:
    """Return the one record called ``tag`` (root or only child)."""
    found = rows(root, tag)
    if len(found) != 1:
        raise MeetdataResponseError(
            f"Expected one <{tag}> from Wattworx, got {len(found)}"
        )
    return found[0]


def parse_device_tuple(root: Element) -> tuple[Device, ...]:
    """Parse the device list into a tuple (kept and shared between calls)."""
    return tuple(parse_devices(root))
