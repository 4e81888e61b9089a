"""The rule registry: built-in rules in order, and a new rule added as one class (SYNTHETIC data).

The new rule here is the package docstring's example, a regional floor: the LAs of one region
together get at least £X of a stream-year. It is one class (as a module under
``allocator/allocate/rules/`` would be) and reaches the solvers, presolve, verify and explain
through the registry alone.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocator.allocate import AllocationProblem
from allocator.allocate import rules as rules_mod
from allocator.allocate.cells import Layout
from allocator.allocate.config import AllocationConfig, year_key
from allocator.allocate.constraints import Groups, build_groups
from allocator.allocate.rules import RULES, Built, Issue, RowGroup, Rule, register
from allocator.errors import InfeasibleError, SolverError

YEARS = ["2022-23", "2023-24"]


def areas() -> pd.DataFrame:
    # synthetic: eight LAs in two regions, all in wave 1
    return pd.DataFrame({
        "code": [f"E0600000{i}" for i in range(1, 9)],
        "name": [f"Town {c}" for c in "ABCDEFGH"],
        "region": ["North"] * 4 + ["South"] * 4,
        "pop_all": [100_000, 200_000, 300_000, 400_000, 500_000, 600_000, 700_000, 800_000],
        "pop_15_64": [60_000, 120_000, 180_000, 240_000, 300_000, 360_000, 420_000, 480_000],
        "need_factor": [1.0] * 8,
        "wave": [1] * 8,
    })


CFG = {"streams": {"grant": {"budget": dict.fromkeys(YEARS, 1_000_001)}},
       "solver": {"name": "highs", "cross_check": "cbc"}}


class RegionalFloor(Rule):
    """The North's LAs together get at least :attr:`amount` of every stream-year."""

    name = "regional_floor"
    region = "North"
    amount = 400_000

    def _cells(self, layout: Layout) -> list[tuple[str, np.ndarray]]:
        north = layout.areas["region"].to_numpy()[layout.area] == self.region
        out = []
        for s, stream in enumerate(layout.streams):
            for y, year in enumerate(layout.years):
                cells = layout.block(s, y)
                out.append((f"regional_floor_{self.region}_{stream}_{year_key(year)}",
                            cells[north[cells]]))
        return out

    def build(self, layout: Layout, config: AllocationConfig, base_dir: Path | None = None
              ) -> Built:
        rows = self._cells(layout)
        indptr = np.concatenate([[0], np.cumsum([c.size for _, c in rows])]).astype(np.int64)
        indices = np.concatenate([c for _, c in rows]).astype(np.int64)
        group = RowGroup(self.name, [n for n, _ in rows], indptr, indices,
                         np.ones(indices.size), ">=", np.full(len(rows), float(self.amount)),
                         np.full(len(rows), -1, dtype=np.int64), f"{self.region} at least "
                         f"£{self.amount:,}")
        return Built(rows=(group,))

    def violations(self, layout: Layout, groups: Groups, x: np.ndarray) -> list[str]:
        return [f"{name}: £{int(x[cells].sum()):,} < £{self.amount:,}"
                for name, cells in self._cells(layout) if int(x[cells].sum()) < self.amount]

    def presolve(self, layout: Layout, groups: Groups, config: AllocationConfig) -> list[Issue]:
        up = groups.upper(layout.n_cells)
        return [Issue("regional_floor_above_caps", f"{name}: caps allow £{up[cells].sum():,.0f}")
                for name, cells in self._cells(layout) if up[cells].sum() < self.amount]

    def explain(self, layout: Layout, groups: Groups) -> dict[str, np.ndarray]:
        north = layout.areas["region"].to_numpy()[layout.area] == self.region
        return {"regional_floor_region": np.where(north, self.region, "")}


@pytest.fixture
def registered(monkeypatch: pytest.MonkeyPatch) -> type[Rule]:
    monkeypatch.setattr(rules_mod, "RULES", list(RULES))
    return register(RegionalFloor)


def test_builtin_registry_order_and_groups() -> None:
    assert [r.name for r in RULES] == ["eligibility", "floor", "cap", "lock", "budget", "pace",
                                      "floor_total", "cap_total", "pace_total"]
    p = AllocationProblem.from_config({**CFG, "floors": [{"kind": "fixed", "amount": 1000}]},
                                      areas())
    cfg, layout, groups = p._prepare(None)
    assert [r.name for r in groups.rules] == [r.name for r in RULES]
    assert [g.name for g in groups.rows] == ["budget"]
    assert [g.name for g in groups.bounds] == ["floor", "cap", "lock", "pace_entry"]
    assert (groups.lower(layout.n_cells) == 1000).all()


def test_register_rejects_nameless_duplicate_and_unknown_position(registered) -> None:
    assert rules_mod.RULES[-1] is RegionalFloor
    assert register(RegionalFloor) is RegionalFloor  # twice: no-op

    class Nameless(Rule):
        pass

    class Clash(Rule):
        name = "floor"

    with pytest.raises(ValueError, match="non-empty 'name'"):
        register(Nameless)
    with pytest.raises(ValueError, match="already registered"):
        register(Clash)
    with pytest.raises(ValueError, match="before: no registered rule"):
        register(type("Other", (Rule,), {"name": "other"}), before="nope")


def test_a_new_rule_reaches_the_solvers_verify_and_explain(registered) -> None:
    # without the rule the North would get its need share, 10/36 of £1,000,001 (£277,778)
    a = areas()
    assert a.loc[a["region"] == "North", "pop_all"].sum() / a["pop_all"].sum() * 1_000_001 \
        < RegionalFloor.amount
    p = AllocationProblem.from_config(CFG, a, explain_marginal=False).solve()
    north = p.allocation_["region"] == "North"
    for year in YEARS:
        col = f"grant_{year_key(year)}"
        assert int(p.allocation_[col].sum()) == 1_000_001
        assert int(p.allocation_.loc[north, col].sum()) >= RegionalFloor.amount
    assert p.cross_check_max_diff_ is not None and p.cross_check_max_diff_ <= 1
    assert "regional_floor_region" in p.explain_.columns
    assert set(p.explain_.loc[p.explain_["region"] == "North", "regional_floor_region"]) == {"North"}
    # verify asks the rule: a pound moved out of the North fails
    from allocator.allocate.verify import check_cells

    x = p._x_int.copy()
    cells = p._layout.block(0, 0)
    region = p._layout.areas["region"].to_numpy()[p._layout.area]
    give = cells[region[cells] == "North"][0]
    take = cells[region[cells] == "South"][0]
    shortfall = int(x[cells[region[cells] == "North"]].sum()) - RegionalFloor.amount
    x[give] -= shortfall + 1
    x[take] += shortfall + 1
    out = check_cells(p._layout, p._groups, x)
    assert any(m.startswith("regional_floor_North_grant_2022_23: ") for m in out), out


def test_a_new_rule_brings_its_presolve_issue(registered) -> None:
    cfg = {**CFG, "caps": [{"share_of_stream": 0.09}]}
    with pytest.raises(InfeasibleError, match=r"\[regional_floor_above_caps\]"):
        AllocationProblem.from_config(cfg, areas()).solve()


def test_groups_can_be_built_with_an_explicit_rule_list() -> None:
    p = AllocationProblem.from_config(CFG, areas())
    cfg, layout, _ = p._prepare(None)
    groups = build_groups(layout, cfg, rules=[rules_mod.BudgetRule(), RegionalFloor()])
    assert [g.name for g in groups.rows] == ["budget", "regional_floor"]
    assert groups.bounds == [] and groups.floor.cells.size == 0
    with pytest.raises(SolverError):
        from allocator.allocate.verify import verify_cells

        verify_cells(layout, groups, np.zeros(layout.n_cells, dtype=np.int64))
