"""One exception type for every problem a user can fix (bad input, bad parameters, missing tools).

The CLI prints its message as one line and exits non-zero; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import difflib
from typing import Iterable, Sequence

__all__ = ["VqrError", "check_known", "reject_unknown_keys"]


class VqrError(Exception):
    """A problem with the inputs or the environment, explained in one line for the user."""

    exit_code = 2

    def __init__(self, message: str, *, path: object | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path is not None else message)


def check_known(kind: str, wanted: Iterable[str], known: Sequence[str], *, also: Sequence[str] = ()) -> list[str]:
    """``wanted`` without repeats, or a VqrError naming each unknown one with the nearest known names.

    The one check behind every "unknown region / indicator code" message (API, notebooks, briefs, CLI).
    ``also`` are other accepted spellings (a region's Chinese or English name): suggested when nearest, never
    listed.
    """
    wanted = list(dict.fromkeys(wanted))
    accepted = set(known) | set(also)
    unknown = [w for w in wanted if w not in accepted]
    if not unknown:
        return wanted
    candidates = list(dict.fromkeys(str(k) for k in (*known, *also)))
    hints = []
    for name in unknown:
        near = difflib.get_close_matches(str(name), candidates, n=3, cutoff=0.5)
        hints.append(f"{name!r} (did you mean {', '.join(near)}?)" if near else repr(name))
    shown = ", ".join(known) if len(known) <= 12 else ", ".join(known[:12]) + f", … ({len(known)} in all)"
    raise VqrError(f"unknown {kind} {', '.join(hints)}; known {kind}s: {shown}")


def reject_unknown_keys(table: dict, allowed: Iterable[str], where: str, path: object) -> None:
    """A VqrError naming ``where`` when a table read from a data file (TOML) has keys outside ``allowed``."""
    unknown = sorted(map(str, set(table) - set(allowed)))
    if unknown:
        raise VqrError(f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(allowed))})",
                       path=path)
