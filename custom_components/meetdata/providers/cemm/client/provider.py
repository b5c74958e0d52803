"""The id this client's meters carry (entity, device and statistic ids)."""

from typing import Final

PROVIDER: Final = "cemm"
