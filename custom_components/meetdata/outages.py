"""One log line when a meter starts failing, one when it answers again."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .api.errors import MeetdataError
from .const import LOGGER


class MeterOutages:
    """The meters of one entry whose ``job`` (latest readings, history) fails."""

    def __init__(self, entry_title: str, job: str) -> None:
        """Log as ``entry_title`` for ``job``."""
        self.entry_title = entry_title
        self.job = job
        #: Meter key → the error that started its outage.
        self.current: dict[str, MeetdataError] = {}

    def update(
        self, failures: Mapping[str, MeetdataError], present: Iterable[str]
    ) -> None:
        """Record the meters failing in this run; log starts and ends of outages.

        A meter no longer ``present`` (gone from the account) ends without a line.
        """
        for key, err in failures.items():
            if key not in self.current:
                LOGGER.warning(
                    "%s: the %s of meter %s failed (%s); the other meters go on "
                    "and it is retried on every run",
                    self.entry_title,
                    self.job,
                    key,
                    err,
                )
        for key in self.current.keys() - failures.keys() & set(present):
            LOGGER.info(
                "%s: the %s of meter %s works again", self.entry_title, self.job, key
            )
        self.current = dict(failures)
