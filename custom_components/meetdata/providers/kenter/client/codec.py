"""The SOAP codec: zeep, loaded once from the shipped WSDL, never from the network.

zeep builds every request envelope (``Client.create_message``), reads faults
and decodes the small getMeterMetaData answer. getLatestMeasurement (every
poll) and getMeterData answers are decoded with lxml: zeep's decoding cost
several times the HTTP exchange itself.
Nothing here does I/O except reading the WSDL file once; HTTP is the client's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
import math
from pathlib import Path
import threading
from typing import Any, Final, NoReturn

from lxml import etree
import zeep
from zeep.exceptions import Error as ZeepError, Fault as ZeepFault
from zeep.settings import Settings

from ....api.errors import MeetdataResponseError
from .const import NAMESPACE, OP_LATEST, OP_METADATA, OP_METER_DATA, WSDL_PATH
from .parse import (
    BODY_TAG,
    FAULT_TAG,
    CounterSeries,
    decode_meter_data,
    parse_envelope,
    payload,
    to_utc,
)

_FAULT_EXCEPTION: Final = f"{{{NAMESPACE}}}FaultException"
_zeep: Any = zeep
#: Request envelopes kept for reuse (a few accounts' latest and metadata).
_ENVELOPE_CACHE_SIZE: Final = 32
#: Read answers leniently: our WSDL is written from a manual, so tolerate
#: extra elements and another element order than it gives.
_LENIENT: Final = {"strict": False, "xsd_ignore_sequence_order": True}


class SoapFaultError(MeetdataResponseError):
    """Kenter answered with a SOAP fault (the client maps it to a typed error)."""

    def __init__(self, text: str, *, code: int | None, faultcode: str | None) -> None:
        """Store the fault's errorCode, its text and the SOAP faultcode."""
        super().__init__(text)
        self.code = code
        self.text = text
        self.faultcode = faultcode


class LocalOnlyTransport(zeep.Transport):
    """A zeep transport that reads only the shipped WSDL and never the network."""

    def __init__(self) -> None:
        """Create the transport without a cache."""
        super().__init__(cache=None)  # type: ignore[no-untyped-call]

    def load(self, url: str) -> bytes:
        """Return a file of this package; refuse anything else."""
        path = Path(url).resolve()
        if "://" in url or path.parent != WSDL_PATH.parent:
            raise MeetdataResponseError(f"Refusing to load {url!r}: only local files")
        return path.read_bytes()

    def _load_remote_data(self, url: str) -> bytes:
        """Refuse remote loads."""
        raise MeetdataResponseError(f"Refusing to load {url!r} from the network")

    def get(self, address: str, params: Any, headers: Any) -> NoReturn:
        """Refuse: requests go over the client's aiohttp session."""
        raise MeetdataResponseError("zeep may not send requests")

    def post(self, address: str, message: Any, headers: Any) -> NoReturn:
        """Refuse: requests go over the client's aiohttp session."""
        raise MeetdataResponseError("zeep may not send requests")


@dataclass(frozen=True, slots=True)
class MeterMetaData:
    """One record of a getMeterMetaData answer."""

    ean: str
    meter_code: str
    meter_type: str | None
    name: str | None
    address: str | None
    location: str | None


@dataclass(frozen=True, slots=True)
class LatestValue:
    """The latest value of one counter, from a getLatestMeasurement answer."""

    ean: str
    meter_code: str
    counter_type: str
    counter_code: str
    timestamp: datetime
    value: float


def _str(value: Any) -> str | None:
    """Return a zeep string value stripped, or None when absent or empty."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _attr(item: Any, name: str) -> str | None:
    """Return a string field of a zeep record (None when absent or empty)."""
    return _str(getattr(item, name, None))


def _stripped(text: str | None) -> str | None:
    """Return an element's text stripped, or None when absent or empty."""
    if text is None:
        return None
    return text.strip() or None


def _latest_moment(text: str) -> datetime:
    """Parse a latest value's xsd:dateTime (local without offset: Amsterdam)."""
    try:
        return to_utc(datetime.fromisoformat(text))
    except ValueError:
        raise MeetdataResponseError(
            f"Kenter's {OP_LATEST} answer could not be read: invalid timestamp"
        ) from None


def _latest_value(text: str) -> float:
    """Parse a latest value's xsd:decimal."""
    try:
        return float(Decimal(text))
    except ArithmeticError:  # decimal.InvalidOperation
        raise MeetdataResponseError(
            f"Kenter's {OP_LATEST} answer could not be read: invalid value"
        ) from None


class KenterCodec:
    """Builds and reads Kenter's SOAP messages with zeep and lxml."""

    def __init__(self, wsdl: Path = WSDL_PATH) -> None:
        """Load the WSDL (blocking: call from an executor)."""
        settings = Settings(
            strict=True,
            forbid_dtd=True,
            forbid_entities=True,
            forbid_external=True,
            xml_huge_tree=False,
        )
        # zeep is typed only in part: talk to it as Any.
        self.client: Any = _zeep.Client(
            str(wsdl), transport=LocalOnlyTransport(), settings=settings
        )
        self._service = self.client.service
        self._binding = self._service._binding  # noqa: SLF001
        self._fault_element = self.client.get_element(_FAULT_EXCEPTION)
        self._envelopes: dict[
            tuple[str, tuple[tuple[tuple[str, str], ...], ...]], bytes
        ]
        self._envelopes = {}

    def build(self, operation: str, meters: Sequence[Mapping[str, str]]) -> bytes:
        """Return the request envelope of ``operation`` for these meter elements.

        Envelopes without a period (getLatestMeasurement, getMeterMetaData) are
        the same every poll: they are built by zeep once and then reused.
        """
        key = (operation, tuple(tuple(sorted(meter.items())) for meter in meters))
        if (cached := self._envelopes.get(key)) is not None:
            return cached
        envelope = self.client.create_message(
            self._service, operation, meter=[dict(meter) for meter in meters]
        )
        body: bytes = etree.tostring(envelope, xml_declaration=True, encoding="utf-8")
        if operation != OP_METER_DATA:
            if len(self._envelopes) >= _ENVELOPE_CACHE_SIZE:
                self._envelopes.pop(next(iter(self._envelopes)))
            self._envelopes[key] = body
        return body

    def check_fault(self, root: etree._Element) -> None:
        """Raise SoapFaultError if the envelope carries a SOAP fault."""
        body = root.find(BODY_TAG)
        if body is None or body.find(FAULT_TAG) is None:
            return
        try:
            self._binding.process_error(root, None)
        except ZeepFault as fault:
            code, message = self._fault_detail(fault.detail)
            text = message or _str(fault.message) or ""
            raise SoapFaultError(text, code=code, faultcode=_str(fault.code)) from None
        raise MeetdataResponseError(
            "Kenter sent an unreadable SOAP fault"
        )  # pragma: no cover

    def fault_in(self, body: bytes) -> SoapFaultError | None:
        """Return the SOAP fault in a (non-200) body, or None if it holds none."""
        try:
            self.check_fault(parse_envelope(body))
        except SoapFaultError as fault:
            return fault
        except MeetdataResponseError:
            return None
        return None

    def _fault_detail(self, detail: Any) -> tuple[int | None, str | None]:
        """Return errorCode and errorMessage of a FaultException detail."""
        if detail is None:
            return None, None
        for child in detail.iterchildren("{*}FaultException"):
            if child.tag == _FAULT_EXCEPTION:
                try:
                    with self.client.settings(**_LENIENT):
                        parsed = self._fault_element.parse(
                            child, self.client.wsdl.types
                        )
                except (ZeepError, ValueError, ArithmeticError):  # pragma: no cover
                    # zeep logs unreadable values and returns None; in case not:
                    return None, None
                code = parsed.errorCode
                return (int(code) if code is not None else None), _str(
                    parsed.errorMessage
                )
            # The manual's example has the detail in http://, not https://.
            code_text = child.xpath("string(*[local-name()='errorCode'])").strip()
            message = child.xpath("string(*[local-name()='errorMessage'])")
            return (
                int(code_text) if code_text.isdigit() else None,
                _str(message),
            )
        return None, None

    def _reply(self, operation: str, body: bytes) -> list[Any]:
        """Parse a small answer with zeep; return its ``return`` items."""
        root = parse_envelope(body)
        self.check_fault(root)
        if payload(root).tag != f"{{{NAMESPACE}}}{operation}Response":
            raise MeetdataResponseError(
                f"Kenter answered {operation} with an unexpected element"
            )
        try:
            with self.client.settings(**_LENIENT):
                result = self._binding.get(operation).process_reply(root)
        except (ZeepError, ValueError, ArithmeticError) as err:
            raise MeetdataResponseError(
                f"Kenter's {operation} answer could not be read: {type(err).__name__}"
            ) from None
        if not result:
            return []
        values = getattr(result, "__values__", None)
        if isinstance(values, dict) and "return" in values:
            # Unknown elements beside the ``return`` items: zeep then hands
            # back the whole response object instead of the items.
            result = values["return"] or []
        return list(result) if isinstance(result, list) else [result]

    def decode_metadata(self, body: bytes) -> list[MeterMetaData]:
        """Decode a getMeterMetaData answer."""
        records: list[MeterMetaData] = []
        for item in self._reply(OP_METADATA, body):
            ean, meter_code = _attr(item, "eanCode"), _attr(item, "meterCode")
            if ean is None or meter_code is None:
                raise MeetdataResponseError(
                    "Kenter sent meter metadata without eanCode or meterCode"
                )
            records.append(
                MeterMetaData(
                    ean,
                    meter_code,
                    _attr(item, "type"),
                    _attr(item, "name"),
                    _attr(item, "address"),
                    _attr(item, "location"),
                )
            )
        return records

    def decode_latest(self, body: bytes) -> list[LatestValue]:
        """Decode a getLatestMeasurement answer: the last value of each counter.

        Read with lxml like getMeterData (zeep took ~4x the HTTP exchange's
        CPU time for ten connections); tolerant of extra and reordered
        elements, as zeep's lenient mode was.
        """
        root = parse_envelope(body)
        self.check_fault(root)
        response = payload(root)
        if response.tag != f"{{{NAMESPACE}}}{OP_LATEST}Response":
            raise MeetdataResponseError(
                f"Kenter answered {OP_LATEST} with an unexpected element"
            )
        records: list[LatestValue] = []
        moments: dict[str, datetime] = {}  # counters share their timestamps
        for item in response.iterchildren("return"):
            # One pass over the children (findtext per field cost 3x more).
            fields: dict[object, str | None] = {}
            measures: list[tuple[str | None, str | None]] = []
            for child in item:
                if child.tag == "measureValue":
                    found: dict[object, str | None] = {}
                    for part in child:
                        found.setdefault(part.tag, part.text)
                    measures.append(
                        (
                            _stripped(found.get("timestamp")),
                            _stripped(found.get("value")),
                        )
                    )
                else:
                    fields.setdefault(child.tag, child.text)
            ean = _stripped(fields.get("eanCode"))
            meter_code = _stripped(fields.get("meterCode"))
            code = _stripped(fields.get("counterCode"))
            if ean is None or meter_code is None or code is None:
                raise MeetdataResponseError(
                    "Kenter sent a measurement without eanCode, meterCode or counterCode"
                )
            latest: tuple[datetime, float] | None = None
            for stamp, raw in measures:
                if stamp is None or raw is None:
                    raise MeetdataResponseError(
                        f"Kenter sent a latest {code} value without timestamp or value"
                    )
                moment = moments.get(stamp)
                if moment is None:
                    moment = moments[stamp] = _latest_moment(stamp)
                value = _latest_value(raw)
                if not math.isfinite(value):
                    raise MeetdataResponseError(
                        f"Kenter sent an invalid latest {code} value"
                    )
                if latest is None or moment >= latest[0]:
                    latest = (moment, value)
            if latest is None:
                continue
            records.append(
                LatestValue(
                    ean,
                    meter_code,
                    (_stripped(fields.get("counterType")) or "").lower(),
                    code.upper(),
                    latest[0],
                    latest[1],
                )
            )
        return records

    def decode_meter_data(
        self, body: bytes, window_start: datetime, window_end: datetime
    ) -> list[CounterSeries]:
        """Decode a getMeterData answer with lxml (fast; see parse.py)."""
        root = parse_envelope(body)
        self.check_fault(root)
        if payload(root).tag != f"{{{NAMESPACE}}}{OP_METER_DATA}Response":
            raise MeetdataResponseError(
                f"Kenter answered {OP_METER_DATA} with an unexpected element"
            )
        return decode_meter_data(root, window_start, window_end)


_codec: KenterCodec | None = None
_codec_lock = threading.Lock()


def load_codec() -> KenterCodec:
    """Return the module's codec, loading the WSDL on first use (blocking)."""
    global _codec  # noqa: PLW0603
    with _codec_lock:
        if _codec is None:
            try:
                _codec = KenterCodec()
            except (ZeepError, OSError, ValueError) as err:  # pragma: no cover
                raise MeetdataResponseError(
                    f"The shipped Kenter WSDL could not be loaded: {err}"
                ) from None
        return _codec


def cached_codec() -> KenterCodec | None:
    """Return the codec if it has been loaded already."""
    return _codec
