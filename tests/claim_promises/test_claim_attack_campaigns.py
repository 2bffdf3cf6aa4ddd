"""Jobs of several campaigns in one batch (SendQueue is shared): a claim belongs to its
campaign, ``p#<phone>`` under the campaign's partition (contract §2: at most one SMS per phone
*per campaign id*; §6: every recipient ends with exactly one outcome)."""

from __future__ import annotations

from stopsms.reporting import report
from tests.claim_promises.conftest import A, Attack, B, by_key, publish, reconciles


def test_claim_attack_two_campaigns_same_phone_same_seq_one_redelivered(attack: Attack) -> None:
    # Promise 1/2: campaign one's job is delivered again (sent before) in the same batch as
    # campaign two's first job to the same phone: two's SMS goes out, once, and is recorded.
    one = publish(attack, "camp-1", [A])
    assert attack.feed(one) == []
    two = publish(attack, "camp-2", [A])
    assert attack.feed([*one, *two]) == []
    assert attack.sent_to("camp-1") == [A]
    assert attack.sent_to("camp-2") == [A]
    assert by_key("camp-2") == {f"p#{A}": ("sent", None, 0)}
    shown = report("camp-2")
    assert (shown["sent"], shown["pending"], shown["status"]) == (1, 0, "done")


def test_claim_attack_two_campaigns_same_phone_other_seq_one_redelivered(
    attack: Attack,
) -> None:
    # Promise 2: campaign two's recipient at seq 1 is no duplicate of campaign one's seq 0.
    one = publish(attack, "camp-3", [A])
    assert attack.feed(one) == []
    two = publish(attack, "camp-4", [B, A])
    assert attack.feed([*one, *two]) == []
    assert sorted(attack.sent_to("camp-4")) == [A, B]
    shown = report("camp-4")
    assert (shown["audience"], shown["sent"], shown["pending"]) == (2, 2, 0)
    assert shown["suppressed"]["duplicate"] == 0
    assert reconciles(shown)


def test_claim_attack_two_campaigns_same_phone_both_fresh(attack: Attack) -> None:
    # Promise 1 (per campaign id): each campaign reaches the phone once, neither blocks the
    # other, and a full redelivery of both changes nothing.
    one = publish(attack, "camp-5", [A, B])
    two = publish(attack, "camp-6", [B, A])
    assert attack.feed([*one, *two]) == []
    assert attack.feed([*two, *one]) == []
    assert sorted(attack.sent_to("camp-5")) == [A, B]
    assert sorted(attack.sent_to("camp-6")) == [A, B]
    for cid in ("camp-5", "camp-6"):
        shown = report(cid)
        assert (shown["audience"], shown["sent"], shown["pending"]) == (2, 2, 0)
