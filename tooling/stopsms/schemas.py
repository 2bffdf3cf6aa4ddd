"""JSON Schemas of the messages upstream systems publish (contract §2 and §3).

Publishers validate a message against these files before they send it, with any JSON Schema
tool of their language. The files in ``schemas/`` are generated from the pydantic models by
``python -m stopsms schemas`` (``make schemas``) and written stably (sorted keys, 2-space
indent, trailing newline), so CI can tell a committed file the models no longer produce
(``--check``).

pydantic derives the schema from the fields' types and constraints, not from validator code.
The rules of the models' validators that JSON Schema can express are added here (exactly one
of ``recipients`` and ``audience``; the shape of an S3 URI), and the tests check that schema
and model agree on a table of messages. What a schema cannot express stays the models' alone:
a phone number that really exists, ``captured_at`` not in the future, the ``{name}``
placeholders of ``body``, text made only of spaces (the models strip whitespace first).
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


@dataclass(frozen=True)
class Published:
    """One schema file: the model it is generated from and what it is for."""

    name: str
    model: type[BaseModel]
    title: str
    description: str
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
        return schema


PUBLISHED: tuple[Published, ...] = (
    Published(
        "campaign-request",
        CampaignRequest,
        "StopSMS campaign request",
        "JSON body of a message sent to the StopSMS CampaignQueue (stack output "
        "CampaignQueueUrl): one campaign, to inline recipients or to an S3 CSV audience. "
        "Contract section 2.",
        _campaign_rules,
    ),
    Published(
        "consent-record",
        ConsentRecord,
        "StopSMS consent record",
        "JSON body of a message sent to the StopSMS ConsentQueue (stack output "
        "ConsentQueueUrl): one opt-in or opt-out of a phone number for a brand, with its "
        "source and proof. Contract section 3.",
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
