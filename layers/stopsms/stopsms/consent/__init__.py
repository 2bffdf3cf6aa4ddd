"""Consent: the intake path, the one writer of consent events, erasure, the AWS opt-out list."""
