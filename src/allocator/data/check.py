"""``allocator data check``: what the data covers, what was derived, what is missing."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from . import schema
from .areas import AreaData, load_areas
from .config import DataConfig

#: indicator, columns, catalogue key(s), flag column
_ROWS = [
    ("population", ["pop_all", "pop_15_64"], ["population_mye_2020"], None),
    ("drug deaths", ["drug_deaths_rate", "drug_deaths_lcl", "drug_deaths_ucl",
                     "drug_deaths_count"], ["drug_deaths_table6"], "drug_deaths_flag"),
    ("IMD 2019", ["imd_score", "imd_rank"], ["imd2019_utla", "imd2019_ltla"], "imd_flag"),
    ("crime", ["crime_score"], ["imd2019_utla", "crime_severity_2223"], "crime_flag"),
    ("region", ["region", "region_code"], ["lookup_ltla14", "lad_changes"], None),
    ("OCU prevalence", ["ocu_rate"], ["ocu_user"], "ocu_flag"),
]


@dataclass
class CoverageReport:
    """Coverage of each indicator over the LAs of the boundary file.

    Attributes
    ----------
    rows : list of dict
        ``indicator, source, period, covered, flagged, flagged_names, missing``.
    n_areas : int
        LAs in the table.
    notes : list of str
        The build's notes (repeated in every output).
    """

    rows: list[dict[str, object]]
    n_areas: int
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every supplied indicator covers every LA (OCU may be absent)."""
        return self.n_areas == schema.N_UTLA_2021 and all(
            r["missing"] == 0 for r in self.rows if r["covered"] != "not supplied")

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame."""
        return pd.DataFrame(self.rows)

    def to_text(self) -> str:
        """Plain-text table (columns as wide as their widest cell: nothing is cut), then each
        indicator's source files in full, the flagged LAs by name and the notes."""
        head = ("indicator", "period", "LAs covered", "flagged", "missing")
        body = [
            (str(r["indicator"]), str(r["period"]) or "-",
             "not supplied" if r["covered"] == "not supplied" else str(r["covered"]),
             str(r["flagged"]), str(r["missing"]))
            for r in self.rows
        ]
        widths = [max(len(row[i]) for row in [head, *body]) for i in range(len(head))]

        def fmt(row: tuple[str, ...]) -> str:
            left = [f"{row[i]:<{widths[i]}}" for i in range(2)]
            right = [f"{row[i]:>{widths[i]}}" for i in range(2, len(row))]
            return "  ".join(left + right).rstrip()

        lines = [f"Areas: {self.n_areas} upper-tier LAs (May 2021 boundaries)", "", fmt(head),
                 "  ".join("-" * w for w in widths)]
        lines += [fmt(row) for row in body]
        lines += ["", "Source files (in the data folder):"]
        for r in self.rows:
            for src in str(r["source"]).split("; "):
                lines.append(f"  {r['indicator']:<{widths[0]}}  {src}")
        flagged = [r for r in self.rows if r["flagged_names"]]
        if flagged:
            lines += ["", "Flagged (imputed, derived or recoded) LAs:"]
            lines += [f"  {r['indicator']}: {', '.join(r['flagged_names'])}" for r in flagged]
        lines += ["", "Notes:"]
        lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines)


def coverage(data: AreaData) -> CoverageReport:
    """Coverage report of a loaded :class:`AreaData`."""
    f = data.frame
    by_key = {s["key"]: s for s in data.sources}
    rows = []
    for indicator, cols, keys, flag in _ROWS:
        srcs = [by_key[k] for k in keys if k in by_key]
        if not all(c in f for c in cols):
            rows.append({"indicator": indicator, "source": "not supplied", "period": "",
                         "covered": "not supplied", "flagged": 0, "flagged_names": [],
                         "missing": len(f)})
            continue
        ok = f[cols].notna().all(axis=1)
        flagged = f[flag] != "" if flag else pd.Series(False, index=f.index)
        rows.append({
            "indicator": indicator,
            "source": "; ".join(s["path"] for s in srcs),
            "period": (data.config.get("deaths_period") if indicator == "drug deaths"
                       else "; ".join(s["period"] for s in srcs)),
            "covered": int(ok.sum()),
            "flagged": int(flagged.sum()),
            "flagged_names": f.loc[flagged, "name"].tolist(),
            "missing": int((~ok).sum()),
        })
    return CoverageReport(rows=rows, n_areas=len(f), notes=list(data.notes))


def check_data(
    data_dir: Path | str | None = None, config: DataConfig | None = None
) -> CoverageReport:
    """Load the data (all contracts checked) and report coverage per indicator.

    Parameters
    ----------
    data_dir : path-like, optional
        Data directory (see :func:`allocator.paths.resolve_data_dir`).
    config : DataConfig, optional
        Data config; defaults to ``DataConfig()``.

    Returns
    -------
    CoverageReport
    """
    return coverage(load_areas(config or DataConfig(), data_dir))
