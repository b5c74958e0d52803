"""Fluvius entry data keys."""

CONF_ENVIRONMENT = "environment"
CONF_TENANT_ID = "tenant_id"
CONF_SCOPE = "scope"
CONF_SUBSCRIPTION_KEY = "subscription_key"
CONF_TOKEN_URL = "token_url"  # noqa: S105
