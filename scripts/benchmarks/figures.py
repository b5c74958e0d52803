"""Figures: one JSON object per line on stdout, progress on stderr."""

from __future__ import annotations

from dataclasses import dataclass
import json
import math
import statistics
import sys
import time
from typing import Any

KEYS = ("name", "value", "unit", "baseline", "ratio", "target")


@dataclass(slots=True)
class Target:
    """A target: ``value <= limit`` or ``ratio <= limit``."""

    on: str  # "value" or "ratio"
    limit: float
    unit: str = ""

    def text(self) -> str:
        """Return the target as printed, e.g. ``ratio <= 10``."""
        unit = f" {self.unit}" if self.unit else ""
        return f"{self.on} <= {self.limit:g}{unit}"

    def met(self, value: float | None, ratio: float | None) -> bool | None:
        """Return whether the figure meets the target (None: not measured)."""
        got = value if self.on == "value" else ratio
        return None if got is None else got <= self.limit


def _round(number: float | None) -> float | None:
    if number is None or not math.isfinite(number):
        return None
    return float(f"{number:.4g}")


def emit(
    name: str,
    value: float | None,
    unit: str,
    *,
    baseline: float | None = None,
    target: Target | None = None,
    note: str | None = None,
) -> dict[str, Any]:
    """Print one figure line and return it."""
    ratio = value / baseline if value is not None and baseline else None
    line: dict[str, Any] = {
        "name": name,
        "value": _round(value),
        "unit": unit,
        "baseline": _round(baseline),
        "ratio": _round(ratio),
        "target": target.text() if target else None,
    }
    if target is not None:
        line["met"] = target.met(value, ratio)
    if note:
        line["note"] = note
    print(json.dumps(line, ensure_ascii=False), flush=True)
    return line


def skipped(name: str, unit: str, reason: str, target: Target | None = None) -> None:
    """Print a figure that could not be measured (value null, with a note)."""
    emit(name, None, unit, target=target, note=f"skipped: {reason}")
    log(f"SKIPPED {name}: {reason}")


_START = time.monotonic()


def log(message: str) -> None:
    """Write a progress line to stderr."""
    print(f"[{time.monotonic() - _START:7.1f}s] {message}", file=sys.stderr, flush=True)


def median(values: list[float]) -> float:
    """Return the median."""
    return statistics.median(values)
