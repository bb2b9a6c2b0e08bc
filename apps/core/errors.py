"""Domain errors raised by services; views and the API map them to clear responses."""


class DomainError(Exception):
    """A request that the domain refuses; ``code`` is stable for API clients."""

    code = "domain_error"

    def __init__(self, message: str, *, code: str | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code


class IllegalTransition(DomainError):
    code = "illegal_transition"


class AlreadyTaken(DomainError):
    code = "already_taken"


class NotAllowed(DomainError):
    code = "not_allowed"


class InvalidInput(DomainError):
    code = "invalid_input"


class WindowClosed(DomainError):
    """The channel no longer delivers a free-form reply (e.g. WhatsApp's 24-hour service window)."""

    code = "window_closed"


class ConversationAlreadyOpen(IllegalTransition):
    """The customer already has an open conversation on this channel (one per contact and channel,
    enforced by a unique index); ``conversation_id`` is that conversation."""

    code = "already_open"

    def __init__(self, message: str, *, conversation_id: int):
        super().__init__(message)
        self.conversation_id = conversation_id
