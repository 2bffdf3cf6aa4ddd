"""Two sender invocations working at once (SQS gives each its own batch): one runs whole while
the other is between its batched read, its claims and its send. Contract §2: at most one SMS
per phone per campaign id; §6: each recipient counted once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from unittest import mock

from stopsms.dal import deliveries
from stopsms.dal.batch import batch_get
from stopsms.reporting import report
from tests.claim_promises.conftest import A, Attack, B, by_key, publish, reconciles
from tests.handlers.conftest import LambdaContext, failed_ids, load_function, sqs_record


class Other:
    """A second, concurrent sender invocation (its own module: its own batch processor)."""

    def __init__(self) -> None:
        self.fn = load_function("sender")
        self.failed: list[str] = []

    def run(self, jobs: list[dict[str, Any]]) -> None:
        records = [sqs_record(job, "SendQueue") for job in jobs]
        self.failed = failed_ids(self.fn.lambda_handler({"Records": records}, LambdaContext()))


def _once(action: Callable[[], None]) -> Callable[[], None]:
    done: list[bool] = []

    def run() -> None:
        if not done:
            done.append(True)
            action()

    return run


def _after_first_put(action: Callable[[], None]) -> Any:
    real = deliveries.save_if
    once = _once(action)

    def save_if(item: Any, condition: Any) -> bool:
        ok = real(item, condition)
        once()
        return ok

    return mock.patch.object(deliveries, "save_if", side_effect=save_if)


def _before_first_put(action: Callable[[], None]) -> Any:
    real = deliveries.save_if
    once = _once(action)

    def save_if(item: Any, condition: Any) -> bool:
        once()
        return real(item, condition)

    return mock.patch.object(deliveries, "save_if", side_effect=save_if)


def test_claim_attack_other_seq_of_the_phone_runs_between_claim_and_send(
    attack: Attack,
) -> None:
    # Promise 1: seq 0 holds the phone's claim (not sent yet) when another invocation works
    # seq 2 of the same phone: one SMS; seq 2 is the duplicate.
    jobs = publish(attack, "conc-1", [A, B, A])
    other = Other()
    with _after_first_put(lambda: other.run(jobs[2:])):
        assert attack.feed(jobs[:1]) == []
    assert other.failed == []
    assert attack.feed(jobs[1:2]) == []
    assert sorted(attack.sent_to("conc-1")) == [A, B]
    assert by_key("conc-1")["r#0000000002"][:2] == ("suppressed", "duplicate")
    shown = report("conc-1")
    assert (shown["audience"], shown["sent"], shown["pending"]) == (3, 2, 0)
    assert reconciles(shown)


def test_claim_attack_other_seq_claims_between_read_and_claim(attack: Attack) -> None:
    # Promise 1: after this invocation read the states, another claims the phone for seq 2
    # and sends: this one's put is refused, seq 0 becomes the duplicate, one SMS.
    jobs = publish(attack, "conc-2", [A, B, A])
    other = Other()
    with _before_first_put(lambda: other.run(jobs[2:])):
        assert attack.feed(jobs[:2]) == []
    assert other.failed == []
    assert sorted(attack.sent_to("conc-2")) == [A, B]
    shown = report("conc-2")
    assert (shown["audience"], shown["sent"], shown["suppressed"]["duplicate"]) == (3, 2, 1)
    assert reconciles(shown)


def test_claim_attack_same_job_in_two_invocations(attack: Attack) -> None:
    # Promise 1: SQS delivered one job to two invocations; the second runs while the first
    # holds the claim: it is told to retry, sends nothing; a later delivery does nothing.
    jobs = publish(attack, "conc-3", [A])
    other = Other()
    with _after_first_put(lambda: other.run(jobs)):
        assert attack.feed(jobs) == []
    assert len(other.failed) == 1  # retried by SQS, not lost, not sent
    other.run(jobs)
    assert other.failed == []
    assert attack.sent_to("conc-3") == [A]
    assert by_key("conc-3") == {f"p#{A}": ("sent", None, 0)}


def test_claim_attack_claim_released_while_refused(
    attack: Attack,
) -> None:
    # Promise 1: the first invocation is throttled and releases its claim while the second,
    # refused, has not read it yet: the second retries; in the end one SMS.
    jobs = publish(attack, "conc-4", [A])
    real_get = batch_get
    state: dict[str, Any] = {}

    def get(wanted: Any, **kwargs: Any) -> Any:
        # The refused claim's read: release it first (the holder gave it up).
        if state.get("claim") is not None and any(model.__name__ == "Delivery" for model in wanted):
            deliveries.release(state.pop("claim"))
        return real_get(wanted, **kwargs)

    held = deliveries.new("conc-4", f"p#{A}", 0, "sending")
    deliveries.claim([held])  # an invocation holds the phone
    state["claim"] = held
    with mock.patch.object(deliveries, "batch_get", side_effect=get):
        failed = attack.feed(jobs)
    assert len(failed) == 1
    assert attack.sent_to("conc-4") == []
    assert attack.feed(jobs) == []
    assert attack.sent_to("conc-4") == [A]
    assert by_key("conc-4") == {f"p#{A}": ("sent", None, 0)}
