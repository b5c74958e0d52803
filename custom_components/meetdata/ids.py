"""The ids of an entry's meters: entity unique ids, device identifiers, statistics.

Entities and devices are scoped to the config entry by its ``entry_id``
(``<entry_id>_<provider>_<meter>[_<quantity>]``), so two entries holding the
same meter (two Kenter accounts sharing a connection, two Wattworx or Fluvius
accounts listing one EAN) never collide. Not the entry's unique_id: that one
changes (Kenter's follows its connections, Wattworx's its clients).

Statistic ids are what users' Energy dashboards name, so they stay
``meetdata:<provider>_<meter>_<quantity>`` for the entry that held the meter
first. The rule, decided once per entry and meter and stored in the entry's
data (``statistic_tags``, meter key → tag):

* when an entry first sees a meter, its statistics keep the plain ids unless
  another entry of the same provider holds the meter first: it stored the
  plain ids for it, or (an entry not set up since this rule came) it is older
  (created earlier) and has a device of that meter;
* otherwise they get the entry's tag, the last six characters of its
  ``entry_id``: ``meetdata:<provider>_<meter>_<tag>_<quantity>``, named
  "<meter> <quantity> (<entry title>)".

The decision never changes afterwards, whatever order entries are set up in;
deleting the first entry and adding the account again gives the plain ids back
(its statistics continue).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
import re

from homeassistant.components.recorder.models import StatisticMetaData
from homeassistant.config_entries import ConfigEntry
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers import device_registry as dr
from homeassistant.helpers.translation import async_get_translations

from .api.models import Meter, Quantity
from .const import CONF_PROVIDER, CONF_STATISTIC_TAGS, DOMAIN
from .statistics_rows import MetadataOf, statistic_metadata

TAG_LENGTH = 6


def meter_id(entry_id: str, meter: Meter) -> str:
    """Return the device identifier of a meter of one entry."""
    return f"{entry_id}_{meter.provider}_{meter.key}"


def via_id(entry_id: str, meter: Meter) -> str | None:
    """Return the device identifier of the device a meter is reached through."""
    return f"{entry_id}_{meter.provider}_{meter.via}" if meter.via else None


def entity_unique_id(entry_id: str, meter: Meter, key: str) -> str:
    """Return the unique id of the entity ``key`` of a meter of one entry."""
    return f"{meter_id(entry_id, meter)}_{key}"


def entry_tag(entry: ConfigEntry) -> str:
    """Return the short tag of an entry in its statistic ids ([a-z0-9])."""
    return re.sub(r"[^a-z0-9]", "", entry.entry_id.lower())[-TAG_LENGTH:]


def _age(entry: ConfigEntry) -> tuple[float, str]:
    return entry.created_at.timestamp(), entry.entry_id


def _has_device(hass: HomeAssistant, entry: ConfigEntry, key: str) -> bool:
    """Whether an entry has a device of meter ``key`` (old or entry-scoped id)."""
    plain = f"{entry.data[CONF_PROVIDER]}_{key}"
    wanted = {(DOMAIN, plain), (DOMAIN, f"{entry.entry_id}_{plain}")}
    return any(
        wanted & device.identifiers
        for device in dr.async_entries_for_config_entry(
            dr.async_get(hass), entry.entry_id
        )
    )


def _held_first(
    hass: HomeAssistant, other: ConfigEntry, entry: ConfigEntry, key: str
) -> bool:
    """Whether ``other`` holds meter ``key`` with the plain statistic ids."""
    tags: dict[str, str] = other.data.get(CONF_STATISTIC_TAGS, {})
    if key in tags:
        return tags[key] == ""
    return _age(other) < _age(entry) and _has_device(hass, other, key)


@callback
def async_claim_meters(
    hass: HomeAssistant, entry: ConfigEntry, keys: Iterable[str]
) -> dict[str, str]:
    """Decide the statistic tag of the meters this entry sees the first time.

    Returns every stored tag of the entry (meter key → tag, "" for plain ids).
    """
    tags: dict[str, str] = dict(entry.data.get(CONF_STATISTIC_TAGS, {}))
    new = [key for key in dict.fromkeys(keys) if key not in tags]
    if not new:
        return tags
    provider = entry.data[CONF_PROVIDER]
    others = [
        other
        for other in hass.config_entries.async_entries(DOMAIN)
        if other.entry_id != entry.entry_id
        and other.data.get(CONF_PROVIDER) == provider
    ]
    for key in new:
        shared = any(_held_first(hass, other, entry, key) for other in others)
        tags[key] = entry_tag(entry) if shared else ""
    hass.config_entries.async_update_entry(
        entry, data={**entry.data, CONF_STATISTIC_TAGS: tags}
    )
    return tags


async def async_statistic_labels(hass: HomeAssistant) -> dict[str, str]:
    """Return the name of each quantity in Home Assistant's language.

    Statistics are named once, when written, like the entities Home Assistant
    names in its configured language; a quantity without a translation keeps
    its key in words.
    """
    prefix = f"component.{DOMAIN}.entity.sensor."
    strings = await async_get_translations(
        hass, hass.config.language, "entity", [DOMAIN]
    )
    return {
        key[len(prefix) : -len(".name")]: text
        for key, text in strings.items()
        if key.startswith(prefix) and key.endswith(".name")
    }


def statistics_of(
    hass: HomeAssistant, entry: ConfigEntry, labels: Mapping[str, str] | None = None
) -> MetadataOf:
    """Return the statistic metadata of the entry's meters (tagged where shared).

    ``labels`` name the quantities (see async_statistic_labels).
    """
    labels = labels or {}

    def metadata(meter: Meter, quantity: Quantity) -> StatisticMetaData:
        tags: dict[str, str] = entry.data.get(CONF_STATISTIC_TAGS, {})
        tag = tags.get(meter.key)
        if tag is None:
            tag = async_claim_meters(hass, entry, [meter.key])[meter.key]
        return statistic_metadata(
            meter,
            quantity,
            tag=tag,
            holder=entry.title if tag else None,
            currency=hass.config.currency,
            label=labels.get(quantity),
        )

    return metadata


def kept_data(entry: ConfigEntry) -> dict[str, object]:
    """Return what a reconfigure must keep of an entry's data (its decisions)."""
    if CONF_STATISTIC_TAGS in entry.data:
        return {CONF_STATISTIC_TAGS: entry.data[CONF_STATISTIC_TAGS]}
    return {}
