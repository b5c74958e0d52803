"""Core tests run Home Assistant with a recorder: the fixtures of tests/ha_conftest.py."""

from ..ha_conftest import (  # noqa: F401
    auto_recorder,
    cemm_entry,
    cemm_sim,
    cemm_url,
    fast_promises,
    loaded_cemm,
    settle_background_imports,
)
