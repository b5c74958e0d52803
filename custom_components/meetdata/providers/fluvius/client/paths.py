"""Every URL and resource path of the Fluvius API, in one place.

The professional-user document gives the base URLs (its Swagger links) and the
Azure AD token flow, but not the resource paths. These follow Fluvius' sibling
ESCO (energy service company) API: ``/api/mandate``, ``/api/mandate/energy`` and
``/api/mandate/mock``, with responses wrapped as ``{"_meta": ..., "data": ...}``.

TO CONFIRM against the Swagger page of each environment
(``<base>/swagger/index.html``) before relying on the live API: the three
paths below, the query parameter names and the subscription-key header name.
"""

from __future__ import annotations

from typing import Final

SANDBOX: Final = "sandbox"
LIVE: Final = "live"

BASE_URLS: Final[dict[str, str]] = {
    SANDBOX: "https://api.fluvius.be/ext/mijnfluvius-profnetgebruiker-sbx/v1/",
    LIVE: "https://api.fluvius.be/ext/mijnfluvius-profnetgebruiker/v1/",
}

TOKEN_URL_TEMPLATE: Final = (
    "https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token"  # noqa: S105
)

# Resource paths, relative to the base URL (to confirm against Swagger).
MANDATE_PATH: Final = "api/mandate"
ENERGY_PATH: Final = "api/mandate/energy"
MOCK_MANDATE_PATH: Final = "api/mandate/mock"

# Azure API Management's subscription key header.
SUBSCRIPTION_KEY_HEADER: Final = "Ocp-Apim-Subscription-Key"


def token_url(tenant_id: str) -> str:
    """Return the Azure AD v2.0 token endpoint of a tenant."""
    return TOKEN_URL_TEMPLATE.format(tenant_id=tenant_id)


def normalize_base_url(base_url: str) -> str:
    """Return ``base_url`` with exactly one trailing slash."""
    return base_url.rstrip("/") + "/"


def api_url(base_url: str, path: str) -> str:
    """Join a normalized base URL and a relative resource path."""
    return base_url + path.lstrip("/")
