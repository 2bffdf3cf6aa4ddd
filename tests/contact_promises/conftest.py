"""The sender and its fake SMS client, as the sender's own tests drive them."""

from __future__ import annotations

from tests.handlers.test_sender import sender, sms

__all__ = ["sender", "sms"]
