"""Benchmark section ``upounds`` of :mod:`run`: the pounds Monte Carlo (allocator.pounds).

Figures, on the 152 real LAs and the default config:

* 1,000 full draws (index -> waves -> targets -> staged HiGHS LP -> whole pounds -> exact
  check) with 1 and 2 local worker processes: wall time, draws per second, CPU seconds of the
  calling process and of the workers (the machine may be shared: CPU time is the steadier
  figure);
* the attribution in pounds (Saltelli design, N = 64) on 2 workers;
* scaling on a ``dask.distributed.LocalCluster``: 1 worker and 2 workers side by side;
* warm start: HiGHS from the previous draw's basis against a cold start, simplex iterations and
  solve time;
* memory: the sketch's size after 100 and after 1,000 draws.

Each function returns plain dicts (``section, figure, value, target, status, note``) that
:mod:`run` turns into rows.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

SECTION = "9 pounds uncertainty"


def _s(x: float) -> str:
    return f"{x:.2f} s" if x < 100 else f"{x:.0f} s"


def _fit(cfg: Any, frame: Any, root: Any, **kw: Any) -> tuple[float, Any]:
    from allocator.pounds import PoundsUncertainty

    t = time.perf_counter()
    est = PoundsUncertainty(progress=False, **kw).fit(cfg, frame, root)
    return time.perf_counter() - t, est


def bench_pounds(cfg: Any, frame: Any, root: Any, repeat: int, quick: bool,
                 log: Any) -> tuple[list[dict[str, str]], dict[str, Any]]:
    """Run the section; ``log`` prints a progress line."""
    draws = 200 if quick else 1_000
    rows: list[dict[str, str]] = []
    raw: dict[str, Any] = {"draws": draws}
    for jobs in (1, 2):
        walls, cpus, wcpus = [], [], []
        for i in range(repeat):
            wall, est = _fit(cfg, frame, root, n_draws=draws, n_jobs=jobs, sobol_samples=0)
            walls.append(wall)
            cpus.append(est.cpu_seconds_)
            wcpus.append(est.worker_cpu_seconds_)
            log(f"upounds {jobs} worker(s) {i + 1}/{repeat}: {wall:.2f} s, worker CPU "
                f"{est.worker_cpu_seconds_:.2f} s, failed {est.failures_}")
        w = statistics.median(walls)
        raw[f"jobs_{jobs}"] = {"wall": walls, "cpu_main": cpus, "cpu_workers": wcpus}
        target = "< 30 s" if jobs == 2 and not quick else ""
        rows.append({
            "section": SECTION,
            "figure": f"{draws:,} full draws x 152 LAs, {jobs} local process(es)",
            "value": _s(w), "target": target,
            "status": ("n/a (quick)" if quick else ("met" if w < 30 else "MISSED")) if target
            else "",
            "note": f"{draws / w:.0f} draws/s; CPU: workers {_s(statistics.median(wcpus))} "
                    f"({1000 * statistics.median(wcpus) / draws:.1f} ms per draw), caller "
                    f"{_s(statistics.median(cpus))}; median of {repeat}",
        })
    n_sobol = 16 if quick else 64
    wall, est = _fit(cfg, frame, root, n_draws=1, n_jobs=2, sobol_samples=n_sobol)
    raw["sobol"] = {"wall": wall, "runs": est.design_runs_, "cpu_workers": est.worker_cpu_seconds_}
    rows.append({"section": SECTION, "figure": f"attribution in pounds, N = {n_sobol} "
                 f"({est.design_runs_} allocations), 2 processes", "value": _s(wall),
                 "target": "", "status": "",
                 "note": f"worker CPU {_s(est.worker_cpu_seconds_)}"})
    rows += _cluster(cfg, frame, root, 200 if quick else 600, log, raw)
    rows += _warm_start(cfg, frame, root, 50 if quick else 200, raw)
    _, e100 = _fit(cfg, frame, root, n_draws=100, sobol_samples=0)
    _, e1000 = _fit(cfg, frame, root, n_draws=draws, sobol_samples=0, n_jobs=2)
    raw["sketch_bytes"] = {"100": e100.sketch_.nbytes(), str(draws): e1000.sketch_.nbytes()}
    rows.append({"section": SECTION, "figure": "memory: summary of every cell (sketch)",
                 "value": f"{e1000.sketch_.nbytes() / 1e6:.2f} MB", "target": "", "status": "",
                 "note": f"after 100 draws {e100.sketch_.nbytes() / 1e6:.2f} MB, after "
                         f"{draws:,} {e1000.sketch_.nbytes() / 1e6:.2f} MB; bounded by cells x "
                         "bins whatever the draws"})
    return rows, raw


def _cluster(cfg: Any, frame: Any, root: Any, draws: int, log: Any,
             raw: dict[str, Any]) -> list[dict[str, str]]:
    from dask.distributed import LocalCluster

    out = []
    walls = {}
    for workers in (1, 2):
        with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster:
            _fit(cfg, frame, root, n_draws=workers * 4, sobol_samples=0,
                 scheduler=cluster.scheduler_address, chunk_size=4)  # warm the workers up
            wall, est = _fit(cfg, frame, root, n_draws=draws, sobol_samples=0,
                             scheduler=cluster.scheduler_address)
        walls[workers] = wall
        log(f"upounds LocalCluster {workers} worker(s): {wall:.2f} s")
        out.append({"section": SECTION,
                    "figure": f"{draws:,} draws on a Dask LocalCluster, {workers} worker(s)",
                    "value": _s(wall), "target": "", "status": "",
                    "note": f"{draws / wall:.0f} draws/s; worker CPU "
                            f"{_s(est.worker_cpu_seconds_)}; workers started before timing"})
    raw["cluster"] = walls
    out.append({"section": SECTION, "figure": "LocalCluster speed-up, 2 workers / 1",
                "value": f"{walls[1] / walls[2]:.2f}x", "target": "", "status": "",
                "note": "on 2 cores shared with other work; ideal 2x"})
    return out


def _warm_start(cfg: Any, frame: Any, root: Any, draws: int,
                raw: dict[str, Any]) -> list[dict[str, str]]:
    """HiGHS from the previous draw's optimal basis (``setBasis``) against a cold start."""
    from allocator.allocate.cells import build_layout
    from allocator.allocate.constraints import build_groups
    from allocator.allocate.lp import build_matrix, cell_units
    from allocator.allocate.scaling import pro_rata_targets
    from allocator.allocate.staged import HighsBackend
    from allocator.pounds.draw import context_from_run_config

    ctx = context_from_run_config(cfg, frame, root)
    need, waves = ctx.need_and_waves(*ctx.inputs(range(draws)))
    acfg = ctx.allocation_config
    models = []
    for j in range(draws):
        areas = ctx.areas.assign(need_factor=need[j], wave=waves[j])
        layout = build_layout(acfg, areas, root, checked=True)
        groups = build_groups(layout, acfg, root)
        scaled = pro_rata_targets(layout, groups)
        lp = build_matrix(layout, groups, acfg.objective, scaled.value)
        models.append(lp.scaled(cell_units(layout, scaled.value))[0])

    def solve_all(warm: bool) -> tuple[float, int]:
        basis, spent, iters = None, 0.0, 0
        for work in models:
            b = HighsBackend(work, acfg.solver)
            if warm and basis is not None:
                b.h.setBasis(basis)
            t = time.perf_counter()
            b.h.changeColsCost(b.n_cols, b._idx, work.costs["policy"][0])
            b.h.run()
            spent += time.perf_counter() - t
            iters += b.h.getInfo().simplex_iteration_count
            basis = b.h.getBasis()
        return spent, iters

    cold, warm = solve_all(False), solve_all(True)
    raw["warm_start"] = {"cold": cold, "warm": warm, "draws": draws}
    return [{"section": SECTION, "figure": f"policy stage, {draws} draws: cold start / warm "
             "start from the previous draw's basis",
             "value": f"{_s(cold[0])} / {_s(warm[0])}", "target": "", "status": "",
             "note": f"simplex iterations {cold[1]:,} / {warm[1]:,}: the previous draw's "
                     "basis is a worse start than HiGHS's own, so warm starts are not used"}]
