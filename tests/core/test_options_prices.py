"""The options form's price sections: what each provider offers, and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from homeassistant.core import HomeAssistant
from homeassistant.data_entry_flow import FlowResultType
import pytest
from pytest_homeassistant_custom_component.common import MockConfigEntry

from custom_components.meetdata.api.models import (
    Interval,
    IntervalSeries,
    Meter,
    MeterKind,
    Quantity,
)
from custom_components.meetdata.const import CONF_HISTORY_DAYS, CONF_UPDATE_INTERVAL
from custom_components.meetdata.costs import CostPricer
from custom_components.meetdata.price_form import price_kinds
from custom_components.meetdata.prices import (
    PriceKind,
    PriceSetting,
    PriceSource,
    price_settings,
    unit_factor,
)
from custom_components.meetdata.providers.dtl.client.client import DtlClient
from custom_components.meetdata.providers.fluvius.client import FluviusClient
from custom_components.meetdata.providers.kenter.client import KenterClient
from custom_components.meetdata.providers.wattworx.client import WattworxClient
from custom_components.meetdata.recorder_io import RecorderIO

from ..helpers import form_fields

BASE = {CONF_UPDATE_INTERVAL: 5, CONF_HISTORY_DAYS: 2}
PRICE = "sensor.energy_price"


def test_each_provider_prices_what_it_sends() -> None:
    """Tariff prices only where the provider splits by tariff; gas where it has gas."""
    assert price_kinds(KenterClient.history_quantities) == {
        PriceKind.IMPORT: False,
        PriceKind.EXPORT: False,
        PriceKind.GAS: False,
    }
    assert price_kinds(WattworxClient.history_quantities) == {
        PriceKind.IMPORT: True,
        PriceKind.EXPORT: True,
        PriceKind.GAS: False,
    }
    assert price_kinds(FluviusClient.history_quantities)[PriceKind.IMPORT] is True
    assert PriceKind.GAS not in price_kinds(DtlClient.history_quantities)


@pytest.mark.parametrize(
    ("unit", "kind", "factor"),
    [
        ("EUR/kWh", PriceKind.IMPORT, 1.0),
        ("€/kWh", PriceKind.EXPORT, 1.0),
        ("EUR/MWh", PriceKind.IMPORT, 1e-3),
        ("ct/kWh", PriceKind.IMPORT, 0.01),
        ("EUR/m³", PriceKind.GAS, 1.0),
        ("EUR/m³", PriceKind.IMPORT, None),
        ("USD/kWh", PriceKind.IMPORT, None),
        ("EUR", PriceKind.IMPORT, None),
        (None, PriceKind.GAS, None),
    ],
)
def test_price_units(unit: str | None, kind: PriceKind, factor: float | None) -> None:
    """An entity's unit gives the factor to EUR per kWh (m³), or is refused."""
    assert unit_factor(unit, "EUR", kind) == (
        None if factor is None else pytest.approx(factor)
    )


def test_settings_from_stored_options() -> None:
    """Unreadable or incomplete settings price nothing."""
    options = {
        "import_price": {"source": "fixed", "price": "0.25"},
        "export_price": {"source": "tariff", "price_low": 0.1},
        "gas_price": {"source": "bogus"},
    }
    assert price_settings(options) == [
        PriceSetting(PriceKind.IMPORT, PriceSource.FIXED, price=0.25)
    ]
    assert not PriceSetting.from_options(PriceKind.GAS, options).active
    entity = PriceSetting.from_options(
        PriceKind.GAS, {"gas_price": {"source": "entity", "entity_id": PRICE}}
    )
    assert entity.active


async def _open(hass: HomeAssistant, entry: MockConfigEntry) -> dict[str, Any]:
    result = await hass.config_entries.options.async_init(entry.entry_id)
    assert result["type"] is FlowResultType.FORM
    return dict(result)


async def test_cemm_offers_three_collapsed_price_sections(
    hass: HomeAssistant, loaded_cemm: MockConfigEntry
) -> None:
    """CEMM sends import, export (both per tariff) and gas."""
    result = await _open(hass, loaded_cemm)
    fields = form_fields(result["data_schema"])
    assert (
        "import_price(collapsed)[source, price, price_low, price_normal, entity_id]"
        in fields
    )
    assert (
        "export_price(collapsed)[source, price, price_low, price_normal, entity_id]"
        in fields
    )
    assert "gas_price(collapsed)[source, price, entity_id]" in fields


@pytest.mark.parametrize(
    ("section", "unit", "error", "placeholders"),
    [
        ({"source": "fixed"}, None, "import_price_missing", None),
        (
            {"source": "tariff", "price_low": 0.2},
            None,
            "import_price_tariffs_missing",
            None,
        ),
        ({"source": "entity"}, None, "import_price_entity_missing", None),
        (
            {"source": "entity", "entity_id": "sensor.nope"},
            None,
            "import_price_entity_not_found",
            {"entity_id": "sensor.nope"},
        ),
        (
            {"source": "entity", "entity_id": PRICE},
            "EUR/m³",
            "import_price_entity_unit",
            {
                "entity_id": PRICE,
                "unit": "EUR/m³",
                "expected": "EUR/kWh, EUR/MWh, EUR/Wh",
            },
        ),
    ],
)
async def test_bad_prices_are_refused_then_fixed(
    hass: HomeAssistant,
    loaded_cemm: MockConfigEntry,
    section: dict[str, Any],
    unit: str | None,
    error: str,
    placeholders: dict[str, str] | None,
) -> None:
    """Each mistake gets its own message; the corrected form is stored."""
    if unit is not None:
        hass.states.async_set(PRICE, "0.25", {"unit_of_measurement": unit})
    result = await _open(hass, loaded_cemm)
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], BASE | {"import_price": section}
    )
    assert result["type"] is FlowResultType.FORM
    assert result["errors"] == {"base": error}
    assert result["description_placeholders"] == placeholders

    hass.states.async_set(PRICE, "25", {"unit_of_measurement": "ct/kWh"})
    fixed = {"source": "entity", "entity_id": PRICE}
    result = await hass.config_entries.options.async_configure(
        result["flow_id"], BASE | {"import_price": fixed}
    )
    assert result["type"] is FlowResultType.CREATE_ENTRY
    await hass.async_block_till_done(wait_background_tasks=True)
    assert loaded_cemm.options["import_price"] == fixed
    pricer = loaded_cemm.runtime_data.history.importer.pricer
    assert [s.source for s in pricer.settings] == [PriceSource.ENTITY]


T0 = datetime(2026, 3, 29, tzinfo=UTC)
METER = Meter("kenter", "m1", MeterKind.ELECTRICITY)


def _imports() -> list[IntervalSeries]:
    return [
        IntervalSeries(
            "m1",
            Quantity.ENERGY_IMPORT,
            [
                Interval(
                    T0 + timedelta(minutes=15 * i),
                    T0 + timedelta(minutes=15 * (i + 1)),
                    1.0,
                )
                for i in range(4)
            ],
        )
    ]


async def test_tariff_prices_without_the_split_price_nothing(
    hass: HomeAssistant,
) -> None:
    """Tariff prices for amounts that come without low/normal: no cost series."""
    pricer = CostPricer(
        hass, [PriceSetting(PriceKind.IMPORT, PriceSource.TARIFF, low=0.1, normal=0.2)]
    )
    series = _imports()
    out = await pricer.async_with_costs(
        RecorderIO(hass), series, T0, T0 + timedelta(hours=1), T0 + timedelta(days=1)
    )
    assert out == series


async def test_a_lagging_cost_catches_up_once_from_the_same_start(
    hass: HomeAssistant,
) -> None:
    """The same catch-up start is not tried twice; a missing entity never starts one."""
    since = T0 - timedelta(days=10)
    newest: dict[Quantity, datetime | None] = {
        Quantity.ENERGY_IMPORT: T0,
        Quantity.ENERGY_IMPORT_COST: None,
    }
    fixed = CostPricer(
        hass, [PriceSetting(PriceKind.IMPORT, PriceSource.FIXED, price=0.3)]
    )
    args = (METER, newest, since, timedelta(days=2), T0)
    assert await fixed.async_catch_up(*args) == since
    assert await fixed.async_catch_up(*args) is None
    missing = CostPricer(
        hass,
        [PriceSetting(PriceKind.IMPORT, PriceSource.ENTITY, entity_id="sensor.gone")],
    )
    assert await missing.async_catch_up(*args) is None
    # Costs within the overlap of their amounts: nothing to catch up.
    newest[Quantity.ENERGY_IMPORT_COST] = T0 - timedelta(days=1)
    assert await CostPricer(hass, fixed.settings).async_catch_up(*args) is None


async def test_tariff_costs_missing_beside_the_total_cost_catch_up(
    hass: HomeAssistant,
) -> None:
    """Costs per tariff that an earlier version never wrote are filled back."""
    since = T0 - timedelta(days=10)
    newest: dict[Quantity, datetime | None] = {
        Quantity.ENERGY_IMPORT: T0,
        Quantity.ENERGY_IMPORT_LOW: T0,
        Quantity.ENERGY_IMPORT_NORMAL: T0 - timedelta(hours=3),
        Quantity.ENERGY_IMPORT_COST: T0,
        Quantity.ENERGY_IMPORT_LOW_COST: T0,
        Quantity.ENERGY_IMPORT_NORMAL_COST: None,
    }
    pricer = CostPricer(
        hass, [PriceSetting(PriceKind.IMPORT, PriceSource.FIXED, price=0.3)]
    )
    args = (METER, newest, since, timedelta(days=2), T0)
    assert await pricer.async_catch_up(*args) == since
    newest[Quantity.ENERGY_IMPORT_NORMAL_COST] = T0 - timedelta(hours=3)
    assert await CostPricer(hass, pricer.settings).async_catch_up(*args) is None
