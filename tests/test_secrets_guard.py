"""The suite-wide secrets guard itself must be able to fail."""

from __future__ import annotations

import logging

import pytest

from .secrets_guard import assert_no_secret, find_secret, known_secrets, record_text
from .simulators.cemm import DEMO_API_KEY
from .simulators.fluvius import DEMO_CLIENT_SECRET


def test_guard_finds_every_kind_of_secret() -> None:
    """Keys, client secrets, passcodes and issued tokens are all recognised."""
    assert len(known_secrets()) >= 8
    assert find_secret(f"GET /cemm/?api_key={DEMO_API_KEY}") == DEMO_API_KEY
    assert find_secret(f"secret={DEMO_CLIENT_SECRET}") == DEMO_CLIENT_SECRET
    assert find_secret("Authorization: Bearer sim-access-token-1-7") is not None
    assert find_secret("api_key=**REDACTED**") is None
    with pytest.raises(AssertionError, match="leaked in a test"):
        assert_no_secret(f"oops {DEMO_API_KEY}", "a test")


def test_record_text_includes_exceptions() -> None:
    """A secret hidden in a logged exception is found too."""
    err = ValueError(DEMO_API_KEY)
    record = logging.LogRecord(
        "x", logging.ERROR, __file__, 1, "failed", None, (type(err), err, None)
    )
    assert find_secret(record_text(record)) == DEMO_API_KEY


def test_guard_checks_what_home_assistant_shows() -> None:
    """Repair issues, titles and coordinator errors are read; JSON is searched."""
    from types import SimpleNamespace

    from homeassistant.helpers import issue_registry as ir

    from .secrets_guard import assert_no_secret_in, hass_texts

    err = RuntimeError("boom")
    err.__cause__ = ValueError(f"key {DEMO_API_KEY}")
    issue = SimpleNamespace(
        translation_key="no_permission", translation_placeholders={}
    )
    registry = SimpleNamespace(issues={("meetdata", "x_no_permission_1"): issue})
    entry = SimpleNamespace(
        title="CEMM",
        unique_id="cemm_1",
        runtime_data=SimpleNamespace(
            latest=SimpleNamespace(last_exception=err), history=None
        ),
    )
    hass = SimpleNamespace(
        data={ir.DATA_REGISTRY: registry},
        config_entries=SimpleNamespace(async_entries=lambda domain: [entry]),
    )
    original = ir.async_get
    ir.async_get = lambda hass: registry  # type: ignore[assignment]
    try:
        texts = dict(hass_texts(hass))
    finally:
        ir.async_get = original
    assert find_secret(texts["the latest coordinator's error"]) == DEMO_API_KEY
    assert "x_no_permission_1" in texts["repair issue x_no_permission_1"]
    with pytest.raises(AssertionError, match="leaked in diagnostics"):
        assert_no_secret_in({"data": [{"secret": DEMO_CLIENT_SECRET}]}, "diagnostics")
