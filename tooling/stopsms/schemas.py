"""JSON Schemas of the messages upstream systems publish (contract §2 and §3): the campaign
request, the campaign control (cancel, pause, resume) and the consent record.

Publishers validate a message against these files before they send it, with any JSON Schema
tool of their language. The files in ``schemas/`` are generated from the pydantic models by
``python -m stopsms schemas`` (``make schemas``) and written stably (sorted keys, 2-space
indent, trailing newline), so CI can tell a committed file the models no longer produce
(``--check``). Every field carries the ``description`` and ``examples`` of its model's
``Field``; each schema adds whole example messages
(``Published.examples``).

pydantic derives the schema from the fields' types and constraints, not from validator code.
The rules of the models' validators that JSON Schema can express are added here (exactly one
of ``recipients`` and ``audience``; the shape of an S3 URI; no ``action`` key, which makes a
message a control), and the tests check that schema and model agree on a table of messages.
What a schema cannot express stays the models' alone: a phone number that really exists,
``captured_at`` not in the future, the ``{name}`` placeholders of ``body``, text made only of
spaces (the models strip whitespace first).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from stopsms.fanout.messages import Control
from stopsms.models import _S3_URI, CampaignRequest, ConsentRecord

DIALECT = "https://json-schema.org/draft/2020-12/schema"
ID_PREFIX = "urn:stopsms:schema:"  # an identifier, not a location: the files ship with StopSMS
DEFAULT_DIR = Path("schemas")

Schema = dict[str, Any]


def _campaign_rules(schema: Schema) -> None:
    """CampaignRequest's validators, as far as JSON Schema goes."""
    # ``_one_source``: exactly one of the two is given and not null.
    schema["oneOf"] = [
        {"properties": {"recipients": {"type": "array"}}, "required": ["recipients"]},
        {"properties": {"audience": {"type": "object"}}, "required": ["audience"]},
    ]
    # ``Audience._s3_uri``: the model's own regex, its named groups made plain (ECMA-262, the
    # dialect of JSON Schema patterns, writes them differently from Python).
    pattern = re.sub(r"\(\?P<\w+>", "(?:", _S3_URI.pattern)
    schema["$defs"]["Audience"]["properties"]["s3_uri"]["pattern"] = pattern
    # ``fanout.messages._kind``: a body with an ``action`` key is read as a control, so a
    # request carrying one (an upstream field of that name) would be refused as a control.
    schema["not"] = {"required": ["action"]}


@dataclass(frozen=True)
class Published:
    """One schema file: the model it is generated from and what it is for."""

    name: str
    model: type[BaseModel]
    title: str
    description: str
    # Whole messages a publisher can copy (the tests check each is accepted by StopSMS).
    examples: tuple[dict[str, Any], ...]
    rules: Callable[[Schema], None] | None = None

    @property
    def filename(self) -> str:
        return f"{self.name}.schema.json"

    def build(self) -> Schema:
        schema = copy.deepcopy(self.model.model_json_schema())
        if self.rules is not None:
            self.rules(schema)
        schema["$schema"] = DIALECT
        schema["$id"] = f"{ID_PREFIX}{self.name}"
        schema["title"] = self.title
        schema["description"] = self.description
        schema["examples"] = copy.deepcopy(list(self.examples))
        return schema


PUBLISHED: tuple[Published, ...] = (
    Published(
        "campaign-request",
        CampaignRequest,
        "StopSMS campaign request",
        "JSON body of a message sent to the StopSMS CampaignQueue (stack output "
        "CampaignQueueUrl): one campaign, to inline recipients or to an S3 CSV audience. "
        "Contract section 2.",
        (
            {
                "campaign_id": "soldes-hiver-2026",
                "category": "marketing",
                "brand": "acme",
                "language": "fr",
                "body": "Bonjour {first_name}, -20% ce week-end chez Acme !",
                "origination_identity": "36111",
                "stop_number": "36111",
                "max_segments": 2,
                "recipients": [
                    {"phone": "06 12 34 56 78", "vars": {"first_name": "Léa"}},
                    "+33698765432",
                ],
            },
            {
                "campaign_id": "rentree-2026",
                "category": "marketing",
                "brand": "acme",
                "body": "Bonjour {first_name}, la rentrée Acme commence demain !",
                "stop_number": "36111",
                "send_at": "2026-12-24T10:00:00+01:00",
                "audience": {"s3_uri": "s3://stopsms-audiences-123456789012/rentree-2026.csv"},
            },
        ),
        _campaign_rules,
    ),
    Published(
        "campaign-control",
        Control,
        "StopSMS campaign control",
        "JSON body of a message sent to the StopSMS CampaignQueue (stack output "
        "CampaignQueueUrl) to cancel, pause or resume a campaign; the operator commands "
        "`python -m stopsms cancel|pause|resume ID` do the same. Contract section 2.",
        (
            {"action": "cancel", "campaign_id": "soldes-hiver-2026"},
            {"action": "pause", "campaign_id": "soldes-hiver-2026"},
            {"action": "resume", "campaign_id": "soldes-hiver-2026"},
        ),
    ),
    Published(
        "consent-record",
        ConsentRecord,
        "StopSMS consent record",
        "JSON body of a message sent to the StopSMS ConsentQueue (stack output "
        "ConsentQueueUrl): one opt-in or opt-out of a phone number for a brand, with its "
        "source and proof. Contract section 3.",
        (
            {
                "action": "opt_in",
                "phone": "+33612345678",
                "brand": "acme",
                "source": "web-form https://acme.example/newsletter",
                "captured_at": "2026-11-20T14:03:00+01:00",
                "proof": {
                    "ip": "203.0.113.7",
                    "checkbox_text": "J'accepte de recevoir les offres Acme par SMS",
                },
            },
            {
                "action": "opt_out",
                "phone": "06 12 34 56 78",
                "source": "customer-service call #48213",
                "captured_at": "2026-11-25T09:30:00+01:00",
                "proof": {"agent": "agent-042", "channel": "phone"},
            },
        ),
    ),
)


def render(schema: Schema) -> str:
    """The file's text: the same schema always gives the same bytes."""
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=True) + "\n"


def expected() -> dict[str, str]:
    """File name -> text of every published schema."""
    return {item.filename: render(item.build()) for item in PUBLISHED}


def stale(directory: Path) -> list[Path]:
    """The schema files of ``directory`` that are missing or differ from what the models give."""
    found = []
    for filename, text in expected().items():
        path = directory / filename
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            found.append(path)
    return found


def write(directory: Path) -> list[Path]:
    """Write the stale schema files of ``directory``; returns those written."""
    directory.mkdir(parents=True, exist_ok=True)
    texts = expected()
    written = stale(directory)
    for path in written:
        path.write_text(texts[path.name], encoding="utf-8", newline="\n")
    return written
