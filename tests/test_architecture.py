"""Architecture rules of the house style, checked on the source: no import cycles inside the
package, data flowing one way (data -> index -> waves -> Monte Carlo -> allocate -> pounds -> report), and
heavy libraries imported only by the code that uses them.

Every check is also run on a small package written in the test that breaks the rule, so a
check that could never fail would be caught.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src" / "allocator"

#: Layers in the order data flows; a module may import its own layer and the ones before it.
LAYERS = [
    "allocator.data",
    "allocator.index",
    "allocator.waves",
    "allocator.montecarlo",
    "allocator.allocate",
    # the pounds Monte Carlo runs the allocation per draw; the report layer writes its outputs
    "allocator.pounds",
    "allocator.report",
    "allocator.ledger",  # amendments: a pipeline-level layer over allocate and report
]


def _is_type_checking(test: ast.expr) -> bool:
    return "TYPE_CHECKING" in ast.unparse(test)


def import_graph(package_dir: Path) -> dict[str, set[str]]:
    """Module -> modules of the same package it imports when run.

    Counts imports at module level and inside functions (a deferred import still runs, and
    still closes a cycle), and the ``__init__`` of every package an imported module sits in
    (Python runs it first). Skips ``if TYPE_CHECKING:`` blocks, which never run.
    """
    top = package_dir.name
    modules: dict[str, tuple[Path, bool]] = {}
    for path in package_dir.rglob("*.py"):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        is_pkg = parts[-1] == "__init__"
        modules[".".join(parts[:-1] if is_pkg else parts)] = (path, is_pkg)

    def targets(module: str, is_pkg: bool, node: ast.Import | ast.ImportFrom) -> list[str]:
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                stem = ".".join(base + ([node.module] if node.module else []))
            else:
                stem = node.module or ""
            names = [f"{stem}.{a.name}" if f"{stem}.{a.name}" in modules else stem
                     for a in node.names]
        return [n for n in names if n == top or n.startswith(top + ".")]

    graph: dict[str, set[str]] = {}
    for module, (path, is_pkg) in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        skipped: set[int] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and _is_type_checking(node.test):
                for child in node.body:
                    skipped.update(id(n) for n in ast.walk(child))
        edges: set[str] = set()
        for node in ast.walk(tree):
            if not isinstance(node, ast.Import | ast.ImportFrom) or id(node) in skipped:
                continue
            for target in targets(module, is_pkg, node):
                while target not in modules and "." in target:
                    target = target.rsplit(".", 1)[0]
                parts = target.split(".")
                for i in range(1, len(parts) + 1):
                    dep = ".".join(parts[:i])
                    inside = (module + ".").startswith(dep + ".")
                    if dep in modules and dep != module and not inside:
                        edges.add(dep)
        graph[module] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """The import graph between the package's subpackages and top-level modules (``allocator.x``
    stands for everything under it; the top package's ``__init__``, which re-exports the API, is
    left out). A cycle here is a cycle between subpackages, e.g. ``config`` needing ``report``
    while ``report`` needs ``config``, even when no two modules import each other."""
    def unit(module: str) -> str:
        return ".".join(module.split(".")[:2])

    out: dict[str, set[str]] = {}
    for module, deps in graph.items():
        if "." not in module:
            continue
        out.setdefault(unit(module), set()).update(
            unit(d) for d in deps if "." in d and unit(d) != unit(module))
    return out


def layer_violations(graph: dict[str, set[str]], layers: list[str]) -> list[str]:
    """Imports from a layer to a later one (data must flow one way)."""

    def layer(module: str) -> int | None:
        for i, name in enumerate(layers):
            if module == name or module.startswith(name + "."):
                return i
        return None

    bad = []
    for module, deps in sorted(graph.items()):
        lm = layer(module)
        for dep in sorted(deps):
            ld = layer(dep)
            if lm is not None and ld is not None and ld > lm:
                bad.append(f"{module} -> {dep}")
    return bad


def _write_package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return root / "allocator"


# ---------------------------------------------------------------------- the rules on the code base
def test_no_import_cycles_in_the_package() -> None:
    cycles = import_cycles(import_graph(SRC))
    assert not cycles, f"import cycles: {cycles}"


def test_no_import_cycles_between_subpackages() -> None:
    cycles = import_cycles(package_graph(import_graph(SRC)))
    assert not cycles, f"import cycles between subpackages: {cycles}"


def test_data_flows_one_way() -> None:
    bad = layer_violations(import_graph(SRC), LAYERS)
    assert not bad, "imports against the data flow: " + "; ".join(bad)


# ---------------------------------------------------------------------- the checks can fail
def test_cycle_check_finds_deferred_and_package_level_cycles(tmp_path: Path) -> None:
    pkg = _write_package(tmp_path, {
        "allocator/__init__.py": "",
        # index/__init__ pulls in index.mc, whose deferred import needs waves, which imports
        # index.core: a cycle through the package __init__, invisible at module level
        "allocator/index/__init__.py": "from .mc import run\n",
        "allocator/index/core.py": "X = 1\n",
        "allocator/index/mc.py": "def run():\n    from ..waves import cut\n    return cut\n",
        "allocator/waves.py": "from .index.core import X\n\ndef cut():\n    return X\n",
        "allocator/report.py": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from .waves import cut\n"
        ),
    })
    graph = import_graph(pkg)
    assert import_cycles(graph) == [
        ["allocator.index", "allocator.index.mc", "allocator.waves"]
    ]
    assert "allocator.waves" not in graph["allocator.report"]  # type-only imports never run
    assert import_cycles(package_graph(graph)) == [["allocator.index", "allocator.waves"]]
    assert layer_violations(graph, ["allocator.index", "allocator.waves"]) == [
        "allocator.index.mc -> allocator.waves"
    ]


def test_cycle_check_passes_an_acyclic_package(tmp_path: Path) -> None:
    pkg = _write_package(tmp_path, {
        "allocator/__init__.py": "",
        "allocator/a.py": "from . import b\n",
        "allocator/b.py": "import allocator.c\n",
        "allocator/c.py": "",
    })
    graph = import_graph(pkg)
    assert graph["allocator.a"] == {"allocator.b"}
    assert graph["allocator.b"] == {"allocator.c"}
    assert import_cycles(graph) == []
    assert import_cycles(package_graph(graph)) == []


# ---------------------------------------------------------------------- heavy imports
#: Libraries a run pays for only when it uses them: rasters, the cold data build
#: (scipy.optimize, scipy.stats), SALib's own estimator (count_indices_, on request), the
#: writers (map, static figures, workbook), PCA weighting, progress bars. Not listed: scipy.sparse
#: (every run builds its LP with it) and scipy.special (the Sobol' inputs' quantile functions).
HEAVY = [
    "rasterio", "SALib", "scipy.stats", "scipy.optimize", "scipy.ndimage", "scipy.spatial",
    "sklearn", "matplotlib", "folium", "branca", "openpyxl", "tqdm",
]

_PROBE = """
import json, sys
from pathlib import Path
import pandas as pd
{extra}
import allocator.cli, allocator.pipeline, allocator.replay
from allocator.config import load_config
from allocator.index import NeedIndex, SensitivityConfig, UncertaintyConfig, index_table
from allocator.montecarlo import RankUncertainty, WaveSensitivity
from allocator.waves import Waves
load_config(sys.argv[1])
frame = pd.read_csv(sys.argv[2], dtype={{"drug_deaths_flag": str, "imd_flag": str, "crime_flag": str}})
need = NeedIndex().fit(frame)
waves = Waves().fit(need)
unc = RankUncertainty(None, UncertaintyConfig(seed=1, draws=50), progress=False).fit(frame)
WaveSensitivity(None, UncertaintyConfig(seed=1), None, SensitivityConfig(samples=16)).fit(frame)
index_table(frame, need, waves, unc)
heavy = {heavy!r}
print(json.dumps(sorted(m for m in sys.modules
                        if any(m == h or m.startswith(h + ".") for h in heavy))))
"""


def _heavy_loaded(extra: str = "") -> list[str]:
    """Heavy modules loaded by configuring a run, the index, the waves, the Monte Carlo and the
    Sobol' attribution."""
    code = _PROBE.format(extra=extra, heavy=HEAVY)
    proc = subprocess.run(
        [sys.executable, "-c", code, str(ROOT / "configs" / "ssmtrg-2022-25.yaml"),
         str(ROOT / "tests" / "data" / "index_synthetic_areas.csv")],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_heavy_libraries_load_only_where_used() -> None:
    loaded = _heavy_loaded()
    assert loaded == [], f"loaded without being used: {loaded}"


def test_heavy_import_probe_can_fail() -> None:
    loaded = _heavy_loaded(extra="import rasterio\nimport SALib.analyze.sobol\nimport scipy.stats")
    assert {"rasterio", "SALib.analyze.sobol", "scipy.stats"} <= set(loaded)
