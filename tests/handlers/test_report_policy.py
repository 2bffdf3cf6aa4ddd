"""The report's compliance facts are the rules a campaign was decided under (contract §6): the
consent policy, sending window and retention in force when the campaign function recorded it,
not those of the deployment later, nor of the operator's machine."""

from __future__ import annotations

from collections.abc import Iterator
from unittest import mock

import pytest

from stopsms import clock
from stopsms.dal import campaigns
from stopsms.emulator.template import Stack
from stopsms.reporting import report
from stopsms.settings import get_settings
from tests.handlers.sms import FakeSms
from tests.handlers.test_stop_scope import MONDAY_10H_PARIS, Pipeline

SPEC = "Mon-Fri 09:00-19:00"


@pytest.fixture
def pipe(aws: Stack, fake: FakeSms, monkeypatch: pytest.MonkeyPatch) -> Iterator[Pipeline]:
    monkeypatch.setenv("STOPSMS_CONSENT_POLICY", "record")
    monkeypatch.setenv("STOPSMS_SENDING_WINDOW", SPEC)
    monkeypatch.setenv("STOPSMS_RETENTION_DAYS", "730")
    get_settings.cache_clear()
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        yield Pipeline(aws, fake)


def test_the_rules_recorded_with_the_campaign_are_reported(
    pipe: Pipeline, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert pipe.publish(campaign_id="soldes", brand="acme") == []
    # The deployment changes afterwards (or the operator's settings differ): the report does not.
    monkeypatch.setenv("STOPSMS_CONSENT_POLICY", "enforce")
    monkeypatch.delenv("STOPSMS_SENDING_WINDOW")
    monkeypatch.setenv("STOPSMS_RETENTION_DAYS", "1095")
    get_settings.cache_clear()
    facts = report("soldes")["compliance"]
    assert facts["consent_policy"] == "record"
    assert facts["sending_window"] == SPEC
    assert facts["retention_days"] == 730
    assert facts["holidays_country"] == "FR"
    assert facts["policy_recorded"] is True


def test_a_campaign_recorded_without_its_rules_says_so(pipe: Pipeline) -> None:
    """An earlier release's campaign (no rules recorded): the deployment's, flagged."""
    campaigns.create("ancienne", {"campaign_id": "ancienne", "category": "marketing"}, "queued")
    facts = report("ancienne")["compliance"]
    assert facts["policy_recorded"] is False
    assert facts["consent_policy"] == "record"  # this process's settings
    assert facts["retention_days"] == 730
