"""Benchmarks for vqr-analysis, measured side by side in one run on this machine.

    .venv/bin/python benchmarks/run.py            # everything (a cold full build takes ~half a minute)
    .venv/bin/python benchmarks/run.py --quick    # extraction + load only

Prints: extract+load time and MB/s; cold build time by phase; no-op rebuild as a ratio to cold; one-report-
changed rebuild as a ratio to cold; site page weight (HTML + the JS/CSS it loads). Ratios are what to read:
these machines are noisy, so absolute seconds vary from run to run while ratios measured in one run hold.
Everything runs in a temporary copy of data/; the checkout's database, build folder and site are untouched.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from vqr_analysis.build import BuildOptions, run_build  # noqa: E402
from vqr_analysis.store.database import build_database  # noqa: E402
from vqr_analysis.sources.registry import load_registry  # noqa: E402

_ASSET_RE = re.compile(r"""<(?:script[^>]*\ssrc|link[^>]*\shref)=["']([^"'#?]+)["']""", re.I)


def _row(name: str, value: str, note: str = "") -> None:
    print(f"  {name:<44} {value:>14}  {note}")


def bench_extract_load(data: Path, tmp: Path, repeats: int = 7) -> float:
    size = sum((data / r.file).stat().st_size for r in load_registry(data / "reports.toml"))
    times = []
    for i in range(repeats):
        target = tmp / f"bench-{i}.duckdb"
        t = time.perf_counter()
        build_database(target, base=data)  # no cache: every report is read, extracted, loaded, validated
        times.append(time.perf_counter() - t)
        target.unlink()
    median = statistics.median(times)
    print("extract + load (all registered reports, no cache)")
    _row("input size", f"{size / 1e6:.3f} MB", f"{len(load_registry(data / 'reports.toml'))} reports")
    _row("median time", f"{median:.3f} s", f"min {min(times):.3f} s over {repeats} runs; target ≤ 0.5 s")
    _row("throughput", f"{size / 1e6 / median:.2f} MB/s")
    return median


def _touch_one_report(data: Path) -> str:
    registry = load_registry(data / "reports.toml")
    report = registry[len(registry) // 2]
    path = data / report.file
    old = hashlib.sha256(path.read_bytes()).hexdigest()
    path.write_bytes(path.read_bytes() + "\n（基准测试追加的一行）\n".encode())
    new = hashlib.sha256(path.read_bytes()).hexdigest()
    toml = data / "reports.toml"
    toml.write_text(toml.read_text(encoding="utf-8").replace(old, new), encoding="utf-8")
    return report.region


def _timed_build(opts: BuildOptions):
    t = time.perf_counter()
    result = run_build(opts)
    return time.perf_counter() - t, result


def _timed_cli_noop(tmp: Path, data: Path) -> float:
    import os
    import subprocess

    env = dict(os.environ, VQR_DATA_DIR=str(data), VQR_DB=str(tmp / "out" / "vqr.duckdb"),
               VQR_BUILD_DIR=str(tmp / "build"), VQR_SITE_DIR=str(tmp / "site"))
    vqr = Path(sys.executable).with_name("vqr")
    t = time.perf_counter()
    subprocess.run([str(vqr), "build"], env=env, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - t


def page_weight(site: Path, page: Path) -> tuple[int, int]:
    """Bytes of the page plus the local JS/CSS it references (each asset once); and the JS share."""
    html = page.read_text(encoding="utf-8", errors="replace")
    total, js = page.stat().st_size, 0
    for ref in sorted(set(_ASSET_RE.findall(html))):
        if "://" in ref or ref.startswith("data:"):
            continue
        asset = (page.parent / ref).resolve()
        if asset.is_file() and asset.suffix in (".js", ".css"):
            total += asset.stat().st_size
            js += asset.stat().st_size if asset.suffix == ".js" else 0
    return total, js


def bench_builds(data: Path, tmp: Path) -> None:
    opts = dict(db_path=tmp / "out" / "vqr.duckdb", data=data, build=tmp / "build", site=tmp / "site")
    cold_s, cold = _timed_build(BuildOptions(**opts, force=True))
    print("\ncold full build (empty caches) by phase")
    for phase in cold.phases.values():
        _row(phase.name, f"{phase.seconds:.2f} s", f"ran {len(phase.ran)}")
    _row("total (wall)", f"{cold_s:.2f} s", "target ≤ 45 s")

    noop_s, noop = _timed_build(BuildOptions(**opts))
    print("\nincremental rebuilds, as a ratio to the cold build measured above")
    _row("no-op rebuild (in process)", f"{noop_s:.3f} s", f"{100 * noop_s / cold_s:.1f} % of cold (target ≤ 5 %); "
         f"published={noop.published}")
    cli_s = _timed_cli_noop(tmp, data)
    _row("no-op rebuild (`vqr build`, new process)", f"{cli_s:.3f} s",
         f"{100 * cli_s / cold_s:.1f} % of cold, interpreter start and imports included")
    region = _touch_one_report(data)
    one_s, one = _timed_build(BuildOptions(**opts))
    ran = ", ".join(one.ran_units)
    _row(f"one report changed ({region})", f"{one_s:.2f} s", f"{100 * one_s / cold_s:.1f} % of cold; ran: {ran}")

    site = tmp / "site"
    print("\nsite page weight (HTML + local JS/CSS it loads; vendored Vega counted once per page)")
    pages = [site / "index.html"] + sorted((site / "regions").glob("*.html"))[:1] + [site / "compare.html"]
    for page in pages:
        if page.is_file():
            total, js = page_weight(site, page)
            _row(str(page.relative_to(site)), f"{total / 1024:.0f} KiB", f"of which JS {js / 1024:.0f} KiB")
    all_bytes = sum(f.stat().st_size for f in site.rglob("*") if f.is_file())
    _row("whole site on disk", f"{all_bytes / 1e6:.2f} MB", f"{sum(1 for _ in site.rglob('*.html'))} pages")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="only extraction + load")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vqr-bench-") as name:
        tmp = Path(name)
        data = tmp / "data"
        shutil.copytree(ROOT / "data", data, ignore=shutil.ignore_patterns("*.duckdb*", "observations.*"))
        bench_extract_load(data, tmp)
        if not args.quick:
            bench_builds(data, tmp)


if __name__ == "__main__":
    main()
