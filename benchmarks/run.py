"""Speed and scale benchmarks of the allocator (issue 8). Run on demand, not part of the tests.

Usage (from the repository root)::

    .venv/bin/python benchmarks/run.py            # full run, a few minutes or more
    .venv/bin/python benchmarks/run.py --quick    # smoke run, about a minute

Every figure is the median of ``--repeat`` runs (or fewer where stated in the table) and every
ratio is computed from runs made side by side in this one invocation:

1. end to end ``allocator run`` on the default config, warm data cache (subprocess), against the
   bare import of its dependencies (``python -c "import geopandas, pulp, folium, sklearn"``),
   wall and CPU time;
2. 10,000 Monte Carlo draws over the 152 real LAs: vectorised vs the per-draw loop, wall and CPU
   time;
3. the LP at 152 / 1,000 / 10,000 / 33,755 areas x 3 years x 2 streams (areas beyond 152 are
   SYNTHETIC, see :mod:`synthetic`): model build (direct sparse build vs the PuLP loop builder),
   HiGHS and CBC staged solves of the scaled model, build + solve and peak memory, and at 152
   LAs the default solve with its cross-check and "£1m more" re-solves; one fresh subprocess per
   size;
4. ``map.html`` for the 152 LAs: size and time to write;
5. need index + waves + 1,000 Monte Carlo draws over 33,755 SYNTHETIC areas, with one and with
   two threads (``n_jobs``), and peak memory;
9. ``--only upounds``: the pounds Monte Carlo (1,000 full draws through the LP on 1 and 2
   processes, the attribution in pounds, a Dask LocalCluster with 1 and 2 workers, warm vs cold
   HiGHS starts, the sketch's memory), see :mod:`pounds_bench`.

``--json PATH`` saves the raw numbers and ``--markdown PATH`` the table as Markdown.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CONFIG = REPO / "configs" / "ssmtrg-2022-25.yaml"
IMPORT_LINE = "import geopandas, pulp, folium, sklearn"
FULL_SIZES = [152, 1_000, 10_000, 33_755]
QUICK_SIZES = [152, 1_000]
#: Sizes from which LP steps run once instead of ``--repeat`` times (each takes long).
ONCE_FROM = 10_000
MB = 1024 * 1024


# ---------------------------------------------------------------------------------------- table
@dataclass
class Row:
    """One line of the results table."""

    section: str
    figure: str
    value: str
    target: str = ""
    status: str = ""
    note: str = ""


def fmt_s(x: float | None) -> str:
    """Seconds with 3 significant digits; ``-`` when not measured."""
    if x is None:
        return "-"
    if x >= 100:
        return f"{x:.0f} s"
    if x >= 10:
        return f"{x:.1f} s"
    if x >= 1:
        return f"{x:.2f} s"
    return f"{x * 1000:.0f} ms" if x >= 0.01 else f"{x * 1000:.1f} ms"


def fmt_x(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}x"


def status(ok: bool | None, quick: bool) -> str:
    if quick:
        return "n/a (quick)"
    if ok is None:
        return "not measured"
    return "met" if ok else "MISSED"


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def children_cpu() -> float:
    """User + system CPU seconds of every finished child process so far."""
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed_child(cmd: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall and CPU seconds of one subprocess (CPU time is less disturbed by other load)."""
    cpu0 = children_cpu()
    wall, proc = timed(lambda: subprocess.run(cmd, cwd=REPO, capture_output=True, text=True))
    return wall, children_cpu() - cpu0, proc


def render(rows: list[Row], markdown: bool = False) -> str:
    head = ["section", "figure", "value", "target", "status", "note"]
    cells = [[r.section, r.figure, r.value, r.target, r.status, r.note] for r in rows]
    if markdown:
        lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        lines += ["| " + " | ".join(c.replace("|", "/") for c in row) + " |" for row in cells]
        return "\n".join(lines)
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(head)]
    line = "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True))
    out = [line, "-" * len(line)]
    out += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells]
    return "\n".join(out)


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------- machine
def machine() -> dict[str, Any]:
    """Cores, memory, versions and the commit the numbers belong to."""
    mem_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem_kb = int(line.split()[1])
    except OSError:
        pass
    versions = {}
    for pkg in ("numpy", "pandas", "pulp", "highspy", "geopandas", "folium"):
        try:
            from importlib import metadata

            versions[pkg] = metadata.version(pkg if pkg != "pulp" else "PuLP")
        except Exception:  # informational only
            versions[pkg] = "?"
    commit = "?"
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "src"], cwd=REPO, capture_output=True, text=True,
            check=True,
        ).stdout.strip()
        if dirty:
            commit += " + uncommitted changes in src/"
    except (OSError, subprocess.CalledProcessError):
        pass
    return {
        "date": dt.datetime.now().isoformat(timespec="minutes"),
        "cores": os.cpu_count(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "cpu": platform.processor() or platform.machine(),
        "python": platform.python_version(),
        "versions": versions,
        "commit": commit,
    }


# ---------------------------------------------------------------------------------------- 1. e2e
def allocator_command() -> list[str]:
    exe = Path(sys.executable).parent / "allocator"
    if exe.is_file():
        return [str(exe)]
    return [sys.executable, "-c", "from allocator.console import console; console()"]


def bench_e2e(repeat: int, quick: bool) -> tuple[list[Row], dict[str, Any]]:
    cmd = allocator_command()
    imports: list[float] = []
    runs: list[float] = []
    imports_cpu: list[float] = []
    runs_cpu: list[float] = []
    with tempfile.TemporaryDirectory(prefix="allocator-bench-") as tmp:

        def run_once(i: int) -> tuple[float, float]:
            out = Path(tmp) / f"run{i}"
            t, cpu, proc = timed_child([*cmd, "run", str(CONFIG), "--out", str(out)])
            if proc.returncode != 0:
                raise RuntimeError(f"allocator run failed:\n{proc.stderr}")
            shutil.rmtree(out, ignore_errors=True)
            return t, cpu

        # An installed package has its bytecode compiled (pip does it; a first import writes it).
        # Where PYTHONDONTWRITEBYTECODE is set (as on the benchmark machine) an editable install
        # never gets any, and each run would compile the package's source again (~0.15 s CPU)
        # while the libraries of the import baseline load theirs from site-packages: compile it
        # once, as a normal first run would, so both sides are measured alike.
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(REPO / "src")], check=False,
                       capture_output=True)
        log("e2e: warm-up run (fills the data cache and the OS file cache)")
        run_once(-1)
        for i in range(repeat):
            t, cpu, proc = timed_child([sys.executable, "-c", IMPORT_LINE])
            if proc.returncode != 0:
                raise RuntimeError(f"import baseline failed:\n{proc.stderr}")
            imports.append(t)
            imports_cpu.append(cpu)
            t, cpu = run_once(i)
            runs.append(t)
            runs_cpu.append(cpu)
            log(f"e2e {i + 1}/{repeat}: import {imports[-1]:.2f} s ({cpu_note(imports_cpu[-1])}), "
                f"run {runs[-1]:.2f} s ({cpu_note(runs_cpu[-1])})")
    imp, run = median(imports), median(runs)
    ratio = run / imp if imp and run else None
    imp_cpu, run_cpu = median(imports_cpu), median(runs_cpu)
    ratio_cpu = run_cpu / imp_cpu if imp_cpu and run_cpu else None
    rows = [
        Row("1 end to end", f"`{IMPORT_LINE}` (subprocess)", fmt_s(imp),
            note=f"median of {repeat}; CPU {fmt_s(imp_cpu)}"),
        Row("1 end to end", "`allocator run` default config, warm cache (subprocess)", fmt_s(run),
            note=f"median of {repeat}, after 1 warm-up; CPU {fmt_s(run_cpu)}"),
        Row("1 end to end", "run / import (wall)", fmt_x(ratio), "<= 2x",
            status(None if ratio is None else ratio <= 2, quick)),
        Row("1 end to end", "run / import (CPU time, less disturbed by other load)",
            fmt_x(ratio_cpu), note="user + system seconds of each subprocess"),
    ]
    return rows, {"import_s": imports, "run_s": runs, "ratio": ratio, "import_cpu_s": imports_cpu,
                  "run_cpu_s": runs_cpu, "ratio_cpu": ratio_cpu}


def cpu_note(x: float) -> str:
    return f"CPU {x:.2f} s"


# ---------------------------------------------------------------------------------------- 2. MC
def load_real() -> tuple[Any, Any]:
    from allocator.config import load_config
    from allocator.pipeline import prepare

    cfg = load_config(CONFIG)
    _, areas = prepare(cfg)
    return cfg, areas


def bench_mc(cfg: Any, frame: Any, draws: int, repeat: int, quick: bool
             ) -> tuple[list[Row], dict[str, Any]]:
    import numpy as np

    from allocator.montecarlo import RankUncertainty

    ucfg = cfg.uncertainty.model_copy(update={"draws": draws})
    vec: list[float] = []
    vec_draws: list[float] = []
    loop: list[float] = []
    loop_draws: list[float] = []
    vec_cpu: list[float] = []
    loop_cpu: list[float] = []
    same = True

    def fit(method: str) -> tuple[float, float, Any]:
        cpu0 = time.process_time()
        t, u = timed(lambda: RankUncertainty(cfg.index, ucfg, cfg.waves, method=method,
                                             progress=False).fit(frame))
        return t, time.process_time() - cpu0, u

    for i in range(repeat):
        t, cpu, uv = fit("vectorised")
        vec.append(t)
        vec_cpu.append(cpu)
        vec_draws.append(uv.elapsed_)
        t, cpu, ul = fit("loop")
        loop.append(t)
        loop_cpu.append(cpu)
        loop_draws.append(ul.elapsed_)
        same = same and bool(np.array_equal(uv.ranks_, ul.ranks_))
        same = same and bool(np.array_equal(uv.waves_, ul.waves_))
        log(f"mc {i + 1}/{repeat}: vectorised {vec[-1]:.3f} s (CPU {vec_cpu[-1]:.3f} s), "
            f"loop {loop[-1]:.3f} s (CPU {loop_cpu[-1]:.3f} s)")
    v, lp = median(vec), median(loop)
    ratio = lp / v if v and lp else None
    ratio_draws = median(loop_draws) / median(vec_draws) if vec_draws else None
    ratio_cpu = median(loop_cpu) / median(vec_cpu) if vec_cpu else None
    n = len(frame)
    rows = [
        Row("2 Monte Carlo", f"{draws:,} draws x {n} LAs, vectorised `fit()`", fmt_s(v), "< 0.3 s",
            status(v < 0.3 if v else None, quick),
            f"median of {repeat}; draws alone {fmt_s(median(vec_draws))}; "
            f"CPU {fmt_s(median(vec_cpu))}"),
        Row("2 Monte Carlo", f"{draws:,} draws x {n} LAs, per-draw loop `fit()`", fmt_s(lp),
            note=f"median of {repeat}; draws alone {fmt_s(median(loop_draws))}; "
            f"CPU {fmt_s(median(loop_cpu))}"),
        Row("2 Monte Carlo", "loop / vectorised (whole fit, wall)", fmt_x(ratio), ">= 20x",
            status(None if ratio is None else ratio >= 20, quick),
            f"draws alone: {fmt_x(ratio_draws)}; CPU time: {fmt_x(ratio_cpu)}; "
            f"identical ranks and waves: {same}"),
    ]
    return rows, {"vectorised_s": vec, "loop_s": loop, "vectorised_draws_s": vec_draws,
                  "loop_draws_s": loop_draws, "vectorised_cpu_s": vec_cpu, "loop_cpu_s": loop_cpu,
                  "ratio": ratio, "ratio_cpu": ratio_cpu, "identical": same}


# ---------------------------------------------------------------------------------------- 3. LP
def lp_worker(n: int, repeat: int, loop_repeat: int, time_limit: float | None,
              highs_options: dict[str, Any]) -> dict[str, Any]:
    """Run in a fresh process: the LP at ``n`` areas; returns the numbers as a dict."""
    import numpy as np

    from allocator.allocate import AllocationProblem
    from allocator.allocate.lp import build_matrix, cell_units
    from allocator.allocate.model import build_model_loop
    from allocator.allocate.scaling import pro_rata_targets
    from allocator.allocate.staged import HighsBackend, staged_solve_matrix
    from allocator.errors import AllocatorError
    from synthetic import allocation_areas, scale_config, synthetic_areas

    cfg, areas = load_real()
    scfg = scale_config(cfg, n)
    t_gen, alloc = timed(lambda: allocation_areas(synthetic_areas(areas.frame, n), scfg))
    solver_update: dict[str, Any] = {"cross_check": None, "time_limit": time_limit}
    if highs_options:
        solver_update["highs_options"] = {**scfg.allocation.solver.highs_options, **highs_options}
    solver = scfg.allocation.solver.model_copy(update=solver_update)
    acfg = scfg.allocation.model_copy(update={"solver": solver})
    out: dict[str, Any] = {
        "n": n, "synthetic": int(n - len(areas.frame)), "generate_s": t_gen,
        "waves": alloc["wave"].value_counts().sort_index().tolist(),
    }

    def problem(**kw: Any) -> Any:
        return AllocationProblem.from_config(acfg, alloc, explain_marginal=False, **kw)

    # Build + solve as a user runs it (presolve checks, build, staged HiGHS solve, rounding,
    # verification, explanation), first, so ru_maxrss right after it is its peak memory.
    totals: list[float] = []
    cpus: list[float] = []
    errors: list[str] = []
    for _ in range(repeat):
        try:
            c0 = time.process_time()
            t, p = timed(lambda: problem().solve())
            cpus.append(time.process_time() - c0)
        except AllocatorError as exc:
            errors.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            break
        totals.append(t)
        del p
        gc.collect()
    out["total_s"] = totals
    out["total_cpu_s"] = cpus
    out["total_error"] = errors[0] if errors else None
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    # The default run at 152 LAs as `allocator run` solves it: HiGHS, cross-checked by CBC on
    # every stage, and the six "£1m more" re-solves (each cross-checked too).
    if n == len(areas.frame):
        AllocationProblem.from_config(scfg.allocation, alloc).solve()  # warm-up
        out["default_solver"] = scfg.allocation.solver.model_dump(include={"name", "cross_check"})
        for key, kw in (("default_full_s", {}), ("default_no_marginal_s",
                                                 {"explain_marginal": False})):
            times = []
            cpu = []
            for _ in range(repeat):
                gc.collect()
                c0, k0 = time.process_time(), children_cpu()
                t, _p = timed(lambda kw=kw: AllocationProblem.from_config(
                    scfg.allocation, alloc, **kw).solve())
                cpu.append(time.process_time() - c0 + children_cpu() - k0)
                times.append(t)
            out[key] = times
            out[key.replace("_s", "_cpu_s")] = cpu

    # Model assembly from the same prepared arrays: direct (sparse arrays, scaled, passed to
    # highspy) against the PuLP per-variable loop builder.
    conf, layout, groups = problem()._prepare(None)
    scaled = pro_rata_targets(layout, groups).value
    units = cell_units(layout, scaled)

    def direct() -> Any:
        lp = build_matrix(layout, groups, conf.objective, scaled)
        work, _ = lp.scaled(units)
        HighsBackend(work, conf.solver)
        return lp

    builds: list[float] = []
    lp = None
    for _ in range(repeat):
        lp = None
        gc.collect()
        t, lp = timed(direct)
        builds.append(t)
    out["build_direct_s"] = builds
    loops: list[float] = []
    for _ in range(loop_repeat):
        gc.collect()
        t, m_loop = timed(lambda: build_model_loop(layout, groups, conf.objective, scaled))
        loops.append(t)
        del m_loop
    out["build_loop_s"] = loops
    out["variables"] = lp.n_cols
    out["rows"] = int(lp.a.shape[0])

    breaks = (np.minimum(layout.target, scaled), np.maximum(layout.target, scaled))
    for name in ("highs", "cbc"):
        times: list[float] = []
        err = None
        for _ in range(repeat):
            try:
                t, _res = timed(lambda name=name: staged_solve_matrix(
                    lp, units, conf.solver, name, scaled_targets=scaled, breaks=breaks,
                    shortcut=name == "highs"))
            except AllocatorError as exc:
                err = f"{type(exc).__name__}: {str(exc)[:200]}"
                break
            times.append(t)
        out[f"solve_{name}_s"] = times
        out[f"solve_{name}_error"] = err
    return out


def run_worker(args: list[str]) -> dict[str, Any]:
    """Run ``run.py --worker ...`` in a fresh interpreter and parse its JSON line."""
    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"worker {' '.join(args)} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def bench_lp(sizes: list[int], repeat: int, loop_cap: int, time_limit: float | None,
             highs_options: dict[str, Any], quick: bool) -> tuple[list[Row], dict[str, Any]]:
    rows: list[Row] = []
    raw: dict[str, Any] = {}
    for n in sizes:
        rep = repeat if n < ONCE_FROM else 1
        loop_rep = rep if n <= loop_cap else 0
        log(f"lp: {n:,} areas (repeat {rep}, loop builder {loop_rep}x)")
        args = ["--worker", "lp", "--size", str(n), "--repeat", str(rep),
                "--loop-repeat", str(loop_rep)]
        if time_limit:
            args += ["--solve-time-limit", str(time_limit)]
        for k, v in highs_options.items():
            args += ["--highs-option", f"{k}={v}"]
        r = run_worker(args)
        raw[str(n)] = r
        log(f"lp {n:,}: {json.dumps({k: v for k, v in r.items() if k.endswith('_s')})}")
        label = f"{n:,} areas" + (f" ({r['synthetic']:,} SYNTHETIC)" if r["synthetic"] else " (real)")
        size = f"{r['variables']:,} columns, {r['rows']:,} rows; waves {r['waves']}"
        bv, bl = median(r["build_direct_s"]), median(r["build_loop_s"])
        ratio = bl / bv if bv and bl else None
        big = n == max(FULL_SIZES)
        note_rep = (f"median of {rep}" if rep > 1
                    else "1 run" + (" (slow at this size)" if n >= ONCE_FROM else ""))
        rows.append(Row("3 LP", f"{label}: build, direct (sparse arrays, scaled, passed to highspy)",
                        fmt_s(bv), note=f"{size}; {note_rep}"))
        rows.append(Row("3 LP", f"{label}: build, PuLP loop builder", fmt_s(bl),
                        note="not run: above --loop-cap" if not r["build_loop_s"] else note_rep))
        rows.append(Row("3 LP", f"{label}: build loop / direct", fmt_x(ratio),
                        ">= 20x" if big else "", status(None if ratio is None else ratio >= 20, quick)
                        if big else "", "same prepared arrays; the same LP (tests/test_allocate_lp.py)"))
        for name, label_s, how in (("highs", "HiGHS", "as the engine runs it (pro-rata shortcut "
                                    "where proven)"),
                                   ("cbc", "CBC", "every stage solved, as the cross-check")):
            s = median(r[f"solve_{name}_s"])
            err = r[f"solve_{name}_error"]
            rows.append(Row("3 LP", f"{label}: staged solve {label_s}, scaled model",
                            fmt_s(s) if s is not None else "failed" if err else "-",
                            note=err or f"{how}; {note_rep}"))
        tot = median(r["total_s"])
        failed = r["total_error"] is not None
        rows.append(Row("3 LP", f"{label}: build + solve, `AllocationProblem.solve()` HiGHS",
                        fmt_s(tot) if tot is not None else
                        f"failed (limit {fmt_s(time_limit)}/stage)" if time_limit else "failed",
                        "< 5 s" if big else "",
                        status(False if failed else None if tot is None else tot < 5, quick)
                        if big else "",
                        r["total_error"] or "presolve checks, build, staged solve, rounding, "
                        "verify, explain (no cross-check or marginal re-solves); CPU "
                        + fmt_s(median(r.get("total_cpu_s") or []))))
        peak = r["peak_rss_mb"]
        rows.append(Row("3 LP", f"{label}: peak memory (ru_maxrss, build + solve)",
                        f"{peak:,.0f} MB", "< 1 GB" if big else "",
                        status(peak < 1024, quick) if big else "",
                        "whole worker process, imports and data included"
                        + ("; the solve above failed" if failed else "")))
        if "default_full_s" in r:
            full, bare = median(r["default_full_s"]), median(r["default_no_marginal_s"])
            rows.append(Row("3 LP", f"{label}: default solve with cross-check and £1m re-solves",
                            fmt_s(full), "< 0.3 s", status(full < 0.3, quick),
                            f"solver {r['default_solver']}; `AllocationProblem.solve()` as "
                            f"`allocator run` calls it; {note_rep}; CPU (with CBC's processes) "
                            + fmt_s(median(r["default_full_cpu_s"]))))
            rows.append(Row("3 LP", f"{label}: default solve with cross-check, no £1m re-solves",
                            fmt_s(bare), note=f"{note_rep}; CPU "
                            + fmt_s(median(r["default_no_marginal_cpu_s"]))))
    return rows, raw


# ---------------------------------------------------------------------------------------- 4. map
def bench_map(cfg: Any, repeat: int, quick: bool) -> tuple[list[Row], dict[str, Any]]:
    from allocator.pipeline import run
    from allocator.provenance import ATTRIBUTION
    from allocator.report.map import MapMeta, write_map

    result = run(cfg)
    frame = result.map_frame()
    meta = MapMeta(config_name=cfg.name, config_hash=result.config_hash, streams=result.streams,
                   years=result.years, sources=result.sources(), attribution=ATTRIBUTION,
                   notes=result.notes)
    times: list[float] = []
    size = 0
    with tempfile.TemporaryDirectory(prefix="allocator-bench-map-") as tmp:
        for i in range(repeat):
            path = Path(tmp) / f"map{i}.html"
            t, _ = timed(lambda path=path: write_map(frame, meta, path))
            times.append(t)
            size = path.stat().st_size
    t = median(times)
    rows = [
        Row("4 map", f"map.html size, {len(frame)} LAs", f"{size / MB:.2f} MB", "< 2 MB",
            status(size < 2 * MB, quick), f"{size:,} bytes"),
        Row("4 map", "time to write map.html", fmt_s(t), note=f"median of {repeat}"),
    ]
    return rows, {"bytes": size, "write_s": times}


# ---------------------------------------------------------------------------------------- 5. scale
def scale_worker(n: int, draws: int, repeat: int) -> dict[str, Any]:
    """Run in a fresh process: need index + waves + Monte Carlo over ``n`` SYNTHETIC areas.

    The Monte Carlo runs with one thread (``n_jobs=1``) and with two (``n_jobs=2``, the
    machine's cores), alternating; both give identical ranks (checked).
    """
    import numpy as np

    from allocator.index import NeedIndex
    from allocator.montecarlo import RankUncertainty
    from allocator.waves import Waves
    from synthetic import scale_config, synthetic_areas

    cfg, areas = load_real()
    scfg = scale_config(cfg, n)
    frame = synthetic_areas(areas.frame, n)
    ucfg = scfg.uncertainty.model_copy(update={"draws": draws})
    out: dict[str, Any] = {"n": n, "synthetic": int(n - len(areas.frame)), "draws": draws}
    ranks: dict[int, Any] = {}
    for _ in range(repeat):
        for jobs in (1, 2):
            t0, c0 = time.perf_counter(), time.process_time()
            need = NeedIndex(scfg.index, tie_break=scfg.waves.tie_break).fit(frame)
            Waves(scfg.waves).fit(need)
            t1 = time.perf_counter()
            unc = RankUncertainty(scfg.index, ucfg, scfg.waves, progress=False, n_jobs=jobs)
            unc.fit(frame)
            t2, c2 = time.perf_counter(), time.process_time()
            for key, value in (("index_waves_s", t1 - t0), ("mc_s", t2 - t1),
                               ("total_s", t2 - t0), ("total_cpu_s", c2 - c0)):
                out.setdefault(f"{key}_jobs{jobs}", []).append(value)
            ranks[jobs] = unc.ranks_
            del unc
            gc.collect()
    out["identical"] = bool(np.array_equal(ranks[1], ranks[2]))
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


def bench_scale(n: int, draws: int, repeat: int, quick: bool) -> tuple[list[Row], dict[str, Any]]:
    log(f"scale: index + waves + {draws:,} draws over {n:,} areas (repeat {repeat})")
    r = run_worker(["--worker", "scale", "--size", str(n), "--draws", str(draws),
                    "--repeat", str(repeat)])
    label = f"{n:,} areas ({r['synthetic']:,} SYNTHETIC)"
    peak = r["peak_rss_mb"]
    rows = [
        Row("5 scale", f"{label}: need index + waves", fmt_s(median(r["index_waves_s_jobs1"])),
            note=f"median of {repeat}"),
    ]
    for jobs in (1, 2):
        tot = median(r[f"total_s_jobs{jobs}"])
        rows += [
            Row("5 scale", f"{label}: Monte Carlo {draws:,} draws, n_jobs={jobs}",
                fmt_s(median(r[f"mc_s_jobs{jobs}"])), note=f"median of {repeat}"),
            Row("5 scale", f"{label}: index + waves + {draws:,} draws, n_jobs={jobs}", fmt_s(tot),
                "< 5 s", status(None if tot is None else tot < 5, quick),
                f"CPU {fmt_s(median(r[f'total_cpu_s_jobs{jobs}']))}"
                + ("; identical ranks for n_jobs 1 and 2: " + str(r["identical"]) if jobs == 2
                   else "")),
        ]
    rows.append(Row("5 scale", f"{label}: peak memory (ru_maxrss)", f"{peak:,.0f} MB", "< 1 GB",
                    status(peak < 1024, quick),
                    "whole worker process: imports, the real data, synthetic table, both runs"))
    return rows, r


# ---------------------------------------------------------------------------------------- main
def parse_options(items: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--highs-option needs KEY=VALUE, got {item!r}")
        v: Any = value
        for cast in (int, float):
            try:
                v = cast(value)
                break
            except ValueError:
                continue
        if value.lower() in ("true", "false"):
            v = value.lower() == "true"
        out[key] = v
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="smoke run: fewer repeats, 1,000 draws, LP at 152 and 1,000 areas, "
                    "100 draws at scale (targets are not judged)")
    ap.add_argument("--repeat", type=int, default=None, help="runs per figure (default 3, quick 1)")
    ap.add_argument("--only", default="e2e,mc,lp,map,scale",
                    help="comma-separated sections to run: e2e, mc, lp, map, scale, upounds "
                    "(not in the default set)")
    ap.add_argument("--sizes", default=None, help="LP sizes, e.g. 152,1000 (default all four)")
    ap.add_argument("--loop-cap", type=int, default=33_755,
                    help="largest LP size at which the PuLP loop builder is run (default all)")
    ap.add_argument("--solve-time-limit", type=float, default=120.0,
                    help="seconds per solver stage in the LP benchmark (default 120; 0 = none)")
    ap.add_argument("--highs-option", action="append", default=[], metavar="KEY=VALUE",
                    help="extra HiGHS option for the LP benchmark (e.g. presolve=off)")
    ap.add_argument("--json", type=Path, default=None, help="write the raw numbers here")
    ap.add_argument("--markdown", type=Path, default=None, help="write the table as Markdown")
    # internal: one measurement in a fresh process
    ap.add_argument("--worker", choices=["lp", "scale"], help=argparse.SUPPRESS)
    ap.add_argument("--size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--draws", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--loop-repeat", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    repeat = args.repeat or (1 if args.quick else 3)
    limit = args.solve_time_limit or None
    highs = parse_options(args.highs_option)

    if args.worker == "lp":
        print(json.dumps(lp_worker(args.size, repeat, args.loop_repeat, limit, highs)))
        return 0
    if args.worker == "scale":
        print(json.dumps(scale_worker(args.size, args.draws, repeat)))
        return 0

    sections = {s.strip() for s in args.only.split(",") if s.strip()}
    unknown = sections - {"e2e", "mc", "lp", "map", "scale", "upounds"}
    if unknown:
        raise SystemExit(f"unknown section(s) {sorted(unknown)}")
    sizes = ([int(s) for s in args.sizes.split(",")] if args.sizes
             else QUICK_SIZES if args.quick else FULL_SIZES)
    info = machine()
    log(f"machine: {info['cores']} cores, {info['memory_gb']} GB; commit {info['commit']}")
    rows: list[Row] = []
    raw: dict[str, Any] = {"machine": info, "quick": args.quick, "repeat": repeat}
    start = time.perf_counter()
    if "e2e" in sections:
        r, raw["e2e"] = bench_e2e(repeat, args.quick)
        rows += r
    cfg = areas = None
    if sections & {"mc", "map"}:
        cfg, areas = load_real()
    if "mc" in sections:
        draws = 1_000 if args.quick else 10_000
        log(f"mc: {draws:,} draws, vectorised vs loop (repeat {repeat})")
        r, raw["mc"] = bench_mc(cfg, areas.frame, draws, repeat, args.quick)
        rows += r
    if "lp" in sections:
        r, raw["lp"] = bench_lp(sizes, repeat, args.loop_cap, limit, highs, args.quick)
        rows += r
    if "map" in sections:
        log("map: run the default config in memory, then write map.html")
        r, raw["map"] = bench_map(cfg, repeat, args.quick)
        rows += r
    if "scale" in sections:
        draws = 100 if args.quick else 1_000
        r, raw["scale"] = bench_scale(33_755, draws, repeat, args.quick)
        rows += r
    if "upounds" in sections:
        from allocator.config import load_config
        from allocator.pipeline import prepare
        from pounds_bench import bench_pounds

        log("upounds: the pounds Monte Carlo on the default config")
        pcfg = load_config(CONFIG)
        root, pareas = prepare(pcfg)
        r_dicts, raw["upounds"] = bench_pounds(pcfg, pareas.frame, root, repeat, args.quick, log)
        rows += [Row(**d) for d in r_dicts]
    raw["elapsed_s"] = time.perf_counter() - start

    header = (f"allocator benchmarks{' (QUICK: targets not judged)' if args.quick else ''} - "
              f"{info['date']}, {info['cores']} cores, {info['memory_gb']} GB RAM, "
              f"Python {info['python']}, commit {info['commit']}")
    if highs:
        header += f"; extra HiGHS options {highs}"
    print(header)
    print(render(rows))
    print(f"(benchmark took {raw['elapsed_s']:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps(raw, indent=2, default=str), encoding="utf-8")
    if args.markdown:
        args.markdown.write_text(header + "\n\n" + render(rows, markdown=True) + "\n",
                                 encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
