"""Paths added to keep polls cheap (issue 7, scripts/bench): behaviour, not speed.

Kenter's lxml getLatestMeasurement decoder and reused request envelopes, CEMM's
spread S0 register refreshes, Fluvius's narrowed latest window.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from custom_components.meetdata.api.errors import MeetdataResponseError
from custom_components.meetdata.api.models import Quantity
from custom_components.meetdata.providers.cemm.client.client import CemmClient
from custom_components.meetdata.providers.fluvius.client import FluviusClient
from custom_components.meetdata.providers.kenter.client.codec import (
    _ENVELOPE_CACHE_SIZE,
    KenterCodec,
    load_codec,
)
from custom_components.meetdata.providers.kenter.client.const import (
    NAMESPACE,
    OP_LATEST,
    OP_METADATA,
    OP_METER_DATA,
)

from ..conftest import Serve
from ..simulators.cemm import DEMO_API_KEY, CemmSimulator
from ..simulators.fluvius import (
    DEMO_CLIENT_ID,
    DEMO_CLIENT_SECRET,
    DEMO_SCOPE,
    DEMO_SUBSCRIPTION_KEY,
    DEMO_TENANT,
    DIGITAL_EAN,
    FluviusSimulator,
)

SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"


def _envelope(operation: str, inner: str) -> bytes:
    return (
        f'<S:Envelope xmlns:S="{SOAP_ENV}"><S:Body>'
        f'<ns2:{operation}Response xmlns:ns2="{NAMESPACE}">{inner}'
        f"</ns2:{operation}Response></S:Body></S:Envelope>"
    ).encode()


def _counter(code: str, values: list[tuple[str, str]]) -> str:
    inner = "".join(
        f"<measureValue><timestamp>{ts}</timestamp><value>{v}</value></measureValue>"
        for ts, v in values
    )
    return (
        "<return><eanCode>871687120000096366</eanCode><meterCode>M1</meterCode>"
        f"<counterType>interval</counterType><counterCode>{code}</counterCode>"
        f"{inner}</return>"
    )


@pytest.fixture(name="codec")
def codec_fixture() -> KenterCodec:
    """Return the shared Kenter codec."""
    return load_codec()


def test_kenter_latest_decoder(codec: KenterCodec) -> None:
    """The newest value per counter; shared stamps; first of repeated fields."""
    body = _envelope(
        OP_LATEST,
        _counter(
            "lvr",
            [("2025-11-05T12:30:00+01:00", " 4 "), ("2025-11-05T12:45:00+01:00", "8")],
        )
        + _counter("TLV", [("2025-11-05T12:45:00+01:00", "1.5")])
        + _counter("VN", []),
    )
    lvr, tlv = codec.decode_latest(body)
    assert (lvr.counter_code, lvr.value) == ("LVR", 8.0)
    assert lvr.timestamp == tlv.timestamp == datetime(2025, 11, 5, 11, 45, tzinfo=UTC)
    assert (lvr.ean, lvr.meter_code, lvr.counter_type) == (
        "871687120000096366",
        "M1",
        "interval",
    )


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (
            _envelope(OP_LATEST, _counter("LVR", [("yesterday", "1")])),
            "could not be read",
        ),
        (_envelope(OP_METADATA, ""), "unexpected element"),
        (
            _envelope(OP_LATEST, _counter("LVR", [("2025-11-05T12:30:00Z", "")])),
            "without",
        ),
    ],
)
def test_kenter_latest_decoder_refuses(
    codec: KenterCodec, body: bytes, match: str
) -> None:
    """A bad timestamp, another operation's answer, an empty value."""
    with pytest.raises(MeetdataResponseError, match=match):
        codec.decode_latest(body)


def test_kenter_envelopes_reused_and_bounded(codec: KenterCodec) -> None:
    """Latest/metadata envelopes are built once; the cache stays bounded."""
    meters = [{"eanCode": "871687120000096366", "passcode": "secret1"}]
    first = codec.build(OP_LATEST, meters)
    assert codec.build(OP_LATEST, [dict(meters[0])]) is first
    period = {**meters[0], "startDate": "2025-11-01T00:00:00+01:00"}
    assert codec.build(OP_METER_DATA, [period]) is not codec.build(
        OP_METER_DATA, [period]
    )
    for index in range(_ENVELOPE_CACHE_SIZE + 5):
        built = codec.build(
            OP_METADATA, [{"eanCode": f"87168712{index:010d}", "passcode": "p"}]
        )
        assert b"getMeterMetaData" in built
    assert len(codec._envelopes) <= _ENVELOPE_CACHE_SIZE
    assert codec.build(OP_LATEST, meters) == first


async def test_cemm_register_refreshes_spread_over_polls(
    serve: Serve, http_session: aiohttp.ClientSession
) -> None:
    """Three S0 registers: all read at first, then one stale one per poll."""
    uid = "FF-FF-FF-FF-FF-FF"
    sim = CemmSimulator(
        devices={
            uid: {
                "p1": "p1",
                "p1-gas": "gas",
                "s01": "solar_energy",
                "s02": "heat_pump",
                "s03": "solar_energy",
            }
        }
    )
    url = await serve(sim.build_app())
    client = CemmClient(http_session, DEMO_API_KEY, base_url=f"{url}/v1/")
    meters = await client.async_get_meters()
    s03 = next(m.key for m in meters if m.attributes.get("alias") == "s03")
    base = 1_000_000.0  # exact sums: minute 60 is exactly an hour later
    client._monotonic = lambda: base
    sim.reset_log()
    await client.async_get_latest(meters)
    assert (sim.count("/realtime/"), sim.count("/totals/")) == (5, 3)
    per_poll = []
    for minute in range(1, 66):
        client._monotonic = lambda minute=minute: base + 60 * minute
        sim.reset_log()
        latest = await client.async_get_latest(meters)
        per_poll.append(sim.count("/totals/"))
        assert len(sim.requests) <= 6
        assert Quantity.PRODUCTION in latest[s03]
    # Minutes 60, 61, 62: each register refreshed once, one per poll.
    assert per_poll[58:63] == [0, 1, 1, 1, 0]
    assert sum(per_poll) == 3


async def test_fluvius_latest_asks_a_narrow_window_after_the_first_poll(
    serve: Serve, http_session: aiohttp.ClientSession
) -> None:
    """Later polls ask from just before the newest end seen; same answer."""
    sim = FluviusSimulator()
    url = await serve(sim.build_app())
    client = FluviusClient(
        http_session,
        tenant_id=DEMO_TENANT,
        client_id=DEMO_CLIENT_ID,
        client_secret=DEMO_CLIENT_SECRET,
        scope=DEMO_SCOPE,
        subscription_key=DEMO_SUBSCRIPTION_KEY,
        base_url=sim.base_url(url),
        token_url=sim.token_url(url),
    )
    client.utcnow = lambda: sim.now
    client.cache_ttl = 0
    meters = [m for m in await client.async_get_meters() if m.key == DIGITAL_EAN]

    def energy_from() -> list[datetime]:
        return [
            datetime.fromisoformat(r.query["from"][0])
            for r in sim.requests
            if r.kind == "energy"
        ]

    sim.requests.clear()
    first = await client.async_get_latest(meters)
    newest = first[DIGITAL_EAN][Quantity.LAST_MEASUREMENT].value
    assert isinstance(newest, datetime)
    [wide] = energy_from()
    sim.requests.clear()
    assert await client.async_get_latest(meters) == first
    [narrow] = energy_from()
    assert wide < narrow <= newest - timedelta(hours=1)
    # The newest data went away (published later): the whole window again.
    sim.publish_delay += timedelta(days=2)
    sim.requests.clear()
    again = await client.async_get_latest(meters)
    assert again[DIGITAL_EAN][Quantity.LAST_MEASUREMENT].value < newest
    assert energy_from() == [narrow, wide]
