"""The providers Meetdata supports, in menu order."""

from __future__ import annotations

from ..api.models import Provider
from .base import ProviderSpec
from .cemm.spec import CemmSpec
from .dtl.spec import DtlSpec
from .fluvius.spec import FluviusSpec
from .kenter.spec import KenterSpec
from .wattworx.spec import WattworxSpec

PROVIDERS: dict[Provider, ProviderSpec] = {
    spec.provider: spec
    for spec in (KenterSpec(), WattworxSpec(), DtlSpec(), FluviusSpec(), CemmSpec())
}


def get_spec(provider: str) -> ProviderSpec:
    """Return the spec of a provider stored in a config entry."""
    return PROVIDERS[provider]
