"""The one synthetic corpus of the benchmarks: the five registered reports, then copies of them with perturbed
numbers and distinct regions, registered in a private copy of data/.

    from synthetic_corpus import make_corpus
    data = make_corpus(1000, tmp / "data")      # data/ with 1,000 registered reports

    .venv/bin/python benchmarks/synthetic_corpus.py 1000 /tmp/corpus   # the same from the shell

The five originals keep their ids, files and lines (data/corrections.csv cites them). Copy ``k`` of report
``r`` (``k`` = 1, 2, …) is registered as id ``s<NNNN>``, region ``<region>_<NNNN>`` with the Chinese and English
names numbered the same way, and its text is the original's with the last digit of every number of two or more
digits shifted (years 1900–2099 and the number 100 are left alone, so periods, table headers and percentages
keep their meaning); every line stays where it was and keeps its length, so the annex tables keep their layout.
Nothing here is an expected output: the benchmarks only time what the pipeline makes of it.
"""

from __future__ import annotations

import hashlib
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.hostile_inputs import copy_data  # noqa: E402

__all__ = ["make_corpus", "perturb"]

_NUMBER = re.compile(r"(?<![\d.])\d{2,}(?:\.\d+)?(?![\d.])")
_YEAR = re.compile(r"(?:19|20)\d\d")


def perturb(text: str, shift: int) -> str:
    """``text`` with the last digit of each number of two or more digits moved by ``shift`` (mod 10)."""
    if shift % 10 == 0:
        return text

    def one(match: re.Match) -> str:
        raw = match.group(0)
        if _YEAR.fullmatch(raw) or raw == "100":
            return raw
        return raw[:-1] + str((int(raw[-1]) + shift) % 10)

    return _NUMBER.sub(one, text)


def _toml_entry(entry: dict) -> str:
    # JSON strings are TOML basic strings; integers print the same in both.
    return "[[report]]\n" + "".join(f"{key} = {json.dumps(value, ensure_ascii=False)}\n"
                                    for key, value in entry.items()) + "\n"


def make_corpus(n: int, dest: Path, *, source: Path = ROOT / "data") -> Path:
    """A data folder at ``dest`` registering ``n`` reports (``n`` ≥ 1): the originals first, then copies."""
    data = copy_data(source, dest)
    registry = data / "reports.toml"
    originals = tomllib.loads(registry.read_text(encoding="utf-8"))["report"]
    texts = {e["id"]: (data / e["file"]).read_text(encoding="utf-8") for e in originals}
    kept = originals[:n]
    if n < len(originals):  # fewer than five: register only the first n
        for entry in originals[n:]:
            (data / entry["file"]).unlink()
        registry.write_text("".join(_toml_entry(e) for e in kept), encoding="utf-8")
        return data
    folder = data / "reports" / "synthetic"
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for i in range(len(originals), n):
        base = originals[i % len(originals)]
        copy = i // len(originals)
        body = perturb(texts[base["id"]], copy).encode("utf-8")
        suffix = f"{i:04d}"
        file = f"reports/synthetic/{base['region']}_{suffix}{Path(base['file']).suffix}"
        (data / file).write_bytes(body)
        entries.append({**base, "id": f"s{suffix}", "file": file, "sha256": hashlib.sha256(body).hexdigest(),
                        "original_name": f"synthetic_{suffix}_{base['original_name']}",
                        "subject_zh": f"{base['subject_zh']}（合成{suffix}）",
                        "subject_en": f"{base['subject_en']} (synthetic {suffix})",
                        "region": f"{base['region']}_{suffix}", "region_zh": f"{base['region_zh']}{suffix}",
                        "region_en": f"{base['region_en']} {suffix}"})
    with registry.open("a", encoding="utf-8") as fh:
        fh.write("\n" + "".join(_toml_entry(e) for e in entries))
    return data


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: synthetic_corpus.py N DEST")
    print(make_corpus(int(sys.argv[1]), Path(sys.argv[2])))
