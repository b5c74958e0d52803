"""The deprecation guard catches a deprecated use by Meetdata (and only ours)."""

from __future__ import annotations

import logging
from pathlib import Path
import warnings

from homeassistant.core import HomeAssistant
from homeassistant.helpers import frame
from homeassistant.loader import async_get_integration
import pytest

from .deprecation_guard import deprecation_reports


async def test_guard_catches_a_report_of_home_assistant(
    hass: HomeAssistant,
    enable_custom_integrations: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A deprecated use Home Assistant reports for meetdata fails the test."""
    await async_get_integration(hass, "meetdata")
    frame.report_usage(
        "calls a deliberately deprecated helper in the guard's own test",
        integration_domain="meetdata",
        breaks_in_ha_version="2099.1.0",
    )
    reports = deprecation_reports(caplog.records)
    assert len(reports) == 1
    assert "custom integration 'meetdata'" in reports[0]
    caplog.clear()  # the deliberate report must not fail this test itself


async def test_guard_ignores_reports_about_others(
    hass: HomeAssistant, caplog: pytest.LogCaptureFixture
) -> None:
    """Another integration's deprecated use is not ours to fail on."""
    logging.getLogger("homeassistant.helpers.frame").warning(
        "Detected that custom integration 'other' calls something deprecated"
    )
    assert deprecation_reports(caplog.records) == []


def test_guard_catches_a_deprecation_warning_from_our_module(tmp_path: Path) -> None:
    """A DeprecationWarning attributed to an integration module is caught."""
    # A module path of an installed copy (outside the source tree coverage reads).
    module = tmp_path / "custom_components" / "meetdata" / "deprecated_call.py"
    code = compile(
        "import warnings\nwarnings.warn('old API', DeprecationWarning, stacklevel=1)\n",
        str(module),
        "exec",
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        exec(code, {})  # noqa: S102
        warnings.warn("from a test, not ours", DeprecationWarning, stacklevel=1)
    reports = deprecation_reports([], caught)
    assert len(reports) == 1
    assert "deprecated_call.py" in reports[0]
    assert "old API" in reports[0]
