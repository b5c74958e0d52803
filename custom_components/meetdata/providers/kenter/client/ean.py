"""EAN-code helpers (pure functions, no I/O)."""

from __future__ import annotations

EAN_LENGTH = 18


def is_valid_ean_format(value: str) -> bool:
    """Return True if ``value`` is exactly 18 ASCII digits (an EAN-18 code)."""
    return len(value) == EAN_LENGTH and value.isascii() and value.isdigit()


def gs1_check_digit_ok(value: str) -> bool:
    """Return True if the last digit is the GS1 mod-10 check digit of the rest.

    Not a gate: Kenter's own example EAN-code 876600504607071300 fails it. Used
    only to hint that a code the API rejected is probably mistyped.
    """
    if not value.isascii() or not value.isdigit() or len(value) < 2:
        return False
    total = 0
    # Weights 3, 1, 3, ... from the digit left of the check digit leftwards.
    for position, char in enumerate(reversed(value[:-1])):
        total += int(char) * (3 if position % 2 == 0 else 1)
    return (10 - total % 10) % 10 == int(value[-1])
