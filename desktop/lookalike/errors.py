"""The two kinds of error: the environment's fault (KnownError) and ours (BugError).

Only ``cli/`` and ``gui/`` turn these into messages, dialogs or exit codes.
"""

from __future__ import annotations


class LookalikeError(Exception):
    """Base of every error Lookalike raises on purpose."""


class KnownError(LookalikeError):
    """Something in the environment is wrong and Lookalike is not to blame; show the text."""


class UnreadablePhoto(KnownError):
    """A file could not be decoded as a photo.

    Attributes:
        path: the file, as given.
        reason: a short human-readable reason ("truncated JPEG", "not an image", ...).
    """

    def __init__(self, path: object, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path
        self.reason = reason


class CatalogCorrupt(KnownError):
    """The SQLite catalog is unreadable or newer than this version of Lookalike."""


class ModelMissing(KnownError):
    """The ONNX model file is missing or is not a Lookalike R-MAC model."""


class BugError(LookalikeError):
    """An internal invariant was broken: a bug in Lookalike."""


class DiskFull(KnownError):
    """The disk (or quota) holding the library is full; the write was undone, nothing lost."""


class LibraryBusy(KnownError):
    """Another Lookalike process has the library open (see ``lookalike.store.lock``)."""
