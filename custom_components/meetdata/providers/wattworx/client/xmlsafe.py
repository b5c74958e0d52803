"""Wattworx XML bodies: parsed hardened (no DOCTYPE, entities or network), read."""

from __future__ import annotations

from typing import Any

from lxml import etree  # type: ignore[import-untyped, unused-ignore]

from ....api.errors import MeetdataResponseError
from ....api.xml import hardened_parser

type Element = Any
"""An lxml element (lxml ships without type information)."""

_FORBIDDEN = (b"<!DOCTYPE", b"<!ENTITY")


def parse_xml(body: bytes) -> Element:
    """Parse a response body; refuse DOCTYPEs, entities and malformed XML."""
    if not body.strip():
        raise MeetdataResponseError("Empty response from Wattworx")
    upper = body.upper()
    if any(marker in upper for marker in _FORBIDDEN):
        raise MeetdataResponseError("Wattworx response with a DOCTYPE refused")
    try:
        root = etree.fromstring(body, hardened_parser())  # noqa: S320 - hardened parser
    except (etree.LxmlError, ValueError) as err:
        raise MeetdataResponseError(
            f"Malformed XML from Wattworx: {type(err).__name__}"
        ) from None
    if root.getroottree().docinfo.doctype:
        raise MeetdataResponseError("Wattworx response with a DOCTYPE refused")
    return root


def child_text(element: Element, tag: str) -> str | None:
    """Return the stripped text of a direct child, None when absent or empty."""
    child = element.find(tag)
    if child is None or child.text is None:
        return None
    return str(child.text).strip() or None


def rows(root: Element, tag: str) -> list[Element]:
    """Return the records called ``tag``: the root itself or its children.

    The document shows single records; lists come wrapped in any root element
    (``<devices>``, ``<daydetails>``, ...), so the wrapper's name is not checked.
    """
    if root.tag == tag:
        return [root]
    return list(root.findall(tag))
