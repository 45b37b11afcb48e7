"""Outputs built aside and published all at once, or discarded.

A ``Staging`` holds, for each live output (the database file, the site folder, the executed notebooks), the
staged copy a build wrote beside it (same filesystem, so moving it in is a rename). ``publish`` first
checks that every live target can be replaced, then swaps them in one by one; if any swap fails, the ones
already made are undone, so the database is never left out of step with the site. ``discard`` removes
every staged copy. Staged names carry the pid of the process that made them (``.vqr.duckdb.building-PID``,
``.site.staging-PID``, ``build/.staging-PID``): after a ``kill -9``, the next build removes those whose
process is gone (``remove_dead_leftovers``) and puts back a live folder a kill left moved aside.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from typing import Iterable

from vqr_analysis.core.errors import VqrError
from vqr_analysis.core.paths import mark_output_dir

__all__ = ["Staging", "replace_dir", "remove_dead_leftovers", "pid_alive", "check_replaceable"]


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def _aside(target: Path) -> Path:
    return target.with_name(f".{target.name}.old-{os.getpid()}")


def _move_aside(target: Path) -> Path | None:
    """Keep the live ``target`` under an ``.old-PID`` name for undo. A file is hard-linked, so the live path
    never disappears (its replacement is one atomic rename); a folder is renamed."""
    if not target.exists():
        return None
    old = _aside(target)
    _remove(old)
    if target.is_dir():
        os.replace(target, old)
    else:
        try:
            os.link(target, old)
        except OSError:  # a filesystem without hard links
            shutil.copy2(target, old)
    return old


def _swap_in(staged: Path, target: Path) -> None:
    os.replace(staged, target)


def _writable(path: Path) -> bool:
    # os.access also refuses an immutable file or folder (chattr +i), even to root.
    return os.access(path, os.W_OK | os.X_OK if path.is_dir() else os.W_OK)


def check_replaceable(targets: Iterable[Path]) -> None:
    """Every target can be replaced: its folder is writable, and so is the target if it exists; else a
    VqrError naming the first that is not."""
    for target in targets:
        for path in (Path(target).parent, Path(target)):
            if path.exists() and not _writable(path):
                raise VqrError("cannot replace it: not writable (read-only or immutable?); nothing was "
                               "published, the last good outputs are unchanged", path=path)


class Staging:
    """Staged copies of live outputs, published together or not at all."""

    def __init__(self, scratch: Path | None = None) -> None:
        # A private working folder (the build's build/.staging-PID), created by open(), removed at the end.
        self.scratch = Path(scratch) if scratch else None
        self._staged: dict[Path, Path] = {}  # live target → staged copy, in publishing order

    def open(self) -> "Staging":
        if self.scratch is not None:
            _remove(self.scratch)
            self.scratch.mkdir(parents=True)
        return self

    def file(self, target: Path) -> Path:
        """A path to build a new version of the file ``target`` at (registered before the first byte is
        written, so a failure discards it)."""
        target = Path(target)
        if target in self._staged:
            return self._staged[target]
        staged = target.with_name(f".{target.name}.building-{os.getpid()}")
        self._discard_one(staged)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._staged[target] = staged
        return staged

    def folder(self, target: Path, *, copy_live: bool = False) -> Path:
        """A folder to build a new version of the folder ``target`` in (beside it; optionally a copy)."""
        target = Path(target)
        if target in self._staged:
            return self._staged[target]
        staged = target.with_name(f".{target.name}.staging-{os.getpid()}")
        _remove(staged)
        target.parent.mkdir(parents=True, exist_ok=True)
        self._staged[target] = staged
        if copy_live and target.is_dir():
            shutil.copytree(target, staged, symlinks=True)
        else:
            staged.mkdir(parents=True)
        return staged

    def adopt(self, staged: Path, target: Path) -> None:
        """Publish ``staged`` (already written, on the target's filesystem) as ``target``."""
        self._staged[Path(target)] = Path(staged)

    def staged(self, target: Path) -> Path | None:
        return self._staged.get(Path(target))

    def __bool__(self) -> bool:
        return bool(self._staged)

    def check_writable(self) -> None:
        check_replaceable(self._staged)

    def publish(self) -> None:
        """Swap every staged copy in, or none: a failure undoes the swaps already made, then re-raises."""
        self.check_writable()
        done: list[tuple[Path, Path | None]] = []
        target = None
        try:
            for target, staged in self._staged.items():
                if staged.is_dir():
                    mark_output_dir(staged)
                done.append((target, _move_aside(target)))
                _swap_in(staged, target)
        except BaseException as exc:
            for live, old in reversed(done):
                if old is not None:
                    if live.is_dir() and not live.is_symlink():
                        _remove(live)
                    os.replace(old, live)
                else:
                    _remove(live)
            self.discard()
            if isinstance(exc, OSError):
                raise VqrError(f"cannot replace it ({exc.strerror or exc}); nothing was published, the last good "
                               "outputs are unchanged", path=target) from exc
            raise
        for _, old in done:
            if old is not None:
                _remove(old)
        self._staged.clear()
        if self.scratch is not None:
            _remove(self.scratch)

    def _discard_one(self, staged: Path) -> None:
        _remove(staged)
        for extra in (Path(f"{staged}.wal"), Path(f"{staged}.tmp")):  # DuckDB's log and spill folder
            _remove(extra)

    def discard(self) -> None:
        for staged in self._staged.values():
            self._discard_one(staged)
        self._staged.clear()
        if self.scratch is not None:
            _remove(self.scratch)


def replace_dir(new: Path, target: Path) -> None:
    """Put folder ``new`` in place of ``target`` (same filesystem), marked as vqr's output; the old copy is
    removed only once the new one is in, and restored if the swap fails."""
    staging = Staging()
    staging.adopt(new, target)
    staging.publish()


def pid_alive(pid: int) -> bool:
    """True if a process with this id exists (another user's included). Our own id counts as gone: the
    caller holds the project lock, so nothing this process staged earlier is still in use."""
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# `.vqr.duckdb.building-123`, `.vqr.duckdb.building-123.wal`, `.site.staging-123`, `.site.old-123`,
# `.site.building-123-x8f2` (the site renderer's work folder), and the build's own `.staging-123`.
_LEFTOVER = re.compile(r"^\.(?:(?P<name>.+?)\.(?P<what>building|staging|old)|staging)-(?P<pid>\d+)"
                       r"(?:[.-].*)?$")


def remove_dead_leftovers(folders: Iterable[Path]) -> list[Path]:
    """Remove the staged files and folders of processes that no longer run, in ``folders``; a live output
    that a kill left moved aside (``.site.old-PID`` with no ``site``) is put back instead. Returns what was
    removed or restored."""
    handled = []
    for folder in dict.fromkeys(Path(f) for f in folders):
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir()):
            match = _LEFTOVER.match(entry.name)
            if not match or pid_alive(int(match["pid"])):
                continue
            live = folder / match["name"] if match["name"] else None
            if match["what"] == "old" and live is not None and not live.exists() and entry.name.endswith(
                    f"-{match['pid']}"):
                os.replace(entry, live)
            else:
                _remove(entry)
            handled.append(entry)
    return handled
