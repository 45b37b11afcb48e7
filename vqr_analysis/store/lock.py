"""One writer at a time per project: the lock every command that writes takes.

The lock is ``fcntl.flock`` on an open descriptor of the build folder itself, held until the command ends
(the kernel drops it if the process dies). A lock on a file's path could be bypassed by deleting the file
while it is held: a second command would create a new file and lock that. A folder that still holds the
build's files cannot be unlinked, and deleting the small holder note beside it
(``.vqr-build.lock``, pid and command, for the message) changes nothing.
"""

from __future__ import annotations

import fcntl
import json
import os
import time
from datetime import datetime, timezone
from pathlib import Path

from vqr_analysis.core.errors import VqrError
from vqr_analysis.core.paths import build_dir

__all__ = ["ProjectLock", "HOLDER_FILE"]

HOLDER_FILE = ".vqr-build.lock"


class ProjectLock:
    """``with ProjectLock(folder, command="db"):`` — exclusive, or a VqrError naming the holder.

    ``wait`` seconds are spent retrying before giving up (0: refuse at once)."""

    def __init__(self, folder: Path | None = None, *, wait: float = 0.0, command: str = "build") -> None:
        self.folder = Path(folder or build_dir())
        self.wait = wait
        self.command = command
        self.fd: int | None = None

    @property
    def holder_file(self) -> Path:
        return self.folder / HOLDER_FILE

    def __enter__(self) -> "ProjectLock":
        self.folder.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        deadline = time.monotonic() + self.wait
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise VqrError(self._busy_message(), path=self.folder) from None
                time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
        self.fd = fd
        note = {"pid": os.getpid(), "command": self.command, "started": datetime.now(timezone.utc).isoformat()}
        try:
            self.holder_file.write_text(json.dumps(note), encoding="utf-8")
        except OSError:
            pass  # the note only improves the message; the lock is the descriptor
        return self

    def _busy_message(self) -> str:
        holder, command = "", None
        try:
            info = json.loads(self.holder_file.read_text(encoding="utf-8"))
            command = str(info["command"])
            holder = f"pid {int(info['pid'])}, started {info['started']}"
        except (OSError, ValueError, KeyError, TypeError):
            pass
        if command == "build":
            what = f"another vqr build is running ({holder})"
        else:
            what = "another vqr command is writing this project" + (
                f" (`vqr {command}`, {holder})" if command else "")
        hint = "pass --wait SECONDS" if self.command == "build" else "run it again then"
        return f"{what}; wait for it to finish or {hint}"

    def __exit__(self, *exc) -> None:
        if self.fd is None:
            return
        try:
            info = json.loads(self.holder_file.read_text(encoding="utf-8"))
            if info.get("pid") == os.getpid():
                self.holder_file.unlink(missing_ok=True)
        except (OSError, ValueError, AttributeError):
            pass
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
        self.fd = None
