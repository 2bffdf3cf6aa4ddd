"""Domain exceptions. Handlers turn them into recipient outcomes or refused messages."""


class StopSmsError(Exception):
    """Base class of every error StopSMS raises on purpose."""


class InvalidPhoneNumber(StopSmsError):
    """A recipient number cannot be turned into a valid E.164 SMS destination."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class TemplateError(StopSmsError):
    """The campaign body is not a valid template (bad placeholder syntax)."""


class MissingVariable(StopSmsError):
    """A placeholder of the body has no value in the recipient's vars."""

    def __init__(self, name: str) -> None:
        super().__init__(f"missing variable {{{name}}} for this recipient")
        self.name = name


class MessageTooLong(StopSmsError):
    """The final text needs more segments than the campaign's ``max_segments``."""

    def __init__(self, segments: int, max_segments: int) -> None:
        super().__init__(
            f"the text needs {segments} segments with the STOP mention, "
            f"max_segments is {max_segments}"
        )
        self.segments = segments
        self.max_segments = max_segments


class InvalidWindow(StopSmsError):
    """A sending-window specification cannot be parsed."""


class AlreadyExists(StopSmsError):
    """A conditional write found the item already there (append-only or exactly-once)."""


class StaleEvent(StopSmsError):
    """A state change is older than the state already stored (out-of-order delivery)."""


class Transient(StopSmsError):
    """A failure worth retrying as it is (the message goes back to its queue): AWS left
    part of a batch undone, an object could not be read."""
