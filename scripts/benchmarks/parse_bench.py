"""kenter_parse and fluvius_parse: our decoders vs the bare parser of the same bytes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
import time
from typing import Any

from .figures import Target, emit, log, median, skipped
from .sims import Size, fluvius_eans, kenter_connections


def _time_pair(
    ours: Callable[[], Any], bare: Callable[[], Any], repeats: int
) -> tuple[float, float]:
    """Return the median thread CPU time of each, run interleaved."""
    ours_times: list[float] = []
    bare_times: list[float] = []
    ours()  # warm caches (codec, zone data) outside the measurement
    bare()
    for _ in range(repeats):
        start = time.thread_time()
        ours()
        ours_times.append(time.thread_time() - start)
        start = time.thread_time()
        bare()
        bare_times.append(time.thread_time() - start)
    return median(ours_times), median(bare_times)


def kenter_parse(now: datetime, size: Size) -> None:
    """Our getMeterData decoder vs lxml.etree.fromstring + iterating measureValue."""
    from lxml import etree

    from custom_components.meetdata.providers.kenter.client import format_timestamp
    from custom_components.meetdata.providers.kenter.client.codec import load_codec
    from custom_components.meetdata.providers.kenter.client.const import OP_METER_DATA
    from tests.simulators.kenter import KenterSimulator

    days = 2 if size.quick else 31
    conn = kenter_connections(1)[0]
    sim = KenterSimulator([conn], now=now)
    codec = load_codec()
    start, end = now - timedelta(days=days), now
    payload = codec.build(
        OP_METER_DATA,
        [
            {
                "eanCode": conn.ean,
                "passcode": conn.passcode,
                "startDate": format_timestamp(start),
                "endDate": format_timestamp(end),
            }
        ],
    )
    status, text = sim.answer(payload)
    body = text.encode()
    assert status == 200, text[:200]
    values = sum(len(s.intervals) for s in codec.decode_meter_data(body, start, end))

    def ours() -> Any:
        return codec.decode_meter_data(body, start, end)

    def bare() -> int:
        root = etree.fromstring(body)
        return sum(1 for _ in root.iter("measureValue"))

    mine, base = _time_pair(ours, bare, 2 if size.quick else 15)
    log(f"kenter_parse: {len(body) / 1e6:.2f} MB, {values} values")
    emit(
        "kenter_parse",
        mine * 1000,
        "ms",
        baseline=base * 1000,
        target=Target("ratio", 10),
        note=f"{days}-day getMeterData, 4 counters, {values} values, {len(body)} bytes; "
        "baseline lxml.etree.fromstring + iter(measureValue); thread CPU, median",
    )


def fluvius_parse(now: datetime, size: Size) -> None:
    """Our GET Energy decoder (to interval series) vs orjson.loads of the same bytes."""
    try:
        from custom_components.meetdata.providers.fluvius.client import (
            Granularity,
            parse_energy,
        )
        from tests.simulators.fluvius import FluviusSimulator, SimMandate
    except ImportError as err:
        skipped("fluvius_parse", "ms", f"Fluvius client not importable ({err})")
        return
    import orjson

    days = 2 if size.quick else 185
    ean = fluvius_eans(1)[0]
    sim = FluviusSimulator(now=now)
    since = now - timedelta(days=400)
    sim.mandates = [SimMandate(ean, data_period_from=since)]
    # Whole Brussels days, as the client asks for them.
    end = now.replace(hour=0, tzinfo=UTC) - timedelta(hours=1)
    start = end - timedelta(days=days)
    answer = sim.render_energy(
        ean, start, end, levels={"fine"}, periods={"fine": [(since, None)]}
    )
    body = orjson.dumps(answer)

    def ours() -> dict[Any, list[Any]]:
        data = parse_energy(body)
        found = data.meter(ean)
        assert found is not None
        return {
            quantity: [i for i in intervals if start <= i.start < end]
            for quantity, intervals in found.series(
                Granularity.HOURLY_QUARTERHOURLY
            ).items()
        }

    def bare() -> Any:
        return orjson.loads(body)

    series = ours()
    slices = sum(len(v) for v in series.values())
    mine, base = _time_pair(ours, bare, 2 if size.quick else 15)
    log(f"fluvius_parse: {len(body) / 1e6:.2f} MB, {slices} intervals")
    emit(
        "fluvius_parse",
        mine * 1000,
        "ms",
        baseline=base * 1000,
        target=Target("ratio", 5),
        note=f"{days}-day quarter-hour GET Energy (offtake+injection), {slices} "
        f"intervals, {len(body)} bytes; baseline orjson.loads; thread CPU, median",
    )
