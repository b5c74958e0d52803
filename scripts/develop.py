"""Run Home Assistant with Meetdata against the local provider simulators.

Used by ``scripts/develop``. It installs the frontend Home Assistant needs for the
browser (pinned to the version the installed Home Assistant names), writes a
config directory under ./config, pre-creates one config entry per simulated
provider account (so devices, sensors and statistics appear at once), starts
every simulator on 127.0.0.1 and then Home Assistant itself.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from enum import Enum
import json
import os
from pathlib import Path
import re
import signal
import subprocess
import sys
import time
from typing import Any
import uuid

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config"
PYTHON = sys.executable

# provider -> (simulator module, port, config entry title, unique id, entry data)
SIMULATORS: dict[str, tuple[str, int, str, str, dict[str, Any]]] = {
    "cemm": (
        "tests.simulators.cemm",
        8101,
        "CEMM FF-FF-FF-FF-FF-FF",
        "cemm_ffffffffffff",
        {"api_key": "demo-cemm-key", "base_url": "http://127.0.0.1:8101/v1/"},
    ),
    "kenter": (
        "tests.simulators.kenter",
        8102,
        "Kenter Kwekerij Jan Janssen, Hoogevoort B.V.",
        "kenter_871687120000096366_876600504607071300",
        {
            "base_url": "http://127.0.0.1:8102/realtime/1.0/",
            "connections": [
                {"ean": "876600504607071300", "passcode": "jTx7HCB"},
                {"ean": "871687120000096366", "passcode": "oTW66As"},
            ],
        },
    ),
    "wattworx": (
        "tests.simulators.wattworx",
        8103,
        "Wattworx Klant 1, Klant 2 BV",
        "wattworx_885078b8c82cf37e",  # sha256 of the client ids 1111,2222
        {"api_key": "demo-wattworx-key", "base_url": "http://127.0.0.1:8103/api/v1/"},
    ),
    "dtl": (
        "tests.simulators.dtl",
        8104,
        "DTL 127.0.0.1 (871687140000123459)",
        "dtl_127.0.0.1_871687140000123459",
        {
            "base_url": "http://127.0.0.1:8104",
            "username": "demo",
            "password": "demo-dtl-password",
            "customer_eans": "871687140000123459",
        },
    ),
    "fluvius": (
        "tests.simulators.fluvius",
        8105,
        "Fluvius demo-client (sandbox)",
        "fluvius_demo-tenant_demo-client",
        {
            "environment": "sandbox",
            "tenant_id": "demo-tenant",
            "client_id": "demo-client",
            "client_secret": "demo-fluvius-secret",
            "scope": "api://demo-fluvius/.default",
            "subscription_key": "demo-sub-key",
            "base_url": "http://127.0.0.1:8105/ext/mijnfluvius-profnetgebruiker-sbx/v1/",
            "token_url": "http://127.0.0.1:8105/demo-tenant/oauth2/v2.0/token",
        },
    ),
}
#: Providers the browser tests (e2e/) add through the UI: all of them.
E2E_PROVIDERS = tuple(SIMULATORS)

CONFIGURATION_YAML = """\
homeassistant:
  name: Meetdata development
  time_zone: Europe/Amsterdam
  country: NL
  unit_system: metric
  currency: EUR

{http}frontend:
energy:
history:
logbook:
recorder:
  purge_keep_days: 30

logger:
  default: warning
  logs:
    custom_components.meetdata: debug
    homeassistant.components.recorder: info
"""


#: Integrations onboarding's core-config step sets up with a config flow
#: (homeassistant/components/onboarding/views.py, the same from 2025.4 to 2026.11).
ONBOARDING_INTEGRATIONS = ("google_translate", "met", "radio_browser", "shopping_list")


def _components() -> Path:
    import homeassistant

    return Path(homeassistant.__file__).parent / "components"


def _installed(requirement: str) -> bool:
    """Whether a ``name==version`` requirement is installed at that version."""
    from importlib import metadata

    name, _, version = requirement.partition("==")
    try:
        return metadata.version(name) == version or not version
    except metadata.PackageNotFoundError:
        return False


def ensure_frontend() -> None:
    """Install the frontend (and, on old releases, the DNS pin) Home Assistant needs.

    The version is the one the installed Home Assistant's frontend manifest names,
    installed with Home Assistant's own package constraints.
    """
    from importlib import metadata

    import homeassistant

    manifest = _components() / "frontend" / "manifest.json"
    wanted = json.loads(manifest.read_text())["requirements"][0]
    if _installed(wanted):
        return
    print(f"Installing {wanted} ...", flush=True)
    extra = []
    try:
        # aiodns 3.x with pycares 5 fails every DNS lookup (Home Assistant 2025.4).
        if int(metadata.version("aiodns").split(".")[0]) < 4:
            extra.append("pycares<5")
    except metadata.PackageNotFoundError:
        pass
    constraints = Path(homeassistant.__file__).parent / "package_constraints.txt"
    subprocess.run(
        [PYTHON, "-m", "pip", "install", "-q", wanted, *extra]
        + (["-c", str(constraints)] if constraints.exists() else []),
        check=True,
    )


def integration_requirements() -> list[str]:
    """Return what the integrations Home Assistant sets up here require.

    Its default integrations, the ones configuration.yaml names, onboarding's, and
    Meetdata's dependencies, with everything they depend on: installed beforehand
    (scripts/setup_ha_run), Home Assistant installs nothing itself at start-up.
    """
    from homeassistant import bootstrap

    components = _components()
    ours = json.loads((ROOT / "custom_components/meetdata/manifest.json").read_text())
    todo = {
        *bootstrap.CORE_INTEGRATIONS,
        *bootstrap.DEFAULT_INTEGRATIONS,
        *re.findall(
            r"^(\w+):", CONFIGURATION_YAML.format(http=HTTP_YAML), re.MULTILINE
        ),
        *ONBOARDING_INTEGRATIONS,
        *ours.get("dependencies", []),
    }
    seen: set[str] = set()
    requirements: set[str] = set()
    while todo:
        domain = todo.pop()
        seen.add(domain)
        manifest_path = components / domain / "manifest.json"
        if not manifest_path.exists():
            continue
        manifest = json.loads(manifest_path.read_text())
        requirements.update(manifest.get("requirements", []))
        todo.update(set(manifest.get("dependencies", [])) - seen)
    return sorted(r for r in requirements if not _installed(r))


#: The HTTP server up to Home Assistant 2026.x, which reads it from configuration.yaml.
HTTP_YAML = """\
http:
  server_host: 127.0.0.1
  server_port: {port}

"""


def http_storage_module() -> Any:
    """Return Home Assistant's HTTP settings store where it keeps them (2026.x), or None.

    Such a Home Assistant moves configuration.yaml's ``http:`` once into
    ``.storage/http`` as an unconfirmed trial: the frontend then asks to confirm it, and
    five minutes later Home Assistant reverts to its defaults (every interface, port
    8123) and restarts. So there ``http:`` stays out of configuration.yaml and
    write_http_storage writes confirmed settings.
    """
    try:
        from homeassistant.components.http import config as http_config
    except ImportError:
        return None
    return http_config if hasattr(http_config, "KEY_YAML_MIGRATION_DONE") else None


def write_http_storage(config: Path, port: int, http_config: Any) -> None:
    """Have Home Assistant serve 127.0.0.1:``port``, confirmed, in ``.storage/http``."""
    path = config / ".storage" / http_config.STORAGE_KEY
    wanted = {"server_host": ["127.0.0.1"], "server_port": port}
    stored = json.loads(path.read_text()) if path.exists() else None
    data = (stored or {}).get("data") or {}
    stable = data.get(http_config.KEY_STABLE) or {}
    if (
        all(stable.get(key) == value for key, value in wanted.items())
        and data.get(http_config.KEY_PENDING) is None
        and data.get(http_config.KEY_YAML_MIGRATION_DONE)
    ):
        return
    settings = {
        key: value
        for key, value in stable.items()
        if key not in ("created_at", "error", "error_message")
    }
    settings = http_config.HTTP_STORAGE_SCHEMA({**settings, **wanted})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        json.dumps(
            {
                "version": http_config.STORAGE_VERSION,
                "minor_version": http_config.STORAGE_MINOR_VERSION,
                "key": http_config.STORAGE_KEY,
                "data": {
                    http_config.KEY_STABLE: {
                        **{
                            k: str(v) if isinstance(v, Enum) else v
                            for k, v in settings.items()
                        },
                        "created_at": datetime.now(UTC).isoformat(),
                        "error": None,
                        "error_message": None,
                    },
                    http_config.KEY_PENDING: None,
                    http_config.KEY_YAML_MIGRATION_DONE: True,
                },
            },
            indent=2,
        )
    )


def check_not_newer(config: Path) -> None:
    """Stop when a newer Home Assistant used the config directory (no way back)."""
    from homeassistant.const import __version__

    def key(version: str) -> tuple[int, ...]:
        return tuple(int(part) for part in re.findall(r"\d+", version)[:3])

    used = config / ".HA_VERSION"
    if used.exists() and key(used.read_text().strip()) > key(__version__):
        sys.exit(
            f"{config} was last used by Home Assistant {used.read_text().strip()}, "
            f"newer than this {__version__}: give --config another directory, or "
            "delete it to start over."
        )


def write_config(config: Path, port: int) -> None:
    """Create the config directory with our integration linked in and demo entries."""
    (config / "custom_components").mkdir(parents=True, exist_ok=True)
    link = config / "custom_components" / "meetdata"
    if not link.exists():
        link.symlink_to(ROOT / "custom_components" / "meetdata")
    http_config = http_storage_module()
    yaml_path = config / "configuration.yaml"
    if http_config is not None:
        write_http_storage(config, port, http_config)
        if yaml_path.exists():
            # A directory made for an older Home Assistant: its http: is in storage now.
            text = yaml_path.read_text()
            mine = re.compile(HTTP_YAML.replace("{port}", r"\d+"), re.MULTILINE)
            if mine.search(text):
                yaml_path.write_text(mine.sub("", text))
    if not yaml_path.exists():
        http = "" if http_config is not None else HTTP_YAML.format(port=port)
        yaml_path.write_text(CONFIGURATION_YAML.format(http=http))
    entries_path = config / ".storage" / "core.config_entries"
    if entries_path.exists():
        return
    entries_path.parent.mkdir(exist_ok=True)
    now = "2025-01-01T00:00:00+00:00"
    entries = [
        {
            "entry_id": uuid.uuid4().hex,
            "version": 1,
            "minor_version": 1,
            "domain": "meetdata",
            "title": title,
            "data": {"provider": provider, **data},
            "options": {"history_days": 14},
            "pref_disable_new_entities": False,
            "pref_disable_polling": False,
            "source": "user",
            "unique_id": unique_id,
            "disabled_by": None,
            "discovery_keys": {},
            "subentries": [],
            "created_at": now,
            "modified_at": now,
        }
        for provider, (_, _, title, unique_id, data) in SIMULATORS.items()
    ]
    entries_path.write_text(
        json.dumps(
            {
                "version": 1,
                "minor_version": 5,
                "key": "core.config_entries",
                "data": {"entries": entries},
            },
            indent=2,
        )
    )


def describe() -> list[dict[str, Any]]:
    """Return the SIMULATORS table in the form the browser tests (e2e/) read."""
    return [
        {
            "provider": provider,
            "module": module,
            "port": port,
            "title": title,
            "unique_id": unique_id,
            "data": data,
        }
        for provider, (module, port, title, unique_id, data) in SIMULATORS.items()
        if provider in E2E_PROVIDERS
    ]


def main() -> int:
    """Start the simulators and Home Assistant; stop the simulators on exit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument(
        "--config",
        type=Path,
        default=CONFIG,
        help="configuration directory (default ./config; created when missing)",
    )
    parser.add_argument("--no-frontend-install", action="store_true")
    parser.add_argument(
        "--integration-requirements",
        action="store_true",
        help="print the requirements (not yet installed) of the integrations Home "
        "Assistant sets up, one a line, and exit",
    )
    parser.add_argument(
        "--describe",
        action="store_true",
        help="print the simulated providers and demo accounts as JSON and exit",
    )
    args = parser.parse_args()
    if args.describe:
        print(json.dumps(describe(), indent=2))
        return 0
    if args.integration_requirements:
        print("\n".join(integration_requirements()))
        return 0
    config = args.config.resolve()
    check_not_newer(config)
    if not args.no_frontend_install:
        ensure_frontend()
    write_config(config, args.port)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [
        subprocess.Popen([PYTHON, "-m", module, "--port", str(port)], cwd=ROOT, env=env)
        for module, port, *_ in SIMULATORS.values()
    ]
    time.sleep(1)
    print(
        f"\nHome Assistant starts on http://127.0.0.1:{args.port} "
        "(first start: create a user in the browser).\n"
        "Demo accounts are already configured; to add one yourself, enter the\n"
        "simulator's base URL printed above (the form's \"Advanced settings\").\n",
        flush=True,
    )
    hass_args = [PYTHON, "-m", "homeassistant", "-c", str(config)]
    # Requirements scripts/setup_ha_run could not install here (no wheel, no C headers).
    skip = Path(sys.prefix) / ".meetdata-skip-pip"
    if skip.exists() and (packages := skip.read_text().split()):
        hass_args += ["--skip-pip-packages", ",".join(packages)]
    hass = subprocess.Popen(hass_args, cwd=ROOT, env=env)
    try:
        return hass.wait()
    except KeyboardInterrupt:
        hass.send_signal(signal.SIGINT)
        return hass.wait()
    finally:
        for child in children:
            child.terminate()


if __name__ == "__main__":
    sys.exit(main())
