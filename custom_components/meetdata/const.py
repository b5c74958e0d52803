"""Constants of the Meetdata integration."""

from __future__ import annotations

from datetime import timedelta
import logging
from typing import Final

DOMAIN: Final = "meetdata"
LOGGER = logging.getLogger(__package__)

CONF_PROVIDER: Final = "provider"
CONF_BASE_URL: Final = "base_url"
CONF_UPDATE_INTERVAL: Final = "update_interval"
CONF_HISTORY_DAYS: Final = "history_days"
CONF_METERS: Final = "meters"
#: Every meter the options form or a discovery has seen (a selection's
#: unselected ones among them were left out on purpose).
CONF_KNOWN_METERS: Final = "known_meters"
#: Entry data: meter key → tag of its statistic ids ("" keeps the plain ids).
CONF_STATISTIC_TAGS: Final = "statistic_tags"

MIN_UPDATE_INTERVAL_MINUTES: Final = 1
MAX_UPDATE_INTERVAL_MINUTES: Final = 1440
MAX_HISTORY_DAYS: Final = 3 * 366

HISTORY_UPDATE_INTERVAL: Final = timedelta(hours=1)
