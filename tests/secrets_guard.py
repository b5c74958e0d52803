"""The secrets every simulator accepts, and a check that none of them leaks.

Used by the autouse ``no_secret_leaks`` fixture in tests/conftest.py: every test
runs with DEBUG logging, and the test fails when a configured secret (passcode,
API key, client secret, password, bearer token) shows up in a log record, in the
text of a logged exception, or anywhere else a test hands to ``assert_no_secret``.
In Home Assistant tests it also checks, after the test, what the integration
left for the user to see: repair issues (ids and placeholders), config entry
titles and unique ids, and the errors (messages and translation placeholders)
of every coordinator of a Meetdata entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
import json
import logging
import re
from typing import Any

from .simulators import cemm, dtl, fluvius, kenter, wattworx

#: Tokens issued by the Fluvius simulator's token endpoint.
TOKEN_PATTERN = re.compile(r"sim-access-token-\d+-\d+")


@cache
def known_secrets() -> frozenset[str]:
    """Return every secret the simulators hand out or accept."""
    return frozenset(
        {
            cemm.DEMO_API_KEY,
            dtl.DEMO_PASSWORD,
            fluvius.DEMO_CLIENT_SECRET,
            fluvius.DEMO_SUBSCRIPTION_KEY,
            wattworx.DEMO_KEY,
            wattworx.SINGLE_CLIENT_KEY,
            *(connection.passcode for connection in kenter.demo_connections()),
        }
    )


def find_secret(text: str) -> str | None:
    """Return the first secret found in ``text`` (None when clean)."""
    for secret in known_secrets():
        if secret in text:
            return secret
    match = TOKEN_PATTERN.search(text)
    return match.group(0) if match else None


def record_text(record: logging.LogRecord) -> str:
    """Return everything a log record would print, exception included."""
    text = record.getMessage()
    if record.exc_info and record.exc_info[1] is not None:
        text += f"\n{record.exc_info[1]!r} {record.exc_info[1]}"
    if record.exc_text:
        text += "\n" + record.exc_text
    return text


def assert_no_secret(text: str, where: str) -> None:
    """Fail when ``text`` holds a secret."""
    secret = find_secret(text)
    assert secret is None, f"secret {secret[:4]}… leaked in {where}"


def assert_no_secret_in(value: Any, where: str) -> None:
    """Fail when ``value`` (diagnostics, placeholders...) holds a secret anywhere."""
    assert_no_secret(json.dumps(value, default=repr), where)


def _error_texts(err: BaseException | None) -> str:
    if err is None:
        return ""
    placeholders = getattr(err, "translation_placeholders", None) or {}
    cause = err.__cause__
    return f"{err!r} {err} {placeholders} {cause!r} {cause}"


def hass_texts(hass: Any) -> Iterator[tuple[str, str]]:
    """Yield (where, text) of what Meetdata shows in Home Assistant."""
    from homeassistant.helpers import issue_registry as ir

    if ir.DATA_REGISTRY in hass.data:
        for (domain, issue_id), issue in ir.async_get(hass).issues.items():
            if domain == "meetdata":
                yield (
                    f"repair issue {issue_id[:40]}",
                    f"{issue_id} {issue.translation_key} {issue.translation_placeholders}",
                )
    for entry in hass.config_entries.async_entries("meetdata"):
        yield "a config entry's title or unique id", f"{entry.title} {entry.unique_id}"
        runtime = getattr(entry, "runtime_data", None)
        for name in ("latest", "history"):
            coordinator = getattr(runtime, name, None)
            err = getattr(coordinator, "last_exception", None)
            yield f"the {name} coordinator's error", _error_texts(err)
