"""The parametrised notebooks and their papermill runner (one real execution of two notebooks, in parallel)."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
import sys

import nbformat
import polars as pl
import pytest

import vqr_analysis as vqr
from support.browser import chromium, jupyterlab, needs_browser
from support.paths import ROOT
from vqr_analysis import notebooks as nbrun
from vqr_analysis.core.errors import VqrError

NOTEBOOKS = ROOT / "notebooks"


def _code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


def test_region_profile_parameters_have_help():
    params = nbrun.notebook_parameters(NOTEBOOKS / nbrun.REGION_NOTEBOOK)
    assert list(params) == ["region", "db", "lang"]
    for name, info in params.items():
        assert info["help"], f"parameter {name} has no help comment"
    assert params["lang"]["default"] == '"zh"'
    assert params["region"]["default"] == "None" and params["db"]["default"] == "None"


def test_comparison_parameters_have_help():
    params = nbrun.notebook_parameters(NOTEBOOKS / nbrun.COMPARISON_NOTEBOOK)
    assert list(params) == ["db", "lang"]
    assert all(info["help"] for info in params.values())


def test_papermill_help_lists_the_parameters():
    out = subprocess.run([sys.executable, "-m", "papermill", "--help-notebook", str(NOTEBOOKS / nbrun.REGION_NOTEBOOK)],
                         capture_output=True, text=True, check=True).stdout
    for name in ("region", "db", "lang"):
        assert f"  {name}:" in out


@pytest.mark.parametrize("name", [nbrun.REGION_NOTEBOOK, nbrun.COMPARISON_NOTEBOOK])
def test_notebooks_use_only_the_library(name):
    """No SQL, no file reading, no imports other than the library in the notebooks."""
    cells = _code_cells(NOTEBOOKS / name)
    tagged = [c for c in cells if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1 and cells[0] is tagged[0]
    for cell in cells:
        tree = ast.parse(cell.source)
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert [a.name for a in node.names] == ["vqr_analysis"], cell.source
            if isinstance(node, ast.ImportFrom):
                assert node.module == "vqr_analysis", cell.source
            if isinstance(node, ast.Call) and isinstance(node.func, (ast.Name, ast.Attribute)):
                called = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
                assert called not in {"open", "read_text", "read_csv", "connect", "sql", "execute"}, cell.source
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                assert not re.search(r"\bselect\b.+\bfrom\b", node.value, re.I | re.S), cell.source
    # Outputs are never committed: the source notebooks are clean.
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in cells)


def test_notebooks_carry_narrative():
    for name in (nbrun.REGION_NOTEBOOK, nbrun.COMPARISON_NOTEBOOK):
        cells = nbformat.read(NOTEBOOKS / name, as_version=4).cells
        markdown = [c for c in cells if c.cell_type == "markdown"]
        assert len(markdown) >= 5 and markdown[0].source.startswith("# ")
        assert any("not reported" in c.source for c in markdown) and any("未报告" in c.source for c in markdown)


_CJK = re.compile(r"[\u4e00-\u9fff]")
_ENGLISH = re.compile(r"[A-Za-z]+(?:[ '-][A-Za-z]+){3,}")  # four English words in a row: an English sentence


@pytest.mark.parametrize("name", [nbrun.REGION_NOTEBOOK, nbrun.COMPARISON_NOTEBOOK])
def test_narrative_is_chinese_first_then_english(name):
    """Every markdown cell says it in Chinese, then in English (this is a Chinese-first product)."""
    for cell in nbformat.read(NOTEBOOKS / name, as_version=4).cells:
        if cell.cell_type != "markdown":
            continue
        text = re.sub(r"`[^`]*`", "", cell.source)  # code spans are neither language
        chinese, english = _CJK.search(text), _ENGLISH.search(text)
        assert chinese and english, cell.source[:80]
        assert chinese.start() < english.start(), cell.source[:80]
        # Chinese paragraphs are not hard-wrapped: a line break between Chinese characters renders as a space.
        assert not re.search(r"[\u4e00-\u9fff，。；：、）]\n[\u4e00-\u9fff（“]", text), cell.source[:80]


@pytest.mark.parametrize("name", [nbrun.REGION_NOTEBOOK, nbrun.COMPARISON_NOTEBOOK])
def test_how_to_run_is_for_jupyterlab_only(name):
    """The 'How to run' cell is tagged remove-cell: JupyterLab shows it, the site's renderer drops it."""
    from vqr_analysis.publish.site import notebook_body

    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    how = [c for c in nb.cells if "How to run" in c.source]
    assert len(how) == 1 and how[0].metadata.get("tags") == ["remove-cell"]
    _, body = notebook_body(NOTEBOOKS / name)
    assert "How to run" not in body and "如何运行" not in body
    assert nb.cells[0].source.splitlines()[0][2:] in body  # the rest of the narrative stays


def test_site_staging_drops_remove_cell_for_both_renderers(tmp_path):
    """Quarto honours remove-cell on code cells only; the site drops tagged cells before either renderer."""
    from vqr_analysis.publish.site import _stage_notebook

    staged = tmp_path / "staged.ipynb"
    _stage_notebook(NOTEBOOKS / nbrun.REGION_NOTEBOOK, staged, title="t", label=None, page="regions/x", depth=1,
                    before=[], after=[], codebook=pl.DataFrame(), csv_files={})
    cells = nbformat.read(staged, as_version=4).cells
    assert not any("How to run" in c.source for c in cells)
    assert any("Where the numbers come from" in c.source for c in cells)


def test_kernel_is_the_running_interpreter():
    """The python3 kernelspec papermill uses is started with this venv's interpreter."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec(nbrun.KERNEL_NAME)
    # jupyter_client replaces a bare 'python'/'python3' with sys.executable when it launches the kernel.
    assert spec.argv[0] in {"python", "python3", f"python{sys.version_info[0]}.{sys.version_info[1]}",
                            sys.executable}
    assert spec.language == "python"


@pytest.mark.parametrize("bad", ["atlantis", "tacheng'; DROP TABLE runs; --"])
def test_unknown_region_fails_before_anything_runs(built_db, tmp_path, bad):
    with pytest.raises(VqrError, match="unknown region") as info:
        nbrun.run_notebooks(built_db, tmp_path / "out", regions=[bad])
    assert repr(bad) in str(info.value) and "known regions:" in str(info.value)
    assert not (tmp_path / "out").exists()


def test_cli_unknown_region_is_one_line_and_exit_2(built_db, tmp_path):
    result = subprocess.run([sys.executable, "-m", "vqr_analysis.cli", "notebooks", "--region", "nowhere",
                             "--db", str(built_db), "--out", str(tmp_path)], capture_output=True, text=True)
    assert result.returncode == 2
    assert "unknown region 'nowhere'" in result.stderr and "Traceback" not in result.stderr


def test_bad_lang_is_rejected(built_db, tmp_path):
    with pytest.raises(VqrError, match="unknown lang"):
        nbrun.run_notebooks(built_db, tmp_path, lang="fr")


def test_units_name_outputs_by_slug(registry):
    units = nbrun.notebook_units(NOTEBOOKS)
    assert [u.output for u in units] == [f"regions/{r.region}.ipynb" for r in registry] + ["compare.ipynb"]
    assert units[0].parameters("en") == {"region": registry[0].region, "lang": "en"}
    assert units[-1].parameters("zh") == {"lang": "zh"}


@pytest.fixture(scope="module")
def executed(built_db, tmp_path_factory):
    """One region profile (the region with the most values) and the comparison, run in parallel."""
    work = tmp_path_factory.mktemp("notebooks")
    db = work / "vqr.duckdb"
    shutil.copyfile(built_db, db)  # the runner records into the database; the session DB stays read-only
    region = vqr.coverage(db=db).sort("values_reported", "region", descending=[True, False]).item(0, "region")
    runs = nbrun.run_notebooks(db, work / "out", regions=[region], comparison=True, jobs=2)
    return {"runs": runs, "region": region, "db": db, "out": work / "out"}


def _text_outputs(path) -> str:
    parts = []
    for cell in nbformat.read(path, as_version=4).cells:
        for out in cell.get("outputs", []):
            assert out.output_type != "error", out
            assert not (out.output_type == "stream" and out.name == "stderr"), out.text
            data = out.get("data", {})
            parts += [data.get("text/html", ""), data.get("text/markdown", ""), 
                      json.dumps(data.get("application/vnd.vegalite.v5+json", {}), ensure_ascii=False)]
    return "\n".join(parts)


@pytest.mark.slow
def test_runner_executes_and_records(executed):
    runs, out = executed["runs"], executed["out"]
    assert [r.ok for r in runs] == [True, True]
    assert runs[0].output == out / "regions" / f"{executed['region']}.ipynb" and runs[1].output == out / "compare.ipynb"
    assert all(r.output.is_file() and r.seconds > 0 for r in runs)
    nb = nbformat.read(runs[0].output, as_version=4)
    assert nb.metadata.papermill.parameters == {"region": executed["region"], "lang": "zh"}
    # Volatile metadata is stripped so the same inputs give the same bytes.
    assert "start_time" not in nb.metadata.papermill and "input_path" not in nb.metadata.papermill
    con = vqr.connect(executed["db"])
    try:
        rows = con.sql("SELECT status, params, timings FROM runs WHERE kind = 'notebook'").fetchall()
    finally:
        con.close()
    assert len(rows) == 2 and {r[0] for r in rows} == {"ok"}
    params = [json.loads(r[1]) for r in rows]
    assert {p["slug"] for p in params} == {executed["region"], "compare"}
    assert all(p["parameters"]["db"] == str(executed["db"].resolve()) for p in params)
    assert all(json.loads(r[2])["execute"] > 0 for r in rows)


@pytest.mark.slow
def test_region_profile_shows_the_regions_real_values(executed):
    text = _text_outputs(executed["out"] / "regions" / f"{executed['region']}.ipynb")
    info = vqr.region_info(executed["region"], db=executed["db"])
    assert info["subject_zh"] in text and info["file"] in text
    prof = vqr.profile(executed["region"], db=executed["db"])
    for row in prof.filter(pl.col("value").is_not_null()).head(20).iter_rows(named=True):
        assert row["label"] in text
        assert f"{row['line']}" in text
    # Charts: the Vega-Lite JSON (drawn by JupyterLab) and a PNG (for viewers without Vega) are both kept.
    nb = nbformat.read(executed["out"] / "regions" / f"{executed['region']}.ipynb", as_version=4)
    charts = [o.data for c in nb.cells for o in c.get("outputs", [])
              if "application/vnd.vegalite.v5+json" in o.get("data", {})]
    assert len(charts) >= 4 and all("image/png" in data for data in charts)


@pytest.mark.slow
def test_comparison_shows_all_regions(executed, registry):
    text = _text_outputs(executed["out"] / "compare.ipynb")
    for report in registry:
        assert report.region_zh in text and report.subject_en in text


@pytest.mark.slow
@pytest.mark.parametrize("which", ["region", "compare"])
def test_tables_are_readable_not_polars_reprs(executed, which):
    output = f"regions/{executed['region']}.ipynb" if which == "region" else "compare.ipynb"
    path = executed["out"] / output
    tables = [o.data for c in nbformat.read(path, as_version=4).cells for o in c.get("outputs", [])
              if "vqr-dt" in o.get("data", {}).get("text/html", "")]
    assert len(tables) >= 2
    for data in tables:
        html, plain = data["text/html"], data["text/plain"]
        assert 'class="dataframe"' not in html and "shape: (" not in html + plain
        assert not re.search(r"<td>(str|i32|i64|f64|u32)</td>", html) and ">null<" not in html
        assert "/ Indicator" in plain or "/ Subject" in plain  # bilingual headers (lang='zh')
    assert any("未报告 / not reported" in d["text/html"] for d in tables)


@pytest.mark.slow
def test_re_execution_is_byte_identical(executed, tmp_path):
    """The incremental build relies on it: same inputs, same notebook bytes."""
    again = tmp_path / "again"
    nbrun.run_notebooks(executed["db"], again, regions=[executed["region"]], comparison=False, jobs=1,
                        record=False)
    name = f"regions/{executed['region']}.ipynb"
    assert (again / name).read_bytes() == (executed["out"] / name).read_bytes()


def _broken_source(tmp_path):
    """A copy of the notebooks folder whose region profile fails in its third cell."""
    src = tmp_path / "src"
    shutil.copytree(NOTEBOOKS, src)
    nb = nbformat.read(src / nbrun.REGION_NOTEBOOK, as_version=4)
    nb.cells = nb.cells[:2] + [nbformat.v4.new_code_cell("raise ValueError('deliberately broken')")]
    nbformat.write(nb, src / nbrun.REGION_NOTEBOOK)
    return src


@pytest.mark.slow
def test_failure_names_notebook_cell_and_error_and_keeps_last_good(built_db, tmp_path, registry):
    db = tmp_path / "vqr.duckdb"
    shutil.copyfile(built_db, db)
    out = tmp_path / "out"
    good = out / "regions" / f"{registry[0].region}.ipynb"
    good.parent.mkdir(parents=True)
    good.write_text("last good output", encoding="utf-8")
    unit = nbrun.notebook_units(NOTEBOOKS, [registry[0].region], comparison=False)
    with pytest.raises(nbrun.NotebookFailed) as info:
        nbrun.execute_units(unit, db_path=db, out_dir=out, source_dir=_broken_source(tmp_path), jobs=1)
    message = str(info.value)
    assert "region_profile.ipynb" in message and registry[0].region in message
    assert "cell" in message and "ValueError: deliberately broken" in message
    assert good.read_text(encoding="utf-8") == "last good output"
    assert (out / "regions" / f"{registry[0].region}.failed.ipynb").is_file()
    assert [r.ok for r in info.value.runs] == [False]
    con = vqr.connect(db)
    try:
        assert con.sql("SELECT status FROM runs WHERE kind = 'notebook'").fetchall() == [("error",)]
    finally:
        con.close()


@needs_browser
@pytest.mark.slow
def test_executed_notebook_shows_its_charts_in_the_installed_jupyterlab(executed, tmp_path):
    """Open an executed region notebook, as saved (not re-run, not trusted), in the JupyterLab the project
    installs, and find its charts drawn by Vega (canvas or SVG inside vega-embed) with no chart left as text."""
    shots = tmp_path / "shots"
    shots.mkdir()
    name = f"regions/{executed['region']}.ipynb"
    with jupyterlab(executed["out"], tmp_path / "lab.log") as url, chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/lab/tree/{name}", timeout=120_000)
        page.wait_for_selector(".jp-RenderedVegaLite .vega-embed canvas, .jp-RenderedVegaLite .vega-embed svg",
                               timeout=120_000)
        drawn = page.locator(".jp-RenderedVegaLite .vega-embed").count()
        as_text = page.locator(".jp-OutputArea-output pre", has_text="<chart").count()
        errors = page.locator(".jp-RenderedVegaLite", has_text="Error").count()
        page.screenshot(path=str(shots / "jupyterlab_region.png"))
    assert drawn >= 1 and as_text == 0 and errors == 0, (drawn, as_text, errors)
