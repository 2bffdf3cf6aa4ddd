"""The receipts path: delivery events of the SMS StopSMS sent, folded into each message's state
and its campaign's delivery totals and cost (contract §7)."""
