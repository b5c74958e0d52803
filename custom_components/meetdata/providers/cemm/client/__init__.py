"""The CEMM Open API client (no Home Assistant imports)."""

from .client import CemmClient
from .parse import (
    ALIASES,
    DEFAULT_BASE_URL,
    CemmIo,
    CemmMeasurement,
    CemmSeries,
    CemmValues,
)

__all__ = [
    "ALIASES",
    "DEFAULT_BASE_URL",
    "CemmClient",
    "CemmIo",
    "CemmMeasurement",
    "CemmSeries",
    "CemmValues",
]
