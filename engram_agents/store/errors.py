"""Store errors: each names the problem so callers can fix their input or their deployment.
They share the package's base classes, so `except engram_agents.EngramError` catches them all."""

from engram_agents.errors import EngramError, InvalidInputError

__all__ = [
    "AuditIntegrityError",
    "BackendUnavailableError",
    "ConflictError",
    "ConsentError",
    "EncryptionError",
    "InvalidInputError",
    "NotFoundError",
    "StoreError",
]


class StoreError(EngramError):
    """Base class for episodic-store errors."""


class NotFoundError(StoreError, KeyError):
    """No engram with that id exists in the caller's scope."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else "not found"


class BackendUnavailableError(StoreError, RuntimeError):
    """The database file is corrupt or locked, or the Chroma server cannot be reached."""


class EncryptionError(StoreError, RuntimeError):
    """A key is missing or wrong, or ciphertext was tampered with."""


class AuditIntegrityError(StoreError, RuntimeError):
    """The hash chain of the audit log is broken: an entry was edited, removed or reordered."""


class ConflictError(StoreError, RuntimeError):
    """Another writer changed the user's engrams between this write's read and its commit; the
    store retries on its own and raises this only when the user's engrams keep changing."""


class ConsentError(StoreError, PermissionError):
    """The user switched persistent memory off (`EngramMemory.set_consent(user_id, False)`):
    nothing new is remembered for them until they switch it on again."""
