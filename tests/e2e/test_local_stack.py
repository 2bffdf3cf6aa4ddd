"""End to end on the local stack: real JSON published with boto3 to the template's queue and
topic over HTTP, every function fed as Lambda would, assertions on the outbox and tables."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from stopsms.dal import contacts, evidence
from stopsms.emulator.stack import EmulatedStack
from stopsms.reporting import report
from tests.e2e.conftest import publish

pytestmark = pytest.mark.e2e

CONSENTED = [f"+3361100000{n}" for n in range(6)]
NEVER_ASKED = "+33622000000"


def test_consent_campaign_stop_and_second_campaign(stack: EmulatedStack) -> None:
    captured = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    # Given opt-ins for six people, and a malformed record beside them
    publish(
        stack,
        "ConsentQueue",
        *[
            {
                "action": "opt_in",
                "phone": p,
                "brand": "acme",
                "source": "web-form",
                "captured_at": captured,
                "proof": {"ip": "203.0.113.7"},
            }
            for p in CONSENTED
        ],
        "{broken",
    )
    stack.pump()
    # When a marketing campaign goes to them, one number twice and one never asked
    publish(
        stack,
        "CampaignQueue",
        {
            "campaign_id": "e2e-1",
            "category": "marketing",
            "brand": "acme",
            "body": "Soldes d’hiver chez Acme !",
            "stop_number": "36111",
            "recipients": [*CONSENTED, "06 11 00 00 00", NEVER_ASKED, "12"],
        },
    )
    stack.pump()
    # Then each consented person got exactly one SMS with the mention
    sent = [m for m in stack.sms.outbox if m.get("Context", {}).get("campaign_id") == "e2e-1"]
    assert sorted(m["DestinationPhoneNumber"] for m in sent) == CONSENTED
    assert all(m["MessageBody"] == "Soldes d'hiver chez Acme ! STOP au 36111" for m in sent)
    assert report("e2e-1")["suppressed"] == {
        "opted_out": 0,
        "no_consent": 1,
        "invalid_number": 1,
        "duplicate": 1,
    }
    # When two of them reply STOP
    stack.reply(CONSENTED[0], "Stop merci")
    stack.reply(CONSENTED[1], "ARRÊT")
    stack.pump()
    assert report("e2e-1")["opt_outs"] == 2
    assert contacts.lookup([CONSENTED[0]], "acme")[CONSENTED[0]][0].status == "opted_out"  # type: ignore[union-attr]
    assert any(e.kind == "opt_out" for e in evidence.history(CONSENTED[1]))
    # Then a second campaign no longer reaches them, but a transactional message does
    publish(
        stack,
        "CampaignQueue",
        {
            "campaign_id": "e2e-2",
            "category": "marketing",
            "brand": "acme",
            "body": "Dernier jour !",
            "recipients": CONSENTED,
        },
        {
            "campaign_id": "e2e-otp",
            "category": "transactional",
            "body": "Code 123456",
            "recipients": [CONSENTED[0]],
        },
    )
    stack.pump()
    second = {
        m["DestinationPhoneNumber"]
        for m in stack.sms.outbox
        if m.get("Context", {}).get("campaign_id") == "e2e-2"
    }
    assert second == set(CONSENTED[2:])
    assert report("e2e-2")["suppressed"]["opted_out"] == 2
    otp = [m for m in stack.sms.outbox if m.get("Context", {}).get("campaign_id") == "e2e-otp"]
    assert [(m["MessageBody"], m["MessageType"]) for m in otp] == [("Code 123456", "TRANSACTIONAL")]
    # And the malformed consent record ended in the DLQ, nothing else did
    dead = stack.dead_letters()
    assert dead["ConsentDLQ"] == 1
    assert dead["CampaignDLQ"] == dead["SendDLQ"] == 0
