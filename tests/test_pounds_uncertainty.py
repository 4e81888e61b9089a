"""Uncertainty in pounds (allocator.pounds): sketch, hand-checked draws, failures, determinism.

Data: SYNTHETIC only (tests/four_las.py with invented indicator values, and
tests/data/index_synthetic_areas.csv); the real-data and command-line tests are in
tests/test_pounds_cli.py.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.config import config_from_dict, read_config_document
from allocator.pounds import PoundsUncertainty
from allocator.pounds.draw import DrawContext, draw_seed
from allocator.pounds.parallel import tasks
from allocator.pounds.sketch import PoundsSketch, bin_edges
from allocator.report.pounds import output_table
from four_las import four_las

ROOT = Path(__file__).resolve().parents[1]
SYNTHETIC_152 = ROOT / "tests" / "data" / "index_synthetic_areas.csv"


# ---------------------------------------------------------------------- the sketch
def test_sketch_quantiles_are_observed_amounts_within_the_stated_resolution() -> None:
    rng = np.random.default_rng(7)
    cells = 9
    values = np.concatenate([
        rng.integers(0, 3_000, (400, cells)),            # small: exact
        rng.integers(10**6, 2 * 10**6, (400, cells)),   # dense large: within 0.1%
        np.full((60, cells), 123_456),                  # a repeated amount
    ])
    pub = rng.integers(0, 2 * 10**6, cells)
    sketch = PoundsSketch(pub, Fraction(9, 10), bin_edges(3 * 10**6))
    for lo in range(0, len(values), 53):
        sketch.add(values[lo:lo + 53])
    q = [0.0, 0.05, 0.25, 0.5, 0.95, 1.0]
    got = sketch.quantiles(q)
    exact = np.quantile(values, q, axis=0, method="inverted_cdf").astype(np.int64)
    assert (got <= exact).all()
    assert ((exact - got) <= exact // 1000).all()
    assert np.isin(got, values).all()  # every reported quantile is an amount a draw received
    np.testing.assert_array_equal(got[[0, -1]], exact[[0, -1]])  # min and max are exact
    np.testing.assert_array_equal(sketch.below, (values * 10 < pub * 9).sum(axis=0))
    np.testing.assert_array_equal(sketch.total, values.sum(axis=0))


def test_sketch_merge_is_independent_of_order_and_grouping() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 5 * 10**6, (300, 5))
    pub, edges = values[0], bin_edges(5 * 10**6)
    one = PoundsSketch(pub, Fraction(1, 2), edges).add(values)
    parts = [PoundsSketch(pub, Fraction(1, 2), edges).add(values[lo:lo + 41])
             for lo in range(0, 300, 41)]
    merged = PoundsSketch(pub, Fraction(1, 2), edges)
    for p in reversed(parts):
        merged.merge(p)
    for name in ("keys", "counts", "lo", "hi", "below", "total"):
        np.testing.assert_array_equal(getattr(one, name), getattr(merged, name))
    with pytest.raises(ValueError, match="different cells"):
        merged.merge(PoundsSketch(pub, Fraction(1, 3), edges))
    with pytest.raises(ValueError, match="outside"):
        merged.add(np.full((1, 5), -1))


def test_bin_edges_are_at_most_a_thousandth_wide() -> None:
    e = bin_edges(10**10)
    width = np.diff(e)
    assert e[0] == 0 and e[-1] > 10**10
    assert (width[e[:-1] < 1000] == 1).all()
    assert (width <= np.maximum(1, e[:-1] // 1000)).all()


# ---------------------------------------------------------------------- hand-checkable: four LAs
def four_la_config(**pounds: object) -> object:
    """SYNTHETIC: waves of 2 and 2; one stream, £300 then £600, only for LAs whose wave started.

    The need factor is fixed at 1 (low = high), so a draw's choices matter only through which
    two LAs are in wave 1: year 1 splits £300 between them by population, year 2 splits £600
    between all four (£60, £120, £180, £240 in every draw).
    """
    doc = {
        "name": "four-las",
        "index": {"indicators": [
            {"name": "drug_deaths_rate", "direction": "higher_is_worse"},
            {"name": "imd_score", "direction": "higher_is_worse"},
        ], "need_factor": {"low": 1.0, "high": 1.0}},
        "uncertainty": {"seed": 11, "draws": 10, "relative_error": 0.4,
                        "use_death_rate_interval": False,
                        "normalise_choices": ["zscore", "rank"]},
        "waves": {"sizes": [2, 2], "labels": ["2022-23", "2023-24"]},
        "allocation": {
            "years": ["2022-23", "2023-24"],
            "streams": {"place": {"budget": {"2022-23": 300, "2023-24": 600},
                                  "eligible": "wave_started"}},
            "solver": {"name": "highs", "cross_check": None},
        },
    }
    if pounds:
        doc["pounds_uncertainty"] = pounds
    return config_from_dict(doc)


def four_la_frame() -> pd.DataFrame:
    frame = four_las().drop(columns=["need_factor", "wave"])
    frame["drug_deaths_rate"] = [9.0, 8.0, 7.5, 7.0]
    frame["imd_score"] = [30.0, 28.0, 29.0, 20.0]
    return frame


def test_four_las_by_hand() -> None:
    cfg = four_la_config()
    est = PoundsUncertainty(n_draws=60, n_jobs=1, sobol_samples=4, progress=False).fit(
        cfg, four_la_frame())
    assert est.draws_ok_ == 60 and est.failures_ == {}
    res = est.results_.set_index(["code", "stream", "year"])
    pops = dict(zip(four_las()["code"], four_las()["pop_all"], strict=True))
    for code, pop in pops.items():
        # year 2: every LA has started, £600 by population, in every draw
        row = res.loc[(code, "place", "2023-24")]
        assert row["p05"] == row["p50"] == row["p95"] == row["published"] == 600 * pop // 1_000_000
        # year 1: £0 outside wave 1, else £300 x its share of the wave-1 pair's population
        possible = {0} | {round(300 * pop / (pop + other)) for c, other in pops.items()
                          if c != code}
        for q in ("p05", "p50", "p95"):
            assert int(res.loc[(code, "place", "2022-23"), q]) in possible
    # the published waves are {A, B}: A gets 300 x 100k / 300k = £100
    assert res.loc[("E06000001", "place", "2022-23"), "published"] == 100
    # less than 90% of the published £100 exactly when A is not in wave 1 with B (with C or D
    # it gets £75 or £60, outside wave 1 £0): count those draws from the waves alone
    ctx = DrawContext(cfg.index, cfg.uncertainty, cfg.waves, cfg.allocation, four_la_frame())
    _, waves = ctx.need_and_waves(*ctx.inputs(range(60)))
    with_b = ((waves[:, 0] == 1) & (waves[:, 1] == 1)).sum()
    assert 0 < with_b < 60
    assert res.loc[("E06000001", "place", "2022-23"), "p_below"] == pytest.approx(1 - with_b / 60)
    np.testing.assert_allclose(est.p_wave_[:, 0], (waves == 1).mean(axis=0))
    totals = est.results_[est.results_["stream"] == "total"]
    assert set(totals["published"]) <= {60 + 100, 120 + 200, 180, 240, 180 + 225, 240 + 240}


def test_draw_seed_depends_only_on_seed_and_index() -> None:
    assert draw_seed(1, 5) == draw_seed(1, 5)
    assert len({draw_seed(1, i) for i in range(50)} | {draw_seed(2, 0)}) == 51
    assert tasks(10, 4) == [("draws", 0, 4), ("draws", 4, 8), ("draws", 8, 10)]


def test_a_broken_draw_is_caught_counted_and_reported() -> None:
    cfg = four_la_config()
    est = PoundsUncertainty(n_draws=12, sobol_samples=0, chunk_size=5, progress=False)
    est.fit(cfg, four_la_frame(), inject_failure=7)
    assert est.failures_ == {"verify_failed": 1}
    assert est.draws_ok_ == 11
    (index, kind, why), = est.failed_draws_
    assert (index, kind) == (7, "verify_failed") and "budget" in why
    clean = PoundsUncertainty(n_draws=12, sobol_samples=0, chunk_size=5, progress=False).fit(
        cfg, four_la_frame())
    assert clean.failures_ == {} and clean.draws_ok_ == 12


def test_the_exact_check_itself_fails_on_a_wrong_pound() -> None:
    """The per-draw check is the engine's exact verify: one pound off breaks the budget rule."""
    from allocator.allocate.cells import build_layout
    from allocator.allocate.constraints import build_groups

    cfg = four_la_config()
    ctx = DrawContext(cfg.index, cfg.uncertainty, cfg.waves, cfg.allocation, four_la_frame())
    out = ctx.run_central()
    areas = ctx.areas.assign(need_factor=1.0, wave=ctx.published_need_and_waves()[1])
    layout = build_layout(cfg.allocation, areas)
    groups = build_groups(layout, cfg.allocation)
    assert out.pounds is not None
    x = out.pounds[layout.stream, layout.year, layout.area]
    assert ctx.check(layout, groups, x) == []
    x[0] += 1
    assert ctx.check(layout, groups, x)


def test_parameters_are_checked() -> None:
    cfg = four_la_config()
    for kw, word in [({"n_draws": 0}, "n_draws"), ({"n_jobs": 0}, "n_jobs"),
                     ({"share": 1.5}, "share"), ({"sobol_samples": -1}, "sobol_samples"),
                     ({"chunk_size": 0}, "chunk_size"), ({"random_state": -1}, "random_state"),
                     ({"elasticity": (2.0, 1.0)}, "elasticity")]:
        with pytest.raises(ValueError, match=word):
            PoundsUncertainty(**kw).fit(cfg, four_la_frame())


# ---------------------------------------------------------------------- determinism
@pytest.fixture(scope="module")
def synthetic_152() -> tuple[object, pd.DataFrame]:
    doc = read_config_document(ROOT / "configs" / "ssmtrg-2022-25.yaml")
    doc["allocation"]["solver"] = {"name": "highs", "cross_check": None}
    doc["allocation"]["floors"][0]["amount"] = 0.5  # the synthetic LAs are larger than real ones
    frame = pd.read_csv(SYNTHETIC_152, dtype={"drug_deaths_flag": str, "imd_flag": str,
                                              "crime_flag": str})
    return config_from_dict(doc), frame


def _csv_bytes(est: PoundsUncertainty, tmp_path: Path, name: str) -> bytes:
    """``pounds_uncertainty.csv`` as the writer writes it, header lines included."""
    from allocator.report.mapbase import MapMeta
    from allocator.report.pounds import RunInfo, _commented_csv, header_lines

    meta = MapMeta(config_name="synthetic", config_hash="0" * 64, streams=[], years=[],
                   sources=["SYNTHETIC areas table (tests/data)"])
    path = tmp_path / name
    _commented_csv(output_table(est), path, header_lines(est, RunInfo(tmp_path, "0" * 64, meta)))
    return path.read_bytes()


@pytest.mark.slow
def test_one_two_four_workers_and_a_dask_cluster_give_identical_bytes(
        synthetic_152: tuple[object, pd.DataFrame], tmp_path: Path) -> None:
    from dask.distributed import LocalCluster

    cfg, frame = synthetic_152
    kw = {"n_draws": 24, "sobol_samples": 2, "chunk_size": 5, "progress": False}
    out = {}
    for n_jobs in (1, 2, 4):
        est = PoundsUncertainty(n_jobs=n_jobs, **kw).fit(cfg, frame)
        assert est.draws_ok_ + sum(est.failures_.values()) == 24
        out[f"{n_jobs} processes"] = _csv_bytes(est, tmp_path, f"{n_jobs}.csv")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        est = PoundsUncertainty(scheduler=cluster.scheduler_address, **kw).fit(cfg, frame)
        assert est.where_.startswith("Dask cluster")
        out["dask"] = _csv_bytes(est, tmp_path, "dask.csv")
    first = out["1 processes"]
    assert all(v == first for v in out.values()), [k for k, v in out.items() if v != first]
    # and the draws do vary (a constant table would make the comparison empty)
    table = pd.read_csv(tmp_path / "1.csv", comment="#")
    assert (table["p95"] > table["p05"]).any()
    other = PoundsUncertainty(random_state=99, **kw).fit(cfg, frame)
    assert _csv_bytes(other, tmp_path, "other.csv") != first


def test_target_elasticity_drawn_per_draw_by_hand() -> None:
    """SYNTHETIC: only the elasticity varies (no noise, fixed weights and methods), so in year 2
    every LA's share is pop x need ** e over the sum, computable by hand for each draw."""
    from allocator.pounds.draw import with_elasticity

    cfg = four_la_config()
    doc = cfg.canonical()
    doc["uncertainty"].update({"relative_error": 0.0, "weight_concentration": 0.0,
                               "normalise_choices": None})
    doc["index"]["need_factor"] = {"low": 0.5, "high": 1.5}
    doc["allocation"]["target"] = {"basis": "need_weighted_population", "elasticity": 1.0}
    cfg = config_from_dict(doc)
    est = PoundsUncertainty(n_draws=40, sobol_samples=4, elasticity=(0.0, 3.0),
                            progress=False).fit(cfg, four_la_frame())
    assert est.draws_ok_ == 40
    ctx = DrawContext(cfg.index, cfg.uncertainty, cfg.waves, cfg.allocation, four_la_frame(),
                      elasticity=(0.0, 3.0))
    e = ctx.elasticities(range(40))
    assert e is not None and min(e) >= 0 and max(e) < 3 and len(set(e)) == 40
    need, _ = ctx.published_need_and_waves()
    pop = four_las()["pop_all"].to_numpy(float)
    shares = np.array([pop * need**x / (pop * need**x).sum() for x in e])  # (draws, LAs)
    res = est.results_.set_index(["code", "stream", "year"])
    for i, code in enumerate(four_las()["code"]):
        amounts = np.sort(600 * shares[:, i])
        lo, hi = res.loc[(code, "place", "2023-24"), ["p05", "p95"]]
        # whole pounds: within a pound of the hand-worked 5th and 95th percentiles
        k05, k95 = np.quantile(np.arange(40), [0.05, 0.95], method="inverted_cdf").astype(int)
        assert abs(lo - amounts[k05]) <= 1 and abs(hi - amounts[k95]) <= 1
    assert est.attribution_ is not None
    top = est.attribution_.set_index("factor")["ST"]
    assert top.idxmax() == "target elasticity"
    # the range must make sense, and some target must have an elasticity
    with pytest.raises(Exception, match="need_weighted_population"):
        PoundsUncertainty(n_draws=2, elasticity=(0.0, 1.0), progress=False).fit(
            four_la_config(), four_la_frame())
    assert with_elasticity(cfg.allocation, 2.5).target.elasticity == 2.5


def test_scheduler_problems_are_plain_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from allocator.errors import ConfigError
    from allocator.pounds.parallel import run_tasks

    with pytest.raises(ConfigError, match="cannot reach the Dask scheduler at nonsense"):
        run_tasks(None, [("draws", 0, 1)], scheduler="nonsense",  # type: ignore[arg-type]
                  on_result=lambda t, r: None)
    monkeypatch.setitem(sys.modules, "dask.distributed", None)  # as if not installed
    with pytest.raises(ConfigError, match='pip install "dask\\[distributed\\]"'):
        run_tasks(None, [("draws", 0, 1)], scheduler="tcp://127.0.0.1:8786",  # type: ignore[arg-type]
                  on_result=lambda t, r: None)


def _closed_port() -> int:
    """A local port nothing listens on (bound, then closed)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_a_refused_scheduler_fails_at_once_without_dask_retrying(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Dask's Client retries a refused connection for its whole timeout (20 s); the address is
    checked first, so Dask is never asked (its Client would fail this test)."""
    import socket

    import dask.distributed

    from allocator.errors import ConfigError
    from allocator.pounds.parallel import check_scheduler, run_tasks

    class NoClient:
        def __init__(self, *args: object, **kwargs: object) -> None:
            raise AssertionError("Dask's Client was asked to connect to a refused address")

    monkeypatch.setattr(dask.distributed, "Client", NoClient)
    address = f"tcp://127.0.0.1:{_closed_port()}"
    with pytest.raises(ConfigError, match=rf"--scheduler: cannot reach the Dask scheduler at "
                                          rf"{address}: the connection was refused"):
        run_tasks(None, [("draws", 0, 1)], scheduler=address,  # type: ignore[arg-type]
                  on_result=lambda t, r: None)
    with pytest.raises(ConfigError, match="not an address like tcp://host:8786"):
        check_scheduler("tcp://127.0.0.1")  # no port
    with socket.socket() as server:  # something that accepts connections passes the check
        server.bind(("127.0.0.1", 0))
        server.listen()
        check_scheduler(f"tcp://127.0.0.1:{server.getsockname()[1]}")


def test_failed_draws_are_reported_in_the_written_outputs(tmp_path: Path) -> None:
    import json

    from allocator.report.mapbase import MapMeta
    from allocator.report.pounds import RunInfo, write_pounds_dir

    cfg = four_la_config()
    est = PoundsUncertainty(n_draws=12, sobol_samples=0, chunk_size=5, progress=False)
    est.fit(cfg, four_la_frame(), inject_failure=7)
    meta = MapMeta(config_name="four-las", config_hash="0" * 64, streams=["place"],
                   years=["2022-23", "2023-24"], sources=["SYNTHETIC test data (2022)"],
                   notes=["SYNTHETIC: four invented LAs"])
    out = write_pounds_dir(est, RunInfo(tmp_path / "run", "f" * 64, meta), tmp_path, "p")
    csv = (out / "pounds_uncertainty.csv").read_text(encoding="utf-8")
    assert "11 draws were allocated and 1 failed (1 verify failed)" in csv
    assert "# Source: SYNTHETIC test data (2022)" in csv
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "- draw 7: verify failed: injected" in summary
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["draws_failed"] == {"verify_failed": 1}
    assert manifest["run"]["manifest_sha256"] == "f" * 64
    assert manifest["failed_draws"][0][:2] == [7, "verify_failed"]
    assert not (out / "pounds_map.html").exists()  # no geometry given: no map
    from allocator.errors import DataError
    from allocator.provenance import Manifest

    with pytest.raises(DataError, match="pounds-uncertainty directory .* replay the run"):
        Manifest.read(out / "manifest.json")  # `allocator replay` on it says what to do
    # never overwritten: the same name again gets a new directory
    again = write_pounds_dir(est, RunInfo(tmp_path / "run", "f" * 64, meta), tmp_path, "p")
    assert again != out and again.name == "p-2"


@pytest.mark.parametrize(("share", "text", "column"), [
    (0.0001, "less than 0.01% of", "p_below_0_01pct"), (0.955, "less than 95.5% of", "p_below_95_5pct"),
])
def test_the_share_is_written_as_given_never_rounded(share: float, text: str, column: str) -> None:
    """``--share 0.0001`` must not read "less than 0% of the published amount" (false)."""
    from allocator.report.pounds import method_lines, output_table, summary_paragraph

    est = PoundsUncertainty(n_draws=3, sobol_samples=0, share=share, progress=False)
    est.fit(four_la_config(), four_la_frame())
    table = output_table(est)
    assert column in table.columns
    assert text in summary_paragraph(est, table)
    assert any(text.replace("less than", "below") in line for line in method_lines(est))


def test_the_method_does_not_claim_a_rank_uncertainty_the_run_switched_off() -> None:
    from allocator.report.pounds import method_lines

    cfg = four_la_config()
    off = cfg.model_copy(update={"uncertainty": cfg.uncertainty.model_copy(update={"enabled": False})})
    for config, said in ((cfg, True), (off, False)):
        est = PoundsUncertainty(n_draws=2, sobol_samples=0, progress=False).fit(config, four_la_frame())
        assert ("as the run's rank uncertainty" in method_lines(est)[0]) is said
        assert ("rank uncertainty switched off" in method_lines(est)[0]) is not said


def test_too_few_draws_for_p5_and_p95_is_said_in_every_written_output(tmp_path: Path) -> None:
    """`--draws 1` (or 12) printed and wrote P5/P50/P95 with no warning. Now the CSV header,
    the summary, the chart, the manifest (and the map and the console, in
    tests/test_pounds_cli.py) say how few draws there were and what P5 and P95 then are."""
    import json

    from allocator.pounds.precision import MIN_PERCENTILE_DRAWS, percentile_caveat
    from allocator.report.mapbase import MapMeta
    from allocator.report.pounds import RunInfo, write_pounds_dir

    meta = MapMeta(config_name="four-las", config_hash="0" * 64, streams=["place"],
                   years=["2022-23", "2023-24"], sources=["SYNTHETIC test data (2022)"])
    est = PoundsUncertainty(n_draws=1, sobol_samples=0, progress=False).fit(
        four_la_config(), four_la_frame())
    assert est.percentile_caveat_ == percentile_caveat(1)
    out = write_pounds_dir(est, RunInfo(tmp_path / "run", "f" * 64, meta), tmp_path, "p")
    csv = (out / "pounds_uncertainty.csv").read_text(encoding="utf-8")
    said = "Only 1 allocated draw, too few to support the 5th and 95th percentiles"
    assert f"# Caveat: {said}" in csv.splitlines()[1]  # right under the title line
    assert "p05, p50 and p95 are all the one amount drawn" in csv
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert summary.split("\n\n")[1].startswith(f"**Too few draws.** {said}")
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["too_few_draws"].startswith(said)
    # enough draws: no caveat anywhere
    assert percentile_caveat(MIN_PERCENTILE_DRAWS) is None
    assert percentile_caveat(MIN_PERCENTILE_DRAWS - 1) is not None


@pytest.mark.parametrize("n", [*range(1, 45), 99, 100, 101, 150, 199])
def test_the_caveat_names_the_order_statistics_numpy_reports(n: int) -> None:
    """The caveat's "p05 is the k-th smallest" is what numpy's inverted_cdf takes."""
    from allocator.pounds.precision import percentile_caveat

    lo, hi = np.quantile(np.arange(1, n + 1), [0.05, 0.95], method="inverted_cdf")
    text = percentile_caveat(n)
    assert text is not None and f"only {n:,} allocated draw" in text
    if n == 1:
        return

    def nth(k: int, end: str) -> str:
        words = {1: end, 2: f"2nd {end}", 3: f"3rd {end}"}
        return words.get(k, f"{k}th {end}")

    assert f"p05 is the {nth(int(lo), 'smallest')} and p95 the {nth(n - int(hi) + 1, 'largest')}" \
        " amount" in text


@pytest.mark.parametrize("port", ["99999", "0", "-5"])
def test_a_scheduler_port_out_of_range_is_named_as_such(port: str) -> None:
    # it was reported as "the connection was refused" (99999, 0) or "the host name is not
    # known" (-5)
    from allocator.errors import ConfigError
    from allocator.pounds.parallel import check_scheduler

    with pytest.raises(ConfigError, match=rf"{port} is not a port number \(1 to 65535\)"):
        check_scheduler(f"tcp://127.0.0.1:{port}", timeout=1)
