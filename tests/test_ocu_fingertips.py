"""OCU from OHID Fingertips: recorded-format answers (SYNTHETIC values), never the network."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from allocator.data import fingertips as ft
from allocator.data.ocu import read_ocu
from allocator.data.ocu_map import (
    COMBINED,
    MERGED_LATER,
    PRE_2019,
    RECODED,
    SPLIT_EARLIER,
    Published,
    map_to_2021,
)
from allocator.errors import DataError
from allocator.paths import default_data_dir

HERE = Path(__file__).parent / "data" / "fingertips"
R91117 = (HERE / "SYNTHETIC_91117_areatype502.csv").read_bytes()
R93517 = (HERE / "SYNTHETIC_93517_areatype502.csv").read_bytes()
HEADER = R91117.splitlines()[0] + b"\n"
DATA_DIR = default_data_dir()
needs_data = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")

# SYNTHETIC populations aged 15-64 of the May 2021 LAs the recorded answers cover
LAS = pd.DataFrame({
    "code": ["E06000001", "E06000002", "E06000052", "E06000053", "E09000001", "E09000012",
             "E10000006", "E10000023", "E10000027"],
    "name": ["Hartlepool", "Middlesbrough", "Cornwall", "Isles of Scilly", "City of London",
             "Hackney", "Cumbria", "North Yorkshire", "Somerset"],
    "pop_15_64": [58000.0, 90000.0, 339000.0, 1000.0, 6000.0, 194000.0, 300000.0, 370000.0,
                  350000.0],
})


def opener_for(answers: dict[tuple[int, int], bytes], seen: list[str] | None = None):
    def opener(url: str) -> bytes:
        if seen is not None:
            seen.append(url)
        for (ind, at), body in answers.items():
            if f"indicator_ids={ind}&" in url and f"child_area_type_id={at}&" in url:
                return body
        return HEADER  # Fingertips answers an area type without data with the header only

    return opener


def test_parse_keeps_latest_period_la_rows_and_notes():
    got = ft.parse_download(R91117, indicator_id=91117, area_type_id=502, url="u")
    assert got is not None
    assert got.period == "2016/17" and got.periods == ["2014/15", "2016/17"]
    assert "E92000001" not in got.rows  # England and the deprivation-category row are dropped
    assert got.rows["E06000001"]["value"] == 18.2
    assert got.rows["E09000001"]["value"] is None
    assert got.value_notes == {"Value for Cornwall and Isles of Scilly combined": 2,
                               "Value for Hackney and City of London combined": 2}
    assert "SYNTHETIC" in got.indicator_name
    old = ft.parse_download(R91117, indicator_id=91117, area_type_id=502, url="u",
                            period="2014/15")
    assert list(old.rows) == ["E06000001"]
    with pytest.raises(DataError, match="available: 2014/15, 2016/17"):
        ft.parse_download(R91117, indicator_id=91117, area_type_id=502, url="u", period="2019/20")
    assert ft.parse_download(HEADER, indicator_id=91117, area_type_id=402, url="u") is None


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b.replace(b"91117,", b"90000,"), "other indicators"),
    (lambda b: b.replace(b",Value note,", b",Note,"), "Value note"),
    (lambda b: b.replace(b",18.20,", b",x,"), "not a number"),
    (lambda b: b.replace(b",18.20,", b",-1,"), "negative"),
    (lambda b: b + b.splitlines()[3] + b"\n", "repeated"),
])
def test_parse_rejects_bad_answers(mutate, message):
    with pytest.raises(DataError, match=message):
        ft.parse_download(mutate(R91117), indicator_id=91117, area_type_id=502, url="u")


def test_fetch_falls_back_to_the_area_type_with_data_and_maps_every_case(tmp_path):
    seen: list[str] = []
    opener = opener_for({(91117, 502): R91117, (93517, 502): R93517}, seen)
    path = ft.fetch_fingertips_ocu(tmp_path, LAS, opener=opener)
    assert path == tmp_path / ft.DEFAULT_OCU_FILE
    assert "indicator_ids=91117&child_area_type_id=402&parent_area_type_id=15" in seen[0]
    assert "child_area_type_id=502" in seen[1]
    df = pd.read_csv(path, dtype=str, keep_default_na=False).set_index("code")
    rate = df["rate_per_1000_15_64"].astype(float)
    count = df["count"].astype(float)
    # own figures; counts from 93517's denominator where it has one
    assert rate["E06000001"] == 18.2 and count["E06000001"] == 1049
    assert count["E06000002"] == 2300
    # combined pairs: the pair's rate for both, count split by population 15-64
    assert rate["E09000001"] == rate["E09000012"] == 12.0
    assert count["E09000001"] == pytest.approx(2200 * 6000 / 200000)
    assert count["E09000012"] == pytest.approx(2200 * 194000 / 200000)
    assert count["E06000053"] == pytest.approx(2380 * 1000 / 340000)
    assert "published combined" in df.loc["E06000053", "flag"]
    # Cumbria from its April 2023 successors: 900 + 600 users over 100,000 + 100,000 aged 15-64
    assert rate["E10000006"] == 7.5 and count["E10000006"] == 1500
    assert "E06000063 Cumberland" in df.loc["E10000006", "flag"]
    # same area under the April 2023 code
    assert rate["E10000023"] == 5.5 and "E06000065" in df.loc["E10000023", "flag"]
    assert rate["E10000027"] == 6.25
    assert df.loc["E06000001", "flag"] == ""
    assert df["year"].unique().tolist() == ["2016/17"]
    src = df["source"].iloc[0]
    assert "indicator 91117" in src and "SYNTHETIC" in src and "93517" in src and "2021/22" in src
    prov = json.loads(path.with_name(path.name + ".provenance.json").read_text())
    assert [d["indicator_id"] for d in prov["downloads"]] == [91117, 93517]
    assert prov["downloads"][0]["area_type_id"] == 502
    assert prov["downloads"][0]["value_notes"]
    assert (path.parent / "raw" / "indicator_91117_areatype_502.csv").read_bytes() == R91117
    # and the engine's reader takes it, flags included
    got = read_ocu(path, dict(zip(LAS["code"], LAS["name"], strict=True))).set_index("code")
    assert got.loc["E10000006", "ocu_count"] == 1500
    assert got.loc["E06000053", "ocu_flag"].startswith("published combined")


def test_without_93517_counts_come_from_91117_or_rate_x_population(tmp_path):
    path = ft.fetch_fingertips_ocu(tmp_path, LAS, opener=opener_for({(91117, 502): R91117}))
    df = pd.read_csv(path, dtype=str, keep_default_na=False).set_index("code")
    assert float(df.loc["E06000001", "count"]) == 1050
    # Middlesbrough has no published count: rate x population 15-64, flagged
    assert float(df.loc["E06000002", "count"]) == pytest.approx(21.5 * 90000 / 1000)
    assert "no published count" in df.loc["E06000002", "flag"]
    assert "93517" not in df["source"].iloc[0]


def test_missing_and_unmapped_areas_are_errors_naming_them():
    pub = {c: Published(name=n, rate=5.0, count=10.0) for c, n in zip(LAS["code"], LAS["name"],
                                                                      strict=True)}
    las = LAS.copy()
    gone = dict(pub)
    del gone["E06000002"]
    with pytest.raises(DataError, match="E06000002 Middlesbrough"):
        map_to_2021(gone, las)
    extra = dict(pub)
    extra["E06000999"] = Published(name="Nowhere", rate=1.0)
    with pytest.raises(DataError, match="E06000999 Nowhere"):
        map_to_2021(extra, las)
    # Cumbria's successors without counts cannot be weighted: Cumbria is reported missing
    no_counts = {k: v for k, v in pub.items() if k != "E10000006"}
    no_counts["E06000063"] = Published(name="Cumberland", rate=9.0)
    no_counts["E06000064"] = Published(name="Westmorland and Furness", rate=6.0)
    with pytest.raises(DataError, match="E10000006 Cumbria"):
        map_to_2021(no_counts, las)


def test_older_vintages_northamptonshire_split_and_pre_2019_dorset():
    las = pd.DataFrame({"code": ["E06000058", "E06000059", "E06000061", "E06000062"],
                        "name": ["BCP", "Dorset", "North Northamptonshire",
                                 "West Northamptonshire"],
                        "pop_15_64": [250000.0, 220000.0, 220000.0, 260000.0]})
    pub = {
        "E10000021": Published(name="Northamptonshire", rate=8.0, count=3840.0),
        "E06000028": Published(name="Bournemouth", rate=10.0, count=1300.0),
        "E06000029": Published(name="Poole", rate=5.0, count=500.0),
        "E10000009": Published(name="Dorset", rate=4.0, count=1000.0),
    }
    out = map_to_2021(pub, las, vintage="pre 4/19").set_index("code")
    assert out.loc["E06000061", "rate"] == 8.0
    assert out.loc["E06000061", "count"] == pytest.approx(3840 * 220 / 480)
    assert out.loc["E06000062", "count"] == pytest.approx(3840 * 260 / 480)
    # BCP: (1300 + 500) users over (130,000 + 100,000) aged 15-64
    assert out.loc["E06000058", "rate"] == pytest.approx(1800 / 230000 * 1000)
    assert out.loc["E06000059", "rate"] == 4.0
    assert out.loc["E06000059", "count"] == pytest.approx(4.0 * 220000 / 1000)
    assert all("pre 4/19" in f for f in out["flag"])


@needs_data
def test_mapping_tables_agree_with_ons_changes():
    changes = pd.read_csv(DATA_DIR / "ons_boundaries_topojson" / "changes.csv",
                          encoding="utf-8-sig", dtype=str)
    terminated = set(changes.loc[changes["type"] == "termination", "oldcd"])
    assert set(SPLIT_EARLIER) | {"E10000002", "E10000009"} <= terminated
    assert set(MERGED_LATER) | {RECODED["E06000065"], RECODED["E06000066"]} <= terminated
    for new, olds in PRE_2019.items():
        if len(olds) > 1:
            assert set(olds) <= set(changes.loc[changes["newcd"] == new, "oldcd"])
    assert set(COMBINED) == {"E09000001", "E06000053"}


def synthetic_answer(las: pd.DataFrame, indicator: int = 91117) -> bytes:
    """A recorded-format 91117 answer for every May 2021 LA (SYNTHETIC values)."""
    lines = [HEADER.decode().rstrip("\n")]
    name = "Estimated prevalence of opiate and/or crack cocaine use (SYNTHETIC test values)"
    for i, r in enumerate(las.itertuples()):
        if r.code in COMBINED:  # published with its neighbour: blank value
            value, count = "", ""
        else:
            value = f"{3 + i % 17}.5"
            count = str(round((3.5 + i % 17) * r.pop_15_64 / 1000))
        quoted = f'"{r.name}"' if "," in r.name else r.name  # as Fingertips quotes them
        lines.append(f"{indicator},{name},E92000001,England,{r.code},{quoted},UTLA (4/21-3/23),"
                     f"Persons,15-64 yrs,,,2016/17,{value},,,,,{count},,,,,,20160000,,")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture(scope="module")
def fetched(tmp_path_factory) -> Path:
    """A data directory of symlinks to the real files plus a fetched (SYNTHETIC) OCU file."""
    from allocator.data import load_areas
    from allocator.data.config import DataConfig

    data = tmp_path_factory.mktemp("ocu_mirror")
    for p in DATA_DIR.iterdir():
        (data / p.name).symlink_to(p)
    las = pd.DataFrame(load_areas(DataConfig(), DATA_DIR).frame[["code", "name", "pop_15_64"]])
    report = ft.fetch_ocu_into(data, opener=opener_for({(91117, 402): synthetic_answer(las)}))
    assert "152 LAs" in report and "E09000001" in report
    return data


@needs_data
def test_the_default_config_uses_the_fetched_file(fetched):
    from allocator.config import load_config
    from allocator.data import load_areas

    cfg = load_config(Path(__file__).resolve().parents[1] / "configs" / "ssmtrg-2022-25.yaml")
    assert cfg.data.ocu_file == "auto"
    d = load_areas(cfg.data.model_copy(update={"cache": False}), fetched)
    assert d.frame["ocu_rate"].notna().all() and d.frame["ocu_count"].notna().all()
    note = next(n for n in d.notes if "OCU" in n)
    assert "OHID Fingertips indicator 91117" in note and "2016/17" in note
    assert "4 LAs derived by apportionment" in note  # both members of two pairs
    assert not any("not supplied" in n for n in d.notes)
    assert any(s["key"] == "ocu_user" and s["period"] == "2016/17" for s in d.sources)
    # without the file the same config says plainly that OCU was not supplied
    bare = load_areas(cfg.data.model_copy(update={"cache": False}), DATA_DIR)
    assert "ocu_rate" not in bare.frame
    assert any("Built without OCU prevalence: not supplied" in n for n in bare.notes)


@needs_data
def test_readme_command_fetch_ocu(tmp_path, monkeypatch):
    """`allocator data fetch --ocu --data-dir DIR` as the README shows it (recorded answers)."""
    from click.testing import CliRunner

    from allocator import cli
    from allocator.data import fetch, load_areas
    from allocator.data.config import DataConfig

    las = pd.DataFrame(load_areas(DataConfig(), DATA_DIR).frame[["code", "name", "pop_15_64"]])
    monkeypatch.setattr(fetch, "urllib_opener",
                        opener_for({(91117, 402): synthetic_answer(las)}))
    for p in DATA_DIR.iterdir():
        (tmp_path / p.name).symlink_to(p)
    res = CliRunner().invoke(cli.main, ["data", "fetch", "--ocu", "--data-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "period: 2016/17" in res.output and "152 LAs" in res.output
    assert (tmp_path / ft.DEFAULT_OCU_FILE).is_file()
    # a Fingertips answer in the wrong shape: exit 2, one error paragraph, nothing written
    before = (tmp_path / ft.DEFAULT_OCU_FILE).read_bytes()
    monkeypatch.setattr(fetch, "urllib_opener", lambda url: b"<html>maintenance</html>")
    res = CliRunner().invoke(cli.main, ["data", "fetch", "--ocu", "--data-dir", str(tmp_path)])
    assert res.exit_code == 2
    assert "error:" in res.output and "lacks columns" in res.output
    assert (tmp_path / ft.DEFAULT_OCU_FILE).read_bytes() == before


@needs_data
def test_offline_fetch_says_what_to_do_and_writes_nothing(tmp_path):
    for p in DATA_DIR.iterdir():
        (tmp_path / p.name).symlink_to(p)

    def offline(url):
        raise OSError("no route to host")

    text = ft.fetch_ocu_into(tmp_path, opener=offline)
    assert text.startswith("FAILED ocu") and "no route to host" in text
    assert str(tmp_path / ft.DEFAULT_OCU_FILE) in text
    assert not (tmp_path / "ohid_fingertips").exists()
