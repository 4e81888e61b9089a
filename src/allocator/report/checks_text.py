"""Words for the summary: the strategy's checks with what it expects and a verdict, what each
allocation rule changed, and readable names for column and rule keys (the solver's record is put
into words by :func:`allocator.allocate.crosscheck.describe`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd

#: Keys that reach readers (indicator, flag and rule names) and the words shown instead.
LABELS = {
    "drug_deaths_rate": "drug-misuse death rate",
    "imd_score": "IMD 2019 score",
    "crime_score": "crime score",
    "ocu_rate": "OCU prevalence",
    "drug_deaths_flag": "drug deaths",
    "imd_flag": "IMD 2019",
    "crime_flag": "crime",
    "ocu_flag": "OCU prevalence",
    "crude_from_counts": "crude rate from counts",
    "region_median": "region median",
    "place_based": "place-based",
    "pro_rata": "pro-rata scaling",
    "tie_break": "tie-break",
}


def readable(text: object) -> str:
    """Replace known keys by their labels; any other ``snake_case`` word loses its underscores."""
    s = str(text)
    for key, label in sorted(LABELS.items(), key=lambda kv: -len(kv[0])):
        s = re.sub(rf"\b{re.escape(key)}\b", label, s)
    return re.sub(r"\b([a-z0-9]+(?:_[a-z0-9]+)+)\b", lambda m: m.group(1).replace("_", " "), s)


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def check_rows(checks: Mapping[str, Any], *, expected_wave1: int | None = None, n_waves: int | None = None) -> list[tuple[str, str, str, str]]:
    """``(check, strategy expects, this run, verdict)`` for each strategy check present.

    The strategy (From harm to hope, 2021) says deprivation in the higher-need areas is about twice
    that of the lower-need ones, with a strong link to the North East and Yorkshire; wave 1 holds
    the 50 highest-need areas. Verdicts: "as expected", "close", or "differs".
    """
    rows: list[tuple[str, str, str, str]] = []
    c = dict(checks)
    if "n_wave1" in c:
        want = expected_wave1
        got = int(c["n_wave1"])
        rows.append(("LAs in wave 1", str(want) if want else "as configured", str(got),
                     "as expected" if want is None or got == want else "differs"))
    if "last_wave" in c and n_waves:
        got = int(c["last_wave"])
        rows.append(("Number of waves", str(n_waves), str(got), "as expected" if got == n_waves else "differs"))
    if "imd_ratio_wave1_to_last" in c:
        r = float(c["imd_ratio_wave1_to_last"])
        verdict = "as expected" if 1.75 <= r <= 2.25 else "close" if 1.5 <= r <= 2.5 else "differs"
        rows.append(("Deprivation of wave 1 against the last wave (mean IMD score ratio)",
                     "about 2 (twice as deprived)", f"{r:.2f}", verdict))
    if "share_wave1_ne_yh" in c and "share_all_ne_yh" in c:
        w, a = float(c["share_wave1_ne_yh"]), float(c["share_all_ne_yh"])
        rows.append(("Share of wave 1 in the North East or Yorkshire and The Humber",
                     f"well above their share of all LAs ({_pct(a)})", _pct(w),
                     "as expected" if w >= 1.5 * a else "close" if w > a else "differs"))
    if "deaths_share_wave1" in c and "pop_share_wave1" in c:
        d, p = float(c["deaths_share_wave1"]), float(c["pop_share_wave1"])
        rows.append(("Wave 1's share of drug-misuse deaths against its share of people",
                     f"deaths share above population share ({_pct(p)})", _pct(d),
                     "as expected" if d > p else "differs"))
    if "deaths_missing" in c:
        m = int(c["deaths_missing"])
        rows.append(("LAs without a count of drug deaths", "0", str(m), "as expected" if m == 0 else "differs"))
    known = {"n_wave1", "last_wave", "imd_ratio_wave1_to_last", "share_wave1_ne_yh", "share_all_ne_yh",
             "deaths_share_wave1", "pop_share_wave1", "deaths_missing"}
    for k, v in c.items():
        if k not in known:
            shown = f"{v:.3f}" if isinstance(v, float) else str(v)
            rows.append((readable(k).capitalize(), "not stated", shown, "reported only"))
    return rows


_RULE_COLUMNS = [
    ("floor_uplift", "The floors", "raised"),
    ("cap_trim", "The caps", "trimmed"),
    ("lock_adjustment", "Locks", "moved"),
    ("pace_adjustment", "The pace-of-change rule", "moved"),
]


def rule_lines(explain: pd.DataFrame, present: Mapping[str, bool]) -> list[str]:
    """What each rule changed: how many LA-stream-years it moved and by how many pounds; a rule
    in the config that never binds says so (the result would be the same without it)."""
    out = []
    for col, name, verb in _RULE_COLUMNS:
        key = col.split("_")[0]
        if col not in explain:
            continue
        v = pd.to_numeric(explain[col], errors="coerce").fillna(0.0)
        moved = v.abs() >= 0.5
        if moved.any():
            las, n = explain.loc[moved, "code"].nunique(), int(moved.sum())
            out.append(
                f"{name} {verb} {n} LA-stream-year amount{'s' if n != 1 else ''} ({las} "
                f"LA{'s' if las != 1 else ''}), £{float(v[moved].abs().sum()):,.0f} in total before "
                "the final balancing."
            )
        elif present.get(key, False):
            plural = name.endswith("s")
            out.append(
                f"{name} never bind{'' if plural else 's'} in this run: no amount is changed by "
                f"{'them' if plural else 'it'}, so the allocation is the same as it would be without "
                f"{'them' if plural else 'it'}."
            )
    return out


def tidy_numbers(frame: pd.DataFrame, *, decimals: Mapping[str, int] | None = None) -> pd.DataFrame:
    """Round float columns for publication: pounds to the penny, the columns in ``decimals`` to
    their own number of decimals; -0 becomes 0.

    Solver noise such as ``-5.82e-11`` becomes ``0``.
    """
    decimals = dict(decimals or {})
    out = frame.copy()
    for c in out.columns:
        if pd.api.types.is_float_dtype(out[c]):
            out[c] = out[c].round(decimals.get(c, 2)) + 0.0
    return out
