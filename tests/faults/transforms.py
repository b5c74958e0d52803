"""Rewrite a simulator's real answer into a faulty one, for JSON and XML alike.

Each transform takes the names of a provider's value fields (JSON keys or XML
tags; CEMM's ``[timestamp, value]`` pairs are recognised by shape) and its
record tags (XML elements that repeat). Bodies that are not JSON or XML pass
through unchanged.
"""

from __future__ import annotations

from collections.abc import Callable
import json
import math
from typing import Any

from lxml import etree

type Transform = Callable[[bytes], bytes]

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)
EXTRA_KEY = "x_unexpected_field"
_NON_FINITE = (math.nan, math.inf, -math.inf)


def _is_pair(node: Any) -> bool:
    """Return whether ``node`` looks like CEMM's [epoch ms, value] pair."""
    return (
        isinstance(node, list)
        and len(node) == 2
        and isinstance(node[0], int)
        and not isinstance(node[0], bool)
        and node[0] > 10**11
        and (node[1] is None or isinstance(node[1], int | float))
    )


def _is_records(node: Any) -> bool:
    """Return whether ``node`` is a list of records (objects or pairs)."""
    return (
        isinstance(node, list)
        and bool(node)
        and all(isinstance(item, dict) or _is_pair(item) for item in node)
    )


def _containers(tree: Any) -> list[Any]:
    """Return every dict and non-pair list of a JSON tree (parents first)."""
    found: list[Any] = []
    stack = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            found.append(node)
            stack.extend(v for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list) and not _is_pair(node):
            found.append(node)
            stack.extend(v for v in node if isinstance(v, dict | list))
    return found


def _map_json(
    tree: Any, values: tuple[str, ...], change: Callable[[Any], Any], op: str
) -> Any:
    """Change every value field in place (op: set, drop, rename)."""
    for node in _containers(tree):
        if isinstance(node, list):
            for item in node:
                if _is_pair(item):
                    if op == "drop":
                        del item[1]
                    elif op == "rename":
                        item[1] = str(item[1])
                    else:
                        item[1] = change(item[1])
            continue
        for key in [k for k in node if k in values]:
            if isinstance(node[key], dict | list):
                continue
            if op == "drop":
                del node[key]
            elif op == "rename":
                node[f"{key}_v2"] = node.pop(key)
            else:
                node[key] = change(node[key])
    if _is_pair(tree):
        return _map_json([tree], values, change, op)[0]
    return tree


def _json_or_xml(
    body: bytes,
    on_json: Callable[[Any], Any],
    on_xml: Callable[[Any], None],
) -> bytes:
    """Apply ``on_json`` to a JSON body or ``on_xml`` to an XML tree."""
    text = body.strip()
    if text[:1] in (b"{", b"["):
        changed = on_json(json.loads(text))
        return json.dumps(changed, allow_nan=True).encode()
    if text[:1] == b"<":
        root = etree.fromstring(text, parser=_PARSER)
        on_xml(root)
        return bytes(etree.tostring(root, xml_declaration=True, encoding="utf-8"))
    return body


def _xml_values(root: Any, values: tuple[str, ...]) -> list[Any]:
    return [
        el
        for el in root.iter()
        if isinstance(el.tag, str) and etree.QName(el).localname in values
    ]


def _negate(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return -value if value else -1.5
    if isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return value
        return str(-number if number else -1.5)
    return value


def values_set(values: tuple[str, ...], change: Callable[[Any], Any]) -> Transform:
    """Return a transform applying ``change`` to every value field."""

    def _apply(body: bytes) -> bytes:
        def on_xml(root: Any) -> None:
            for el in _xml_values(root, values):
                new = change(el.text)
                el.text = None if new is None else str(new)

        return _json_or_xml(
            body, lambda tree: _map_json(tree, values, change, "set"), on_xml
        )

    return _apply


def negative(values: tuple[str, ...]) -> Transform:
    """Every value negated (zero becomes -1.5)."""
    return values_set(values, _negate)


def null(values: tuple[str, ...]) -> Transform:
    """Every value null (JSON null; an empty XML element)."""
    return values_set(values, lambda _value: None)


def non_finite(values: tuple[str, ...]) -> Transform:
    """Values become NaN, Infinity and -Infinity in turn."""
    counter = iter(range(10**9))

    def change(value: Any) -> Any:
        special = _NON_FINITE[next(counter) % 3]
        if isinstance(value, str) or value is None:
            return {math.inf: "INF", -math.inf: "-INF"}.get(special, "NaN")
        return special

    return values_set(values, change)


def missing(values: tuple[str, ...]) -> Transform:
    """Every value field removed."""

    def _apply(body: bytes) -> bytes:
        def on_xml(root: Any) -> None:
            for el in _xml_values(root, values):
                parent = el.getparent()
                if parent is not None:
                    parent.remove(el)

        return _json_or_xml(
            body, lambda tree: _map_json(tree, values, _same, "drop"), on_xml
        )

    return _apply


def renamed(values: tuple[str, ...]) -> Transform:
    """Every value field renamed (``value`` → ``value_v2``)."""

    def _apply(body: bytes) -> bytes:
        def on_xml(root: Any) -> None:
            for el in _xml_values(root, values):
                qname = etree.QName(el)
                el.tag = etree.QName(qname.namespace, f"{qname.localname}V2").text

        return _json_or_xml(
            body, lambda tree: _map_json(tree, values, _same, "rename"), on_xml
        )

    return _apply


def _same(value: Any) -> Any:
    return value


def extra() -> Transform:
    """An unknown field added to every object / record element."""

    def on_json(tree: Any) -> Any:
        for node in _containers(tree):
            if isinstance(node, dict):
                node[EXTRA_KEY] = ["surprise", 1, None]
        return tree

    def on_xml(root: Any) -> None:
        for el in list(root.iter()):
            if isinstance(el.tag, str) and len(el) and el is not root:
                qname = etree.QName(el)
                if qname.localname in ("Envelope", "Body"):
                    continue
                child = etree.SubElement(el, "unexpectedField")
                child.text = "surprise"

    return lambda body: _json_or_xml(body, on_json, on_xml)


def _records(
    records: tuple[str, ...], op: Callable[[list[Any]], list[Any]]
) -> Transform:
    def on_json(tree: Any) -> Any:
        for node in _containers(tree):
            if isinstance(node, list) and _is_records(node):
                node[:] = op(node)
        return tree

    def on_xml(root: Any) -> None:
        for parent in list(root.iter()):
            if not isinstance(parent.tag, str):
                continue
            kids = [
                el
                for el in parent
                if isinstance(el.tag, str) and etree.QName(el).localname in records
            ]
            if not kids:
                continue
            first = parent.index(kids[0])
            for el in kids:
                parent.remove(el)
            for offset, el in enumerate(op(kids)):
                parent.insert(first + offset, el)

    return lambda body: _json_or_xml(body, on_json, on_xml)


def duplicated(records: tuple[str, ...]) -> Transform:
    """Every record twice in a row (same timestamp, same value)."""

    def op(items: list[Any]) -> list[Any]:
        out: list[Any] = []
        for item in items:
            copy = etree.fromstring(etree.tostring(item)) if _is_element(item) else item
            out += [item, copy]
        return out

    return _records(records, op)


def reversed_order(records: tuple[str, ...]) -> Transform:
    """Every list of records in reverse order."""
    return _records(records, lambda items: items[::-1])


def _is_element(item: Any) -> bool:
    return isinstance(item, etree._Element)
