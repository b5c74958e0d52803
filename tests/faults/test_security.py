"""Security: redaction, keys in headers, hostile XML, TLS and size caps.

The suite-wide guard (tests/secrets_guard.py) already fails any test whose
log records, repair issues, entry titles or coordinator errors hold a
secret; these tests add what needs a deliberate setup.
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import UTC, datetime
from pathlib import Path
import re
import time
import tracemalloc
from typing import Any

import aiohttp
from homeassistant.components.recorder import Recorder
from homeassistant.core import HomeAssistant
import pytest

from custom_components.meetdata.api.errors import (
    MeetdataConnectionError,
    MeetdataError,
    MeetdataResponseError,
    MeetdataTooLargeError,
)
from custom_components.meetdata.api.http import MAX_RESPONSE_BYTES, REDACTED, request
from custom_components.meetdata.diagnostics import async_get_config_entry_diagnostics
from custom_components.meetdata.providers import get_spec
from custom_components.meetdata.providers.kenter.client.codec import (
    LocalOnlyTransport,
    load_codec,
)
from custom_components.meetdata.providers.kenter.client.const import NAMESPACE
from custom_components.meetdata.providers.kenter.client.parse import (
    SOAP_ENV,
    parse_envelope,
)
from custom_components.meetdata.providers.wattworx.client.xmlsafe import parse_xml

from ..secrets_guard import assert_no_secret, assert_no_secret_in, find_secret
from ..simulators import cemm, fluvius, wattworx
from .catalog import COLUMN_BY_NAME
from .conftest import MakeProxy
from .ha import load_row
from .proxy import HUGE_BYTES, Fault, FaultProxy
from .rows import ROW_BY_NAME, ROWS, Row

INTEGRATION = Path(__file__).parents[2] / "custom_components" / "meetdata"
_WINDOW = (datetime(2025, 1, 1, tzinfo=UTC), datetime(2025, 1, 2, tzinfo=UTC))

# -- hostile XML ----------------------------------------------------------------

_LAUGHS = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE S:Envelope [<!ENTITY lol0 "lol">'
    f"{_LAUGHS}]>"
    f'<S:Envelope xmlns:S="{SOAP_ENV}"><S:Body>'
    f'<ns2:getMeterDataResponse xmlns:ns2="{NAMESPACE}"><return>'
    "<eanCode>&lol9;</eanCode></return></ns2:getMeterDataResponse>"
    "</S:Body></S:Envelope>"
).encode()
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE S:Envelope ['
    '<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    f'<S:Envelope xmlns:S="{SOAP_ENV}"><S:Body>'
    f'<ns2:getMeterMetaDataResponse xmlns:ns2="{NAMESPACE}"><return>'
    "<eanCode>&xxe;</eanCode><meterCode>M</meterCode></return>"
    "</ns2:getMeterMetaDataResponse></S:Body></S:Envelope>"
).encode()
EXTERNAL_DTD = (
    b'<?xml version="1.0"?><!DOCTYPE devices SYSTEM "http://127.0.0.1:9/evil.dtd">'
    b"<devices><device><id>1</id><ean>&remote;</ean></device></devices>"
)
HOSTILE = {
    "billion_laughs": BILLION_LAUGHS,
    "external_entity": EXTERNAL_ENTITY,
    "external_dtd": EXTERNAL_DTD,
}


def _refused(call: Any) -> str:
    """Run a parser on a hostile document: typed error, fast, no file content."""
    started = time.perf_counter()
    with pytest.raises(MeetdataResponseError) as err:
        call()
    # Refused before any expansion: far below what a billion laughs takes.
    assert time.perf_counter() - started < 5.0
    assert "root:" not in str(err.value)
    return str(err.value)


@pytest.mark.parametrize("name", list(HOSTILE))
def test_xml_parsers_refuse_entities(name: str) -> None:
    """Kenter (lxml and zeep paths) and Wattworx refuse DTDs and entities."""
    body = HOSTILE[name]
    codec = load_codec()
    _refused(lambda: parse_envelope(body))
    _refused(lambda: codec.decode_metadata(body))
    _refused(lambda: codec.decode_latest(body))
    _refused(lambda: codec.decode_meter_data(body, *_WINDOW))
    assert codec.fault_in(body) is None
    _refused(lambda: parse_xml(body))


def test_zeep_never_loads_anything_but_the_shipped_wsdl() -> None:
    """The zeep transport refuses the network and files outside the package."""
    transport = LocalOnlyTransport()
    for url in ("http://127.0.0.1:9/evil.xsd", "/etc/passwd", "file:///etc/passwd"):
        with pytest.raises(MeetdataResponseError):
            transport.load(url)
    with pytest.raises(MeetdataResponseError):
        transport.post("http://x", b"", {})


@pytest.mark.parametrize(
    "row", [ROW_BY_NAME["kenter"], ROW_BY_NAME["wattworx"]], ids=str
)
async def test_hostile_xml_over_http(
    row: Row, make_proxy: MakeProxy, http_session: aiohttp.ClientSession
) -> None:
    """Served by the API, hostile XML is a typed error of the client."""
    sim = row.make_sim()
    proxy = await make_proxy(row, sim)
    client = row.client(http_session, proxy.url, sim)
    for body in HOSTILE.values():
        proxy.fault = Fault("status", body=body, content_type="text/xml")
        with pytest.raises(MeetdataResponseError):
            await client.async_get_meters()


# -- secrets never in URLs, never unredacted -----------------------------------


@pytest.mark.parametrize("row", ROWS, ids=str)
async def test_secrets_travel_in_headers_or_bodies(
    row: Row, make_proxy: MakeProxy, http_session: aiohttp.ClientSession
) -> None:
    """No secret in any URL, except CEMM's key (the API takes no other form)."""
    sim = row.make_sim()
    proxy = await make_proxy(row, sim)
    client = row.client(http_session, proxy.url, sim)
    await row.prime(client)
    meters = await client.async_get_meters()
    await client.async_get_latest(meters)
    start, end = ROW_BY_NAME[row.provider].history_window(datetime.now(UTC))
    for meter in meters[:3]:
        # A gateway or an unsigned EAN may refuse: the URL was still sent.
        with contextlib.suppress(MeetdataError):
            await client.async_get_history(meter, start, end)
    assert proxy.seen
    in_urls = [s.path_qs for s in proxy.seen if find_secret(s.path_qs)]
    if row.provider == "cemm":
        assert in_urls, "CEMM sends its key as api_key, as documented"
        assert all(f"api_key={cemm.DEMO_API_KEY}" in url for url in in_urls)
        return
    assert not in_urls
    if row.provider == "wattworx":
        assert all(not r.key_in_url and r.bearer for r in sim.requests)
        assert all(
            s.headers.get("Authorization") == f"Bearer {wattworx.DEMO_KEY}"
            for s in proxy.seen
        )
    if row.provider == "fluvius":
        api = [r for r in sim.requests if r.kind != "token"]
        assert api and all(
            r.subscription_key == fluvius.DEMO_SUBSCRIPTION_KEY for r in api
        )
        assert all(
            fluvius.DEMO_SUBSCRIPTION_KEY not in str(r.query) for r in sim.requests
        )


async def test_cemm_url_is_redacted_in_every_error(
    make_proxy: MakeProxy, http_session: aiohttp.ClientSession
) -> None:
    """Aiohttp puts the whole URL in its errors; ours show api_key masked."""
    row = ROW_BY_NAME["cemm"]
    sim = row.make_sim()
    proxy = await make_proxy(row, sim)
    client = row.client(http_session, proxy.url, sim)
    row.tune(client, timeout=0.2)
    messages = []
    for name in ("refused", "timeout", "connection_dropped", "huge_50mb"):
        if name == "refused":
            await proxy.stop()
        else:
            proxy.fault = COLUMN_BY_NAME[name].fault(row)
        with pytest.raises(MeetdataError) as err:
            await client.async_get_devices()
        messages.append(f"{err.value!r} {err.value}")
        proxy.fault = None
        if name == "refused":
            await proxy.start()
    for message in messages:
        assert_no_secret(message, "a CEMM error")
    assert any(f"api_key={REDACTED}" in m for m in messages)


# -- diagnostics per provider ---------------------------------------------------


@pytest.fixture
async def with_recorder(
    recorder_mock: Recorder, enable_custom_integrations: None
) -> None:
    """A real recorder and the custom integration."""


@pytest.mark.parametrize("row", ROWS, ids=str)
async def test_diagnostics_redact_every_secret(
    with_recorder: None,
    hass: HomeAssistant,
    row: Row,
    make_proxy: MakeProxy,
) -> None:
    """Diagnostics, after a 403 (repair issues, errors), hold no secret."""
    if not row.glue_ready():
        pytest.skip(f"{row.provider}: no Home Assistant glue yet")
    sim = row.make_sim()
    proxy = await make_proxy(row, sim, cache=True)
    loaded = await load_row(hass, row, proxy, sim)
    proxy.fault = COLUMN_BY_NAME["forbidden_403"].fault(row)
    await loaded.poll_latest(hass)
    proxy.fault = None
    diagnostics = await async_get_config_entry_diagnostics(hass, loaded.entry)
    assert_no_secret_in(diagnostics, "diagnostics")
    spec = get_spec(row.provider)
    for key in (*spec.secret_keys, *spec.private_keys):
        if key in loaded.entry.data:
            assert diagnostics["entry"]["data"][key] == "**REDACTED**", key
    if row.provider == "kenter":
        connections = diagnostics["entry"]["data"]["connections"]
        assert all(conn["passcode"] == "**REDACTED**" for conn in connections)
    assert diagnostics["meters"]


# -- TLS and size caps ------------------------------------------------------------


def test_tls_verification_is_never_disabled() -> None:
    """No code path turns certificate checks off."""
    pattern = re.compile(
        r"ssl\s*=\s*False|verify_ssl|CERT_NONE|check_hostname\s*=\s*False|"
        r"_create_unverified_context|verify\s*=\s*False"
    )
    offenders = [
        f"{path.relative_to(INTEGRATION)}:{number}"
        for path in INTEGRATION.rglob("*.py")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]
    assert not offenders


async def test_size_cap_bounds_memory(http_session: aiohttp.ClientSession) -> None:
    """A 50 MB answer: refused on its Content-Length, or cut off at the cap."""
    proxy = FaultProxy("http://127.0.0.1:9")
    await proxy.start()
    try:
        proxy.fault = Fault("huge", content_length=True)
        with pytest.raises(
            MeetdataTooLargeError, match=f"Response of {HUGE_BYTES} bytes"
        ):
            await request(http_session, "GET", proxy.url + "/announced")
        proxy.fault = Fault("huge", content_length=False)
        tracemalloc.start()
        try:
            with pytest.raises(MeetdataTooLargeError, match="exceeds"):
                await request(http_session, "GET", proxy.url + "/chunked")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert peak < MAX_RESPONSE_BYTES + 6 * 1024 * 1024, peak
        assert proxy.huge_completed == 0
    finally:
        await proxy.close()


async def test_connection_errors_are_typed(http_session: aiohttp.ClientSession) -> None:
    """Nothing listening: a typed connection error, no aiohttp exception."""
    proxy = FaultProxy("http://127.0.0.1:9")
    await proxy.start()
    url = proxy.url
    await proxy.close()
    await asyncio.sleep(0)
    with pytest.raises(MeetdataConnectionError):
        await request(http_session, "GET", url + "/x?api_key=secret-value")
