"""The benchmark suite runs end to end and prints well-formed figures.

Benchmarks are not tests: nothing here asserts a timing or a target. This runs
``scripts/bench.py --quick`` (tiny sizes) in a subprocess and checks that every
line is a JSON object with all keys, and that every figure of the issue appears.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import subprocess
import sys

from homeassistant.const import __version__ as ha_version
import pytest

ROOT = Path(__file__).resolve().parent.parent
KEYS = {"name", "value", "unit", "baseline", "ratio", "target"}
#: Figures every run prints (fluvius_parse may be a skipped line with value null).
EXPECTED = {
    "kenter_parse",
    "fluvius_parse",
    "statistics_import",
    "statistics_import.recorder_job_max",
    "statistics_import.costs",
    "backfill_peak_memory",
    "loop_block_max",
    "loop_block_max.statistics_import",
    "requests_per_poll.kenter",
    "requests_per_poll.cemm",
    "requests_per_poll.fluvius_backfill",
    *(
        f"{figure}.{provider}"
        for figure in ("poll_cpu", "loop_block_max")
        for provider in ("kenter", "cemm", "wattworx", "dtl", "fluvius")
    ),
}


@pytest.mark.skipif(
    not ha_version.startswith("2025.4."),
    reason="the benchmarks run on the pinned Home Assistant (2025.4), see scripts/bench",
)
def test_bench_quick_prints_well_formed_figures() -> None:
    """Every stdout line is a figure with name, value, unit, baseline, ratio, target."""
    result = subprocess.run(  # noqa: S603 - our own script, fixed arguments
        [sys.executable, str(ROOT / "scripts" / "bench.py"), "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )
    assert result.returncode == 0, result.stderr[-4000:]
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    assert lines, result.stderr[-4000:]
    names: set[str] = set()
    for line in lines:
        figure = json.loads(line)
        assert isinstance(figure, dict), line
        assert figure.keys() >= KEYS, line
        assert isinstance(figure["name"], str)
        assert figure["name"] not in names, f"{figure['name']} printed twice"
        names.add(figure["name"])
        assert isinstance(figure["unit"], str)
        for key in ("value", "baseline", "ratio"):
            assert figure[key] is None or isinstance(figure[key], int | float), line
        assert figure["target"] is None or isinstance(figure["target"], str), line
        if figure["value"] is None:
            assert "skipped" in figure.get("note", ""), line
    missing = EXPECTED - names
    assert not missing, f"figures not printed: {sorted(missing)}"
