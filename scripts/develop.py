"""Run Home Assistant with Meetdata against the local provider simulators.

Used by ``scripts/develop``. It installs the frontend Home Assistant needs for the
browser (pinned to the version the installed Home Assistant names), writes a
config directory under ./config, pre-creates one config entry per simulated
provider account (so devices, sensors and statistics appear at once), starts
every simulator on 127.0.0.1 and then Home Assistant itself.
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
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

http:
  server_host: 127.0.0.1
  server_port: {port}

frontend:
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


def ensure_frontend() -> None:
    """Install the frontend and the DNS pin a browsable Home Assistant needs."""
    import homeassistant

    manifest = Path(homeassistant.__file__).parent / "components/frontend/manifest.json"
    wanted = json.loads(manifest.read_text())["requirements"][0]
    try:
        import hass_frontend  # noqa: F401
    except ImportError:
        print(f"Installing {wanted} (first run only) ...", flush=True)
        subprocess.run(
            [PYTHON, "-m", "pip", "install", "-q", wanted, "pycares<5"], check=True
        )


def write_config(config: Path, port: int) -> None:
    """Create the config directory with our integration linked in and demo entries."""
    (config / "custom_components").mkdir(parents=True, exist_ok=True)
    link = config / "custom_components" / "meetdata"
    if not link.exists():
        link.symlink_to(ROOT / "custom_components" / "meetdata")
    yaml_path = config / "configuration.yaml"
    if not yaml_path.exists():
        yaml_path.write_text(CONFIGURATION_YAML.format(port=port))
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
        "--describe",
        action="store_true",
        help="print the simulated providers and demo accounts as JSON and exit",
    )
    args = parser.parse_args()
    if args.describe:
        print(json.dumps(describe(), indent=2))
        return 0
    config = args.config.resolve()
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
        "Demo accounts are already configured; to add one yourself, enable advanced\n"
        "mode in your profile and enter the simulator's base URL printed above.\n",
        flush=True,
    )
    hass = subprocess.Popen(
        [PYTHON, "-m", "homeassistant", "-c", str(config)], cwd=ROOT, env=env
    )
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
