"""Property tests: every parser, fed anything, raises only MeetdataError.

Two kinds of input per parser: arbitrary bytes, and documents shaped like
the provider's answers (its field names, nested the way the API nests them)
carrying hostile values: wrong types, huge numbers, NaN, impossible or
extreme timestamps, empty strings. Whatever happens, the only exceptions
that may escape are the client's own typed errors.
"""

from __future__ import annotations

from collections.abc import Callable
import contextlib
from datetime import UTC, datetime, timedelta, timezone
import json
import os
from typing import Any
from xml.sax.saxutils import escape

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest

from custom_components.meetdata.api.errors import MeetdataError
from custom_components.meetdata.providers.cemm.client import parse as cemm
from custom_components.meetdata.providers.dtl.client import client as dtl
from custom_components.meetdata.providers.fluvius.client import parse_energy
from custom_components.meetdata.providers.fluvius.client.mandates import parse_mandates
from custom_components.meetdata.providers.kenter.client.codec import load_codec
from custom_components.meetdata.providers.kenter.client.const import NAMESPACE
from custom_components.meetdata.providers.kenter.client.parse import SOAP_ENV
from custom_components.meetdata.providers.wattworx.client import parse as wparse
from custom_components.meetdata.providers.wattworx.client.client import WattworxClient
from custom_components.meetdata.providers.wattworx.client.params import (
    VALUES_KWH,
    VALUES_WH,
)

FAST = settings(
    max_examples=int(os.environ.get("MEETDATA_HYPOTHESIS_EXAMPLES", "120")),
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# -- values that have broken parsers before -----------------------------------

TRICKY_TEXT = st.sampled_from(
    [
        "",
        " ",
        "0",
        "-1",
        "1e309",
        "-1e309",
        "NaN",
        "nan",
        "Infinity",
        "-INF",
        "1,5",
        "0x10",
        "١٢",
        "9" * 400,
        "2025-10-26T02:30:00",
        "2025-10-26T02:30:00+02:00",
        "2025-03-30T02:30:00",
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-14:00",
        "9999-12-31T23:59:59+14:00",
        "2025-02-30",
        "20250101",
        "00000000",
        "1700000000",
        "-99999999999999",
        "99999999999999999999",
        "kWh",
        "m3",
        "READ",
        "interval",
        "\x00",
        "&amp;",
    ]
)
ISO_TIMES = st.one_of(
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:59:59-14:00",
            "9999-12-31T23:59:59Z",
        ]
    ),
    st.sampled_from(
        [
            "0001-01-01T00:00:00+01:00",
            "0001-01-01T00:30:00",
            "0001-01-01T00:00:00Z",
            "9999-12-31T23:59:59-14:00",
            "9999-12-31T23:30:00+00:00",
            "9999-12-31T23:30:00",
            "2025-10-26T02:30:00",
            "2025-10-26T02:30:00+01:00",
            "2025-03-30T02:30:00",
            "2025-10-26T01:00:00Z",
            "2025-10-26 02:15:00",
            "not a time",
        ]
    ),
    st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 31),
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-14))]
        )
        | st.none(),
    ).map(datetime.isoformat),
)
JSON_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    TRICKY_TEXT,
    st.text(max_size=8),
)


def _json_docs(keys: list[str]) -> st.SearchStrategy[Any]:
    """JSON values whose objects use the provider's field names."""
    return st.recursive(
        JSON_SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.sampled_from(keys), inner, max_size=6),
        ),
        max_leaves=30,
    )


def _dump(value: Any) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def only_typed_errors(call: Callable[[], Any]) -> None:
    """Run ``call``; a MeetdataError is fine, anything else fails the test."""
    with contextlib.suppress(MeetdataError):
        call()


WINDOW = (datetime(2025, 10, 25, 22, tzinfo=UTC), datetime(2025, 10, 27, tzinfo=UTC))

# -- CEMM (JSON) --------------------------------------------------------------

CEMM_KEYS = [
    "data", "uid", "io_id", "port", "type", "port_option", "full_id", "time",
    "t1", "t2", "t3", "t4", "electric_power", "rate", "gas", "switch",
    "electric_energy", "electric_energy_low", "electric_energy_high", "promise",
]  # fmt: skip
CEMM_PAIRS = st.lists(
    st.one_of(
        st.tuples(
            st.one_of(
                st.integers(min_value=-(10**16), max_value=10**16),
                st.sampled_from(
                    [0, -1, 253402300799999, 253402300800000, -62135596800000, 2**63]
                ),
            ),
            JSON_SCALARS,
        ).map(list),
        JSON_SCALARS,
    ),
    max_size=5,
)
CEMM_DOCS = st.one_of(
    _json_docs(CEMM_KEYS),
    st.fixed_dictionaries(
        {
            "io_id": JSON_SCALARS,
            "time": JSON_SCALARS,
            "data": st.dictionaries(
                st.sampled_from(CEMM_KEYS),
                st.one_of(CEMM_PAIRS, st.lists(CEMM_PAIRS, max_size=3)),
                max_size=4,
            ),
        }
    ),
)
CEMM_PARSERS = [
    cemm._parse_uids,
    cemm._parse_io,
    cemm._parse_values,
    cemm._parse_series,
]


@FAST
@given(st.one_of(st.binary(max_size=300), CEMM_DOCS.map(_dump)))
def test_cemm_parsers(body: bytes) -> None:
    """CEMM: JSON decoding and every answer shape."""
    for parse in CEMM_PARSERS:
        only_typed_errors(lambda parse=parse: parse(cemm._parse_json(body)))


# -- DTL (JSON) ---------------------------------------------------------------

DTL_KEYS = [
    "klant_ean", "meter_ean", "meter_type", "datum_laatste_meting",
    "meting_type", "tijd", "datum", "waarde", "waarde_type",
]  # fmt: skip
DTL_ROW = st.fixed_dictionaries(
    {
        "klant_ean": st.sampled_from(["871687140000123458", "", 871687140000123458]),
        "meter_ean": st.sampled_from(["871687140000987617", "x"]),
        "meter_type": st.sampled_from(["bruto_productie", "overdrachtspunt", "?"]),
        "datum_laatste_meting": st.one_of(ISO_TIMES, JSON_SCALARS),
        "datum": st.sampled_from(
            ["2025-10-26", "2025-03-30", "0001-01-01", "9999-12-31", "2025-02-30", 5]
        ),
        "meting_type": st.sampled_from(
            ["actief_vermogen", "blind_vermogen", "spanning_l1", "frequentie", ""]
        ),
        "tijd": st.one_of(
            st.sampled_from(["00:00", "02:30", "23:55", "24:00", "2:3", "02:30+02:00"]),
            ISO_TIMES,
            JSON_SCALARS,
        ),
        "waarde": JSON_SCALARS,
        "waarde_type": st.sampled_from(["W", "kW", "var", "V", "Hz", ""]),
    }
)
DTL_DOCS = st.one_of(_json_docs(DTL_KEYS), st.lists(DTL_ROW, max_size=6))


@FAST
@given(st.one_of(st.binary(max_size=300), DTL_DOCS.map(_dump)))
def test_dtl_parsers(body: bytes) -> None:
    """DTL: both calls, including the DST-fold resolution of call 2."""
    only_typed_errors(lambda: dtl._parse_meters(body, ("871687140000123458",)))
    only_typed_errors(
        lambda: dtl._parse_measurements(
            body, "871687140000123458", "871687140000987617", *WINDOW
        )
    )


def test_dtl_deep_nesting_is_a_typed_error() -> None:
    """A deeply nested answer is refused, not a RecursionError."""
    only_typed_errors(lambda: dtl._parse_meters(b"[" * 100_000, ("1",)))


# -- Fluvius (JSON) -----------------------------------------------------------

FLUVIUS_KEYS = [
    "data", "_meta", "headpoint", "ean", "$type", "energyType", "physicalMeters",
    "meterID", "subHeadpoints", "seqNumber", "type", "dailyEnergy",
    "quarterHourlyEnergy", "hourlyEnergy", "start", "end", "measurements",
    "offtake", "injection", "production", "auxiliary", "total", "day", "night",
    "inductive", "capacitive", "value", "unit", "validationState",
    "gasConversionFactor", "mandates", "status", "dataPeriodFrom",
    "dataPeriodTo", "dataServiceType", "mandateExpirationDate",
    "renewalStatus", "referenceNumber",
]  # fmt: skip
FLUVIUS_REGISTER = st.fixed_dictionaries(
    {
        "value": JSON_SCALARS,
        "unit": st.sampled_from(["kWh", "kvarh", "m3", "Wh", "?", ""]),
        "validationState": st.sampled_from(["READ", "EST", "VAL", "NVAL", None]),
    }
)
FLUVIUS_SLICE = st.fixed_dictionaries(
    {
        "start": st.one_of(ISO_TIMES, ISO_TIMES, JSON_SCALARS),
        "end": st.one_of(ISO_TIMES, st.none()),
        "measurements": st.lists(
            st.dictionaries(
                st.sampled_from(
                    ["offtake", "injection", "production", "gasConversionFactor"]
                ),
                st.one_of(
                    st.dictionaries(
                        st.sampled_from(
                            ["total", "day", "night", "inductive", "capacitive"]
                        ),
                        FLUVIUS_REGISTER,
                        max_size=3,
                    ),
                    JSON_SCALARS,
                ),
                max_size=3,
            ),
            max_size=2,
        ),
    }
)
FLUVIUS_ENERGY = st.fixed_dictionaries(
    {
        "data": st.fixed_dictionaries(
            {
                "headpoint": st.fixed_dictionaries(
                    {
                        "ean": st.sampled_from(
                            ["541440110000000001"] * 5 + [5414, None]
                        ),
                        "$type": st.sampled_from(
                            ["mijnFluvius.Api.Energy.MeteringOnHeadpoint"] * 5
                            + [3, None]
                        ),
                        "energyType": st.sampled_from(["E", "E", "G", "G", "x", None]),
                        "quarterHourlyEnergy": st.lists(FLUVIUS_SLICE, max_size=3),
                        "dailyEnergy": st.lists(FLUVIUS_SLICE, max_size=2),
                        "physicalMeters": st.one_of(
                            st.lists(
                                st.fixed_dictionaries(
                                    {
                                        "meterID": JSON_SCALARS,
                                        "hourlyEnergy": st.lists(
                                            FLUVIUS_SLICE, max_size=2
                                        ),
                                    }
                                ),
                                max_size=2,
                            ),
                            JSON_SCALARS,
                        ),
                        "subHeadpoints": st.one_of(
                            st.lists(_json_docs(FLUVIUS_KEYS), max_size=2), JSON_SCALARS
                        ),
                    }
                )
            }
        )
    }
)


FLUVIUS_MANDATES = st.fixed_dictionaries(
    {
        "data": st.fixed_dictionaries(
            {
                "mandates": st.lists(
                    st.fixed_dictionaries(
                        {
                            "ean": st.sampled_from(["541440110000000001", 5, None]),
                            "status": st.sampled_from(
                                ["Approved", "Requested", "?", 1]
                            ),
                            "energyType": st.sampled_from(["E", "G", None]),
                            "dataServiceType": st.sampled_from(
                                ["VH_dag", "VH_kwartier_uur", "?"]
                            ),
                            "dataPeriodFrom": st.one_of(ISO_TIMES, JSON_SCALARS),
                            "dataPeriodTo": st.one_of(ISO_TIMES, JSON_SCALARS),
                            "mandateExpirationDate": st.one_of(ISO_TIMES, JSON_SCALARS),
                            "renewalStatus": st.sampled_from(["ToBeRenewed", None, 3]),
                        }
                    ),
                    max_size=3,
                )
            }
        )
    }
)


@FAST
@given(
    st.one_of(
        st.binary(max_size=300),
        _json_docs(FLUVIUS_KEYS).map(_dump),
        FLUVIUS_ENERGY.map(_dump),
        FLUVIUS_MANDATES.map(_dump),
    )
)
def test_fluvius_parsers(body: bytes) -> None:
    """Fluvius: GET Energy bodies and GET Mandate payloads."""
    only_typed_errors(lambda: parse_energy(body))
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):
        return
    only_typed_errors(lambda: parse_mandates(payload))


# -- XML: Kenter (SOAP) and Wattworx ------------------------------------------


def _xml(tags: list[str], depth: int = 3) -> st.SearchStrategy[str]:
    """XML fragments built from the provider's element names."""
    leaf = st.builds(
        lambda tag, text: f"<{tag}>{escape(text)}</{tag}>",
        st.sampled_from(tags),
        st.one_of(TRICKY_TEXT, st.text(max_size=6).filter(lambda t: "\x00" not in t)),
    )
    return st.recursive(
        leaf,
        lambda inner: st.builds(
            lambda tag, kids: f"<{tag}>{''.join(kids)}</{tag}>",
            st.sampled_from(tags),
            st.lists(inner, max_size=4),
        ),
        max_leaves=20,
    )


KENTER_TAGS = [
    "return", "eanCode", "meterCode", "type", "name", "address", "location",
    "counterType", "counterCode", "measureValue", "timestamp", "value",
    "FaultException", "errorCode", "errorMessage",
]  # fmt: skip
KENTER_OPS = [
    "getMeterMetaDataResponse",
    "getLatestMeasurementResponse",
    "getMeterDataResponse",
]


def _envelope(op: str, inner: str) -> bytes:
    return (
        f'<S:Envelope xmlns:S="{SOAP_ENV}"><S:Body>'
        f'<ns2:{op} xmlns:ns2="{NAMESPACE}">{inner}</ns2:{op}>'
        "</S:Body></S:Envelope>"
    ).encode()


def _fault(inner: str) -> bytes:
    return (
        f'<S:Envelope xmlns:S="{SOAP_ENV}"><S:Body><S:Fault>'
        f"<faultcode>S:Server</faultcode><faultstring>x</faultstring>"
        f'<detail><ns2:FaultException xmlns:ns2="{NAMESPACE}">{inner}'
        "</ns2:FaultException></detail></S:Fault></S:Body></S:Envelope>"
    ).encode()


KENTER_RETURN = st.builds(
    lambda counter_type, values: (
        "<return><eanCode>871687120000096366</eanCode><meterCode>M1</meterCode>"
        f"<counterType>{counter_type}</counterType><counterCode>LVR</counterCode>"
        + "".join(
            f"<measureValue><timestamp>{escape(t)}</timestamp>"
            f"<value>{escape(v)}</value></measureValue>"
            for t, v in values
        )
        + "</return>"
    ),
    st.sampled_from(["interval", "register", ""]),
    st.lists(st.tuples(ISO_TIMES, TRICKY_TEXT), max_size=4),
)
KENTER_BODIES = st.one_of(
    st.builds(
        _envelope,
        st.sampled_from(KENTER_OPS),
        st.lists(KENTER_RETURN, max_size=3).map("".join),
    ),
    st.binary(max_size=300),
    st.builds(
        _envelope,
        st.sampled_from(KENTER_OPS),
        st.lists(_xml(KENTER_TAGS), max_size=3).map("".join),
    ),
    st.builds(_fault, st.lists(_xml(KENTER_TAGS), max_size=3).map("".join)),
)


@FAST
@given(KENTER_BODIES)
def test_kenter_parsers(body: bytes) -> None:
    """Kenter: the zeep decoders, the lxml decoder and the fault reader."""
    codec = load_codec()
    only_typed_errors(lambda: codec.decode_metadata(body))
    only_typed_errors(lambda: codec.decode_latest(body))
    only_typed_errors(lambda: codec.decode_meter_data(body, *WINDOW))
    only_typed_errors(lambda: codec.fault_in(body))


WATTWORX_TAGS = [
    "devices", "device", "id", "ean", "eantype", "meterId", "address", "zip",
    "city", "rnb", "laststatus", "client", "name", "kvk", "authorisation",
    "authorisationstatus", "firstDataDate", "lastDataDate", "daydetails",
    "daydetail", "datetime", "timestamp", "kwhCons", "kwhProd",
    "kwhConsReading", "kwhConsLowReading", "kwhProdReading",
    "kwhProdLowReading", "m3ConsReading", "month", "year", "day", "date",
    "authorisations", "eans", "number", "status", "code", "eanCode",
    "message", "error", "description",
]  # fmt: skip
WATTWORX_PARSERS: list[Callable[[Any], Any]] = [
    wparse.parse_devices,
    wparse.parse_device_types,
    wparse.parse_authorisation_statuses,
    wparse.parse_month_values,
    wparse.parse_day_values,
    wparse.parse_ean_change,
    wparse.parse_clients,
    wparse.parse_client,
    wparse.parse_day_request,
    lambda root: wparse.parse_day_details(
        root, values=VALUES_KWH, utc=True, window=WINDOW
    ),
    lambda root: wparse.parse_day_details(
        root, values=VALUES_WH, utc=False, window=None
    ),
]
_WATTWORX = WattworxClient(None, "key")  # type: ignore[arg-type]
WATTWORX_DATES = st.sampled_from(
    ["2025-10-26", "0001-01-01", "9999-12-31", "2025-02-30", "20251026", ""]
)
WATTWORX_DOCS = st.one_of(
    st.lists(
        st.builds(
            lambda when, stamp, number: (
                f"<daydetail><datetime>{escape(when)}</datetime>"
                f"<timestamp>{escape(stamp)}</timestamp><kwhCons>{escape(number)}</kwhCons>"
                f"<m3ConsReading>{escape(number)}</m3ConsReading></daydetail>"
            ),
            st.one_of(ISO_TIMES.map(lambda t: t.replace("T", " ")), ISO_TIMES),
            st.sampled_from(["1761440400", "-62135596801", "253402300800", "x", "1e3"]),
            TRICKY_TEXT,
        ),
        max_size=4,
    ).map(lambda rows: "<daydetails>" + "".join(rows) + "</daydetails>"),
    st.lists(
        st.builds(
            lambda first, last: (
                "<device><id>1</id><ean>871234567890123456</ean><client><id>2</id>"
                f"<firstDataDate>{first}</firstDataDate><lastDataDate>{last}</lastDataDate>"
                "</client></device>"
            ),
            WATTWORX_DATES,
            WATTWORX_DATES,
        ),
        max_size=3,
    ).map(lambda rows: "<devices>" + "".join(rows) + "</devices>"),
)


@FAST
@given(
    st.one_of(
        st.binary(max_size=300),
        _xml(WATTWORX_TAGS).map(str.encode),
        WATTWORX_DOCS.map(str.encode),
    )
)
def test_wattworx_parsers(body: bytes) -> None:
    """Wattworx: the hardened XML parser, the error body and every record parser."""
    for parse in WATTWORX_PARSERS:
        only_typed_errors(
            lambda parse=parse: _WATTWORX._decode(
                body, parse=parse, name="prop", meter=None
            )
        )


def test_window_is_sane() -> None:
    """The DST window used above spans the October change."""
    assert WINDOW[1] - WINDOW[0] == timedelta(hours=26)


EXTREMES = ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-14:00"]


@pytest.mark.parametrize("moment", EXTREMES)
def test_extreme_timestamps_are_typed_errors(moment: str) -> None:
    """Regressions the properties found: year 1 / 9999 with an offset overflowed."""
    meters = [
        {
            "klant_ean": "1",
            "meter_ean": "2",
            "meter_type": "bruto_productie",
            "datum_laatste_meting": moment,
        }
    ]
    only_typed_errors(lambda: dtl._parse_meters(_dump(meters), ("1",)))
    kenter_body = _envelope(
        "getMeterDataResponse",
        "<return><eanCode>1</eanCode><meterCode>M</meterCode>"
        "<counterType>interval</counterType><counterCode>LVR</counterCode>"
        f"<measureValue><timestamp>{moment}</timestamp><value>1</value>"
        "</measureValue></return>",
    )
    only_typed_errors(lambda: load_codec().decode_meter_data(kenter_body, *WINDOW))
    wattworx_body = (
        f"<d><daydetail><datetime>{moment}</datetime><kwhCons>1</kwhCons>"
        "</daydetail></d>"
    ).encode()
    only_typed_errors(
        lambda: _WATTWORX._decode(
            wattworx_body, parse=WATTWORX_PARSERS[-1], name="x", meter=None
        )
    )
    energy = {
        "data": {
            "headpoint": {
                "ean": "5",
                "$type": "x",
                "dailyEnergy": [{"start": moment, "measurements": []}],
            }
        }
    }
    only_typed_errors(lambda: parse_energy(_dump(energy)))
    mandates = {"data": {"mandates": [{"ean": "5", "dataPeriodTo": moment}]}}
    only_typed_errors(lambda: parse_mandates(mandates))


def test_fluvius_sub_headpoints_must_be_a_list() -> None:
    """Regression the properties found: ``"subHeadpoints": true`` was iterated."""
    body = {
        "data": {
            "headpoint": {"ean": "5", "$type": "x", "subHeadpoints": True},
        }
    }
    only_typed_errors(lambda: parse_energy(_dump(body)))
