"""The package follows its stages: no import from a lower stage to a higher one, and no circles, lazy imports
(inside functions) included. Read from the source with ``ast``, so nothing is imported to check it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "vqr_analysis"

# Lower number = earlier stage. A module may import its own stage and any earlier one, never a later one.
STAGES = {"core": 0, "sources": 1, "extract": 2, "quality": 3, "store": 4, "analysis": 5, "publish": 6,
          "build": 7, "cli": 8}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _imports(path: Path, name: str, known: set[str]) -> set[str]:
    """Every vqr_analysis module that ``path`` imports, at module level or inside a function."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("vqr_analysis"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            if not module.startswith("vqr_analysis"):
                continue
            for alias in node.names:  # `from pkg import submodule` imports the submodule
                sub = f"{module}.{alias.name}"
                found.add(sub if sub in known else module)
    return {m for m in found if m in known and m != name}


def _stage(module: str) -> int | None:
    parts = module.split(".")
    return STAGES.get(parts[1]) if len(parts) > 1 else None  # the package facade itself has no stage


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, name, set(modules)) for name, path in modules.items()}


def test_every_module_belongs_to_a_stage():
    unplaced = sorted(m for m in _modules() if m != "vqr_analysis" and _stage(m) is None)
    assert not unplaced, f"modules outside the stage packages: {unplaced}"


def test_no_import_goes_up_the_stages():
    upward = sorted(
        f"{mod} (stage {_stage(mod)}) imports {dep} (stage {_stage(dep)})"
        for mod, deps in _graph().items() for dep in deps
        if _stage(mod) is not None and _stage(dep) is not None and _stage(dep) > _stage(mod)
    )
    assert not upward, "\n".join(upward)


def test_no_import_circles():
    graph = _graph()
    # The facade (vqr_analysis/__init__) is run by Python before any submodule; it only re-exports, so its
    # edges are left out of the search (a stage module never imports the facade: checked below).
    assert not [m for m, deps in graph.items() if "vqr_analysis" in deps], "a stage module imports the facade"
    state: dict[str, int] = {}
    path: list[str] = []
    cycles: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for dep in sorted(graph[node]):
            if state.get(dep) == 1:
                cycles.append(" → ".join(path[path.index(dep):] + [dep]))
            elif dep not in state:
                visit(dep)
        path.pop()
        state[node] = 2

    for node in sorted(m for m in graph if m != "vqr_analysis"):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(cycles)


def test_the_checker_sees_lazy_imports(tmp_path):
    """A function-level import is an edge too (the circles the layout removed were hidden that way)."""
    src = tmp_path / "mod.py"
    src.write_text("def f():\n    from vqr_analysis.publish import site\n", encoding="utf-8")
    assert _imports(src, "vqr_analysis.sources.x", {"vqr_analysis.publish.site", "vqr_analysis.publish"}) == {
        "vqr_analysis.publish.site"}
