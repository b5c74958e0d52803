"""Keep hypothesis' caches out of the working tree (no .hypothesis/ directory)."""

from __future__ import annotations

from pathlib import Path
import tempfile

from hypothesis.configuration import set_hypothesis_home_dir

set_hypothesis_home_dir(Path(tempfile.gettempdir()) / "meetdata-hypothesis")
