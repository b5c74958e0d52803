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
from custom_components.meetdata.errors import _KEYS

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
    selectors = set(strings["selector"])
    assert used - {"invalid_auth"} - selectors <= exceptions | set(strings["issues"])
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


def _png_size(path: Path) -> tuple[int, int]:
    """Return (width, height) of a PNG with an alpha channel (from its IHDR)."""
    head = path.read_bytes()[:26]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path.name} is not a PNG"
    assert head[12:16] == b"IHDR", f"{path.name} has no IHDR first"
    assert head[25] in (4, 6), f"{path.name} has no transparency"
    return int.from_bytes(head[16:20]), int.from_bytes(head[20:24])


def test_brand_images() -> None:
    """Icons are square 256/512 px PNGs; logos follow the brands repository's rules."""
    brand = INTEGRATION / "brand"
    assert _png_size(brand / "icon.png") == (256, 256)
    assert _png_size(brand / "icon@2x.png") == (512, 512)
    width, height = _png_size(brand / "logo.png")
    assert 128 <= min(width, height) <= 256
    if (brand / "logo@2x.png").exists():
        width2, height2 = _png_size(brand / "logo@2x.png")
        assert (width2, height2) == (2 * width, 2 * height)


MDI = re.compile(r"mdi:[a-z0-9]+(-[a-z0-9]+)*")


def test_icons_match_strings_and_services() -> None:
    """Every icon is an mdi: name of a translated entity (or state) or a service."""
    icons = _load("icons.json")
    strings = _load("strings.json")
    sensors = strings["entity"]["sensor"]
    for key, spec in icons["entity"]["sensor"].items():
        assert key in sensors, f"icon for untranslated sensor {key}"
        assert MDI.fullmatch(spec["default"]), key
        for state, icon in spec.get("state", {}).items():
            assert state in sensors[key].get("state", {}), f"{key}: state {state}"
            assert MDI.fullmatch(icon), (key, state)
    services = yaml.safe_load(
        (INTEGRATION / "services.yaml").read_text(encoding="utf-8")
    )
    assert set(icons["services"]) == set(services)
    for service, spec in icons["services"].items():
        assert MDI.fullmatch(spec["service"]), service


def test_readme_images_are_absolute_and_exist() -> None:
    """HACS shows the README outside GitHub: images need absolute URLs of our files."""
    manifest = _load("manifest.json")
    repo = manifest["documentation"].removeprefix("https://github.com/")
    prefix = f"https://raw.githubusercontent.com/{repo}/main/"
    for readme in ("README.md", "README.nl.md"):
        text = (ROOT / readme).read_text(encoding="utf-8")
        images = re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text)
        assert images, readme
        for url in images:
            assert url.startswith(prefix), (readme, url)
            assert (ROOT / url.removeprefix(prefix)).is_file(), (readme, url)


def test_translations_have_no_markup() -> None:
    """The frontend formats strings as ICU messages: "<word>" is an unclosed tag."""
    for language in ("en", "nl"):
        text = (INTEGRATION / "translations" / f"{language}.json").read_text(
            encoding="utf-8"
        )
        assert not re.findall(r"<[A-Za-z_/][^>]*>", text), language
