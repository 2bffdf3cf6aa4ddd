"""``make bench``: figures that back StopSMS's cost and speed claims (see docs/PERFORMANCE.md)."""
