"""The allocation ledger on the real data: a 3-version chain of the default config, its history,
diff and replay, tampering of the middle version, and bad amendment files.

The chain's run is the default config (configs/ssmtrg-2022-25.yaml, the grant as published)
with the Monte Carlo and the maps switched off to keep the test fast: neither changes a pound.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from allocator.cli import main
from allocator.paths import default_data_dir

ROOT = Path(__file__).resolve().parents[1]
DATA = default_data_dir()
pytestmark = pytest.mark.skipif(DATA is None, reason="the official data (../shared/geodata) is not present")

MONEY = ["continuation_2022_23", "continuation_2023_24", "continuation_2024_25",
         "place_based_2022_23", "place_based_2023_24", "place_based_2024_25"]


def read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, comment="#", dtype={"code": str})


def run_hash(run: Path) -> str:
    return json.loads((run / "manifest.json").read_text(encoding="utf-8"))["run_hash"]


def cli(*args: str) -> tuple[int, str]:
    res = CliRunner().invoke(main, [*args, "--quiet"])
    return res.exit_code, res.output


def write_amendment(path: Path, parent: Path, changes: list[dict], **keys: object) -> Path:
    doc = {"parent": run_hash(parent), "name": keys.pop("name", "test amendment"),
           "reason": keys.pop("reason", "a test"), **keys, "changes": changes}
    if "years" not in doc and "effective" not in doc:
        doc["effective"] = "2023-03-01"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return path


REALLOCATE = {"kind": "reallocate", "stream": "place_based", "year": "2022-23",
              "returned": {"Manchester": 150_000}, "no_fall": True}
CLAW_BACK = {"kind": "claw_back", "stream": "continuation", "year": "2023-24",
             "amounts": {"Blackpool": 40_000}, "to": "centre"}


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """v1: the default config run; v2: Manchester returns £150,000 of 2022-23 place-based money
    (no_fall); v3: £40,000 of Blackpool's 2023-24 continuation money clawed back to the centre."""
    from allocator import amend, load_config, run

    tmp = tmp_path_factory.mktemp("ledger")
    cfg = tmp / "default-fast.yaml"
    cfg.write_text(yaml.safe_dump({
        "extends": str(ROOT / "configs" / "ssmtrg-2022-25.yaml"),
        "uncertainty": {"enabled": False},
        "output": {"map": False, "static_maps": False, "gpkg": False},
    }), encoding="utf-8")
    out = tmp / "runs"
    v1 = run(load_config(cfg)).write(out)
    v2 = amend(v1, write_amendment(tmp / "a2.yaml", v1, [REALLOCATE]))
    v3 = amend(v2, write_amendment(tmp / "a3.yaml", v2, [CLAW_BACK], years=["2023-24"]))
    return [v1, v2, v3]


def test_every_version_sums_exactly_to_its_budget(chain: list[Path]) -> None:
    v1, v2, v3 = (read(v / "allocation.csv") for v in chain)
    for col in MONEY:
        assert int(v2[col].sum()) == int(v1[col].sum())
    budgets = {c: int(v1[c].sum()) for c in MONEY}
    budgets["continuation_2023_24"] -= 40_000  # clawed back to the centre, exactly
    assert {c: int(v3[c].sum()) for c in MONEY} == budgets
    for t in (v1, v2, v3):
        assert (t[MONEY].sum(axis=1) == t["total"]).all()
        assert list(t.columns) == list(v1.columns)  # the layout of a run: diff works


def test_reallocation_ledger_in_pounds(chain: list[Path]) -> None:
    v1, v2 = (read(v / "allocation.csv").set_index("code") for v in chain[:2])
    led = read(chain[1] / "ledger.csv")
    assert list(led.columns) == ["code", "name", "stream", "year", "published", "amendment",
                                 "new_amount", "reason"]
    man = led[led["name"] == "Manchester"].iloc[0]
    assert (man["published"], man["amendment"], man["new_amount"]) == (
        v1.at["E08000003", "place_based_2022_23"], -150_000,
        v1.at["E08000003", "place_based_2022_23"] - 150_000)
    assert int(led["amendment"].sum()) == 0  # the budget is unchanged
    assert set(led["stream"]) == {"place_based"} and set(led["year"]) == {"2022-23"}
    # no_fall: nobody else ends below the published amount; the gainers are the ledger's rows
    gain = v2["place_based_2022_23"] - v1["place_based_2022_23"]
    assert (gain.drop("E08000003") >= 0).all()
    assert int(gain.drop("E08000003").sum()) == 150_000
    assert sorted(led["code"]) == sorted(gain.index[gain != 0])
    assert (led["published"] + led["amendment"] == led["new_amount"]).all()
    # other stream-years untouched
    others = [c for c in MONEY if c != "place_based_2022_23"]
    assert (v1[others] == v2[others]).all().all()


def test_claw_back_to_centre_changes_only_blackpool(chain: list[Path]) -> None:
    v2, v3 = (read(v / "allocation.csv").set_index("code") for v in chain[1:])
    diff = (v3[MONEY] - v2[MONEY]).stack()
    assert diff[diff != 0].to_dict() == {("E06000009", "continuation_2023_24"): -40_000}
    summary = (chain[2] / "summary.md").read_text(encoding="utf-8")
    assert "£40,000" in summary and "Blackpool" in summary and "returned to the centre" in summary
    assert "Source:" not in summary.split("## Sources and data years")[0]
    assert "mid-2020" in summary  # data years in plain English


def test_history_and_manifest_links(chain: list[Path]) -> None:
    from allocator import history

    h = history(chain[2])
    assert h.versions["version"].tolist() == [1, 2, 3]
    assert h.versions["folder"].tolist() == [p.name for p in chain]
    assert h.versions["pounds_down"].tolist() == [0, 150_000, 40_000]
    assert h.versions["effective"].tolist() == ["2022-04-01 (start of 2022-23)", "2023-03-01",
                                                "years 2023-24"]
    assert h.versions["written"].tolist() == [p.name[:10] for p in chain]
    assert "continuation_2023_24 -£40,000" in h.to_text()
    m3 = json.loads((chain[2] / "manifest.json").read_text(encoding="utf-8"))
    import hashlib

    assert m3["ledger"]["parent"]["run_hash"] == run_hash(chain[1])
    assert m3["ledger"]["parent"]["manifest_sha256"] == hashlib.sha256(
        (chain[1] / "manifest.json").read_bytes()).hexdigest()
    assert m3["ledger"]["root_run_hash"] == run_hash(chain[0])
    code, out = cli("history", str(chain[2]))
    assert code == 0 and out.index("version 1") < out.index("version 2") < out.index("version 3")


def test_diff_between_versions(chain: list[Path]) -> None:
    code, out = cli("diff", str(chain[0]), str(chain[2]))
    assert code == 0, out
    assert "Blackpool" in out and "-£40,000" in out


def test_replay_of_the_chain_is_byte_identical(chain: list[Path]) -> None:
    code, out = cli("replay", str(chain[2] / "manifest.json"))
    assert code == 0, out
    assert "byte-identical" in out


def _copy_chain(chain: list[Path], dest: Path) -> list[Path]:
    dest.mkdir()
    return [Path(shutil.copytree(v, dest / v.name)) for v in chain]


@pytest.mark.parametrize("file", ["ledger.csv", "allocation.csv", "manifest.json", "amendment.yaml"])
def test_tampered_middle_version_is_named(chain: list[Path], tmp_path: Path, file: str) -> None:
    copy = _copy_chain(chain, tmp_path / "copy")
    target = copy[1] / file
    text = target.read_text(encoding="utf-8")
    if file == "amendment.yaml":
        edited = text.replace("150000", "160000")
    elif file == "manifest.json":
        edited = text.replace('"name": "test amendment"', '"name": "renamed"')
    else:  # one pound moved between two LAs' cells
        lines = text.splitlines(keepends=True)
        i = next(k for k, ln in enumerate(lines) if ln.startswith("E08000003"))
        lines[i] = lines[i].replace(",850000,", ",850001,", 1) if file == "ledger.csv" else \
            lines[i].replace("850000", "850001", 1)
        edited = "".join(lines)
    assert edited != text
    target.write_text(edited, encoding="utf-8")
    code, out = cli("replay", str(copy[2]))
    assert code == 3, out
    assert f"version 2 ({copy[1].name}): {file}" in out or (
        f"version 2 ({copy[1].name}): published file {file}" in out), out
    assert "version 1 (" not in out  # the run itself is fine


def test_amend_never_overwrites(chain: list[Path], tmp_path: Path) -> None:
    from allocator import amend

    a = write_amendment(tmp_path / "a.yaml", chain[0], [REALLOCATE])
    before = {p.name: p.read_bytes() for p in chain[1].iterdir()}
    again = amend(chain[0], a, out=tmp_path / "out")
    again2 = amend(chain[0], a, out=tmp_path / "out")
    assert again != again2 and again2.name == again.name + "-2"
    assert (again / "allocation.csv").read_bytes() == (chain[1] / "allocation.csv").read_bytes()
    assert {p.name: p.read_bytes() for p in chain[1].iterdir()} == before


BAD = [
    ("unknown key", {"extra": 1}, None, "unknown key 'extra'"),
    ("wrong parent", {"parent": "0" * 64}, None, "'parent': names run hash"),
    ("unknown LA", None, {**REALLOCATE, "returned": {"Manchestre": 10}}, "Did you mean: Manchester"),
    ("more than it has", None, {**REALLOCATE, "returned": {"Manchester": 10_000_000}},
     "cannot give back £10,000,000"),
    ("pounds not whole", None, {**REALLOCATE, "returned": {"Manchester": 10.5}},
     "changes[0].returned.Manchester"),
    ("locked year", {"effective": "2023-06-01"}, None, "2022-23 is locked"),
    ("unknown kind", None, {"kind": "nope"}, "unknown amendment kind 'nope'"),
    ("unknown stream", None, {**REALLOCATE, "stream": "other"}, "no stream 'other'"),
    ("key of a change", None, {**REALLOCATE, "retuned": {}}, "unknown key 'changes[0].retuned'"),
    ("no effective", {"effective": None}, None, "give exactly one of 'effective'"),
]


@pytest.mark.parametrize(("what", "top", "change", "message"), BAD, ids=[b[0] for b in BAD])
def test_bad_amendment_is_refused(chain: list[Path], tmp_path: Path, what: str, top: dict | None,
                                  change: dict | None, message: str) -> None:
    path = write_amendment(tmp_path / "bad.yaml", chain[0], [change or REALLOCATE])
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    doc.update(top or {})
    doc = {k: v for k, v in doc.items() if v is not None}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    code, out = cli("amend", str(chain[0]), str(path), "--out", str(tmp_path / "out"))
    assert code == 2, out
    assert out.startswith("error: ") and out.count("error:") == 1 and "Traceback" not in out
    assert str(path) in out and message in out, out
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_duplicate_key_is_refused(chain: list[Path], tmp_path: Path) -> None:
    path = tmp_path / "dup.yaml"
    path.write_text(f"parent: {run_hash(chain[0])}\nname: a\nname: b\nreason: r\n"
                    "effective: 2023-03-01\nchanges: []\n", encoding="utf-8")
    code, out = cli("amend", str(chain[0]), str(path))
    assert code == 2 and "duplicate key 'name'" in out and "Traceback" not in out


def test_unlock_allows_a_locked_year(chain: list[Path], tmp_path: Path) -> None:
    path = write_amendment(tmp_path / "u.yaml", chain[0], [REALLOCATE], effective="2023-06-01",
                           unlock=["2022-23"])
    code, out = cli("amend", str(chain[0]), str(path), "--out", str(tmp_path / "out"))
    assert code == 0, out


CHESHIRE, SOMERSET, MEDWAY = "E06000050", "E10000027", "E06000035"


@pytest.mark.parametrize(("rate", "waves", "words"), [
    # rank 101 -> inside the first 100: Cheshire West and Chester joins wave 2 (starting in
    # 2023-24, re-solved) and Somerset (rank 100) drops to wave 3
    (7.0, {CHESHIRE: 2, SOMERSET: 3, MEDWAY: 1}, "Cheshire West and Chester moves from wave 3 to wave 2"),
    # ranked into wave 1, which started in 2022-23 (paid, locked): placed in wave 2, the first
    # wave that starts in a re-solved year; Medway, which it would push out of wave 1, stays
    (30.0, {CHESHIRE: 2, SOMERSET: 3, MEDWAY: 1},
     "Cheshire West and Chester is placed in wave 2, not wave 1"),
])
def test_correct_on_real_data_moves_waves_only_in_open_years(
        chain: list[Path], tmp_path: Path, rate: float, waves: dict, words: str) -> None:
    from allocator import amend

    change = {"kind": "correct", "policy": "resolve_all",
              "values": [{"la": "Cheshire West and Chester", "indicator": "drug_deaths_rate",
                          "value": rate}]}
    v2 = amend(chain[0], write_amendment(tmp_path / "c.yaml", chain[0], [change],
                                         effective="2023-06-01"), out=tmp_path / "out")
    a, b = read(chain[0] / "allocation.csv").set_index("code"), read(v2 / "allocation.csv").set_index("code")
    assert {c: int(b.at[c, "wave"]) for c in waves} == waves
    paid = [c for c in MONEY if c.endswith("2022_23")]
    assert (a[paid] == b[paid]).all().all()  # the year already paid is untouched
    for col in MONEY:
        assert int(a[col].sum()) == int(b[col].sum())
    assert b.at[CHESHIRE, "place_based_2023_24"] > 0 and b.at[SOMERSET, "place_based_2023_24"] == 0
    assert words in (v2 / "summary.md").read_text(encoding="utf-8")
    m = json.loads((v2 / "manifest.json").read_text(encoding="utf-8"))
    assert m["ledger"]["corrections"] == [{"code": CHESHIRE, "indicator": "drug_deaths_rate",
                                           "value": rate, "was": 5.4}]


def test_a_correction_stays_in_force_and_its_chain_replays(chain: list[Path], tmp_path: Path) -> None:
    """v2 corrects a rate (Cheshire West and Chester joins wave 2); v3 reallocates money it
    returns in 2023-24, re-solved on the corrected need; the chain replays byte for byte."""
    from allocator import amend, replay_chain

    out = tmp_path / "out"
    fix = {"kind": "correct", "policy": "resolve_all",
           "values": [{"la": CHESHIRE, "indicator": "drug_deaths_rate", "value": 7.0}]}
    v2 = amend(chain[0], write_amendment(tmp_path / "c.yaml", chain[0], [fix],
                                         effective="2023-06-01"), out=out)
    back = {"kind": "reallocate", "stream": "place_based", "year": "2023-24",
            "returned": {"Cheshire West and Chester": 10_000}}
    v3 = amend(v2, write_amendment(tmp_path / "r.yaml", v2, [back], years=["2023-24"]), out=out)
    m2, m3 = (json.loads((v / "manifest.json").read_text(encoding="utf-8")) for v in (v2, v3))
    assert m3["ledger"]["corrections"] == m2["ledger"]["corrections"] != []
    a, b = read(v2 / "allocation.csv").set_index("code"), read(v3 / "allocation.csv").set_index("code")
    assert b.at[CHESHIRE, "place_based_2023_24"] == a.at[CHESHIRE, "place_based_2023_24"] - 10_000
    assert int(b["place_based_2023_24"].sum()) == int(a["place_based_2023_24"].sum())
    assert (b["wave"] == a["wave"]).all()
    report = replay_chain(v3)
    assert report.ok, report.to_text()


DEATHS = "ons_drug_deaths_la_2021reg/DERIVED_table6_drug_misuse_asmr_persons_long.csv"


def test_a_replaced_input_file_equals_the_same_value_corrected(chain: list[Path], tmp_path: Path) -> None:
    """A revised deaths file (Cheshire West and Chester's 2018-20 rate 5.4 -> 7.0, SHA-256
    declared) gives the same pounds and waves as correcting that one value; the file travels
    in the version (inputs/), the manifest records its hash, the chain replays; a wrong
    SHA-256 is refused."""
    import hashlib

    from allocator import amend, replay_chain

    text = (DATA / DEATHS).read_text(encoding="utf-8")
    old = "E06000050,Cheshire West and Chester,2018-20,51,5.4,"
    assert text.count(old) == 1
    revised = tmp_path / "deaths-revised.csv"
    revised.write_text(text.replace(old, old.replace(",5.4,", ",7,")), encoding="utf-8")
    digest = hashlib.sha256(revised.read_bytes()).hexdigest()
    swap = {"kind": "correct", "policy": "resolve_all",
            "files": [{"input": DEATHS, "path": revised.name, "sha256": digest}]}
    value = {"kind": "correct", "policy": "resolve_all",
             "values": [{"la": CHESHIRE, "indicator": "drug_deaths_rate", "value": 7.0}]}
    by_file = amend(chain[0], write_amendment(tmp_path / "f.yaml", chain[0], [swap],
                                              effective="2023-06-01"), out=tmp_path / "a")
    by_value = amend(chain[0], write_amendment(tmp_path / "v.yaml", chain[0], [value],
                                               effective="2023-06-01"), out=tmp_path / "b")
    a, b = read(by_file / "allocation.csv"), read(by_value / "allocation.csv")
    assert a[["code", "wave", *MONEY]].equals(b[["code", "wave", *MONEY]])
    m = json.loads((by_file / "manifest.json").read_text(encoding="utf-8"))
    assert m["inputs"][DEATHS] == digest
    (copy,) = (by_file / "inputs").iterdir()
    assert copy.read_bytes() == revised.read_bytes()
    assert replay_chain(by_file).ok
    bad = write_amendment(tmp_path / "bad.yaml", chain[0],
                          [{**swap, "files": [{**swap["files"][0], "sha256": "0" * 64}]}])
    code, out = cli("amend", str(chain[0]), str(bad), "--out", str(tmp_path / "c"))
    assert code == 2 and "'changes[0].files[0].sha256'" in out and digest in out, out


def test_a_broken_link_to_the_parent_is_named(chain: list[Path], tmp_path: Path) -> None:
    """v3's manifest pointing at another parent manifest: replay names version 3's link."""
    copy = _copy_chain(chain, tmp_path / "copy")
    path = copy[2] / "manifest.json"
    doc = json.loads(path.read_text(encoding="utf-8"))
    doc["ledger"]["parent"]["manifest_sha256"] = "f" * 64
    path.write_text(json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n",
                    encoding="utf-8")
    code, out = cli("replay", str(copy[2]))
    assert code == 3, out
    assert f"version 3 ({copy[2].name}): manifest.json links to a parent manifest with sha256 " \
           "ffffffffffff" in out
    assert "version 2 (" not in out and "version 1 (" not in out


def test_amending_an_edited_parent_is_refused(chain: list[Path], tmp_path: Path) -> None:
    """v2's allocation.csv edited after it was written (Blackpool's 2023-24 continuation money
    up £100,000): amending it must not carry that money into v3 (it did, under the genuine v3's
    run hash, with the stream-year £100,000 over its budget)."""
    copy = _copy_chain(chain, tmp_path / "copy")
    target = copy[1] / "allocation.csv"
    table = read(target)
    row = table.index[table["name"] == "Blackpool"][0]
    old = f",{table.at[row, 'continuation_2023_24']},"
    lines = target.read_text(encoding="utf-8").splitlines(keepends=True)
    at = next(i for i, line in enumerate(lines) if line.startswith("E06000009,"))
    new = str(table.at[row, "continuation_2023_24"] + 100_000)
    lines[at] = lines[at].replace(old, f",{new},", 1)
    target.write_text("".join(lines), encoding="utf-8")
    a3 = write_amendment(tmp_path / "a3.yaml", copy[1], [CLAW_BACK], years=["2023-24"])
    code, out = cli("amend", str(copy[1]), str(a3), "--out", str(tmp_path / "out"))
    assert code == 2 and "Traceback" not in out, out
    assert (f"{copy[1].name}/allocation.csv: not the file `allocator amend` (version 2) wrote"
            in out), out
    assert "edited after this version was written" in out, out
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
    # nor does diff report the edited version's pounds as published (it did, silently)
    code, out = cli("diff", str(copy[0]), str(copy[1]))
    assert code == 2 and "Traceback" not in out, out
    assert f"{copy[1].name}/allocation.csv: not the file `allocator amend` (version 2)" in out, out


def test_history_names_a_parent_manifest_edited_afterwards(chain: list[Path],
                                                           tmp_path: Path) -> None:
    """v1's manifest edited after v2 was made: history says version 2's link is broken (it
    printed the chain as if intact)."""
    copy = _copy_chain(chain, tmp_path / "copy")
    assert "LINK BROKEN" not in cli("history", str(copy[2]))[1]
    path = copy[0] / "manifest.json"
    path.write_text(path.read_text(encoding="utf-8").replace('"seed": 20220413', '"seed": 1'),
                    encoding="utf-8")
    code, out = cli("history", str(copy[2]))
    assert code == 0 and out.count("LINK BROKEN") == 1, out
    assert out.index("LINK BROKEN") > out.index("version 2") and "version 1's manifest" in out


@pytest.mark.parametrize(("parent", "inside"), [(1, 1), (1, 0), (2, 0)])
def test_out_inside_a_version_is_refused(chain: list[Path], tmp_path: Path, parent: int,
                                         inside: int) -> None:
    """--out inside the version amended or an earlier one wrote a folder into a published
    version (whose replay then failed on the extra files)."""
    copy = _copy_chain(chain, tmp_path / "copy")
    before = sorted(p.name for p in copy[inside].iterdir())
    a = write_amendment(tmp_path / "a.yaml", copy[parent], [CLAW_BACK], years=["2023-24"])
    code, out = cli("amend", str(copy[parent]), str(a), "--out", str(copy[inside] / "x"))
    assert code == 2 and f"is inside version {inside + 1} (" in out, out
    assert sorted(p.name for p in copy[inside].iterdir()) == before


def test_amend_dot_from_inside_the_run_writes_beside_it(chain: list[Path], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """`allocator amend .` inside the run: Path('.').parent is '.', so the new version went
    into the published run."""
    copy = _copy_chain(chain, tmp_path / "copy")
    a = write_amendment(tmp_path / "a.yaml", copy[0], [REALLOCATE])
    monkeypatch.chdir(copy[0])
    code, out = cli("amend", ".", str(a))
    assert code == 0, out
    assert not [p for p in copy[0].iterdir() if p.is_dir()]
    assert len([p for p in (tmp_path / "copy").iterdir() if "-v2-" in p.name]) == 2


def test_history_of_a_missing_parent_is_an_error(chain: list[Path], tmp_path: Path) -> None:
    """A version whose parent folder is gone: exit 2 naming the version, no traceback."""
    lone = Path(shutil.copytree(chain[2], tmp_path / "alone" / chain[2].name))
    code, out = cli("history", str(lone))
    assert code == 2 and "is not in" in out and "version 3" in out and "Traceback" not in out


def test_correct_no_worse_off_on_real_data(chain: list[Path], tmp_path: Path) -> None:
    """no_worse_off: nobody below published anywhere; each stream-year's budget rises by exactly
    the top-ups the manifest records; Somerset keeps its wave-2 money, so Cheshire West and
    Chester, which the corrected data rank into wave 2, finds it full and stays in wave 3."""
    from allocator import amend

    change = {"kind": "correct", "policy": "no_worse_off",
              "values": [{"la": CHESHIRE, "indicator": "drug_deaths_rate", "value": 7.0}]}
    v2 = amend(chain[0], write_amendment(tmp_path / "n.yaml", chain[0], [change],
                                         effective="2023-06-01"), out=tmp_path / "out")
    a, b = read(chain[0] / "allocation.csv").set_index("code"), read(v2 / "allocation.csv").set_index("code")
    assert (b[MONEY] >= a[MONEY]).all().all()
    top = json.loads((v2 / "manifest.json").read_text(encoding="utf-8"))["ledger"]["budget_change"]
    assert top and all(v > 0 for v in top.values())
    for col in MONEY:
        assert int(b[col].sum()) == int(a[col].sum()) + top.get(col, 0)
    assert (int(b.at[CHESHIRE, "wave"]), int(b.at[SOMERSET, "wave"])) == (3, 2)
    text = (v2 / "summary.md").read_text(encoding="utf-8")
    assert "Cheshire West and Chester is placed in wave 3, not wave 2" in text
    assert "the centre tops up" in text
