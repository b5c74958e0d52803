"""The unique id of a Wattworx account: a hash of the client ids its key reaches."""

from __future__ import annotations

import hashlib

#: Hex digits of the SHA-256 of the client ids kept in the unique id.
ACCOUNT_HASH_LENGTH = 16


def account_unique_id(account_id: str) -> str:
    """Return ``wattworx_<hash>`` of the comma-separated client ids of a key.

    The ids are sorted numerically (as ``async_account_id`` does), so the
    same set of clients always gives the same id.
    """
    ids = sorted(set(filter(None, account_id.split(","))), key=lambda i: (len(i), i))
    digest = hashlib.sha256(",".join(ids).encode()).hexdigest()
    return f"wattworx_{digest[:ACCOUNT_HASH_LENGTH]}"
