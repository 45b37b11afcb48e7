"""One exception type for every problem a user can fix (bad input, bad parameters, missing tools).

The CLI prints its message as one line and exits non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["VqrError"]


class VqrError(Exception):
    """A problem with the inputs or the environment, explained in one line for the user."""

    exit_code = 2

    def __init__(self, message: str, *, path: object | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path is not None else message)
