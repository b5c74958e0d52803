"""The secrets every simulator accepts, and a check that none of them leaks.

Used by the autouse ``no_secret_leaks`` fixture in tests/conftest.py: every test
runs with DEBUG logging, and the test fails when a configured secret (passcode,
API key, client secret, password, bearer token) shows up in a log record, in the
text of a logged exception, or anywhere else a test hands to ``assert_no_secret``.
"""

from __future__ import annotations

from functools import cache
import logging
import re

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
