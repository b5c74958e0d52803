"""The pure parts of the Fluvius integration: mandate issues, day amounts, forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from homeassistant.exceptions import ConfigEntryAuthFailed
from homeassistant.helpers.update_coordinator import UpdateFailed

from custom_components.meetdata.api.errors import (
    MeetdataAuthError,
    MeetdataConnectionError,
)
from custom_components.meetdata.api.models import Interval, Quality, Quantity
from custom_components.meetdata.errors import ha_error as update_error
from custom_components.meetdata.providers.fluvius.client import (
    DataServiceType,
    Mandate,
    MandateStatus,
    RenewalStatus,
)
from custom_components.meetdata.providers.fluvius.insights import (
    _Store,
    day_amount,
    meter_insights,
    month_start,
)
from custom_components.meetdata.providers.fluvius.mandates import (
    ISSUE_FINISHED,
    ISSUE_REQUESTED,
    approved_periods,
    data_period_end,
    mandate_issues,
    no_mandate_issues,
)
from custom_components.meetdata.providers.fluvius.spec import FluviusSpec

EAN = "541440110000000001"
OTHER = "541440000000000009"
DAILY = DataServiceType.DAILY
FINE = DataServiceType.QUARTER_HOURLY


def utc(*args: int) -> datetime:
    """Return a UTC datetime."""
    return datetime(*args, tzinfo=UTC)


def test_mandate_issues_keys_and_replacements() -> None:
    """Keys are EAN and level, else reference, else a digest; renewed ends are quiet."""
    mandates = [
        Mandate(MandateStatus.REQUESTED, reference_number="REF-9"),
        Mandate(MandateStatus.REQUESTED, data_service_type=DAILY),
        Mandate(MandateStatus.FINISHED, ean=EAN, data_service_type=FINE),
        Mandate(MandateStatus.APPROVED, ean=EAN, data_service_type=FINE),
        Mandate(
            MandateStatus.FINISHED,
            ean=OTHER,
            data_service_type=DAILY,
            data_period_to=utc(2026, 2, 1, 23),
        ),
        Mandate(
            MandateStatus.APPROVED,
            ean=OTHER,
            renewal_status=RenewalStatus.RENEWAL_REQUESTED,
        ),
        Mandate(None, ean=OTHER),
    ]
    issues = mandate_issues(mandates, lambda ean: True)
    assert [(i.kind, i.key) for i in issues[:2]] == [
        (ISSUE_REQUESTED, "ref-9"),
        (ISSUE_REQUESTED, issues[1].key),
    ]
    assert len(issues[1].key) == 12
    assert issues[0].placeholders["ean"] == "REF-9"
    assert [(i.kind, i.key) for i in issues[2:]] == [
        (ISSUE_FINISHED, f"{OTHER}_vh_dag")
    ]
    assert issues[2].placeholders["end"] == "2026-02-02"
    assert mandate_issues(mandates, lambda ean: ean != OTHER)[2:] == []


def test_no_mandate_and_periods() -> None:
    """Submeters are covered by their headpoint; periods end where all mandates end."""
    mandates = [
        Mandate(
            MandateStatus.APPROVED,
            ean=EAN,
            data_service_type=FINE,
            data_period_from=utc(2025, 1, 1),
            data_period_to=utc(2026, 1, 1),
        ),
        Mandate(
            MandateStatus.APPROVED,
            ean=EAN,
            data_service_type=DAILY,
            data_period_to=utc(2026, 3, 1),
        ),
        Mandate(MandateStatus.FINISHED, ean=OTHER, expiration=utc(2026, 5, 1)),
        Mandate(MandateStatus.FINISHED, ean=OTHER),
    ]
    issues = no_mandate_issues(
        [EAN, "sub", OTHER, "gone"], mandates, {"sub": EAN, "gone": "?"}
    )
    assert [i.key for i in issues] == [OTHER, "gone"]
    assert issues[1].placeholders == {"ean": "gone", "start": "—", "end": "—"}
    assert data_period_end(mandates, EAN) == utc(2026, 3, 1)
    assert data_period_end(mandates, OTHER) is None
    assert approved_periods(mandates)[EAN] == (
        ("VH_dag", "", "2026-03-01T00:00:00+00:00"),
        ("VH_kwartier_uur", "2025-01-01T00:00:00+00:00", "2026-01-01T00:00:00+00:00"),
    )


def test_update_errors() -> None:
    """A refused secret asks to reauthenticate; anything else is a failed update."""
    assert isinstance(update_error(MeetdataAuthError("x")), ConfigEntryAuthFailed)
    failed = update_error(MeetdataConnectionError("down"))
    assert isinstance(failed, UpdateFailed)
    assert failed.translation_key == "cannot_connect"


def test_day_amounts_and_pruning() -> None:
    """Yesterday from quarters, else from the daily value; old intervals go."""
    now = utc(2026, 3, 30, 12)  # Brussels: yesterday 2026-03-29 had 23 hours
    yesterday, today = utc(2026, 3, 28, 23), utc(2026, 3, 29, 22)
    store = _Store()
    store.add(
        Quantity.ENERGY_EXPORT,
        [Interval(yesterday, today, 12.5, Quality.ESTIMATED)],
    )
    quarter = timedelta(minutes=15)
    store.add(
        Quantity.ENERGY_IMPORT,
        [
            Interval(yesterday + i * quarter, yesterday + (i + 1) * quarter, 0.25)
            for i in range(92)
        ],
    )
    imported = day_amount(store, Quantity.ENERGY_IMPORT, now)
    assert imported is not None
    assert (imported.value, imported.complete, imported.intervals) == (23.0, True, 92)
    exported = day_amount(store, Quantity.ENERGY_EXPORT, now)
    assert exported is not None
    assert (exported.value, exported.complete, exported.estimated) == (12.5, False, 1)
    assert day_amount(store, Quantity.ENERGY_IMPORT, now + timedelta(days=2)) is None
    insights = meter_insights(store, now)
    assert insights.peaks[Quantity.CAPACITY_PEAK].value == 1.0
    assert insights.peaks[Quantity.CAPACITY_PEAK_LAST_MONTH].value is None
    store.prune(yesterday + quarter)
    assert len(store.fine[Quantity.ENERGY_IMPORT]) == 91
    assert store.daily[Quantity.ENERGY_EXPORT] == {}
    assert month_start(utc(2026, 1, 15), 1) == utc(2025, 11, 30, 23)


def test_form_url_checks() -> None:
    """Only absolute http(s) URLs without credentials pass."""
    spec = FluviusSpec()
    base = {"tenant_id": "t", "client_id": "c", "scope": "s"}
    for url, ok in (
        ("https://example.org/x", True),
        ("http://[::1", False),
        ("https://user@example.org", False),
        ("mailto:a@b", False),
    ):
        errors = spec.check_input(base | {"token_url": url})
        assert ("token_url" not in errors) is ok, url
