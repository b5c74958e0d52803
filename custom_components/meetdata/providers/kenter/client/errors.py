"""Kenter's fault codes (manual 2.5) mapped onto the Meetdata error hierarchy."""

from __future__ import annotations

from collections.abc import Iterable
import re

from ....api.errors import (
    MeetdataAuthError,
    MeetdataError,
    MeetdataInvalidRequestError,
    MeetdataNotFoundError,
    MeetdataPermissionError,
    MeetdataResponseError,
)
from ....api.http import REDACTED, status_error
from .ean import gs1_check_digit_ok, is_valid_ean_format

MAX_SERVER_TEXT = 300

#: Kenter knows only 401, 403, 429 and 5xx; every other status is a bad answer.
_HTTP_OVERRIDES: dict[int, type[MeetdataError]] = dict.fromkeys(
    (400, 404, 408, 422), MeetdataResponseError
)


class KenterFaultError(MeetdataError):
    """A SOAP fault from Kenter; ``code`` is its errorCode (None if absent)."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None,
        meter: str | None = None,
        probably_mistyped: bool = False,
    ) -> None:
        """Store the fault code and whether the EAN-code looks mistyped."""
        super().__init__(message, meter=meter)
        self.code = code
        self.probably_mistyped = probably_mistyped


class KenterNotFoundError(KenterFaultError, MeetdataNotFoundError):
    """Faults 1000, 1006 and 1009: the EAN-code or meter code is unknown or invalid."""


class KenterAuthError(KenterFaultError, MeetdataAuthError):
    """Fault 1001: the combination of EAN-code and passcode is invalid."""


class KenterPermissionError(KenterFaultError, MeetdataPermissionError):
    """Fault 1007: insufficient rights for the EAN-code."""


class KenterInvalidRequestError(KenterFaultError, MeetdataInvalidRequestError):
    """Faults 1002-1005 and 1008: the request itself was refused."""


class KenterUnknownFaultError(KenterFaultError, MeetdataResponseError):
    """A fault with a code the manual does not list, or without a code."""


FAULTS: dict[int, tuple[type[KenterFaultError], str]] = {
    1000: (KenterNotFoundError, "the EAN-code is invalid"),
    1001: (
        KenterAuthError,
        "the combination of EAN-code and passcode is invalid "
        "(wrong passcode or unknown EAN-code)",
    ),
    1002: (KenterInvalidRequestError, "incorrect date format for the start date"),
    1003: (KenterInvalidRequestError, "incorrect date format for the end date"),
    1004: (KenterInvalidRequestError, "the end date is before the start date"),
    1005: (KenterInvalidRequestError, "the maximum period of 31 days was exceeded"),
    1006: (KenterNotFoundError, "the meter code does not exist for the EAN-code"),
    1007: (KenterPermissionError, "insufficient rights for the EAN-code"),
    1008: (KenterInvalidRequestError, "the meter list cannot be empty"),
    1009: (KenterNotFoundError, "a meter without EAN-code was given"),
}

#: Faults that concern the EAN-code itself: worth a "probably mistyped" hint.
EAN_FAULTS = frozenset({1000, 1001, 1009})

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_EAN_IN_TEXT = re.compile(r"EAN-code\s+'?(\d+)\b")


def scrub(text: str, secrets: Iterable[str]) -> str:
    """Return server text with every secret masked, one line, bounded length."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    text = _CONTROL.sub(" ", text).strip()
    if len(text) > MAX_SERVER_TEXT:
        text = text[:MAX_SERVER_TEXT] + "…"
    return text


def ean_in_text(text: str) -> str | None:
    """Return the (numeric) EAN-code a fault message names, if any."""
    match = _EAN_IN_TEXT.search(text)
    return match.group(1) if match else None


def fault_error(
    code: int | None,
    text: str,
    *,
    eans: Iterable[str],
    secrets: Iterable[str],
) -> KenterFaultError:
    """Build the typed error for a fault with ``code`` and message ``text``."""
    eans = list(eans)
    shown = scrub(text, secrets)
    # Known EAN-codes are looked up in the raw text (they are no secret, and a
    # short passcode could mask part of one); anything else only in the scrubbed.
    known = [ean for ean in eans if ean and ean in text]
    ean = max(known, key=len) if known else ean_in_text(shown)
    if ean is None and code in EAN_FAULTS and len(eans) == 1:
        ean = eans[0] or None
    if code is None:
        return KenterUnknownFaultError(
            f"Kenter answered with a fault without error code: {shown or 'no text'}",
            code=None,
            meter=ean,
        )
    cls, meaning = FAULTS.get(code, (KenterUnknownFaultError, "unknown fault code"))
    message = f"Kenter fault {code} ({meaning})"
    if shown:
        message += f": {shown}"
    mistyped = False
    if code in EAN_FAULTS and ean is not None:
        if not is_valid_ean_format(ean):
            message += f"; an EAN-code has exactly 18 digits, {ean!r} does not"
            mistyped = True
        elif not gs1_check_digit_ok(ean):
            message += (
                f"; the check digit of EAN-code {ean} is wrong too: "
                "it is probably mistyped"
            )
            mistyped = True
    return cls(message, code=code, meter=ean, probably_mistyped=mistyped)


def http_status_error(
    status: int, url: str, retry_after: float | None = None
) -> MeetdataError:
    """Map an HTTP status that carried no SOAP fault to a Meetdata error."""
    return status_error(
        status,
        f"Kenter answered HTTP {status} at {url}",
        retry_after=retry_after,
        overrides=_HTTP_OVERRIDES,
    )
