"""A 50 MB report through `vqr db`: wall time per step (from the progress lines) and peak memory.

    .venv/bin/python benchmarks/bench_large_input.py            # 50 MB (default)
    .venv/bin/python benchmarks/bench_large_input.py --mb 10    # another size

The report is 000 (xinjiang) with its body repeated until the file reaches the size and its annex tables
once at the end (tests/fixtures/hostile/make_inputs.py: inflate); it is registered in a temporary copy of
data/, so the checkout is untouched. Prints each progress step with the seconds since the previous one, the
total and the peak resident memory of the `vqr db` process (with --baseline, first for the unmodified data).

Measured on the 2-core development machine while other builds ran (so seconds are rough):

    size     read   extract (that report)   load+validate+write   total       peak RSS
    10 MB    1.1s   3.9s                    9.8s                  15s         422 MB
    50 MB    1.3s   ~11-23s                 62-199s               75-225s     1784 MB

Where it goes (profiled in-process at 50 MB): reading, hashing and decoding the file add ~105 MB and ~1.5s;
``SourceDocument.logical`` (textnorm.logical_text keeps a Python list of one-character strings plus a list of
line numbers, per character) adds ~1.5 GB; validate's pairwise conflict check is quadratic in the statements
per (report, code, year), which a repeated body makes large — most of the load+validate time.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "fixtures" / "hostile"))

from make_inputs import copy_data, inflate, register, report_entry  # noqa: E402

REPORT = "000"


def run_db(data: Path, db: Path) -> tuple[list[tuple[float, str]], float, float]:
    """Run `vqr db` as a child; return (progress lines with their arrival time, seconds, peak RSS in MB)."""
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
    return steps, seconds, peak / 1024


def report(title: str, steps: list[tuple[float, str]], seconds: float, peak_mb: float) -> None:
    print(title)
    previous = 0.0
    for at, text in steps:
        print(f"  {at - previous:7.2f}s  {text}")
        previous = at
    print(f"  {seconds - previous:7.2f}s  (load, validate, write)")
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
