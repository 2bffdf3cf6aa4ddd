"""A campaign's report as its page reads it: dates in the reader's zone, free text with every
recipient's number masked but the sender's own."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import tzinfo
from typing import Any

from stopsms.pages.formatting import escape, local_time
from stopsms.pages.masking import redact_except


class CampaignReport:
    """``reporting.report``'s answer, ``data``, with what every section of the page needs."""

    def __init__(self, data: Mapping[str, Any], zone: tzinfo) -> None:
        self.data = data
        self.zone = zone
        self.facts: Mapping[str, Any] = data.get("compliance") or {}
        # Numbers of the sender (the stop number, the origination identity) are shown whole:
        # an auditor checks them; any other run of digits in free text is masked.
        self.keep = tuple(
            str(self.facts[name])
            for name in ("stop_number", "origination_identity")
            if self.facts.get(name)
        )
        self.dry = data.get("estimate") is not None

    def text(self, value: object) -> str:
        """Free text of the report, masked and escaped."""
        return escape(redact_except(str(value), self.keep))

    def when(self, value: object) -> str:
        return local_time(value, self.zone) if value else "(not known)"
