"""The send path: one job, checked against every rule, sent exactly once."""
