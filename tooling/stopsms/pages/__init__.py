"""HTML pages for people: a campaign's report (contract §6, ``report ID --html FILE``) and a
person's state and evidence history (``status PHONE --html FILE``, for an access request).

The rules every page keeps:

- Self-contained: one file, inline CSS, charts drawn here as inline SVG; an auditor opens it
  offline, years later.
- No script and no external resource, which a Content-Security-Policy in the page itself
  forbids (``layout.CSP``).
- Every string from the data is escaped (``formatting.escape``).
- Every number of the report sits in an element with ``data-field`` (its path in the JSON,
  ``suppressed.opted_out``) and ``data-value`` (its JSON text), so a test reads them back from
  the rendered DOM (``elements``).
- Recipients are masked: the campaign page shows no recipient's number (samples are masked by
  the report; free text is masked with ``rules.phones.redact``); the person page shows the
  person's number once, in its heading: it answers their own access request (``masking``).

Modules: ``campaign`` and ``person`` build the two pages; ``campaign_outcomes``,
``campaign_estimate`` and ``campaign_compliance`` the campaign page's sections, over a
``campaign_report.CampaignReport``; ``layout`` is the page shell, ``elements`` the pieces of a
section, ``svg`` the charts, ``formatting`` and ``masking`` the values shown.
"""

from stopsms.pages.campaign import campaign_page
from stopsms.pages.person import person_page

__all__ = ["campaign_page", "person_page"]
