"""The options form's price sections: one per kind of energy, and their checks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from homeassistant.const import ATTR_UNIT_OF_MEASUREMENT
from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import section
from homeassistant.helpers.selector import (
    EntitySelector,
    EntitySelectorConfig,
    NumberSelector,
    NumberSelectorConfig,
    NumberSelectorMode,
    SelectSelector,
    SelectSelectorConfig,
    SelectSelectorMode,
)
import voluptuous as vol

from .api.models import Quantity
from .prices import (
    CONF_ENTITY_ID,
    CONF_PRICE,
    CONF_PRICE_LOW,
    CONF_PRICE_NORMAL,
    CONF_SOURCE,
    PRICED,
    PriceKind,
    PriceSetting,
    PriceSource,
    expected_units,
    unit_factor,
)


def price_kinds(quantities: Iterable[Quantity]) -> dict[PriceKind, bool]:
    """Return the kinds a provider's statistics can price, and whether per tariff."""
    sent = set(quantities)
    return {
        kind: any(low in sent and normal in sent for low, normal in priced.tariffs)
        for kind, priced in PRICED.items()
        if priced.total in sent
    }


def _price_field(unit: str) -> NumberSelector:
    return NumberSelector(
        NumberSelectorConfig(
            step="any", mode=NumberSelectorMode.BOX, unit_of_measurement=unit
        )
    )


def price_sections(
    kinds: Mapping[PriceKind, bool], currency: str
) -> dict[vol.Marker, Any]:
    """Return a collapsed form section per kind: its source and its prices."""
    fields: dict[vol.Marker, Any] = {}
    for kind, per_tariff in kinds.items():
        unit = f"{currency}/{'m³' if kind is PriceKind.GAS else 'kWh'}"
        sources = [
            source
            for source in PriceSource
            if per_tariff or source is not PriceSource.TARIFF
        ]
        schema: dict[vol.Marker, Any] = {
            vol.Required(CONF_SOURCE, default=str(PriceSource.NONE)): SelectSelector(
                SelectSelectorConfig(
                    options=[str(source) for source in sources],
                    translation_key="price_source",
                    mode=SelectSelectorMode.DROPDOWN,
                )
            ),
            vol.Optional(CONF_PRICE): _price_field(unit),
        }
        if per_tariff:
            schema[vol.Optional(CONF_PRICE_LOW)] = _price_field(unit)
            schema[vol.Optional(CONF_PRICE_NORMAL)] = _price_field(unit)
        schema[vol.Optional(CONF_ENTITY_ID)] = EntitySelector(
            EntitySelectorConfig(domain="sensor")
        )
        fields[vol.Required(str(kind), default={})] = section(
            vol.Schema(schema), {"collapsed": True}
        )
    return fields


def check_prices(
    hass: HomeAssistant, user_input: Mapping[str, Any]
) -> tuple[dict[str, str], dict[str, str]]:
    """Return the form's errors and their placeholders (both empty: all fine)."""
    for kind in PriceKind:
        if kind not in user_input:
            continue
        setting = PriceSetting.from_options(kind, user_input)
        placeholders: dict[str, str] = {}
        match setting.source:
            case PriceSource.FIXED if setting.price is None:
                return {"base": f"{kind}_missing"}, placeholders
            case PriceSource.TARIFF if setting.low is None or setting.normal is None:
                return {"base": f"{kind}_tariffs_missing"}, placeholders
            case PriceSource.ENTITY:
                error = _check_entity(hass, setting, placeholders)
                if error is not None:
                    return {"base": f"{kind}_{error}"}, placeholders
    return {}, {}


def _check_entity(
    hass: HomeAssistant, setting: PriceSetting, placeholders: dict[str, str]
) -> str | None:
    """Return the error of a price entity, less its kind (None: a price of ours)."""
    if setting.entity_id is None:
        return "entity_missing"
    placeholders["entity_id"] = setting.entity_id
    state = hass.states.get(setting.entity_id)
    if state is None:
        return "entity_not_found"
    unit = state.attributes.get(ATTR_UNIT_OF_MEASUREMENT)
    if unit_factor(unit, hass.config.currency, setting.kind) is None:
        placeholders["unit"] = str(unit or "-")
        placeholders["expected"] = expected_units(hass.config.currency, setting.kind)
        return "entity_unit"
    return None
