"""Bounded concurrency shared by the clients (api/http.gather_limited)."""

from __future__ import annotations

import asyncio

import pytest

from custom_components.meetdata.api.errors import MeetdataConnectionError
from custom_components.meetdata.api.http import gather_limited


async def test_results_in_order_with_at_most_limit_running() -> None:
    """Every call runs, never more than ``limit`` at once, results in order."""
    running = peak = 0

    async def call(index: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01 * (index % 3))
        running -= 1
        return index

    calls = [lambda index=index: call(index) for index in range(20)]
    assert await gather_limited(calls, 4) == list(range(20))
    assert peak == 4


async def test_first_error_is_raised_and_the_rest_cancelled() -> None:
    """A failing call raises its own error; the others are cancelled."""
    started: list[int] = []
    finished: list[int] = []

    async def call(index: int) -> int:
        started.append(index)
        if index == 1:
            raise MeetdataConnectionError("refused")
        await asyncio.sleep(1)
        finished.append(index)
        return index

    calls = [lambda index=index: call(index) for index in range(10)]
    with pytest.raises(MeetdataConnectionError, match="refused"):
        await gather_limited(calls, 2)
    assert len(started) < 10
    await asyncio.sleep(1.2)
    assert finished == []
