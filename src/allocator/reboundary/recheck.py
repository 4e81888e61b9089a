"""The run's rules re-checked on the new boundaries, on the final whole pounds.

What still means something once Cumbria is two LAs, and how each is re-checked (exact integer
arithmetic, through the rules' own ``violations``, :func:`allocator.allocate.verify.check_cells`):

* **budget** - every stream-year sums exactly to its budget (each old LA's pounds are conserved
  exactly, so this holds by construction; it is checked anyway);
* **per-LA floors** (``kind: fixed``, e.g. £20,000 of place-based money per funded LA per year)
  - each successor is an LA that receives the grant, so each half of a split LA must reach the
  floor on its own;
* **per-head floors** - against each new LA's mid-2020 population (the old LA's population
  apportioned by the same district populations);
* **caps** (share of the stream-year) - unchanged budgets, so the same whole-pound caps;
* **pace of change** - year on year on the new LAs for the years from ``from_year``; the step
  *into* ``from_year`` is checked against the previous year's published pounds apportioned the
  same way (an as-if figure used only for this check: those years stay on the old codes).
  On the old LAs' totals pace holds by construction, the pounds being the same;
* **eligibility** - a successor inherits its old LA's wave, so it is eligible when that LA was.

Every LA on the new boundaries inherits its old LA's region, wave and need factor (a merger of
LAs takes the population-weighted need factor and the earliest wave); its population and counts
are apportioned by the district populations (:class:`allocator.apportion.Apportioner`, method
``lookup``). Only failures in the years from ``from_year`` count: earlier years are not amended.
A failure is an error; nothing is published with a breach.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..allocate.cells import AREA_COLUMNS, build_layout
from ..allocate.config import AllocationConfig
from ..allocate.constraints import build_groups
from ..allocate.targets import OPTIONAL_COLUMNS
from ..allocate.verify import cells_from_frame, check_cells
from ..apportion import Apportioner
from ..columns import money_columns, year_key
from ..data.vintage import BoundaryChanges

#: Columns carried as counts (split by population); the others are means or labels.
EXTENSIVE = ["pop_all", "pop_15_64", "ocu_count", "drug_deaths_count"]

#: The rules re-checked, in words (for the summary and the ledger's notes).
RECHECKED = [
    "each stream-year sums exactly to its budget",
    "floors per LA and per head, on each new LA and its mid-2020 population",
    "caps (share of each stream-year)",
    "pace of change year on year on the new LAs (the first amended year against the previous "
    "year's published pounds apportioned the same way)",
    "eligibility (a new LA inherits its old LA's wave)",
]


def areas_on_new_boundaries(areas: pd.DataFrame, changes: BoundaryChanges) -> pd.DataFrame:
    """The allocator's areas table moved onto the new boundaries.

    Parameters
    ----------
    areas : pandas.DataFrame
        One row per old LA with :data:`allocator.allocate.cells.AREA_COLUMNS` (and optionally
        the count and rate columns of :data:`allocator.allocate.targets.OPTIONAL_COLUMNS`).
    changes : BoundaryChanges
        The mapping; its piece weights (mid-2020 people) split counts and weigh means.

    Returns
    -------
    pandas.DataFrame
        One row per new LA, same columns; ``name`` from the new lookup.

    Raises
    ------
    ValueError
        ``areas`` lacks a column, or a new LA's old LAs lie in different regions.
    """
    missing = [c for c in AREA_COLUMNS if c not in areas.columns]
    if missing:
        raise ValueError(f"areas: missing column(s) {', '.join(missing)}")
    lookup = changes.pieces.rename(columns={"old": "source", "new": "target"})
    ap = Apportioner("lookup", lookup=lookup[["source", "target", "weight"]]).fit(areas)
    numeric = ["need_factor"] + [c for c in [*EXTENSIVE, *OPTIONAL_COLUMNS]
                                 if c in areas.columns and c not in ("need_factor",)]
    numeric = list(dict.fromkeys(numeric))
    out = ap.transform(areas, numeric, {c: c in EXTENSIVE for c in numeric})
    for c in ("pop_all", "pop_15_64"):
        out[c] = out[c].round()
    old = areas.set_index(areas["code"].astype(str))
    regions, waves = [], []
    for new in out["code"]:
        preds = changes.predecessors(new)
        region = sorted(set(old.loc[preds, "region"].astype(str)))
        if len(region) != 1:
            raise ValueError(f"areas: {new} is formed from LAs in different regions ({region})")
        regions.append(region[0])
        waves.append(int(old.loc[preds, "wave"].min()))
    out["region"] = regions
    out["wave"] = waves
    out["name"] = [changes.new_names[c] for c in out["code"]]
    return out[[*AREA_COLUMNS, *[c for c in out.columns if c not in AREA_COLUMNS]]]


def rule_failures(config: AllocationConfig, areas_new: pd.DataFrame, as_if: pd.DataFrame,
                  years_checked: Sequence[str], base_dir: Path | None = None) -> list[str]:
    """Every rule broken on the new boundaries in ``years_checked`` (empty when all hold).

    Parameters
    ----------
    config : AllocationConfig
        The parent run's allocation section (budgets, floors, caps, pace, eligibility).
    areas_new : pandas.DataFrame
        From :func:`areas_on_new_boundaries`.
    as_if : pandas.DataFrame
        ``code`` (the new LAs) and every money column of every year on the new boundaries:
        the amended pounds for ``years_checked``, the as-if apportionment before them.
    years_checked : sequence of str
        The amended years; failures elsewhere are not reported.
    base_dir : pathlib.Path, optional
        Folder of relative rule files (as in the parent run).
    """
    layout = build_layout(config, areas_new, base_dir)
    groups = build_groups(layout, config, base_dir)
    frame = as_if.set_index("code").reindex(layout.area_codes).reset_index()
    cols = money_columns(layout.streams, layout.years)
    frame[cols] = frame[cols].fillna(0).astype(np.int64)
    x, problems = cells_from_frame(layout, frame)
    problems += check_cells(layout, groups, x)
    keys = [f"_{year_key(y)}" for y in years_checked]
    return [p for p in problems if any(k in p for k in keys)]
