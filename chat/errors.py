"""The project's exceptions; each message says what went wrong and what to do."""


class RoomsError(Exception):
    """Base class of every error Rooms raises on purpose."""


class ConfigError(RoomsError):
    """A command-line option or environment variable is unusable."""


class InvalidRoomId(RoomsError):
    """A room id is outside ^[A-Za-z0-9_-]{1,64}$."""


class MessageRejected(RoomsError):
    """A message was refused before it reached the store or the model (blank, too long, busy)."""


class RateLimited(MessageRejected):
    """A person sent more messages in a short time than a room accepts; they may send again in a moment."""


class ImportRejected(RoomsError):
    """An export file cannot become a room; the text says what is wrong with it."""


class ImportTooLarge(ImportRejected):
    """An export file is over the import size limit."""


class FileRejected(RoomsError):
    """An uploaded file cannot be attached (too large, a type Claude cannot read, empty); `status` is the HTTP one."""

    def __init__(self, reason: str, *, status: int) -> None:
        super().__init__(reason)
        self.status = status


class StorageError(RoomsError):
    """A room file could not be read or written."""


class ModelError(RoomsError):
    """The model call failed; the text is what the user reads in the failed reply."""

    def __init__(self, reason: str, *, retryable: bool = True) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retryable = retryable
