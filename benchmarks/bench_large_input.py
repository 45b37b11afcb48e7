"""A 50 MB report through `vqr db`: wall time per step (from the progress lines), time per phase (from the
build's own timings in the `runs` table) and peak memory.

    .venv/bin/python benchmarks/bench_large_input.py            # 50 MB (default)
    .venv/bin/python benchmarks/bench_large_input.py --mb 10    # another size (run sizes in separate processes:
                                                                # peak memory is the maximum over children)

The report is 000 (xinjiang) with its body repeated until the file reaches the size and its annex tables
once at the end (tests/support/hostile_inputs.py: inflate); it is registered in a temporary copy of
data/, so the checkout is untouched. Prints each progress step with the seconds until the next one, the
phases read / extract / load / validate as the build timed them, the rest of the run (interpreter start-up,
summary queries, checkpoint) and the peak resident memory of the `vqr db` process.

Measured on the 2-core development machine while other work ran (seconds are rough; "after" is the range
of two runs):

    size    code     read    extract   load      validate   total      peak RSS
    10 MB   before   0.2s    2.2s      0.3s      2.9s       6.4s       427 MB
    10 MB   after    0.1s    1.1-1.4s  0.2-0.6s  0.05-0.13s 2.2-3.0s   217-219 MB
    50 MB   before   0.5s    8.3s      0.9s      84s        95s        1783 MB
    50 MB   after    0.5-0.7s 6.3-7.4s 0.3-0.7s  0.3-0.5s   8.8-9.6s   423-428 MB

What "before" spent it on (profiled in-process at 50 MB): ``textnorm.logical_text`` kept a Python list of
one-character strings and one int per character (~1.5 GB); validate's conflict rule compared every pair of
statements of a (report, entity, code, year), which a repeated body makes quadratic, re-parsing both raw
values for every pair. Now the joined text maps offsets per line segment (bisect), conflicts compare the
distinct (value, qualifier, raw) kinds of a key, parts and ratios look totals up once per key, and flags go
in as one frame; ``match_form`` substitutes only the characters it changes, ``find_tables`` tests only lines
with '表', and the observations frame is built column-wise instead of through ``dataclasses.asdict``.
What is left is linear: prose regexes over the joined text (~3 s at 50 MB), reading the repeated body's
~2,900 tables (~1 s; the annex check finds them a second time), decoding and splitting (~0.6 s). The peak is
~65 MB of interpreter and libraries, ~200 MB of documents held for the whole build (bytes decoded, lines,
joined text) and ~100 MB of DuckDB during the load.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from support.hostile_inputs import copy_data, inflate, register, report_entry  # noqa: E402

REPORT = "000"


def run_db(data: Path, db: Path) -> tuple[list[tuple[float, str]], float, float, dict[str, float]]:
    """Run `vqr db` as a child; return (progress lines with their arrival time, seconds, peak RSS in MB, the
    build's phase timings)."""
    env = {**os.environ, "VQR_ROOT": str(ROOT), "VQR_DATA_DIR": str(data)}
    started = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    proc = subprocess.Popen([sys.executable, "-m", "vqr_analysis.cli", "db", "--db", str(db)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    steps = [(time.perf_counter() - started, line.rstrip()) for line in proc.stderr]
    if proc.wait() != 0:
        raise SystemExit("vqr db failed:\n" + "\n".join(text for _, text in steps[-5:]))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss  # KiB on Linux; max over all children
    if peak <= before:
        print("  (peak memory below an earlier child's; run the sizes in separate processes to compare)")
    with duckdb.connect(str(db), read_only=True) as con:
        timings = json.loads(con.execute("SELECT timings::VARCHAR FROM runs WHERE kind = 'db'").fetchone()[0])
    return steps, seconds, peak / 1024, timings


def report(title: str, steps: list[tuple[float, str]], seconds: float, peak_mb: float,
           timings: dict[str, float]) -> None:
    print(title)
    print("  steps (seconds until the next progress line; the last runs to the end of the process):")
    for (at, text), (until, _) in zip(steps, [*steps[1:], (seconds, "")]):
        print(f"  {until - at:7.2f}s  {text}")
    phases = [p for p in ("read", "extract", "load", "ledger", "validate", "preferred") if p in timings]
    rest = seconds - sum(timings.get(p, 0.0) for p in phases)
    print("  phases: " + "  ".join(f"{p} {timings.get(p, 0.0):.2f}s" for p in phases)
          + f"  other (start-up, summary, write) {rest:.2f}s")
    print(f"  total {seconds:.1f}s, peak RSS {peak_mb:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=float, default=50.0)
    parser.add_argument("--baseline", action="store_true", help="Also time the unmodified data first.")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vqr-bench-large-") as tmp:
        tmp_path = Path(tmp)
        data = copy_data(ROOT / "data", tmp_path / "data")
        if args.baseline:
            report("baseline (the five reports as they are)", *run_db(data, tmp_path / "base.duckdb"))
        file, _ = report_entry(data, REPORT)
        text = (data / file).read_text(encoding="utf-8")
        big = inflate(text, int(args.mb * 2**20)).encode()
        register(data, REPORT, big)
        report(f"report {REPORT} inflated to {len(big) / 2**20:.1f} MB", *run_db(data, tmp_path / "big.duckdb"))


if __name__ == "__main__":
    main()
