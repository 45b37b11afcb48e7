"""Hashing, atomic writes and the content-addressed store: the one cache every build phase uses.

- **Hashing.** ``digest`` keys a unit of work from JSON-able parts; ``file_digest`` and ``tree_digest`` hash
  what is on disk (a missing path hashes to ``"absent"``, so "gone" is a change like any other).
- **Atomic writes.** ``atomic_path`` hands out a temporary sibling of the target and moves it into place
  only when the block finished; a failure (or a kill) never leaves a half-written target behind.
- **Content-addressed store.** ``ContentStore`` keeps one entry per unit under the unit's key, with a
  sidecar recording the entry's unit, key and SHA-256. An entry is used only if the sidecar matches, the
  bytes hash to what was stored and the caller's validity check passes; anything else (a truncated file, a
  file copied over from another unit, garbage) is dropped and reported as a miss, so the unit is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

__all__ = [
    "digest", "file_digest", "tree_digest", "atomic_path", "atomic_write_text", "ContentStore", "is_pdf",
]

# Files an editor or Jupyter leaves beside sources: they are not inputs.
_IGNORED_PARTS = (".ipynb_checkpoints",)


def digest(*parts: object) -> str:
    """A short key for JSON-able ``parts`` (order matters, dict order does not)."""
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, ensure_ascii=False, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()[:16]


def file_digest(path: Path) -> str:
    """SHA-256 of a file's bytes, or ``"absent"``."""
    path = Path(path)
    if not path.is_file():
        return "absent"
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_digest(path: Path) -> str:
    """SHA-256 over a folder's files (relative names and bytes), a file's own hash, or ``"absent"``."""
    path = Path(path)
    if path.is_file():
        return file_digest(path)
    if not path.is_dir():
        return "absent"
    h = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file() and not set(_IGNORED_PARTS) & set(p.parts)):
        h.update(f.relative_to(path).as_posix().encode())
        h.update(file_digest(f).encode())
    return h.hexdigest()


@contextmanager
def atomic_path(target: Path, *, suffix: str = "") -> Iterator[Path]:
    """A temporary sibling of ``target`` (same filesystem) to write; moved over ``target`` when the block
    ends without error, removed otherwise. The pid in its name lets a later build remove it after a kill;
    ``suffix`` ends the name for writers that insist on one (papermill wants ``.ipynb``)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.building-{os.getpid()}{suffix}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(target: Path, text: str) -> Path:
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(target)


def is_pdf(path: Path) -> bool:
    """A PDF begins with ``%PDF-`` and ends with ``%%EOF`` (within its last kilobyte): a truncated or
    garbage file fails."""
    try:
        with open(path, "rb") as f:
            head = f.read(5)
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 1024))
            tail = f.read()
    except OSError:
        return False
    return head == b"%PDF-" and b"%%EOF" in tail


Check = Callable[[Path], bool]


class ContentStore:
    """One folder of cached outputs: ``<unit>-<key><suffix>`` plus a ``.meta.json`` sidecar per entry."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)

    def path(self, unit: str, key: str, suffix: str) -> Path:
        return self.folder / f"{unit}-{key}{suffix}"

    def _meta(self, entry: Path) -> Path:
        return entry.with_name(entry.name + ".meta.json")

    def get(self, unit: str, key: str, suffix: str, *, check: Check | None = None) -> Path | None:
        """The verified entry, or None. An entry that fails verification is deleted (a miss, rebuilt)."""
        entry = self.path(unit, key, suffix)
        if not entry.is_file():
            return None
        try:
            meta = json.loads(self._meta(entry).read_text(encoding="utf-8"))
            ok = (isinstance(meta, dict) and meta.get("unit") == unit and meta.get("key") == key
                  and meta.get("sha256") == file_digest(entry) and (check is None or check(entry)))
        except (OSError, ValueError, RecursionError):
            ok = False
        if not ok:
            self.drop(entry)
            return None
        for used in (entry, self._meta(entry)):  # recently used: kept by pruning by age
            os.utime(used)
        return entry

    def put(self, unit: str, key: str, suffix: str, src: Path | bytes, *, keep_others: bool = False) -> Path:
        """Store ``src`` (a file to copy, or bytes) as the unit's entry for ``key``, atomically. The unit's
        entries under other keys are removed unless ``keep_others`` (many small entries keyed by content)."""
        entry = self.path(unit, key, suffix)
        self.folder.mkdir(parents=True, exist_ok=True)
        if not keep_others:
            for stale in self.folder.glob(f"{unit}-*{suffix}"):
                if stale != entry:
                    self.drop(stale)
        with atomic_path(entry) as tmp:
            if isinstance(src, bytes):
                tmp.write_bytes(src)
            else:
                shutil.copyfile(src, tmp)
            sha = file_digest(tmp)
        atomic_write_text(self._meta(entry), json.dumps({"unit": unit, "key": key, "sha256": sha}))
        return entry

    def drop(self, entry: Path) -> None:
        entry.unlink(missing_ok=True)
        self._meta(entry).unlink(missing_ok=True)

    def clear(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
