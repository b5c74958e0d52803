"""Price sources of an entry (its options) and the prices they give over time.

Each kind of energy (import, export, gas) has its own source: none, a fixed
price per unit, a price per tariff (low/night and normal/day), or a price
entity of Home Assistant whose recorded history gives the price of every
moment. Prices are per kWh (per m³ for gas) in the configured currency; an
entity's unit says its currency and unit (``EUR/kWh``, ``€/MWh``, ``ct/kWh``,
``EUR/m³``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
import math
from typing import Any, Final

from homeassistant.components.recorder import history
from homeassistant.const import (
    ATTR_UNIT_OF_MEASUREMENT,
    STATE_UNAVAILABLE,
    STATE_UNKNOWN,
)
from homeassistant.core import HomeAssistant, State
from homeassistant.helpers.recorder import get_instance

from .api.costs import PriceSteps
from .api.models import Quantity

CONF_SOURCE: Final = "source"
CONF_PRICE: Final = "price"
CONF_PRICE_LOW: Final = "price_low"
CONF_PRICE_NORMAL: Final = "price_normal"
CONF_ENTITY_ID: Final = "entity_id"


class PriceKind(StrEnum):
    """What is priced; each is an options section of its own."""

    IMPORT = "import_price"
    EXPORT = "export_price"
    GAS = "gas_price"


class PriceSource(StrEnum):
    """Where a kind's price comes from."""

    NONE = "none"
    FIXED = "fixed"
    TARIFF = "tariff"
    ENTITY = "entity"


@dataclass(frozen=True, slots=True)
class Priced:
    """The statistics of one kind: its amounts, their tariff parts, their costs."""

    total: Quantity
    #: (low or night, normal or day) pairs, the first the provider sends is used.
    tariffs: tuple[tuple[Quantity, Quantity], ...]
    cost: Quantity
    #: The unit an entity's price is per (after the currency and a slash).
    units: Mapping[str, float]
    #: The cost statistic of each tariff's amounts.
    tariff_costs: Mapping[Quantity, Quantity] = field(default_factory=dict)

    def costed(self) -> tuple[tuple[Quantity, Quantity], ...]:
        """Return every (amounts, their cost) pair: the total's, each tariff's."""
        return ((self.total, self.cost), *self.tariff_costs.items())


ENERGY_UNITS: Final = {"kWh": 1.0, "MWh": 1e-3, "Wh": 1e3}
GAS_UNITS: Final = {"m³": 1.0, "m3": 1.0}

PRICED: Final = {
    PriceKind.IMPORT: Priced(
        Quantity.ENERGY_IMPORT,
        (
            (Quantity.ENERGY_IMPORT_LOW, Quantity.ENERGY_IMPORT_NORMAL),
            (Quantity.ENERGY_IMPORT_NIGHT, Quantity.ENERGY_IMPORT_DAY),
        ),
        Quantity.ENERGY_IMPORT_COST,
        ENERGY_UNITS,
        {
            Quantity.ENERGY_IMPORT_LOW: Quantity.ENERGY_IMPORT_LOW_COST,
            Quantity.ENERGY_IMPORT_NORMAL: Quantity.ENERGY_IMPORT_NORMAL_COST,
            Quantity.ENERGY_IMPORT_NIGHT: Quantity.ENERGY_IMPORT_NIGHT_COST,
            Quantity.ENERGY_IMPORT_DAY: Quantity.ENERGY_IMPORT_DAY_COST,
        },
    ),
    PriceKind.EXPORT: Priced(
        Quantity.ENERGY_EXPORT,
        (
            (Quantity.ENERGY_EXPORT_LOW, Quantity.ENERGY_EXPORT_NORMAL),
            (Quantity.ENERGY_EXPORT_NIGHT, Quantity.ENERGY_EXPORT_DAY),
        ),
        Quantity.ENERGY_EXPORT_COMPENSATION,
        ENERGY_UNITS,
        {
            Quantity.ENERGY_EXPORT_LOW: Quantity.ENERGY_EXPORT_LOW_COMPENSATION,
            Quantity.ENERGY_EXPORT_NORMAL: Quantity.ENERGY_EXPORT_NORMAL_COMPENSATION,
            Quantity.ENERGY_EXPORT_NIGHT: Quantity.ENERGY_EXPORT_NIGHT_COMPENSATION,
            Quantity.ENERGY_EXPORT_DAY: Quantity.ENERGY_EXPORT_DAY_COMPENSATION,
        },
    ),
    PriceKind.GAS: Priced(Quantity.GAS_VOLUME, (), Quantity.GAS_COST, GAS_UNITS),
}

#: What a currency may be written as before the slash, and its factor.
_CENTS: Final = ("ct", "c", "cent")
_SYMBOLS: Final = {"EUR": ("€",), "GBP": ("£",), "USD": ("$",)}


def unit_factor(unit: str | None, currency: str, kind: PriceKind) -> float | None:
    """Return what turns a price in ``unit`` into currency per kWh (or m³).

    None: not a price in ``currency`` per an energy (gas) unit.
    """
    if not unit or "/" not in unit:
        return None
    money, _, per = (part.strip() for part in unit.partition("/"))
    per_factor = PRICED[kind].units.get(per)
    if per_factor is None:
        return None
    if money.upper() == currency.upper() or money in _SYMBOLS.get(currency, ()):
        return per_factor
    if money.lower() in _CENTS:
        return per_factor / 100
    return None


def expected_units(currency: str, kind: PriceKind) -> str:
    """Return the units an entity of ``kind`` may have, for an error message."""
    return ", ".join(f"{currency}/{per}" for per in PRICED[kind].units if per != "m3")


@dataclass(frozen=True, slots=True)
class PriceSetting:
    """One kind's configured price source."""

    kind: PriceKind
    source: PriceSource
    price: float | None = None
    low: float | None = None
    normal: float | None = None
    entity_id: str | None = None

    @classmethod
    def from_options(cls, kind: PriceKind, options: Mapping[str, Any]) -> PriceSetting:
        """Return the setting stored in an entry's options (none when absent)."""
        data = options.get(kind) or {}
        try:
            source = PriceSource(data.get(CONF_SOURCE, PriceSource.NONE))
        except ValueError:
            source = PriceSource.NONE
        return cls(
            kind,
            source,
            _number(data.get(CONF_PRICE)),
            _number(data.get(CONF_PRICE_LOW)),
            _number(data.get(CONF_PRICE_NORMAL)),
            data.get(CONF_ENTITY_ID) or None,
        )

    @property
    def active(self) -> bool:
        """Return whether this setting prices anything."""
        match self.source:
            case PriceSource.FIXED:
                return self.price is not None
            case PriceSource.TARIFF:
                return self.low is not None and self.normal is not None
            case PriceSource.ENTITY:
                return self.entity_id is not None
        return False


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def price_settings(options: Mapping[str, Any]) -> list[PriceSetting]:
    """Return the active price settings of an entry's options."""
    settings = [PriceSetting.from_options(kind, options) for kind in PriceKind]
    return [setting for setting in settings if setting.active]


def _state_price(
    state: State,
    factors: dict[str | None, float | None],
    currency: str,
    kind: PriceKind,
) -> float | None:
    """Return a recorded state's price per kWh (m³) in its own unit (None: none)."""
    if state.state in (STATE_UNKNOWN, STATE_UNAVAILABLE):
        return None
    unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
    if unit not in factors:
        factors[unit] = unit_factor(unit, currency, kind)
    factor = factors[unit]
    if factor is None:
        return None
    return None if (price := _number(state.state)) is None else price * factor


def entity_steps(
    hass: HomeAssistant,
    entity_id: str,
    kind: PriceKind,
    start: datetime,
    end: datetime,
    now: datetime,
) -> PriceSteps:
    """Return the recorded prices of ``entity_id`` over [start, end) (executor).

    Each recorded state is read in the unit it was recorded in (a sensor that
    went from ct/kWh to EUR/kWh prices its past in cents); a state in no price
    unit of ours prices nothing. The last recorded state holds until ``now``.
    """
    # The recorder leaves out a change at exactly ``start`` (neither before
    # nor after it): ask from a second earlier.
    states = history.state_changes_during_period(
        hass, start - timedelta(seconds=1), end, entity_id
    ).get(entity_id, [])
    factors: dict[str | None, float | None] = {}
    currency = hass.config.currency
    starts: list[float] = []
    prices: list[float | None] = []
    for state in states:
        moment = state.last_changed.timestamp()
        price = _state_price(state, factors, currency, kind)
        if starts and moment <= starts[-1]:
            prices[-1] = price
            continue
        starts.append(moment)
        prices.append(price)
    return PriceSteps(starts, prices, min(end, now).timestamp())


async def async_price_steps(
    hass: HomeAssistant,
    setting: PriceSetting,
    start: datetime,
    end: datetime,
    now: datetime,
    read: dict[tuple[str, bool], PriceSteps] | None = None,
) -> tuple[PriceSteps, PriceSteps] | None:
    """Return the (low or only, normal) prices of a setting over [start, end).

    None: the price entity is missing or its unit is not a price of ours.
    ``read`` keeps the entity histories read for this same span, so that one
    entity pricing both import and export is read from the recorder once.
    """
    if setting.source is PriceSource.FIXED and setting.price is not None:
        steps = PriceSteps.fixed(setting.price)
        return steps, steps
    if setting.source is PriceSource.TARIFF:
        return PriceSteps.fixed(setting.low or 0.0), PriceSteps.fixed(
            setting.normal or 0.0
        )
    if (
        setting.entity_id is None
        or (state := hass.states.get(setting.entity_id)) is None
        or unit_factor(
            state.attributes.get(ATTR_UNIT_OF_MEASUREMENT),
            hass.config.currency,
            setting.kind,
        )
        is None
    ):
        return None
    key = (setting.entity_id, setting.kind is PriceKind.GAS)
    if read is not None and key in read:
        return read[key], read[key]
    steps = await get_instance(hass).async_add_executor_job(
        entity_steps, hass, setting.entity_id, setting.kind, start, end, now
    )
    if read is not None:
        read[key] = steps
    return steps, steps
