"""Calibration report and evaluation export: hand-made frames, then one real run with OCU."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from allocator.report.calibrate import calibration_table, markdown
from allocator.report.evaluation import cut_offs

ROOT = Path(__file__).resolve().parents[1]
YEARS = ["2022-23", "2023-24", "2024-25"]


def frame(*, imd_w1=40.0, imd_last=20.0, ne_in_w1=3, ocu_w1=None, total_w1=1_100_000):
    """SYNTHETIC: 4 LAs in wave 1, 4 in wave 2, 4 in wave 3; money made to hit the totals."""
    rows = []
    for i in range(12):
        wave = i // 4 + 1
        rows.append({
            "code": f"E06{i:06d}", "wave": wave,
            "region": "North East" if (wave == 1 and i < ne_in_w1) or i == 11 else "London",
            "imd_score": imd_w1 if wave == 1 else (imd_last if wave == 3 else 30.0),
        })
    f = pd.DataFrame(rows)
    w1 = f["wave"] == 1
    f["total_2022_23"] = 0
    f.loc[w1, "total_2022_23"] = total_w1
    f.loc[~w1, "total_2022_23"] = (100_000_000 - 4 * total_w1) // 8
    f["place_based_2022_23"] = 0
    f.loc[w1, "place_based_2022_23"] = 400_000
    f["total_2023_24"] = 161_000_000 // 12
    f.loc[0, "total_2023_24"] += 161_000_000 - f["total_2023_24"].sum()
    f["total_2024_25"] = 272_000_000 // 12
    f.loc[0, "total_2024_25"] += 272_000_000 - f["total_2024_25"].sum()
    if ocu_w1 is not None:  # wave 1's share of users
        f["ocu_count"] = 0.0
        f.loc[w1, "ocu_count"] = ocu_w1 * 1000 / 4
        f.loc[~w1, "ocu_count"] = (1 - ocu_w1) * 1000 / 8
    return f


def verdicts(f, **kw):
    t = calibration_table(f, years=YEARS, wave_streams=["place_based"], **kw)
    return dict(zip(t["check"], t["verdict"], strict=True)), t


def test_every_check_passes_on_a_frame_made_to_match():
    v, t = verdicts(frame(ocu_w1=0.48), ocu_note="OCU period 2016/17")
    assert v["deprivation wave 1 vs lower need"] == "consistent"
    assert v["North East and Yorkshire"] == "consistent"
    assert v["OCU users in wave 1"] == "consistent"
    assert v["NAO average for wave 1"] == "consistent"
    assert v["total 2022-23"] == v["total 2023-24"] == v["total 2024-25"] == "consistent"
    assert v["drug-related offenders in wave 1"].startswith("not checked")
    run = dict(zip(t["check"], t["run_value"], strict=True))
    assert run["deprivation wave 1 vs lower need"].startswith("2.00")
    assert "OCU period 2016/17" in run["OCU users in wave 1"]
    assert "place-based only: £400,000" in run["NAO average for wave 1"]
    text = "\n".join(markdown(t))
    assert "| NAO average for wave 1 |" in text and "[001" not in text and "§" not in text


@pytest.mark.parametrize("kw, check", [
    ({"imd_w1": 30.0}, "deprivation wave 1 vs lower need"),       # ratio 1.5
    ({"imd_w1": 50.0}, "deprivation wave 1 vs lower need"),       # ratio 2.5
    ({"ne_in_w1": 0}, "North East and Yorkshire"),
    ({"ocu_w1": 0.50}, "OCU users in wave 1"),                    # half is not "just under"
    ({"ocu_w1": 0.30}, "OCU users in wave 1"),
    ({"total_w1": 971_912}, "NAO average for wave 1"),
    ({"total_w1": 1_150_000}, "NAO average for wave 1"),
])
def test_each_check_can_fail(kw, check):
    v, _ = verdicts(frame(**{"ocu_w1": 0.48, **kw}))
    assert v[check] == "NOT consistent"
    assert sum(x == "NOT consistent" for x in v.values()) == 1


def test_totals_and_missing_inputs():
    f = frame()
    f.loc[3, "total_2024_25"] += 1
    v, _ = verdicts(f)
    assert v["total 2024-25"] == "NOT consistent"
    assert v["OCU users in wave 1"] == "not checked: OCU not supplied"
    t = calibration_table(f, years=["2030-31"])
    v = dict(zip(t["check"], t["verdict"], strict=True))
    assert v["NAO average for wave 1"] == "not checked: the run's first year is 2030-31, not 2022-23"
    assert v["total 2022-23"] == "not checked: the run has no year 2022-23"
    with pytest.raises(ValueError, match="imd_score"):
        calibration_table(f.drop(columns="imd_score"), years=YEARS)


def test_per_head_by_need_decile_hand_worked():
    from allocator.report.calibrate import per_head_by_decile

    # SYNTHETIC: 20 LAs, two per decile; rank r has 1,000 people and £(21 - r) x 1,000
    f = pd.DataFrame({"rank": range(1, 21), "pop_all": 1000, "total": [(21 - r) * 1000
                                                                        for r in range(1, 21)]})
    d = per_head_by_decile(f)
    assert d["decile"].tolist() == list(range(1, 11)) and (d["las"] == 2).all()
    assert d["per_head"].tolist()[0] == 19.5 and d["per_head"].tolist()[-1] == 1.5
    lines = "\n".join(markdown(calibration_table(frame(), years=YEARS), d))
    assert "| 1 | 2 | 2,000 | £39,000 | £19.50 |" in lines
    assert "Decile 1 receives 13.00 times the pounds per head of decile 10." in lines
    with pytest.raises(ValueError, match="'total'"):
        per_head_by_decile(f.drop(columns="total"))


def test_cut_offs_follow_the_wave_sizes():
    assert cut_offs([50, 50, 52]) == [50, 100]
    assert cut_offs([30, 122]) == [30]
    assert cut_offs([152]) == []


# --------------------------------------------------------------------------- one real run
from allocator.paths import default_data_dir  # noqa: E402

DATA = default_data_dir()


@pytest.fixture(scope="module")
def ocu_run(tmp_path_factory) -> Path:
    """The default config (fewer draws, no maps) on the real data plus a SYNTHETIC OCU file."""
    if DATA is None:
        pytest.skip("shared/geodata not present")
    sys.path.insert(0, str(Path(__file__).parent))
    from allocator.config import config_from_dict, read_config_document
    from allocator.data import fingertips as ft
    from allocator.data import load_areas
    from allocator.data.config import DataConfig
    from allocator.pipeline import run
    from test_ocu_fingertips import opener_for, synthetic_answer

    data = tmp_path_factory.mktemp("ocu_mirror")
    for p in DATA.iterdir():
        (data / p.name).symlink_to(p)
    las = pd.DataFrame(load_areas(DataConfig(), DATA).frame[["code", "name", "pop_15_64"]])
    ft.fetch_ocu_into(data, opener=opener_for({(91117, 402): synthetic_answer(las)}))
    doc = read_config_document(ROOT / "configs" / "ssmtrg-2022-25.yaml")
    doc["uncertainty"]["draws"] = 256
    doc["output"] = {**doc.get("output", {}), "map": False, "static_maps": False,
                     "excel": False, "gpkg": False}
    out = tmp_path_factory.mktemp("out")
    return run(config_from_dict(doc), data).write(out)


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, comment="#", dtype={"code": str})


def test_evaluation_csv(ocu_run):
    ev = _read(ocu_run / "evaluation.csv")
    assert ev["rank"].tolist() == list(range(1, 153))
    by = ev.set_index("rank")
    assert by.loc[50, "ranks_from_cut_50_51"] == -0.5 and by.loc[51, "ranks_from_cut_50_51"] == 0.5
    assert by.loc[50, "score_from_cut_50_51"] > 0 > by.loc[51, "score_from_cut_50_51"]
    assert by.loc[100, "ranks_from_cut_100_101"] == -0.5
    assert (ev["rank_wave"] == ev["wave"]).all()  # the default locks no LA
    assert ev["p_wave_1"].between(0, 1).all()
    years = {c: ev[c].iloc[0] for c in ev.columns if c.endswith("_year")}
    assert years["drug_deaths_rate_year"] == "2018-20" and years["ocu_count_year"] == "2016/17"
    assert years["imd_score_year"].startswith("2019") and years["pop_all_year"] == "mid-2020"
    assert ev["total_2022_23"].sum() == 100_000_000
    head = (ocu_run / "evaluation.csv").read_text().splitlines()[:20]
    assert any("OHID Fingertips indicator 91117" in h for h in head)


def test_calibration_in_summary_csv_and_cli(ocu_run):
    summary = (ocu_run / "summary.md").read_text()
    assert "## Calibration" in summary and "OCU period 2016/17" in summary
    assert "### Pounds per head by need decile" in summary
    cal = _read(ocu_run / "calibration.csv")
    assert len(cal) == 8 and set(cal["verdict"]) <= {"consistent", "NOT consistent"} | set(
        cal.loc[cal["verdict"].str.startswith("not checked"), "verdict"])
    exe = Path(sys.executable).with_name("allocator")
    proc = subprocess.run([str(exe), "calibrate", str(ocu_run)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "pounds per head by need decile" in proc.stdout
    cal = cal.fillna("")
    for r in cal.itertuples():  # the command recomputes the same values from the run's files
        assert f"{r.check}: {r.verdict}" in proc.stdout
        assert str(r.run_value) in proc.stdout
    (ocu_run / "evaluation.csv").rename(ocu_run / "evaluation.bak")
    try:
        proc = subprocess.run([str(exe), "calibrate", str(ocu_run)], capture_output=True,
                              text=True, timeout=300)
        assert proc.returncode == 2 and "evaluation.csv" in proc.stderr
    finally:
        (ocu_run / "evaluation.bak").rename(ocu_run / "evaluation.csv")
