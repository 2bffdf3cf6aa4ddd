"""The files of ``examples/`` a user copies: each is valid as the README promises it.

Every JSON file validates against its published schema and is accepted by the function's own
parser as what its name says; the campaigns pass the campaign function's whole-request checks
(stop number, segments) with the template's settings; the CSVs parse with the real readers
(the S3 audience check, the stop-list import); two campaigns and a cancellation go through the
real campaign handler against moto; and examples/README.md names every file.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import pytest

from stopsms import clock
from stopsms.dal import campaigns
from stopsms.emulator.template import Stack
from stopsms.fanout import audience
from stopsms.fanout.messages import Control
from stopsms.fanout.service import prepare, too_long
from stopsms.models import CampaignRequest, Category, ConsentRecord
from stopsms.ops import import_optouts
from stopsms.rules.personalise import placeholders, render
from stopsms.settings import Settings
from tests.handlers.conftest import LambdaContext, failed_ids, load_function, sqs_event
from tests.handlers.test_events import MONDAY_10H_PARIS, jobs, receive_all
from tests.unit.test_schemas import CAMPAIGN, CONSENT, CONTROL, PARSED_AS, PARSERS, errors

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
README = EXAMPLES / "README.md"

# Every JSON example -> the schema it is for (a new file must be mapped here, and tested).
SCHEMA_OF = {
    "campaign.json": CAMPAIGN,
    "campaign-s3.json": CAMPAIGN,
    "campaign-transactional.json": CAMPAIGN,
    "campaign-scheduled.json": CAMPAIGN,
    "consent-opt-in.json": CONSENT,
    "consent-opt-out.json": CONSENT,
    "cancel.json": CONTROL,
    "pause.json": CONTROL,
    "resume.json": CONTROL,
}
CSV_FILES = ["audience.csv", "stop-list.csv"]
CAMPAIGNS = [name for name, schema in SCHEMA_OF.items() if schema == CAMPAIGN]


def text(name: str) -> str:
    return (EXAMPLES / name).read_text(encoding="utf-8")


def loaded(name: str) -> Any:
    return json.loads(text(name))


def parsed(name: str) -> Any:
    """The file as the function that reads its queue parses it."""
    return PARSERS[SCHEMA_OF[name]](text(name))


def request(name: str) -> CampaignRequest:
    message = parsed(name)
    assert isinstance(message, CampaignRequest)
    return message


# --- the files ----------------------------------------------------------------------------


def test_every_file_is_mapped_here() -> None:
    found = sorted(path.name for path in EXAMPLES.iterdir() if path.name != "README.md")
    assert found == sorted([*SCHEMA_OF, *CSV_FILES]), "map each examples/ file here and test it"


def test_the_readme_names_every_file_with_the_command_that_uses_it() -> None:
    lines = README.read_text(encoding="utf-8").splitlines()
    for name in [*SCHEMA_OF, *CSV_FILES]:
        [line] = [line for line in lines if line.startswith(f"| `{name}` |")]
        assert "`python -m stopsms " in line or "`aws " in line, f"{name}: no command in {line}"


@pytest.mark.parametrize("name", sorted(SCHEMA_OF))
def test_each_json_file_validates_against_its_schema_and_its_parser(name: str) -> None:
    assert errors(SCHEMA_OF[name], loaded(name)) == "", name
    assert isinstance(parsed(name), PARSED_AS[SCHEMA_OF[name]])


# --- each is what its name says -----------------------------------------------------------


def test_the_campaigns_are_what_their_names_say() -> None:
    inline = request("campaign.json")
    assert (inline.category, inline.language, inline.dry_run) == (Category.MARKETING, "fr", False)
    assert inline.audience is None
    assert inline.send_at is None
    assert len(inline.inline_recipients()) >= 3
    assert all(recipient.vars for recipient in inline.inline_recipients())
    s3 = request("campaign-s3.json")
    assert s3.recipients is None
    assert s3.audience is not None
    assert request("campaign-transactional.json").category == Category.TRANSACTIONAL
    assert request("campaign-scheduled.json").send_at is not None


@pytest.mark.parametrize("name", CAMPAIGNS)
def test_each_campaign_passes_the_whole_request_checks(name: str) -> None:
    # With the template's settings (StopNumber 36111): stop number, mention, segments
    checked = prepare(request(name), Settings())
    # And every inline recipient has a value for every placeholder (none ends missing_variable)
    for recipient in checked.inline_recipients():
        assert render(checked.body, recipient.vars)


def test_the_controls_and_consents_are_what_their_names_say() -> None:
    controlled = request("campaign.json").campaign_id
    for name in ("cancel.json", "pause.json", "resume.json"):
        control = parsed(name)
        assert isinstance(control, Control)
        # The README's sequence: publish campaign.json, then pause, resume or cancel it
        assert (control.action, control.campaign_id) == (name.removesuffix(".json"), controlled)
    for name, action in (("consent-opt-in.json", "opt_in"), ("consent-opt-out.json", "opt_out")):
        consent = parsed(name)
        assert isinstance(consent, ConsentRecord)
        assert consent.action == action


# --- the CSVs, through the real readers ---------------------------------------------------

START = audience.Progress(offset=0, line=1, rows=0, header=None, problems=(), finished=False)


def test_the_audience_csv_passes_the_check_of_an_s3_audience() -> None:
    data = (EXAMPLES / "audience.csv").read_bytes()
    s3 = prepare(request("campaign-s3.json"), Settings())
    # When checked as the campaign function checks a file, rows against campaign-s3's body
    progress = audience.check(
        iter([data]), START, max_rows=10**6, row_problem=too_long(s3, Settings())
    )
    # Then it has no problem, and its columns fill every placeholder of that body
    assert progress.problems == ()
    assert progress.finished
    assert progress.rows == 3
    _, rows = audience.recipients(iter([data]), 0, None)
    recipients = [row.recipient for row in rows]
    assert [r.vars["city"] for r in recipients] == ["Paris", "Saint-Denis, La Réunion", "Lyon"]
    for recipient in recipients:
        assert placeholders(s3.body) <= {name for name, value in recipient.vars.items() if value}


def test_the_stop_list_imports_every_line(aws: Stack) -> None:
    data = (EXAMPLES / "stop-list.csv").read_bytes()
    result = import_optouts(iter([data]), "example-provider")
    assert (result.lines, result.imported, result.refused) == (2, 2, [])
    assert result.ignored_columns == ()


# --- through the real campaign handler ------------------------------------------------------


@pytest.fixture
def context() -> LambdaContext:
    return LambdaContext(aws_request_id=str(uuid.uuid4()))


def publish(aws: Stack, body: str, context: LambdaContext) -> None:
    """Handle ``body`` as CampaignQueue delivers it, window open, then the messages the
    function queues for itself (an S3 audience is checked first, fanned out by the next)."""
    campaign_fn = load_function("campaign")
    pending = [body]
    with mock.patch.object(clock, "now", return_value=MONDAY_10H_PARIS):
        while pending:
            event = sqs_event(pending, queue="CampaignQueue")
            assert failed_ids(campaign_fn.lambda_handler(event, context)) == []
            pending = [json.dumps(b) for b in receive_all(aws.queues["CampaignQueue"])]


def test_the_inline_campaign_then_its_cancellation_through_the_handler(
    aws: Stack, context: LambdaContext
) -> None:
    # When campaign.json is published, as it is
    publish(aws, text("campaign.json"), context)
    # Then it is accepted, and each recipient is one send job with its variables
    record = campaigns.get("soldes-hiver-2026")
    assert record is not None
    assert (record.status, record.audience) == ("queued", 3)
    expected = [(r["phone"], r["vars"]) for r in loaded("campaign.json")["recipients"]]
    assert [(job["phone"], job["vars"]) for job in jobs(aws)] == expected
    # And cancel.json then cancels it
    publish(aws, text("cancel.json"), context)
    cancelled = campaigns.get("soldes-hiver-2026")
    assert cancelled is not None
    assert cancelled.status == "cancelled"


def test_the_s3_campaign_with_the_audience_csv_through_the_handler(
    aws: Stack, context: LambdaContext
) -> None:
    # Given audience.csv uploaded where campaign-s3.json says, in the stack's audience bucket
    message = loaded("campaign-s3.json")
    key = re.sub(r"^s3://[^/]+/", "", message["audience"]["s3_uri"])
    bucket = aws.buckets["AudienceBucket"]
    boto3.client("s3", region_name="eu-west-3").put_object(
        Bucket=bucket, Key=key, Body=(EXAMPLES / "audience.csv").read_bytes()
    )
    message["audience"]["s3_uri"] = f"s3://{bucket}/{key}"  # the README's one edit
    # When published
    publish(aws, json.dumps(message, ensure_ascii=False), context)
    # Then every row of the CSV is a send job, its other columns the recipient's vars
    record = campaigns.get("rentree-2026")
    assert record is not None
    assert (record.status, record.audience) == ("queued", 3)
    assert [(job["phone"], job["vars"]["city"]) for job in jobs(aws)] == [
        ("+33612345678", "Paris"),
        ("06 98 76 54 32", "Saint-Denis, La Réunion"),
        ("+33 6 10 00 00 01", "Lyon"),
    ]
