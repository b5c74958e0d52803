"""Core tests run Home Assistant with a recorder: the fixtures of tests/ha_conftest.py."""

from collections import Counter

from homeassistant.config_entries import ConfigEntries
import pytest

from ..ha_conftest import (  # noqa: F401
    auto_recorder,
    cemm_entry,
    cemm_sim,
    cemm_url,
    fast_promises,
    loaded_cemm,
    settle_background_imports,
)


@pytest.fixture
def reloads(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count Home Assistant's reloads per config entry id."""
    counted: Counter[str] = Counter()
    reload = ConfigEntries.async_reload

    async def _counting(self: ConfigEntries, entry_id: str) -> bool:
        counted[entry_id] += 1
        return await reload(self, entry_id)

    monkeypatch.setattr(ConfigEntries, "async_reload", _counting)
    return counted
