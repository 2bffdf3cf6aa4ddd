"""The published JSON Schemas (schemas/): up to date with the models, and agreeing with them.

A publisher validates with the schema, StopSMS with the models: a message the schema accepts
must be one StopSMS accepts, except for the rules no JSON Schema can express (listed in
``LOOSER``), and the other way round except for pydantic's lax coercions (``STRICTER``).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from stopsms.cli import main
from stopsms.consent.intake import parse as parse_consent
from stopsms.errors import StopSmsError
from stopsms.fanout.messages import Control
from stopsms.fanout.service import parse as parse_campaign
from stopsms.models import CampaignRequest, ConsentRecord
from stopsms.schemas import PUBLISHED, render, stale
from tests.handlers.conftest import sqs_record

ROOT = Path(__file__).resolve().parents[2]
SCHEMAS = ROOT / "schemas"
EVENTS = ROOT / "events"
CONTRACTS = ROOT / "docs" / "CONTRACTS.md"  # the contract ships with the repository

CAMPAIGN = "campaign-request.schema.json"
CONTROL = "campaign-control.schema.json"
CONSENT = "consent-record.schema.json"
QUEUE_OF = {CAMPAIGN: "CampaignQueue", CONTROL: "CampaignQueue", CONSENT: "ConsentQueue"}

# How StopSMS itself reads a body of each queue (the functions' own parsers), and what it must
# read it as (a campaign request and a control share the queue: the parser tells them apart).
PARSERS: dict[str, Callable[[str], object]] = {
    CAMPAIGN: lambda body: parse_campaign(sqs_record(body)),
    CONTROL: lambda body: parse_campaign(sqs_record(body)),
    CONSENT: lambda body: parse_consent(sqs_record(body)).body,
}
PARSED_AS: dict[str, type] = {
    CAMPAIGN: CampaignRequest,
    CONTROL: Control,
    CONSENT: ConsentRecord,
}


def contract_text() -> str:
    # A missing contract is a broken repository, never a reason to skip.
    assert CONTRACTS.is_file(), f"{CONTRACTS} is missing: the contract ships with the repository"
    return CONTRACTS.read_text(encoding="utf-8")


def contract_section(section: str) -> str:
    """The text of a numbered section of CONTRACTS.md (``"2."``), up to the next one."""
    parts = contract_text().split(f"\n## {section} ", 1)
    assert len(parts) == 2, f"{CONTRACTS} has no section '## {section}'"
    return parts[1].split("\n## ", 1)[0]


def contract_examples(section: str) -> list[Any]:
    """Every JSON code block of a section of CONTRACTS.md, parsed."""
    blocks = re.findall(r"```json\n(.*?)\n```", contract_section(section), re.DOTALL)
    assert blocks, f"section {section} of {CONTRACTS} has no JSON example"
    return [json.loads(block) for block in blocks]


# The examples of CONTRACTS.md §2 and §3, read from it: the messages below are built on them.
CAMPAIGN_EXAMPLE: dict[str, Any] = contract_examples("2.")[0]
CONSENT_EXAMPLE: dict[str, Any] = contract_examples("3.")[0]


def schema(filename: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((SCHEMAS / filename).read_text(encoding="utf-8"))
    return loaded


def validator(filename: str) -> Draft202012Validator:
    # As a publisher should: with format checks (date-time), which jsonschema skips by default.
    return Draft202012Validator(
        schema(filename), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def schema_accepts(filename: str, message: Any) -> bool:
    return bool(validator(filename).is_valid(message))


def stopsms_accepts(filename: str, message: Any) -> bool:
    try:
        parsed = PARSERS[filename](json.dumps(message))
    except StopSmsError:
        return False
    return isinstance(parsed, PARSED_AS[filename])


def errors(filename: str, message: Any) -> str:
    """Every error of the message, one ``path: message`` per line, with the errors of each
    alternative of an ``anyOf`` / ``oneOf`` (where the field at fault is named)."""
    lines = []
    pending = list(validator(filename).iter_errors(message))
    while pending:
        error = pending.pop(0)
        lines.append(f"{error.json_path}: {error.message}")
        pending += error.context or []
    return "\n".join(lines)


def campaign(**changes: Any) -> dict[str, Any]:
    """The contract example with fields changed (a value of ... removes the field)."""
    message = {**CAMPAIGN_EXAMPLE, **changes}
    return {key: value for key, value in message.items() if value is not ...}


def consent(**changes: Any) -> dict[str, Any]:
    message = {**CONSENT_EXAMPLE, **changes}
    return {key: value for key, value in message.items() if value is not ...}


S3 = {"s3_uri": "s3://audiencebucket/audiences/rentree-2026.csv"}


# --- the files ----------------------------------------------------------------------------


def test_committed_schemas_are_what_the_models_generate() -> None:
    # The CI check: a model changed without `make schemas` fails here.
    outdated = [str(path.relative_to(ROOT)) for path in stale(SCHEMAS)]
    assert outdated == [], f"stale JSON Schemas {outdated}: run `make schemas`"


@pytest.mark.parametrize("published", PUBLISHED, ids=lambda p: p.filename)
def test_each_schema_is_draft_2020_12_and_says_which_queue_it_is_for(published: Any) -> None:
    loaded = schema(published.filename)
    Draft202012Validator.check_schema(loaded)
    assert loaded["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert loaded["$id"].startswith("urn:stopsms:schema:")
    assert loaded["title"].startswith("StopSMS ")
    assert QUEUE_OF[published.filename] in loaded["description"]


@pytest.mark.parametrize("filename", [CAMPAIGN, CONTROL, CONSENT])
def test_files_are_stable_text(filename: str) -> None:
    text = (SCHEMAS / filename).read_text(encoding="utf-8")
    assert text == render(json.loads(text))  # sorted keys, 2-space indent
    assert text.endswith("}\n")
    assert text.isascii()


def test_the_ids_are_distinct() -> None:
    assert len({schema(p.filename)["$id"] for p in PUBLISHED}) == len(PUBLISHED)


# --- the command --------------------------------------------------------------------------


def test_schemas_command_writes_then_checks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given an empty directory, --check names every missing file
    assert main(["schemas", "--check", "--dir", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"{tmp_path / CAMPAIGN} is missing: run `make schemas`" in err
    assert f"{tmp_path / CONSENT} is missing" in err
    # When the files are written
    assert main(["schemas", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out.count("wrote ") == len(PUBLISHED) == 3
    # Then they are the committed ones, and --check passes
    for filename in (CAMPAIGN, CONTROL, CONSENT):
        assert (tmp_path / filename).read_bytes() == (SCHEMAS / filename).read_bytes()
    assert main(["schemas", "--check", "--dir", str(tmp_path)]) == 0
    assert main(["schemas", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"{tmp_path}: up to date\n"


def test_check_names_the_stale_file_and_the_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main(["schemas", "--dir", str(tmp_path)])
    stale_file = tmp_path / CONSENT
    stale_file.write_text(stale_file.read_text().replace("opt_out", "unsubscribe"))
    capsys.readouterr()
    # When checked
    assert main(["schemas", "--check", "--dir", str(tmp_path)]) == 1
    # Then only that file is named, with the command that fixes it, and nothing is written
    err = capsys.readouterr().err
    assert err == f"{stale_file} is stale (not what the models generate): run `make schemas`\n"
    assert "unsubscribe" in stale_file.read_text()
    # And a plain run rewrites it alone
    assert main(["schemas", "--dir", str(tmp_path)]) == 0
    assert capsys.readouterr().out == f"wrote {stale_file}\n"
    assert stale(tmp_path) == []


# --- what upstream publishes is accepted ---------------------------------------------------


def test_the_contract_examples_are_valid() -> None:
    # Every JSON example of §2 and §3, as CONTRACTS.md writes it, by the schema and by StopSMS.
    for section, filename in (("2.", CAMPAIGN), ("3.", CONSENT)):
        for example in contract_examples(section):
            assert errors(filename, example) == "", section
            assert stopsms_accepts(filename, example), section


def test_the_control_messages_of_the_contract_are_valid() -> None:
    # §2 writes the controls inline: {"action": "cancel", "campaign_id": "..."}
    written = re.findall(r"`(\{\"action\": [^`]*\})`", contract_section("2."))
    controls = [json.loads(text) for text in written]
    assert sorted({control["action"] for control in controls}) == ["cancel", "pause", "resume"]
    for control in controls:
        assert errors(CONTROL, control) == "", control
        assert stopsms_accepts(CONTROL, control), control
        assert not schema_accepts(CAMPAIGN, control)  # a control is no campaign request


def test_a_missing_contract_fails_rather_than_skips(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys.modules[__name__], "CONTRACTS", ROOT / "docs" / "MISSING.md")
    with pytest.raises(AssertionError, match=r"MISSING\.md is missing"):
        contract_examples("2.")


# --- descriptions and examples for publishers -------------------------------------------------


def properties(node: Any, where: str = "$") -> list[tuple[str, dict[str, Any]]]:
    """(path, schema) of every property declared anywhere in a schema, $defs included."""
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        for name, sub in node.get("properties", {}).items():
            if "type" in sub or "$ref" in sub or "anyOf" in sub or "enum" in sub:
                found.append((f"{where}.{name}", sub))
        for key, value in node.items():
            found += properties(value, f"{where}.{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += properties(value, f"{where}[{index}]")
    return found


@pytest.mark.parametrize("published", PUBLISHED, ids=lambda p: p.filename)
def test_every_field_is_described(published: Any) -> None:
    loaded = schema(published.filename)
    described = properties(loaded)
    # The model's fields, at least (the oneOf of recipients / audience declares bare types)
    model_fields = {f"$.{name}" for name in published.model.model_fields}
    assert model_fields <= {path for path, _ in described}
    missing = [path for path, sub in described if len(sub.get("description", "")) < 20]
    missing = [path for path in missing if ".oneOf[" not in path]
    assert missing == [], f"fields without a description: {missing}"
    for name, definition in loaded.get("$defs", {}).items():
        assert len(definition.get("description", "")) >= 20, f"$defs.{name} is not described"


@pytest.mark.parametrize("published", PUBLISHED, ids=lambda p: p.filename)
def test_the_examples_of_each_schema_are_accepted(published: Any) -> None:
    # The whole messages a publisher copies from the schema...
    loaded = schema(published.filename)
    assert len(loaded["examples"]) >= 2
    for example in loaded["examples"]:
        assert errors(published.filename, example) == "", example
        assert stopsms_accepts(published.filename, example), example
    # ...and the examples of each field, each in a message otherwise valid.
    base = loaded["examples"][0]
    for name, sub in loaded["properties"].items():
        for value in sub.get("examples", []):
            message = {**base, name: value}
            if name in {"recipients", "audience"}:  # exactly one of the two
                message.pop("audience" if name == "recipients" else "recipients", None)
            assert errors(published.filename, message) == "", (name, value)
            assert stopsms_accepts(published.filename, message), (name, value)


def test_the_schemas_first_examples_are_those_of_the_contract() -> None:
    assert schema(CAMPAIGN)["examples"][0] == CAMPAIGN_EXAMPLE
    assert schema(CONSENT)["examples"][0] == CONSENT_EXAMPLE


def queue_bodies(queue: str) -> list[tuple[str, Any]]:
    """(file, body) of every SQS record of events/ read from ``queue``."""
    found = []
    for path in sorted(EVENTS.glob("*.json")):
        for record in json.loads(path.read_text(encoding="utf-8")).get("Records", []):
            if record.get("eventSourceARN", "").endswith(f":{queue}"):
                found.append((path.name, json.loads(record["body"])))
    return found


@pytest.mark.parametrize("filename", [CAMPAIGN, CONSENT])
def test_the_sample_events_bodies_are_valid(filename: str) -> None:
    bodies = queue_bodies(QUEUE_OF[filename])
    assert len(bodies) >= 2  # campaign_request + campaign_s3, consent_opt_in + consent_opt_out
    for name, body in bodies:
        assert errors(filename, body) == "", name


# --- what is clearly wrong is refused, naming the field -----------------------------------

REFUSED: list[tuple[str, dict[str, Any], str]] = [
    (CAMPAIGN, campaign(campaign_id=...), "'campaign_id' is a required property"),
    (CAMPAIGN, campaign(body=...), "'body' is a required property"),
    (CAMPAIGN, campaign(category="promo"), "$.category: 'promo' is not one of"),
    (CAMPAIGN, campaign(category="Marketing"), "$.category: 'Marketing' is not one of"),
    (CAMPAIGN, campaign(campaign_id="soldes hiver"), "$.campaign_id: 'soldes hiver' does not"),
    (CAMPAIGN, campaign(language="de"), "$.language: 'de' is not one of"),
    (CAMPAIGN, campaign(max_segments=11), "$.max_segments: 11 is not valid"),
    (CAMPAIGN, campaign(stop_number="36 111"), "$.stop_number: '36 111' is not valid"),
    (CAMPAIGN, campaign(send_at="2026-12-01T08:00:00"), "$.send_at: '2026-12-01T08:00:00' is"),
    (CAMPAIGN, campaign(brand="*"), "$.brand: '*' does not match"),
    (CAMPAIGN, campaign(recipients=[]), "$.recipients: [] is not valid"),
    (CAMPAIGN, campaign(recipients=[{"vars": {}}]), "$.recipients: [{'vars': {}}] is not"),
    (CAMPAIGN, campaign(recipients=...), "$: 'recipients' is a required property"),
    (CAMPAIGN, campaign(recipients=...), "$: 'audience' is a required property"),
    (CAMPAIGN, campaign(audience=S3), "is valid under each of"),  # both
    (
        CAMPAIGN,
        campaign(recipients=..., audience={"s3_uri": "https://x.example/a.csv"}),
        "$.audience.s3_uri: 'https://x.example/a.csv' does not match",
    ),
    (CONSENT, consent(action=...), "'action' is a required property"),
    (CONSENT, consent(action="subscribe"), "$.action: 'subscribe' is not one of"),
    (CONSENT, consent(captured_at=...), "'captured_at' is a required property"),
    (CONSENT, consent(captured_at="2026-11-20T14:03:00"), "$.captured_at: '2026-11-20T14:03:00'"),
    (CONSENT, consent(captured_at="20/11/2026"), "is not a 'date-time'"),
    (CONSENT, consent(source=""), "$.source: '' should be non-empty"),
    (CONSENT, consent(proof="checkbox"), "$.proof: 'checkbox' is not of type 'object'"),
    (CONSENT, consent(phone=33612345678), "$.phone: 33612345678 is not of type 'string'"),
]


@pytest.mark.parametrize(("filename", "message", "reason"), REFUSED)
def test_clearly_bad_messages_are_refused_with_their_field(
    filename: str, message: dict[str, Any], reason: str
) -> None:
    found = errors(filename, message)
    assert reason in found, found
    assert not stopsms_accepts(filename, message)  # StopSMS refuses them too


def test_a_json_array_is_not_a_message() -> None:
    assert "is not of type 'object'" in errors(CAMPAIGN, [CAMPAIGN_EXAMPLE])
    assert "is not of type 'object'" in errors(CONSENT, [CONSENT_EXAMPLE])


# --- schema and models agree ----------------------------------------------------------------

# (schema, message, accepted): the schema and StopSMS's own parsing must both give `accepted`.
AGREE: list[tuple[str, Any, bool]] = [
    (CAMPAIGN, CAMPAIGN_EXAMPLE, True),
    (CAMPAIGN, campaign(brand=..., language=..., origination_identity=..., stop_number=...), True),
    (CAMPAIGN, campaign(max_segments=..., category="transactional"), True),
    (CAMPAIGN, campaign(category="informational", max_segments=None, stop_number=None), True),
    (CAMPAIGN, campaign(recipients=..., audience=S3), True),
    (CAMPAIGN, campaign(recipients=None, audience=S3), True),
    (CAMPAIGN, campaign(audience=None), True),
    (CAMPAIGN, campaign(send_at="2026-12-01T08:00:00+01:00"), True),
    (CAMPAIGN, campaign(send_at="2026-12-01T07:00:00Z"), True),
    (CAMPAIGN, campaign(max_segments=10, language="en"), True),
    (CAMPAIGN, campaign(recipients=[{"phone": "0612345678", "vars": {"n": 1, "vip": True}}]), True),
    (CAMPAIGN, campaign(recipients=[{"phone": "0612345678", "vars": {"x": None, "y": 1.5}}]), True),
    (CAMPAIGN, campaign(crm_reference="upstream-123"), True),  # unknown fields are ignored
    (CAMPAIGN, campaign(stop_number="+33612345678"), True),
    (CAMPAIGN, campaign(campaign_id="A.b_c-1" + "x" * 57), True),  # 64 characters
    (CAMPAIGN, campaign(campaign_id="x" * 65), False),
    (CAMPAIGN, campaign(campaign_id=2026), False),
    (CAMPAIGN, campaign(category="otp"), False),
    (CAMPAIGN, campaign(category=None), False),
    (CAMPAIGN, campaign(language="FR"), False),
    (CAMPAIGN, campaign(body=""), False),
    (CAMPAIGN, campaign(body="x" * 1601), False),
    (CAMPAIGN, campaign(brand=""), False),
    (CAMPAIGN, campaign(brand="*"), False),
    (CAMPAIGN, campaign(max_segments=0), False),
    (CAMPAIGN, campaign(max_segments=1.5), False),
    (CAMPAIGN, campaign(stop_number=36111), False),
    (CAMPAIGN, campaign(stop_number="36"), False),
    (CAMPAIGN, campaign(origination_identity=""), False),
    (CAMPAIGN, campaign(send_at="2026-12-01"), False),
    (CAMPAIGN, campaign(send_at="2026-12-01T08:00:00"), False),
    (CAMPAIGN, campaign(recipients="+33612345678"), False),
    (CAMPAIGN, campaign(recipients=[]), False),
    (CAMPAIGN, campaign(recipients=[12]), False),
    (CAMPAIGN, campaign(recipients=[{"phone": ""}]), False),
    (CAMPAIGN, campaign(recipients=[{"phone": "0612345678", "vars": {"a": [1]}}]), False),
    (CAMPAIGN, campaign(recipients=[{"phone": "0612345678", "vars": "x"}]), False),
    (CAMPAIGN, campaign(recipients=None), False),
    (CAMPAIGN, campaign(recipients=None, audience=None), False),
    (CAMPAIGN, campaign(audience=S3), False),
    (CAMPAIGN, campaign(recipients=..., audience={}), False),
    (CAMPAIGN, campaign(recipients=..., audience={"s3_uri": "s3://Bucket/a.csv"}), False),
    (CAMPAIGN, campaign(recipients=..., audience={"s3_uri": "s3://audiencebucket/"}), False),
    (CAMPAIGN, campaign(recipients=..., audience="s3://audiencebucket/a.csv"), False),
    (CAMPAIGN, [CAMPAIGN_EXAMPLE], False),
    (CONSENT, CONSENT_EXAMPLE, True),
    (CONSENT, consent(action="opt_out", proof=..., brand=...), True),
    (CONSENT, consent(captured_at="2026-11-20T13:03:00Z"), True),
    (CONSENT, consent(proof={"nested": {"list": [1, 2]}}), True),
    (CONSENT, consent(phone="06 12 34 56 78"), True),
    (CONSENT, consent(action="optin"), False),
    (CONSENT, consent(action=None), False),
    (CONSENT, consent(phone=...), False),
    (CONSENT, consent(phone=33612345678), False),
    (CONSENT, consent(source=...), False),
    (CONSENT, consent(source="x" * 513), False),
    (CONSENT, consent(captured_at="2026-11-20T14:03:00"), False),
    (CONSENT, consent(captured_at="2026-11-20"), False),
    (CONSENT, consent(proof=None), False),
    (CONSENT, consent(proof=["ip"]), False),
    (CONSENT, consent(brand=None), True),  # no brand: an opt-out for every brand
    (CAMPAIGN, campaign(send_at=1796108400), False),  # a Unix time: ISO-8601 only
    (CONSENT, consent(captured_at=1764410000), False),
    # Digits in a string are no Unix time either (second adversarial pass: read as 1970).
    (CAMPAIGN, campaign(send_at="20261225"), False),
    (CAMPAIGN, campaign(send_at="1798200000"), False),
    (CONSENT, consent(captured_at="1763650000"), False),
    (CONSENT, consent(captured_at="20251120T140300+0100"), False),  # ISO-8601 basic format
    (CONSENT, "opt_in", False),
    # A body with an "action" key is a control: a request carrying one is refused by both.
    (CAMPAIGN, campaign(action="send"), False),
    (CONTROL, {"action": "cancel", "campaign_id": "soldes-hiver-2026"}, True),
    (CONTROL, {"action": "resume", "campaign_id": "A.b_c-1"}, True),
    (CONTROL, {"action": "stop", "campaign_id": "soldes-hiver-2026"}, False),
    (CONTROL, {"action": "Pause", "campaign_id": "soldes-hiver-2026"}, False),
    (CONTROL, {"action": "cancel"}, False),
    (CONTROL, {"action": "cancel", "campaign_id": "soldes hiver"}, False),
    (CONTROL, {"action": "cancel", "campaign_id": "x" * 65}, False),
    (CONTROL, {"action": "cancel", "campaign_id": "soldes-hiver-2026", "by": "ops"}, False),
    (CONTROL, CAMPAIGN_EXAMPLE, False),
    (CONTROL, ["cancel"], False),
]


@pytest.mark.parametrize(("filename", "message", "accepted"), AGREE)
def test_schema_and_stopsms_agree(filename: str, message: Any, accepted: bool) -> None:
    assert schema_accepts(filename, message) is accepted, errors(filename, message)
    assert stopsms_accepts(filename, message) is accepted


# Where they differ, on purpose. The schema is looser where a rule is code, not a constraint:
LOOSER: list[tuple[str, Any, str]] = [
    (CAMPAIGN, campaign(body="   "), "the models strip whitespace before counting"),
    (CAMPAIGN, campaign(body="Bonjour {0.__class__}"), "placeholders are checked by code"),
    (CAMPAIGN, campaign(body="Bonjour {first_name"), "placeholders are checked by code"),
    (CONSENT, consent(phone="12"), "a real phone number is checked by phonenumbers"),
    (CONSENT, consent(phone=""), "a real phone number is checked by phonenumbers"),
    (CONSENT, consent(captured_at="2099-01-01T00:00:00Z"), "not in the future: depends on now"),
    (CONSENT, consent(captured_at="0001-01-01T00:00:00+01:00"), "a placeholder date: code"),
    (CAMPAIGN, campaign(send_at="9999-12-31T00:00:00Z"), "at most a year ahead: depends on now"),
]
# ...and stricter where pydantic's lax mode coerces: publishers should send the plain form.
STRICTER: list[tuple[str, Any, str]] = [
    (CAMPAIGN, campaign(max_segments="2"), "a number written as a string"),
    (CAMPAIGN, campaign(max_segments=True), "a boolean as an integer"),
    (CAMPAIGN, campaign(send_at="2026-12-01 08:00:00+01:00"), "RFC 3339 wants the T"),
    (CAMPAIGN, campaign(brand=" acme"), "the models strip whitespace before the pattern"),
]


@pytest.mark.parametrize(("filename", "message", "why"), LOOSER)
def test_the_schema_is_looser_only_where_a_rule_is_code(
    filename: str, message: Any, why: str
) -> None:
    assert schema_accepts(filename, message), why
    assert not stopsms_accepts(filename, message), f"now refused by both: move it to AGREE ({why})"


@pytest.mark.parametrize(("filename", "message", "why"), STRICTER)
def test_the_schema_is_stricter_only_where_pydantic_coerces(
    filename: str, message: Any, why: str
) -> None:
    assert stopsms_accepts(filename, message), why
    assert not schema_accepts(filename, message), f"now accepted by both: move it to AGREE ({why})"
