"""Run every Meetdata benchmark in one process; print one JSON figure per line.

See README.md, "Benchmarks". ``scripts/bench`` runs this with the project's venv.
Figures go to stdout, progress and the slowest event-loop steps to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from pathlib import Path
import sys
import tempfile
import time

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(1, str(Path(__file__).resolve().parent))

from benchmarks import import_bench, large_bench, parse_bench, poll_bench  # noqa: E402
from benchmarks.figures import emit, log  # noqa: E402
from benchmarks.hass import (  # noqa: E402
    RecorderJobs,
    async_start_hass,
    async_stop_hass,
)
from benchmarks.monitor import LoopMonitor  # noqa: E402
from benchmarks.sims import SimProcess, Size, bench_now  # noqa: E402

GROUPS = ("parse", "requests", "poll_cpu", "refresh", "import", "setup", "large")
#: Groups run by default ("large" takes a database server and ~15 minutes;
#: "setup", the 50-mandate Fluvius setup, is part of it and runs alone too).
DEFAULT_GROUPS = GROUPS[:-2]


async def run(groups: set[str], size: Size, pg_url: str | None = None) -> None:
    """Run the selected groups."""
    now = bench_now()
    started = time.monotonic()
    if "parse" in groups:
        parse_bench.kenter_parse(now, size)
        parse_bench.fluvius_parse(now, size)
    if not groups & {"requests", "poll_cpu", "refresh", "import", "setup", "large"}:
        return
    sims = SimProcess(str(ROOT), now, size)
    for name, url in sims.urls.items():
        if not sims.available(name):
            log(f"simulator {name} unavailable: {url}")
    try:
        if "requests" in groups:
            await poll_bench.requests_per_poll(sims, now, size)
        if "poll_cpu" in groups:
            await poll_bench.poll_cpu(sims, now, size)
        if groups & {"refresh", "import"}:
            await _with_hass(groups, sims, now, size)
        if "large" in groups:
            await _large(sims, now, size, pg_url)
        elif "setup" in groups:
            await large_bench.fluvius_setup(sims, now, size)
    finally:
        sims.stop()
    log(f"done in {time.monotonic() - started:.0f} s")


async def _with_hass(
    groups: set[str], sims: SimProcess, now: datetime, size: Size
) -> None:
    """Start Home Assistant with a recorder; run the refresh and import groups."""
    monitor = LoopMonitor()
    monitor.install()
    jobs = RecorderJobs()
    jobs.install()
    with tempfile.TemporaryDirectory(prefix="meetdata-bench-") as tmp:
        hass = await async_start_hass(Path(tmp))
        blocks: dict[str, float] = {}
        try:
            if "refresh" in groups:
                blocks |= await import_bench.first_refreshes(
                    hass, sims, now, size, monitor
                )
            if "import" in groups:
                found = await import_bench.statistics_import(
                    hass, sims, now, size, monitor, jobs
                )
                blocks["statistics_import"] = found["statistics_import"]
                emit(
                    "loop_block_max.statistics_import",
                    found["statistics_import"] * 1000,
                    "ms",
                    target=import_bench.LOOP_TARGET,
                    note="thread CPU of the longest event-loop step while our importer "
                    f"ran (benchmark 3); wall max {found['statistics_import_wall'] * 1000:.1f} ms",
                )
        finally:
            await async_stop_hass(hass)
    steps = {k: v for k, v in blocks.items() if not k.endswith("_wall")}
    if steps:
        worst = max(steps, key=steps.__getitem__)
        emit(
            "loop_block_max",
            steps[worst] * 1000,
            "ms",
            target=import_bench.LOOP_TARGET,
            note=f"max over statistics_import and each provider's first refresh (worst: {worst})",
        )


async def _large(
    sims: SimProcess, now: datetime, size: Size, pg_url: str | None
) -> None:
    """Run the large account on SQLite, then on PostgreSQL (a fresh database each)."""
    monitor = LoopMonitor()
    monitor.install()
    jobs = RecorderJobs()
    jobs.install()
    await large_bench.fluvius_setup(sims, now, size)
    dbs: list[tuple[str, str | None]] = [("sqlite", None)]
    if pg_url:
        dbs.append(("pg", pg_url))
    else:
        log("large: no PostgreSQL URL (--pg-url): SQLite only")
    for db, url in dbs:
        if url is not None:
            import sqlalchemy_utils

            if sqlalchemy_utils.database_exists(url):
                sqlalchemy_utils.drop_database(url)
            sqlalchemy_utils.create_database(url, encoding="utf8")
        try:
            with tempfile.TemporaryDirectory(prefix="meetdata-bench-") as tmp:
                hass = await async_start_hass(Path(tmp), url)
                try:
                    await large_bench.large_account(
                        hass, db, sims, now, size, monitor, jobs
                    )
                finally:
                    await async_stop_hass(hass)
        finally:
            if url is not None:
                sqlalchemy_utils.drop_database(url)


def main() -> None:
    """Parse the arguments and run."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument(
        "--only", action="append", choices=GROUPS, help="run only these groups"
    )
    parser.add_argument(
        "--pg-url",
        help="PostgreSQL URL for the large group (its database is created and dropped)",
    )
    args = parser.parse_args()
    groups = set(args.only or DEFAULT_GROUPS)
    size = Size(meters=2 if args.quick else 10, quick=args.quick)
    asyncio.run(run(groups, size, args.pg_url))


if __name__ == "__main__":
    main()
