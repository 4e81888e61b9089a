"""Property tests (hypothesis) over random valid SYNTHETIC configs and data.

Each example invents 6-20 LAs (codes E06..., names "Synthetic LA n", populations and three
indicators drawn by hypothesis), runs them through the need index, the waves and the allocation
(``NeedIndex`` -> ``Waves`` -> ``AllocationProblem``), and checks what users rely on:

* every stream-year sums exactly to its budget, in whole pounds;
* every floor, cap and pace-of-change rule holds for every LA, and ineligible LAs get nothing;
* the results do not depend on the order of the rows;
* the same seed gives the same bytes (Monte Carlo and written tables).

The generated set-ups are feasible by construction (floors at most half of each budget, caps at
least the share each floor needs, place-based budgets growing by more than the new entrants'
floors), so an ``InfeasibleError`` here is a bug, not bad luck.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator.allocate import AllocationProblem
from allocator.index import (
    IndexConfig,
    IndicatorSpec,
    NeedIndex,
    UncertaintyConfig,
)
from allocator.montecarlo import RankUncertainty
from allocator.report.tables import write_csv
from allocator.waves import Waves, WavesConfig

YEARS = ["2022-23", "2023-24", "2024-25"]
INDICATORS = ["drug_deaths_rate", "imd_score", "crime_score"]
#: Largest stream-year budget drawn (£10bn; the budget sweep from £1 is
#: tests/test_allocate_numerics.py).
MAX_BUDGET = 10_000_000_000
common = settings(max_examples=30, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def setups(draw: st.DrawFn) -> dict:
    """A synthetic areas table and a feasible allocation config."""
    n = draw(st.integers(6, 20))
    pop = np.array(draw(st.lists(st.integers(2_000, 1_500_000), min_size=n, max_size=n)))
    frame = pd.DataFrame({
        "code": [f"E06{i:06d}" for i in range(1, n + 1)],
        "name": [f"Synthetic LA {i}" for i in range(1, n + 1)],
        "region": draw(st.lists(st.sampled_from(["North East", "London", "South West"]),
                                min_size=n, max_size=n)),
        "pop_all": pop,
        "pop_15_64": (pop * 0.64).round().astype(int),
    })
    for c in INDICATORS:
        frame[c] = draw(st.lists(st.floats(0.0, 100.0).map(lambda v: round(v, 2)),
                                 min_size=n, max_size=n))
    a = draw(st.integers(1, max(1, n // 2)))
    b = draw(st.integers(1, n - a - 1))
    wave_sizes = [a, b, "rest"]

    cont = [draw(st.integers(1_000_000, MAX_BUDGET)) for _ in YEARS]
    floor_share = draw(st.floats(0.0, 0.5))  # of the smallest continuation budget
    per_head = math.floor(floor_share * min(cont) / pop.sum() * 100) / 100
    fixed = draw(st.integers(0, 100_000))
    pb1 = draw(st.integers(max(1_000_000, 2 * n * fixed), MAX_BUDGET // 2))
    pb = [pb1]
    for _ in YEARS[1:]:
        pb.append(pb[-1] + n * fixed + draw(st.integers(0, MAX_BUDGET // 4)))
    # a cap no floor can exceed and that lets every stream-year be spent (share of stream)
    max_pop_share = float(pop.max() / pop.sum())
    share = min(1.0, max(draw(st.floats(0.0, 1.0)), 0.6 * max_pop_share + 1e-3, 1.0 / a + 1e-3))
    config = {
        "streams": {
            "continuation": {"budget": dict(zip(YEARS, cont, strict=True)), "eligible": "all"},
            "place_based": {"budget": dict(zip(YEARS, pb, strict=True)),
                            "eligible": "wave_started"},
        },
        "floors": [
            {"kind": "per_head", "amount": per_head, "streams": ["continuation"]},
            {"kind": "fixed", "amount": fixed, "streams": ["place_based"]},
        ],
        "caps": [{"share_of_stream": share}],
        "pace": {"no_cash_cut": True, "streams": ["place_based"]},
        "objective": {"deviation": draw(st.sampled_from(["absolute", "relative"]))},
    }
    return {"frame": frame, "config": config, "waves": wave_sizes,
            "normalise": draw(st.sampled_from(["exponential", "minmax", "rank", "zscore"]))}


def solve(setup: dict, frame: pd.DataFrame | None = None) -> tuple[AllocationProblem, pd.DataFrame]:
    frame = setup["frame"] if frame is None else frame
    icfg = IndexConfig(
        indicators=[IndicatorSpec(name=c, direction="higher_is_worse") for c in INDICATORS],
        normalise=setup["normalise"],
    )
    need = NeedIndex(icfg).fit(frame)
    waves = Waves(WavesConfig(sizes=setup["waves"])).fit(need)
    areas = frame[["code", "name", "region", "pop_all", "pop_15_64"]].merge(
        pd.DataFrame({"code": need.need_factor_.index, "need_factor": need.need_factor_.to_numpy()}),
        on="code").merge(waves.wave_.rename("wave").reset_index(), on="code")
    problem = AllocationProblem.from_config(setup["config"], areas, explain_marginal=False).solve()
    return problem.verify(), areas


def col(stream: str, year: str) -> str:
    return f"{stream}_{year.replace('-', '_')}"


@common
@given(setup=setups())
def test_budgets_sum_exactly_and_every_rule_holds(setup: dict) -> None:
    problem, areas = solve(setup)
    cfg = setup["config"]
    x = problem.allocation_.set_index("code")
    areas = areas.set_index("code").loc[x.index]
    share = cfg["caps"][0]["share_of_stream"]
    per_head = cfg["floors"][0]["amount"]
    fixed = cfg["floors"][1]["amount"]
    for stream, scfg in cfg["streams"].items():
        for k, year in enumerate(YEARS):
            money = x[col(stream, year)]
            assert money.dtype.kind == "i"
            assert int(money.sum()) == scfg["budget"][year]  # to the pound
            eligible = (areas["wave"] <= k + 1) if scfg["eligible"] == "wave_started" \
                else pd.Series(True, index=areas.index)
            assert (money[~eligible] == 0).all()
            m = money[eligible]
            cap = math.floor(share * scfg["budget"][year])
            assert (m <= cap).all()
            if stream == "continuation":
                floor = np.ceil(per_head * areas.loc[eligible, "pop_all"] - 1e-9)
            else:
                floor = pd.Series(math.ceil(fixed), index=m.index)
            assert (m >= floor).all()
    for k in range(1, len(YEARS)):
        both = areas["wave"] <= k  # eligible in year k-1 and year k (0-based)
        now, before = x[col("place_based", YEARS[k])], x[col("place_based", YEARS[k - 1])]
        assert (now[both] >= before[both]).all()  # no cash cut once funded
    # the table's totals are the sums of its cells
    for year in YEARS:
        parts = x[[col(s, year) for s in cfg["streams"]]].sum(axis=1)
        assert (x[f"total_{year.replace('-', '_')}"] == parts).all()


@common
@given(setup=setups(), seed=st.integers(0, 2**32 - 1))
def test_results_do_not_depend_on_row_order(setup: dict, seed: int) -> None:
    shuffled = setup["frame"].sample(frac=1.0, random_state=np.random.RandomState(seed))
    a, _ = solve(setup)
    b, _ = solve(setup, shuffled.reset_index(drop=True))
    pd.testing.assert_frame_equal(a.allocation_.reset_index(drop=True),
                                  b.allocation_.reset_index(drop=True))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(setup=setups(), seed=st.integers(0, 2**31 - 1))
def test_same_seed_gives_same_bytes(setup: dict, seed: int, tmp_path_factory) -> None:
    tmp = tmp_path_factory.mktemp("bytes")
    icfg = IndexConfig(
        indicators=[IndicatorSpec(name=c, direction="higher_is_worse") for c in INDICATORS])
    ucfg = UncertaintyConfig(draws=300, seed=seed)
    wcfg = WavesConfig(sizes=setup["waves"])

    def once(i: int) -> tuple[bytes, bytes]:
        unc = RankUncertainty(icfg, ucfg, wcfg, progress=False).fit(setup["frame"])
        p1 = write_csv(unc.results_.reset_index(), Path(tmp / f"unc{i}.csv"))
        problem, _ = solve(setup)
        p2 = write_csv(problem.allocation_, Path(tmp / f"alloc{i}.csv"))
        return p1.read_bytes(), p2.read_bytes()

    first, second = once(1), once(2)
    assert first == second
