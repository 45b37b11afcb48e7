"""Finding a font that can typeset Chinese, for PDFs (Typst) and charts (vl-convert).

Without a CJK font Typst and vl-convert silently draw empty boxes, so every output that shows Chinese asks
:func:`find_cjk_font` first and refuses to render when it raises. A font counts only if its character map
covers :data:`SAMPLE_TEXT` (checked with fontTools), not because of its name.

Where to look, in order: the ``font_path`` argument, else ``VQR_FONT_PATH`` (a font file or a folder), then the
usual system font folders (:data:`SYSTEM_FONT_DIRS`; on Debian ``apt-get install fonts-noto-cjk`` provides
'Noto Sans CJK SC'). Both places are parameters so that tests can hide the system's fonts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from vqr_analysis.core.errors import VqrError

__all__ = [
    "CjkFont", "FONT_PATH_ENV", "SYSTEM_FONT_DIRS", "PREFERRED_FAMILIES", "SAMPLE_TEXT", "find_cjk_font",
    "covers", "missing_glyphs", "register_chart_font",
]

FONT_PATH_ENV = "VQR_FONT_PATH"
SYSTEM_FONT_DIRS: tuple[Path, ...] = (
    Path("/usr/share/fonts"), Path("/usr/local/share/fonts"), Path.home() / ".local/share/fonts",
    Path.home() / ".fonts", Path("/Library/Fonts"), Path("/System/Library/Fonts"), Path("C:/Windows/Fonts"),
)
# Simplified-Chinese families first (the reports are zh-CN), sans before serif (small print reads better).
PREFERRED_FAMILIES = (
    "Noto Sans CJK SC", "Source Han Sans SC", "Source Han Sans CN", "Noto Sans SC", "Noto Serif CJK SC",
    "Source Han Serif SC", "WenQuanYi Micro Hei", "WenQuanYi Zen Hei", "Microsoft YaHei", "PingFang SC",
    "Hiragino Sans GB", "SimHei", "SimSun", "AR PL UMing CN",
)
# Characters every brief prints: if a font lacks any of them, it is not good enough.
SAMPLE_TEXT = "职业教育质量年度报告新疆维吾尔自治区昌吉塔城第十师北屯生师比双师型面临挑战"
_FONT_SUFFIXES = {".ttf", ".otf", ".ttc", ".otc"}


@dataclass(frozen=True)
class CjkFont:
    """A font that covers Chinese: its family name (for Typst and Vega-Lite) and the file it lives in."""

    family: str
    path: Path
    index: int = 0

    @property
    def folder(self) -> Path:
        """The folder to hand to Typst (``font_paths``) and vl-convert; it also holds bold faces, if any."""
        return self.path.parent


@lru_cache(maxsize=256)
def _codepoints(path: Path, index: int) -> frozenset[int]:
    """The characters a font face has glyphs for (empty for an unreadable file)."""
    from fontTools.ttLib import TTFont  # local: only needed when looking for fonts

    try:
        with TTFont(str(path), fontNumber=index, lazy=True) as font:
            return frozenset(font.getBestCmap() or {})
    except Exception:  # an unreadable or unsupported file is simply not a candidate
        return frozenset()


# CJK blocks (punctuation, kana, ideographs, compatibility and full-width forms, extension planes): characters
# no Latin fallback font can draw, so the CJK font must have them.
_CJK_RANGES = ((0x2E80, 0x9FFF), (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF), (0x20000, 0x3FFFF))


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return any(lo <= code <= hi for lo, hi in _CJK_RANGES)


def missing_glyphs(font: CjkFont, text: str) -> list[str]:
    """CJK characters of ``text`` that ``font`` cannot draw, in order of first use.

    Other characters (a stray '⁵', Latin) are left to the renderer's fallback fonts, which cover them.
    """
    have = _codepoints(font.path, font.index)
    return list(dict.fromkeys(ch for ch in text if _is_cjk(ch) and ord(ch) not in have))


def covers(path: Path, index: int = 0, text: str = SAMPLE_TEXT) -> bool:
    """Whether the font at ``path`` (face ``index`` of a collection) has a glyph for every character of text."""
    have = _codepoints(path, index)
    return bool(have) and all(ord(ch) in have for ch in text if not ch.isspace())


def _font_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root] if root.suffix.lower() in _FONT_SUFFIXES else []
    if not root.is_dir():
        return []
    return sorted(p for p in root.rglob("*") if p.suffix.lower() in _FONT_SUFFIXES and p.is_file())


def _faces(place: Path) -> list[tuple[str, Path, int, int, str]]:
    """(family, path, index, weight, style) of every face under ``place``, read by Typst's own font loader."""
    import typst

    files = _font_files(place)
    if not files:
        return []
    wanted = {f.resolve() for f in files}
    folder = str(place if place.is_dir() else place.parent)
    fonts = typst.Fonts(include_system_fonts=False, include_embedded_fonts=False, font_paths=[folder]).fonts()
    return [(i.family, Path(i.path), i.index, i.weight, i.style) for i in fonts
            if i.path and Path(i.path).resolve() in wanted]


def _best(faces: list[tuple[str, Path, int, int, str]]) -> CjkFont | None:
    """The preferred covering face: known families first, then any; regular upright weight within a family."""
    rank = {family: i for i, family in enumerate(PREFERRED_FAMILIES)}
    ordered = sorted(faces, key=lambda f: (rank.get(f[0], len(rank)), f[4] != "normal", abs(f[3] - 400), f[0]))
    for family, path, index, _weight, _style in ordered:
        if covers(path, index):
            return CjkFont(family, path, index)
    return None


def find_cjk_font(font_path: str | Path | None = None, *, system_dirs: Iterable[Path] | None = None,
                  env: dict[str, str] | None = None) -> CjkFont:
    """The font to typeset Chinese with, or a VqrError saying where it looked and how to fix it.

    ``font_path`` (else ``$VQR_FONT_PATH``) is searched first; then ``system_dirs`` (default
    :data:`SYSTEM_FONT_DIRS`; pass ``()`` to ignore the system's fonts).
    """
    env = os.environ if env is None else env
    explicit = font_path or env.get(FONT_PATH_ENV) or None
    places: list[Path] = []
    if explicit:
        explicit = Path(explicit).expanduser()
        if not explicit.exists():
            raise VqrError(f"{FONT_PATH_ENV} points to {explicit}, which does not exist")
        places.append(explicit)
    places.extend(Path(d) for d in (SYSTEM_FONT_DIRS if system_dirs is None else system_dirs))
    for place in places:
        found = _best(_faces(place))
        if found:
            return found
    searched = ", ".join(str(p) for p in places) or "nowhere"
    raise VqrError(
        f"no font with Chinese glyphs found (searched {searched}); install one (Debian: apt-get install "
        f"fonts-noto-cjk) or set {FONT_PATH_ENV} to a CJK font file or folder"
    )


_registered: set[str] = set()


def register_chart_font(font: CjkFont) -> None:
    """Make vl-convert (charts) see the font's folder too; system folders it already knows are harmless."""
    import vl_convert

    folder = str(font.folder.resolve())
    if folder not in _registered:
        vl_convert.register_font_directory(folder)
        _registered.add(folder)
