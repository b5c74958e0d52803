"""Hourly costs (api/costs.py): the finer grain of amounts and prices wins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
import math
import os

from hypothesis import given, settings, strategies as st
import pytest

from custom_components.meetdata.api.costs import PriceSteps, hourly_costs, tariff_costs
from custom_components.meetdata.api.models import Interval

FAST = settings(
    max_examples=int(os.environ.get("MEETDATA_HYPOTHESIS_EXAMPLES", "300")),
    database=None,
    deadline=None,
)
T0 = datetime(2025, 10, 26, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
HOUR = timedelta(hours=1)


def _quarters(values: list[float], start: datetime = T0) -> list[Interval]:
    return [
        Interval(start + QUARTER * i, start + QUARTER * (i + 1), value)
        for i, value in enumerate(values)
    ]


def _steps(prices: list[float | None], step: timedelta, until: int) -> PriceSteps:
    return PriceSteps(
        [(T0 + step * i).timestamp() for i in range(len(prices))],
        prices,
        (T0 + step * until).timestamp(),
    )


amounts = st.lists(
    st.floats(min_value=0, max_value=1e4, allow_nan=False), min_size=4, max_size=48
)
prices = st.floats(min_value=-1, max_value=5, allow_nan=False)


@FAST
@given(amounts, st.data())
def test_quarter_amounts_meet_quarter_prices(
    values: list[float], data: st.DataObject
) -> None:
    """Each quarter's amount times its own quarter's price, summed per hour."""
    quarter_prices = data.draw(
        st.lists(prices, min_size=len(values), max_size=len(values))
    )
    costs = hourly_costs(
        _quarters(values), _steps(quarter_prices, QUARTER, len(values))
    )
    for hour, cost in costs.items():
        index = int((hour - T0.timestamp()) // 900)
        want = sum(
            values[i] * quarter_prices[i]
            for i in range(index, min(index + 4, len(values)))
        )
        assert cost == pytest.approx(want, rel=1e-9, abs=1e-9)
    assert sum(c or 0.0 for c in costs.values()) == pytest.approx(
        sum(v * p for v, p in zip(values, quarter_prices, strict=True)),
        rel=1e-9,
        abs=1e-6,
    )


@FAST
@given(st.lists(prices, min_size=4, max_size=4), st.floats(min_value=0, max_value=1e4))
def test_an_hourly_amount_meets_the_mean_of_its_quarter_prices(
    quarter_prices: list[float], amount: float
) -> None:
    """An hour's amount times the mean of its four quarter prices."""
    costs = hourly_costs(
        [Interval(T0, T0 + HOUR, amount)], _steps(quarter_prices, QUARTER, 4)
    )
    assert costs == {
        int(T0.timestamp()): pytest.approx(amount * sum(quarter_prices) / 4, abs=1e-9)
    }


def test_quarter_amounts_meet_hourly_prices() -> None:
    """Each quarter takes the price of its hour."""
    costs = hourly_costs(_quarters([1.0] * 8), _steps([0.2, 0.4], HOUR, 2))
    assert costs == {
        int(T0.timestamp()): pytest.approx(0.8),
        int((T0 + HOUR).timestamp()): pytest.approx(1.6),
    }


def test_an_unknown_price_leaves_its_hour_unpriced() -> None:
    """Unavailable, before the first step, after ``until``: the hour has no cost."""
    steps = _steps([0.2, None, 0.3, 0.3], QUARTER, 4)
    assert hourly_costs(_quarters([1.0] * 4), steps) == {int(T0.timestamp()): None}
    late = _steps([0.2], QUARTER, 1)
    assert hourly_costs(_quarters([1.0, 1.0]), late) == {int(T0.timestamp()): None}
    early = PriceSteps([(T0 + QUARTER).timestamp()], [0.1], math.inf)
    assert hourly_costs(_quarters([1.0, 1.0]), early) == {int(T0.timestamp()): None}
    assert PriceSteps([], [], math.inf).mean(0, 1) is None
    assert PriceSteps.fixed(0.3).mean(5, 5) is None
    assert _steps([None, 0.1], QUARTER, 2).known_from == (T0 + QUARTER).timestamp()
    assert _steps([None], QUARTER, 1).known_from is None


def test_tariff_costs_need_the_split_of_every_hour() -> None:
    """Low and normal priced apart; an hour whose split is short stays unpriced."""
    total = _quarters([1.0, 2.0, 3.0, 4.0, 1.0, 1.0, 1.0, 1.0])
    low = _quarters([1.0, 2.0, 0.0, 0.0, 1.0, 1.0])
    normal = _quarters([0.0, 0.0, 3.0, 4.0])
    costs, _ = tariff_costs(
        total, [(low, PriceSteps.fixed(0.1)), (normal, PriceSteps.fixed(0.3))]
    )
    assert costs == {
        int(T0.timestamp()): pytest.approx(0.1 * 3 + 0.3 * 7),
        int((T0 + HOUR).timestamp()): None,
    }
    unknown, _ = tariff_costs(
        total[:4],
        [(low[:4], _steps([None], HOUR, 1)), (normal, PriceSteps.fixed(0.3))],
    )
    assert unknown == {int(T0.timestamp()): None}
