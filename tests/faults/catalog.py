"""The columns of the fault matrix: every fault, how to cause it, what must follow.

A column builds a proxy ``Fault`` for a row (or is handled specially:
``refused`` stops the proxy, ``tls`` serves it over untrusted TLS). Its
``expect`` is what the client must do:

* an error class: the call raises exactly that kind of ``MeetdataError``;
* ``ACCEPT``: the answer is used and equals the fault-free answer (after the
  importer's hourly aggregation, which drops duplicates);
* ``TYPED_OR_ACCEPT``: the call either raises ``MeetdataResponseError`` or
  returns finite values (a provider may skip a broken row instead of
  refusing the whole answer).

At the Home Assistant level an error column means: sensors unavailable, one
log line, the entry stays loaded (or asks for reauthentication for auth
errors) and statistics do not change; ACCEPT means: nothing changes at all.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from custom_components.meetdata.api.errors import (
    MeetdataAuthError,
    MeetdataConnectionError,
    MeetdataError,
    MeetdataRateLimitError,
    MeetdataResponseError,
    MeetdataTimeoutError,
)

from . import transforms as t
from .proxy import Fault
from .rows import Row

type Expect = (
    type[MeetdataError]
    | tuple[type[MeetdataError], type[MeetdataError]]
    | Literal["accept", "typed_or_accept"]
)
ACCEPT: Literal["accept"] = "accept"
TYPED_OR_ACCEPT: Literal["typed_or_accept"] = "typed_or_accept"

#: The client's timeout in the timeout column; the proxy answers later.
CLIENT_TIMEOUT = 0.2
PROXY_DELAY = 0.6

HTML_PAGE = (
    b"<!DOCTYPE html><html><head><title>Maintenance</title></head>"
    b"<body><h1>We are down for maintenance</h1><p>Back soon.</p></body></html>"
)


def _malformed(row: Row) -> bytes:
    if row.fmt == "xml":
        return b"<?xml version='1.0'?><root><unclosed><value>1</root>"
    return b'{"data": [1, 2, {"io_id": '


def _soap_fault(row: Row) -> bytes:
    from ..simulators.kenter import KenterSimulator

    return KenterSimulator().fault_body(1099, "Something new went wrong").encode()


@dataclass(frozen=True)
class Column:
    """One fault of the matrix."""

    name: str
    expect: Expect | Callable[[Row], Expect]
    fault: Callable[[Row], Fault | None]
    #: Providers this fault exists for (None: all).
    only: tuple[str, ...] | None = None
    #: "outage", "data" or "auth": what Home Assistant should do.
    family: Literal["outage", "data", "auth"] = "outage"

    def expected(self, row: Row) -> Expect:
        """Return the expectation of this column for ``row``."""
        if isinstance(self.expect, type | str):
            return self.expect
        return self.expect(row)

    def applies(self, row: Row) -> bool:
        """Return whether this fault exists for ``row``."""
        return self.only is None or row.provider in self.only


def _status(
    status: int,
    body: bytes | Callable[[Row], bytes] = b"",
    content_type: str = "text/plain",
    headers: dict[str, str] | None = None,
) -> Callable[[Row], Fault]:
    def build(row: Row) -> Fault:
        raw = body(row) if callable(body) else body
        return Fault(
            "status",
            status=status,
            body=raw,
            content_type=content_type,
            headers=headers or {},
        )

    return build


def _transform(
    make: Callable[[Row], t.Transform], content_type: str | None = None
) -> Callable[[Row], Fault]:
    return lambda row: Fault(
        "transform", transform=make(row), content_type=content_type
    )


COLUMNS: tuple[Column, ...] = (
    Column(
        "timeout",
        MeetdataTimeoutError,
        lambda row: Fault("delay", seconds=PROXY_DELAY),
    ),
    Column("refused", MeetdataConnectionError, lambda row: None),
    Column(
        "http_500",
        MeetdataConnectionError,
        _status(500, b"Internal Server Error"),
    ),
    Column(
        "http_503_html",
        MeetdataConnectionError,
        _status(503, HTML_PAGE, "text/html"),
    ),
    Column(
        "rate_limited",
        MeetdataRateLimitError,
        _status(429, b"Too Many Requests"),
    ),
    Column(
        "rate_limited_retry_after",
        MeetdataRateLimitError,
        _status(429, b"Too Many Requests", headers={"Retry-After": "120"}),
    ),
    Column(
        "maintenance_html_200",
        MeetdataResponseError,
        _status(200, HTML_PAGE, "text/html"),
    ),
    Column(
        "empty_body",
        MeetdataResponseError,
        _status(200, b"", "application/json"),
    ),
    Column(
        "truncated_body",
        MeetdataResponseError,
        lambda row: Fault("truncate"),
    ),
    Column(
        "connection_dropped",
        MeetdataConnectionError,
        lambda row: Fault("drop"),
    ),
    Column(
        "wrong_content_type",
        ACCEPT,
        _transform(lambda row: lambda body: body, content_type="text/html"),
        family="data",
    ),
    Column(
        "malformed",
        MeetdataResponseError,
        lambda row: Fault(
            "status",
            body=_malformed(row),
            content_type="application/xml" if row.fmt == "xml" else "application/json",
        ),
    ),
    Column(
        "missing_fields",
        TYPED_OR_ACCEPT,
        _transform(lambda row: t.missing(row.values)),
        family="data",
    ),
    Column("extra_fields", ACCEPT, _transform(lambda row: t.extra()), family="data"),
    Column(
        "renamed_fields",
        TYPED_OR_ACCEPT,
        _transform(lambda row: t.renamed(row.values)),
        family="data",
    ),
    Column(
        "null_values",
        TYPED_OR_ACCEPT,
        _transform(lambda row: t.null(row.values)),
        family="data",
    ),
    Column(
        "negative_values",
        TYPED_OR_ACCEPT,
        _transform(lambda row: t.negative(row.values)),
        family="data",
    ),
    Column(
        "nan_infinity",
        TYPED_OR_ACCEPT,
        _transform(lambda row: t.non_finite(row.values)),
        family="data",
    ),
    Column(
        "duplicate_timestamps",
        ACCEPT,
        _transform(lambda row: t.duplicated(row.records)),
        family="data",
    ),
    Column(
        "out_of_order",
        ACCEPT,
        _transform(lambda row: t.reversed_order(row.records)),
        family="data",
    ),
    Column(
        "huge_50mb",
        MeetdataResponseError,
        lambda row: Fault("huge", content_length=True),
    ),
    Column(
        "huge_50mb_chunked",
        MeetdataResponseError,
        lambda row: Fault("huge", content_length=False),
    ),
    Column(
        "unauthorized_401",
        MeetdataAuthError,
        _status(401, lambda row: row.unauthorized_body, "application/json"),
        family="auth",
    ),
    Column(
        "forbidden_403",
        lambda row: row.forbidden,
        _status(403, lambda row: row.unauthorized_body.replace(b"401", b"403")),
        family="auth",
    ),
    Column(
        "soap_fault_unknown_code",
        MeetdataResponseError,
        _status(500, _soap_fault, "text/xml; charset=utf-8"),
        only=("kenter",),
    ),
    Column(
        "promise_never_resolves",
        MeetdataTimeoutError,
        _status(202, b'{"promise": "3f2a9c0d1b7e4a55"}', "application/json"),
        only=("cemm",),
    ),
)

COLUMN_BY_NAME: dict[str, Column] = {column.name: column for column in COLUMNS}
