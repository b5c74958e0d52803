"""Cost statistics: each window's amounts priced at the price of their time.

The importer hands every window it read to ``CostPricer``, which adds an
hourly cost series (import cost, export compensation, gas cost) for each kind
with a price source. The series is stored like any amount: merged with the
stored hours and chained, so a corrected amount or a price that became known
later re-chains the sums after it. Hours whose price is not known yet are left
out; ``async_catch_up`` tells the importer where to re-read from when a cost
statistic lags behind its energy and a price is known there by now.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import issue_registry as ir

from .api.costs import PriceSteps, hourly_costs, tariff_costs
from .api.hours import HOUR
from .api.models import Interval, IntervalSeries, Meter, Quantity
from .const import DOMAIN, LOGGER
from .prices import PRICED, PriceSetting, PriceSource, async_price_steps, expected_units
from .recorder_io import RecorderIO
from .statistics_chain import async_compute

#: The repair issue of a price entity that is missing or not a price.
ISSUE_PRICE_ENTITY = "price_entity_invalid"


def _cost_series(
    meter_key: str, quantity: Quantity, hourly: dict[int, float | None]
) -> IntervalSeries:
    return IntervalSeries(
        meter_key,
        quantity,
        [
            Interval(
                datetime.fromtimestamp(hour, UTC),
                datetime.fromtimestamp(hour + HOUR, UTC),
                cost,
            )
            for hour, cost in sorted(hourly.items())
            if cost is not None
        ],
    )


class CostPricer:
    """Prices the amounts of an entry's meters by the entry's price settings."""

    def __init__(
        self,
        hass: HomeAssistant,
        settings: Iterable[PriceSetting],
        entry: ConfigEntry | None = None,
    ) -> None:
        """Bind to Home Assistant (recorded prices), the active settings, the entry.

        With an entry, a price entity that is missing or not a price raises a
        repair issue of that entry.
        """
        self.hass = hass
        self.settings = list(settings)
        self.entry = entry
        #: Per (meter, cost quantity): where the last catch-up started.
        self._caught_up: dict[tuple[str, Quantity], datetime] = {}

    async def async_with_costs(
        self,
        io: RecorderIO,
        series: list[IntervalSeries],
        first: datetime,
        stop: datetime,
        now: datetime,
    ) -> list[IntervalSeries]:
        """Return ``series`` with the cost series of the window [first, stop)."""
        if not self.settings:
            return series
        by_quantity = {item.quantity: item for item in series}
        result = list(series)
        read: dict[tuple[str, bool], PriceSteps] = {}
        for setting in self.settings:
            priced = PRICED[setting.kind]
            total = by_quantity.get(priced.total)
            if total is None or not total.intervals:
                continue
            prices = await async_price_steps(self.hass, setting, first, stop, now, read)
            self._check_entity(setting, prices is not None)
            if prices is None:
                LOGGER.debug(
                    "No price of %s for %s: %s is missing or not a price",
                    setting.kind,
                    total.meter_key,
                    setting.entity_id,
                )
                continue
            size = len(total.intervals)
            pair = next(
                (
                    (by_quantity[low], by_quantity[normal])
                    for low, normal in priced.tariffs
                    if low in by_quantity and normal in by_quantity
                ),
                None,
            )
            # Each tariff at its own price (a fixed or entity price is the
            # same for both): a grid source per tariff, each with its costs.
            if setting.source is PriceSource.TARIFF:
                if pair is None:
                    continue
                hourly, part_costs = await async_compute(
                    io,
                    size,
                    tariff_costs,
                    total.intervals,
                    [
                        (pair[0].intervals, prices[0]),
                        (pair[1].intervals, prices[1]),
                    ],
                )
            else:
                hourly = await async_compute(
                    io, size, hourly_costs, total.intervals, prices[0]
                )
                part_costs = [
                    await async_compute(
                        io, len(part.intervals), hourly_costs, part.intervals, price
                    )
                    for part, price in zip(pair or (), prices, strict=False)
                ]
            result.append(_cost_series(total.meter_key, priced.cost, hourly))
            result.extend(
                _cost_series(part.meter_key, priced.tariff_costs[part.quantity], costs)
                for part, costs in zip(pair or (), part_costs, strict=True)
            )
        return result

    @callback
    def _check_entity(self, setting: PriceSetting, valid: bool) -> None:
        """Raise or clear the repair issue of a setting's price entity."""
        if self.entry is None or setting.source is not PriceSource.ENTITY:
            return
        issue_id = f"{self.entry.entry_id}_{ISSUE_PRICE_ENTITY}_{setting.kind}"
        if valid:
            ir.async_delete_issue(self.hass, DOMAIN, issue_id)
            return
        ir.async_create_issue(
            self.hass,
            DOMAIN,
            issue_id,
            is_fixable=False,
            severity=ir.IssueSeverity.WARNING,
            translation_key=f"{ISSUE_PRICE_ENTITY}_{setting.kind}",
            translation_placeholders={
                "entry": self.entry.title,
                "entity_id": str(setting.entity_id),
                "expected": expected_units(self.hass.config.currency, setting.kind),
            },
        )

    async def async_catch_up(
        self,
        meter: Meter,
        newest: dict[Quantity, datetime | None],
        since: datetime,
        overlap: timedelta,
        now: datetime,
    ) -> datetime | None:
        """Return where to re-read so that lagging cost statistics catch up.

        ``newest`` holds the newest stored hour of each amount and cost
        statistic. A cost lags when its newest hour (or ``since`` when it has
        none) lies further behind its amounts' than the overlap re-reads; it
        catches up from there, or from where a price is first known. The same
        start is not tried twice in a row (a price that stays unknown, a
        tariff split the provider does not send).
        """
        earliest: datetime | None = None
        for setting in self.settings:
            for amount, cost_quantity in PRICED[setting.kind].costed():
                start = await self._async_lag(
                    meter, setting, newest, amount, cost_quantity, since, overlap, now
                )
                if start is not None:
                    earliest = start if earliest is None else min(earliest, start)
        return earliest

    async def _async_lag(
        self,
        meter: Meter,
        setting: PriceSetting,
        newest: dict[Quantity, datetime | None],
        amount: Quantity,
        cost_quantity: Quantity,
        since: datetime,
        overlap: timedelta,
        now: datetime,
    ) -> datetime | None:
        """Return where one cost statistic catches up on its amounts (None: no need)."""
        amounts = newest.get(amount)
        if amounts is None:
            return None
        cost = newest.get(cost_quantity)
        lag = since if cost is None else cost + timedelta(hours=1)
        if lag >= amounts - overlap:
            return None
        prices = await async_price_steps(self.hass, setting, lag, now, now)
        known = None if prices is None else prices[0].known_from
        if known is None or known >= amounts.timestamp():
            return None
        start = lag if known <= lag.timestamp() else datetime.fromtimestamp(known, UTC)
        key = (meter.key, cost_quantity)
        if self._caught_up.get(key) == start:
            return None
        self._caught_up[key] = start
        return start
