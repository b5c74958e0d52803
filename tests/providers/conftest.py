"""Provider tests: the CEMM entry fixtures of tests/ha_conftest.py.

The recorder and integration (``auto_recorder``, ``settle_background_imports``)
are imported by each module that runs Home Assistant, not by the client tests.
"""

from ..ha_conftest import (  # noqa: F401
    cemm_entry,
    cemm_sim,
    cemm_url,
    fast_promises,
    loaded_cemm,
)
