"""Duplicated, reordered and malformed control messages, the ``cancel`` command with odd
ids, and the logs of the cancel path (contract §2 "Cancellation", "Operator commands")."""

from __future__ import annotations

import json
import re
from typing import Any
from unittest import mock

import pytest

from stopsms.cli import main
from stopsms.dal import campaigns
from stopsms.reporting import report
from tests.cancel_promises.conftest import PHONES, Attack, reconciles, records
from tests.handlers.conftest import LambdaContext, failed_ids, sqs_record


def _request(campaign_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "campaign_id": campaign_id,
        "category": "transactional",
        "body": "Votre colis arrive demain.",
        "recipients": PHONES,
        **fields,
    }


def _cancel(campaign_id: Any) -> dict[str, Any]:
    return {"action": "cancel", "campaign_id": campaign_id}


# --- duplicated and reordered ------------------------------------------------------------------


def test_cancel_twice_keeps_the_first_time_and_changes_nothing(attack: Attack) -> None:
    # Promise: "A repeated cancellation changes nothing; it cannot be undone."
    assert attack.request("dup-1") == []
    assert attack.cancel("dup-1") == []
    first = campaigns.get("dup-1")
    assert first is not None
    assert attack.cancel("dup-1") == []
    again = campaigns.get("dup-1")
    assert again is not None
    assert (again.status, again.cancelled_at) == ("cancelled", first.cancelled_at)
    attack.send()
    assert attack.sent_to("dup-1") == []
    assert records("dup-1") == {"cancelled": 15}
    assert reconciles(report("dup-1"))


def test_a_redelivered_request_after_the_cancel_does_not_restart_it(attack: Attack) -> None:
    # Promise: publishing an accepted campaign again never sends; once cancelled, the same
    # request redelivered is no error and sends nothing; another body under the id is refused.
    assert attack.request("dup-2") == []
    attack.waiting("SendQueue")  # its jobs were lost (expired): only the redelivery remains
    assert attack.cancel("dup-2") == []
    assert attack.request("dup-2") == []
    assert len(attack.request("dup-2", body="Autre texte")) == 1
    attack.send()
    assert attack.sent_to("dup-2") == []
    shown = report("dup-2")
    assert (shown["status"], shown["audience"], shown["cancelled"]) == ("cancelled", 15, 15)
    assert reconciles(shown)


def test_cancel_before_then_two_different_requests_keeps_the_first_refuses_the_second(
    attack: Attack,
) -> None:
    # Promise: a cancellation that arrives before its campaign makes it cancelled when it
    # arrives (its request kept); another request under that id is refused (DLQ).
    assert attack.cancel("dup-3") == []
    assert attack.cancel("dup-3") == []
    assert attack.request("dup-3", recipients=PHONES[:4]) == []
    assert attack.request("dup-3", recipients=PHONES[:4]) == []
    assert len(attack.request("dup-3", recipients=PHONES)) == 1
    attack.send()
    assert attack.sent_to("dup-3") == []
    item = campaigns.get("dup-3")
    assert item is not None
    assert item.request["recipients"] == PHONES[:4]
    shown = report("dup-3")
    assert (shown["status"], shown["audience"], shown["cancelled"]) == ("cancelled", 4, 4)
    assert reconciles(shown)


def test_two_different_requests_racing_onto_an_id_cancelled_before_them(attack: Attack) -> None:
    # Promise: "publishing another request under an accepted campaign's id is refused" (DLQ):
    # the publisher of the second one must hear it is never sent, whatever the interleaving.
    assert attack.cancel("dup-4") == []
    before = campaigns.get("dup-4")  # what both deliveries read: cancelled, no request yet
    real_get = campaigns.get
    with mock.patch.object(campaigns, "get", side_effect=[before, before]):
        assert attack.campaign_message(_request("dup-4", recipients=PHONES[:4])) == []
        refused = attack.campaign_message(_request("dup-4", body="Une tout autre campagne"))
    assert real_get("dup-4").request["recipients"] == PHONES[:4]  # type: ignore[union-attr]
    assert len(refused) == 1


# --- malformed ---------------------------------------------------------------------------------

MALFORMED = [
    pytest.param({"action": "cancel", "campaign_id": "victim", "reason": "oops"}, id="extra"),
    pytest.param({"action": "CANCEL", "campaign_id": "victim"}, id="upper-action"),
    pytest.param({"action": "cancel ", "campaign_id": "victim"}, id="action-blank"),
    pytest.param({"action": "delete", "campaign_id": "victim"}, id="other-action"),
    pytest.param({"action": None, "campaign_id": "victim"}, id="null-action"),
    pytest.param({"action": "cancel"}, id="no-id"),
    pytest.param({"action": "cancel", "campaign_id": ""}, id="empty-id"),
    pytest.param({"action": "cancel", "campaign_id": "victim "}, id="id-blank"),
    pytest.param({"action": "cancel", "campaign_id": "victim\n"}, id="id-newline"),
    pytest.param({"action": "cancel", "campaign_id": "victím"}, id="id-accent"),
    pytest.param({"action": "cancel", "campaign_id": "victim\uff11"}, id="id-fullwidth"),
    pytest.param({"action": "cancel", "campaign_id": "a" * 65}, id="id-65"),
    pytest.param({"action": "cancel", "campaign_id": 123}, id="id-int"),
    pytest.param({"action": "cancel", "campaign_id": ["victim"]}, id="id-list"),
    pytest.param({"action": "cancel", "campaign_id": "job#victim#0000000001"}, id="id-parked"),
    pytest.param({"action": "cancel", "campaign_id": "victim", "recipients": PHONES}, id="recips"),
    pytest.param({**_request("victim"), "action": "cancel"}, id="whole-request"),
    pytest.param([_cancel("victim")], id="json-list"),
    pytest.param('{"action": "cancel", "campaign_id": "victim"', id="bad-json"),
    pytest.param({"cancel": {"campaign_id": "victim"}}, id="nested"),
]


@pytest.mark.parametrize("body", MALFORMED)
def test_a_malformed_cancel_is_refused_alone_and_cancels_nothing(
    attack: Attack, body: Any, caplog: pytest.LogCaptureFixture
) -> None:
    # Promise: a malformed message is refused alone (batch item failure, DLQ), records
    # nothing, and cancels no campaign; the good message of its batch is applied; the
    # refusal's log names no phone number.
    assert attack.request("victim") == []
    caplog.clear()
    bad = sqs_record(body, "CampaignQueue")
    good = sqs_record(_cancel("other-1"), "CampaignQueue")
    handled = attack.campaign_fn.lambda_handler({"Records": [bad, good]}, LambdaContext())
    assert failed_ids(handled) == [bad["messageId"]]
    logged = [str(vars(record)) for record in caplog.records]
    assert any("campaign refused" in line for line in logged)
    assert not any(re.search(r"612340\d\d", line) for line in logged)
    assert campaigns.get("other-1").status == "cancelled"  # type: ignore[union-attr]
    victim = campaigns.get("victim")
    assert victim is not None
    assert victim.status == "queued"
    attack.send()
    assert len(attack.sent_to("victim")) == 15
    assert report("victim")["status"] == "done"
    for other in ("a" * 65, "victim\uff11"):
        assert campaigns.get(other) is None


def test_campaign_ids_are_case_sensitive_for_a_cancel(attack: Attack) -> None:
    # Promise: a cancel stops the campaign it names and no other: "VICTIM" is not "victim".
    assert attack.request("victim") == []
    assert attack.cancel("VICTIM") == []
    attack.send()
    assert len(attack.sent_to("victim")) == 15
    assert report("victim")["status"] == "done"
    assert report("VICTIM")["status"] == "cancelled"


# --- the operator command ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "odd",
    [
        "colis\n",
        "",
        " colis",
        "a" * 65,
        "colis/1",
        "../colis",
        "colis;rm",
        "colis\uff11",
        "c\u200bo",
    ],
)
def test_the_cancel_command_refuses_an_odd_id_and_records_nothing(
    attack: Attack, odd: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Promise: the command records a cancellation of a campaign id, and only of one.
    assert main(["cancel", odd]) == 2
    assert "is not a campaign id" in capsys.readouterr().err
    for candidate in {odd, odd.strip()} - {""}:
        assert campaigns.get(candidate) is None


@pytest.mark.parametrize("odd", ["-promo", "--promo", ".", "..", "_", "a" * 64])
def test_the_cancel_command_takes_every_valid_id(
    attack: Attack, odd: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # Promise: any id of the contract's pattern [A-Za-z0-9._-]{1,64} can be cancelled from
    # the command line (an id starting with "-" after "--", as for any Unix command).
    assert attack.request(odd) == []
    capsys.readouterr()
    assert main(["cancel", "--", odd]) == 0
    out = capsys.readouterr().out
    assert f"{odd} cancelled" in out
    attack.send()
    assert attack.sent_to(odd) == []
    shown = report(odd)
    assert (shown["status"], shown["cancelled"]) == ("cancelled", 15)
    assert reconciles(shown)


def test_the_cancel_command_without_dashes_never_cancels_another_id(
    attack: Attack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Promise: the command cancels the id given; "-promo" read as an option is an error, not
    # a cancellation of something else.
    assert attack.request("promo") == []
    with pytest.raises(SystemExit) as exit_:
        main(["cancel", "-promo"])
    assert exit_.value.code == 2
    assert campaigns.get("-promo") is None
    assert campaigns.get("promo").status == "queued"  # type: ignore[union-attr]


def test_the_cancel_command_twice_and_its_report(
    attack: Attack, capsys: pytest.CaptureFixture[str]
) -> None:
    # Promise: recorded at once; repeating changes nothing; its output names no number.
    assert attack.request("cli-1", recipients=[*PHONES[:13], "06 12 34 00 00", "+3361"]) == []
    capsys.readouterr()
    assert main(["cancel", "cli-1"]) == 0
    first = campaigns.get("cli-1").cancelled_at  # type: ignore[union-attr]
    assert main(["cancel", "cli-1"]) == 0
    assert campaigns.get("cli-1").cancelled_at == first  # type: ignore[union-attr]
    attack.send()
    assert main(["report", "cli-1", "--json"]) == 0
    out = capsys.readouterr().out
    assert not re.search(r"612340\d\d\d|06 12 34|\+3361\b", out)
    shown = json.loads(out.splitlines()[-1])
    assert shown["status"] == "cancelled"
    assert shown["suppressed"]["invalid_number"] == 1
    assert (shown["cancelled"], shown["audience"]) == (14, 15)
    assert reconciles(shown)


# --- logs --------------------------------------------------------------------------------------


def test_no_phone_number_in_any_log_line_of_the_cancel_path(
    attack: Attack, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Promise (log masking): no phone number appears in a log line, along the whole cancel
    # path: request, cancel (twice, before and after), refused body, jobs of the cancelled
    # campaign, invalid and duplicate numbers, the command and the report.
    recipients: list[Any] = [
        *PHONES[:10],
        "06 12 34 00 01",  # a duplicate of PHONES[1], written nationally
        {"phone": "+33 6 12 34 00 02", "vars": {}},
        "+3361234",  # too short: invalid
        "0612340099 ",
        "+336123400",
    ]
    capsys.readouterr()
    assert attack.cancel("log-0") == []
    assert attack.request("log-0", recipients=recipients) == []
    assert attack.request("log-1", recipients=recipients) == []
    attack.send(batches=1)
    assert attack.cancel("log-1") == []
    assert len(attack.request("log-1", recipients=recipients[:3])) == 1
    attack.send()
    assert main(["cancel", "log-1"]) == 0
    assert main(["report", "log-1"]) == 0
    captured = capsys.readouterr()
    logged = [json.dumps({k: str(v) for k, v in vars(record).items()}) for record in caplog.records]
    text = "\n".join([captured.out, captured.err, *logged])
    assert "campaign cancelled" in text  # the cancel path was logged
    assert any("'log-1'" in line or '"log-1"' in line for line in logged)  # with its fields
    digits = re.sub(r"[\s.\-]", "", text)
    for phone in [*PHONES, "+33612340099", "+336123400", "+3361234"]:
        national = "0" + phone[3:]
        assert phone not in digits, phone
        assert phone[1:] not in digits, phone
        assert national not in digits, phone
    for line in logged:
        assert not re.search(r"612340\d\d", line), line
    for name in ("log-0", "log-1"):
        shown = report(name)
        assert shown["status"] == "cancelled"
        assert reconciles(shown)
