"""Offline self-check of what hassfest and HACS would validate."""

from __future__ import annotations

import json
from pathlib import Path
import re
import subprocess
import sys
from typing import Any

import yaml

from custom_components.meetdata.api.models import Quantity
from custom_components.meetdata.error_keys import _KEYS

ROOT = Path(__file__).resolve().parent.parent
INTEGRATION = ROOT / "custom_components" / "meetdata"


def _load(name: str) -> dict[str, Any]:
    return json.loads((INTEGRATION / name).read_text(encoding="utf-8"))


def _keys(data: dict[str, Any], prefix: str = "") -> set[str]:
    found: set[str] = set()
    for key, value in data.items():
        path = f"{prefix}.{key}" if prefix else key
        found |= _keys(value, path) if isinstance(value, dict) else {path}
    return found


def test_manifest_keys_and_order() -> None:
    """domain, name, then the other keys alphabetically, as hassfest demands."""
    manifest = _load("manifest.json")
    keys = list(manifest)
    assert keys[:2] == ["domain", "name"]
    assert keys[2:] == sorted(keys[2:])
    assert manifest["domain"] == "meetdata"
    assert manifest["integration_type"] == "hub"
    assert manifest["iot_class"] == "cloud_polling"
    assert manifest["config_flow"] is True
    assert re.fullmatch(r"\d+\.\d+\.\d+", manifest["version"])
    lines = (ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert sorted(manifest["requirements"]) == sorted(
        line.strip() for line in lines if line.strip() and not line.startswith("#")
    )


def test_hacs_json() -> None:
    """HACS metadata names the minimum Home Assistant and both countries."""
    hacs = json.loads((ROOT / "hacs.json").read_text(encoding="utf-8"))
    assert hacs["name"] == "Meetdata"
    assert hacs["country"] == ["NL", "BE"]
    assert hacs["homeassistant"] == "2025.4.0"


def test_generated_translations_are_current() -> None:
    """strings.json and translations/ are what scripts/translations makes."""
    result = subprocess.run(  # noqa: S603 - our own script
        [sys.executable, str(ROOT / "scripts" / "translations"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout


def test_english_and_dutch_have_the_same_keys() -> None:
    """Every English string has a Dutch one and the other way round."""
    assert _keys(_load("translations/en.json")) == _keys(_load("translations/nl.json"))


def test_every_error_and_quantity_is_translated() -> None:
    """Form errors, exceptions and sensor names exist for every key we use."""
    strings = _load("strings.json")
    form_errors = set(strings["config"]["error"])
    assert {key for _, key in _KEYS} | {"no_meters", "empty"} <= form_errors
    sensors = strings["entity"]["sensor"]
    assert {str(q) for q in Quantity} <= set(sensors)
    exceptions = set(strings["exceptions"])
    used: set[str] = set()
    for path in INTEGRATION.rglob("*.py"):
        if "api" in path.parts:
            continue
        used |= set(
            re.findall(r'translation_key="([a-z_]+)"', path.read_text(encoding="utf-8"))
        )
    assert used - {"invalid_auth"} <= exceptions | set(strings["issues"])
    assert "invalid_auth" in exceptions


def test_services_are_translated() -> None:
    """Every service in services.yaml has a name, description and field texts."""
    services = yaml.safe_load(
        (INTEGRATION / "services.yaml").read_text(encoding="utf-8")
    )
    icons = _load("icons.json")["services"]
    for language in ("en", "nl"):
        translated = _load(f"translations/{language}.json")["services"]
        for service, spec in services.items():
            assert translated[service]["name"], (language, service)
            assert translated[service]["description"], (language, service)
            for field in spec.get("fields", {}):
                assert translated[service]["fields"][field]["name"], (language, field)
            assert service in icons
