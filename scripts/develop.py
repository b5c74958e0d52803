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
}

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
    import homeassistant  # noqa: PLC0415

    manifest = Path(homeassistant.__file__).parent / "components/frontend/manifest.json"
    wanted = json.loads(manifest.read_text())["requirements"][0]
    try:
        import hass_frontend  # noqa: F401, PLC0415
    except ImportError:
        print(f"Installing {wanted} (first run only) ...", flush=True)
        subprocess.run(
            [PYTHON, "-m", "pip", "install", "-q", wanted, "pycares<5"], check=True
        )


def write_config(port: int) -> None:
    """Create ./config with our integration linked in and demo entries."""
    (CONFIG / "custom_components").mkdir(parents=True, exist_ok=True)
    link = CONFIG / "custom_components" / "meetdata"
    if not link.exists():
        link.symlink_to(ROOT / "custom_components" / "meetdata")
    yaml_path = CONFIG / "configuration.yaml"
    if not yaml_path.exists():
        yaml_path.write_text(CONFIGURATION_YAML.format(port=port))
    entries_path = CONFIG / ".storage" / "core.config_entries"
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


def main() -> int:
    """Start the simulators and Home Assistant; stop the simulators on exit."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8123)
    parser.add_argument("--no-frontend-install", action="store_true")
    args = parser.parse_args()
    if not args.no_frontend_install:
        ensure_frontend()
    write_config(args.port)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    children = [
        subprocess.Popen(  # noqa: S603
            [PYTHON, "-m", module, "--port", str(port)], cwd=ROOT, env=env
        )
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
    hass = subprocess.Popen(  # noqa: S603
        [PYTHON, "-m", "homeassistant", "-c", str(CONFIG)], cwd=ROOT, env=env
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
