"""The hardened XML parser the clients share: no DTDs, entities or network."""

from __future__ import annotations

import threading
from typing import Any

from lxml import etree  # type: ignore[import-untyped, unused-ignore]

_local = threading.local()


def hardened_parser() -> Any:
    """Return this thread's hardened parser (lxml parsers are not thread-safe).

    It resolves no entities, loads no DTD, never touches the network, refuses
    huge trees and drops comments and processing instructions.
    """
    parser = getattr(_local, "parser", None)
    if parser is None:
        parser = etree.XMLParser(
            resolve_entities=False,
            no_network=True,
            load_dtd=False,
            dtd_validation=False,
            huge_tree=False,
            remove_comments=True,
            remove_pis=True,
            collect_ids=False,
        )
        _local.parser = parser
    return parser
