"""Each amendment kind in pounds worked by hand, on the four SYNTHETIC LAs of tests/four_las.py.

A, B, C, D have populations 100k, 200k, 300k, 400k and need factor 1, so with one stream
``core`` of £1,000 a year open to all, the published allocation is exactly £100 / £200 / £300
/ £400 every year. The framework's own checks (locked years, exact budgets, ``no_fall``, every
rule) are each shown failing on a bad input.

None of it needs the data folder: ``$ALLOCATOR_DATA_DIR`` points at a folder that does not
exist, so any attempt to find the data fails (a notebook user who injects the areas needs no
data either).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from allocator.errors import ConfigError, SolverError
from four_las import YEARS, four_las

ROOT = Path(__file__).resolve().parents[1]
COLS = [f"core_{y.replace('-', '_')}" for y in YEARS]
Y1, Y2, Y3 = COLS


@pytest.fixture(autouse=True)
def no_data_folder(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``$ALLOCATOR_DATA_DIR`` names a folder that does not exist: looking for the data fails."""
    from allocator.paths import ENV_VAR

    missing = tmp_path_factory.mktemp("nodata") / "no-data-here"
    monkeypatch.setenv(ENV_VAR, str(missing))
    return missing


def synthetic_config(**allocation: object):  # type: ignore[no-untyped-def]
    """The default config with the SYNTHETIC one-stream allocation in place of the grant's."""
    from allocator.config import config_from_dict, read_config_document

    doc = read_config_document(ROOT / "configs" / "ssmtrg-2022-25.yaml")
    doc["name"] = "synthetic-four-las"
    doc["allocation"] = {"years": YEARS, "solver": {"name": "highs"},
                         "streams": {"core": {"budget": dict.fromkeys(YEARS, 1000),
                                              "eligible": "all"}}, **allocation}
    return config_from_dict(doc)


def fake_areas(corrections, waves=None, waves_config=None) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    """The problem areas of the SYNTHETIC LAs with the corrections applied (need factor 1)."""
    from allocator.ledger.areas import apply_corrections

    frame = apply_corrections(four_las(), corrections)
    if waves is not None:
        frame["wave"] = frame["code"].map(waves)
    return frame


def make_parent(tmp: Path, cfg) -> Path:  # type: ignore[no-untyped-def]
    """A version 1 folder: the SYNTHETIC allocation solved by the run's problem, its config
    and a manifest."""
    from allocator.allocate import AllocationProblem
    from allocator.ledger.solve import recompute_totals
    from allocator.ledger.write import write_commented_csv
    from allocator.provenance import Manifest, hash_tree

    run = tmp / "v1"
    run.mkdir(parents=True)
    areas = four_las()
    problem = AllocationProblem.from_config(cfg.allocation, areas, explain_marginal=False).solve()
    table = problem.allocation_.assign(pop_all=areas["pop_all"].to_numpy())
    table = recompute_totals(table, ["core"], YEARS)
    write_commented_csv(table, run / "allocation.csv", ["SYNTHETIC run",
                                                        "Source: SYNTHETIC four LAs (invented)"])
    (run / "config.yaml").write_text(cfg.to_yaml(), encoding="utf-8")
    manifest = Manifest(config_name=cfg.name, config_hash=cfg.hash(), run_hash="ab" * 32,
                        seed=None, inputs={}, outputs=hash_tree(run), versions={}, solver={},
                        config=cfg.canonical())
    (run / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
    return run


def amend(tmp: Path, changes: list[dict], cfg=None, **keys: object):  # type: ignore[no-untyped-def]
    """Build the next version of a fresh SYNTHETIC run; returns (published, amended)."""
    from allocator.ledger.api import build_version
    from allocator.ledger.version import read_version

    parent = read_version(make_parent(tmp, cfg or synthetic_config()))
    doc = {"parent": "ab" * 32, "name": "t", "reason": "hand-worked", **keys, "changes": changes}
    doc.setdefault("effective", "2023-06-01") if "years" not in doc else None
    path = tmp / "amendment.yaml"
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    built = build_version(parent, path, parent_dir="../v1", areas=fake_areas)
    return parent.allocation.set_index("code"), built


def pounds(built, col: str) -> list[int]:  # type: ignore[no-untyped-def]
    return built.allocation.set_index("code")[col].tolist()


def test_published_synthetic_allocation(tmp_path: Path) -> None:
    pub, _ = amend(tmp_path, [{"kind": "claw_back", "stream": "core", "year": "2023-24",
                               "amounts": {"A": 1}, "to": "centre"}])
    for col in COLS:
        assert pub[col].tolist() == [100, 200, 300, 400]


def test_reallocate_by_hand(tmp_path: Path) -> None:
    # 2023-24: A returns £40 -> A fixed at £60; £940 shared by B, C, D pro rata to their targets
    # 200 : 300 : 400 (sum 900): 208.89, 313.33, 417.78 -> 208, 313, 417 (= 938) and the two
    # pounds left go to the largest remainders, B (.89) and D (.78): 209, 313, 418.
    _, built = amend(tmp_path, [{"kind": "reallocate", "stream": "core", "year": "2023-24",
                                 "returned": {"A": 40}, "no_fall": True}])
    assert pounds(built, Y2) == [60, 209, 313, 418]
    assert pounds(built, Y1) == [100, 200, 300, 400] and pounds(built, Y3) == [100, 200, 300, 400]
    assert sum(pounds(built, Y2)) == 1000
    led = built.ledger.set_index("code")
    assert led["amendment"].to_dict() == {"E06000001": -40, "E06000002": 9, "E06000003": 13,
                                          "E06000004": 18}
    assert set(led["reason"]) == {"hand-worked"}


def test_claw_back_to_centre_by_hand(tmp_path: Path) -> None:
    _, built = amend(tmp_path, [{"kind": "claw_back", "stream": "core", "year": "2024-25",
                                 "amounts": {"B": 50, "E06000004": 25}, "to": "centre"}])
    assert pounds(built, Y3) == [100, 150, 300, 375]
    assert built.budgets_after[("core", "2024-25")] == 1000 - 75
    assert built.info["budget_change"] == {Y3: -75}


def test_claw_back_to_reallocate_by_hand(tmp_path: Path) -> None:
    # 2024-25: C gives back £30 -> C fixed at £270; £730 shared by A, B, D pro rata to 100 : 200
    # : 400: 104.29, 208.57, 417.14 -> 104, 208, 417 (= 729) + £1 to B (.57): 104, 209, 417.
    _, built = amend(tmp_path, [{"kind": "claw_back", "stream": "core", "year": "2024-25",
                                 "amounts": {"C": 30}, "to": "reallocate"}])
    assert pounds(built, Y3) == [104, 209, 270, 417]
    assert built.budgets_after[("core", "2024-25")] == 1000


@pytest.mark.parametrize(("policy", "y2", "y3", "budget"), [
    # A's population corrected 100k -> 200k: shares 2:2:3:4 of 11, targets 181.82, 181.82,
    # 272.73, 363.64 -> 181, 181, 272, 363 (= 997) + £1 each to A, B (.82) and C (.73).
    ("resolve_all", [182, 182, 273, 363], [182, 182, 273, 363], 1000),
    # effective 2023-06-01: 2023-24 is under way and kept; only 2024-25 is re-solved.
    ("future_years", [100, 200, 300, 400], [182, 182, 273, 363], 1000),
    # the larger of published and corrected: 182, 200, 300, 400; the centre tops up £82.
    ("no_worse_off", [182, 200, 300, 400], [182, 200, 300, 400], 1082),
])
def test_correct_by_hand(tmp_path: Path, policy: str, y2: list[int], y3: list[int],
                         budget: int) -> None:
    _, built = amend(tmp_path, [{"kind": "correct", "policy": policy,
                                 "values": [{"la": "A", "indicator": "pop_all", "value": 200_000}]}])
    assert pounds(built, Y1) == [100, 200, 300, 400]  # 2022-23 ended before 2023-06-01: locked
    assert pounds(built, Y2) == y2 and pounds(built, Y3) == y3
    assert built.budgets_after[("core", "2024-25")] == budget
    assert built.info["corrections"] == [{"code": "E06000001", "indicator": "pop_all",
                                          "value": 200_000.0, "was": 100_000.0}]


def test_injected_areas_need_no_data_folder_unless_the_config_names_a_file(
        tmp_path: Path, no_data_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The synthetic amendments above ran with no data folder at all; a config whose floor is a
    file (read from the data folder) still looks for it, and says where it looked."""
    from allocator.errors import DataError
    from allocator.ledger.api import names_files

    assert not no_data_folder.exists()
    assert not names_files(synthetic_config().allocation.model_dump())
    floor = {"kind": "file", "path": "floors.csv", "streams": ["core"], "years": ["2023-24"]}
    cfg = synthetic_config(floors=[floor])
    assert names_files(cfg.allocation.model_dump())
    (tmp_path / "floors.csv").write_text("code,amount\n" + "".join(
        f"E0600000{i},50\n" for i in range(1, 5)), encoding="utf-8")
    monkeypatch.chdir(tmp_path)  # the parent's solve reads it from here (no data folder)
    with pytest.raises(DataError, match="ALLOCATOR_DATA_DIR does not exist"):
        amend(tmp_path, [{"kind": "claw_back", "stream": "core", "year": "2024-25",
                          "amounts": {"A": 1}, "to": "centre"}], cfg=cfg)


def test_a_locked_year_is_refused_and_unlock_allows_it(tmp_path: Path) -> None:
    change = {"kind": "reallocate", "stream": "core", "year": "2022-23", "returned": {"A": 40}}
    with pytest.raises(ConfigError, match=r"'changes\[0\]\.year': 2022-23 is locked"):
        amend(tmp_path / "a", [change])
    _, built = amend(tmp_path / "b", [change], unlock=["2022-23"])
    assert pounds(built, Y1) == [60, 209, 313, 418]


def test_years_list_locks_the_rest(tmp_path: Path) -> None:
    change = {"kind": "claw_back", "stream": "core", "year": "2024-25", "amounts": {"A": 1},
              "to": "centre"}
    with pytest.raises(ConfigError, match="2024-25 is locked"):
        amend(tmp_path, [change], years=["2023-24"])


def test_claw_back_below_a_floor_is_explained(tmp_path: Path) -> None:
    cfg = synthetic_config(floors=[{"kind": "fixed", "amount": 180}])
    with pytest.raises(ConfigError, match=r"'changes\[0\]\.amounts': taking £50 from B in core "
                                          r"2024-25 breaks the run's rules: floor \(B, Core "
                                          r"2024-25\): £132 < floor £180"):
        amend(tmp_path, [{"kind": "claw_back", "stream": "core", "year": "2024-25",
                          "amounts": {"B": 50}, "to": "centre"}], cfg=cfg)


@pytest.mark.parametrize(("kind", "field", "extra"), [
    ("reallocate", "returned", {"no_fall": True}), ("claw_back", "amounts", {"to": "reallocate"})])
def test_money_given_back_below_a_floor_names_the_key(tmp_path: Path, kind: str, field: str,
                                                      extra: dict) -> None:
    cfg = synthetic_config(floors=[{"kind": "fixed", "amount": 180}])
    with pytest.raises(ConfigError, match=rf"amendment\.yaml: 'changes\[0\]\.{field}': taking £50 "
                                          r"from B in core 2024-25 and sharing it again breaks "
                                          r"the run's rules .*B \(E06000002\).*£132 below its "
                                          r"floor £180"):
        amend(tmp_path, [{"kind": kind, "stream": "core", "year": "2024-25", field: {"B": 50},
                          **extra}], cfg=cfg)


@pytest.mark.parametrize("effective", [0, 86400, 1680307200, 2023.0, True])
def test_effective_as_a_number_is_refused(effective: object) -> None:
    # pydantic reads a number as seconds since 1970: 0 would be 1970-01-01 and lock nothing
    from allocator.ledger.schema import parse_amendment

    doc = {"parent": "ab" * 32, "name": "t", "reason": "r", "effective": effective,
           "changes": [{"kind": "claw_back", "stream": "core", "year": "2023-24",
                        "amounts": {"A": 1}, "to": "centre"}]}
    with pytest.raises(ConfigError, match=r"a\.yaml.*'effective': .*must be a date like "
                                          r"2023-04-01"):
        parse_amendment(doc, "a.yaml")
    assert parse_amendment({**doc, "effective": "2023-04-01"}, "a.yaml").doc.effective.month == 4


def test_unknown_indicator_and_bad_policy_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'changes\[0\]\.values\[0\]\.indicator': 'nope'"):
        amend(tmp_path / "a", [{"kind": "correct", "policy": "resolve_all",
                                "values": [{"la": "A", "indicator": "nope", "value": 1}]}])
    with pytest.raises(ConfigError, match="future_years needs the amendment's 'effective'"):
        amend(tmp_path / "b", [{"kind": "correct", "policy": "future_years",
                                "values": [{"la": "A", "indicator": "pop_all", "value": 1}]}],
              years=["2024-25"])


def test_the_same_value_corrected_twice_is_refused(tmp_path: Path) -> None:
    # A by name and by code with two different populations: which one? (the last won, silently)
    values = [{"la": "A", "indicator": "pop_all", "value": 200_000},
              {"la": "E06000001", "indicator": "pop_all", "value": 150_000}]
    with pytest.raises(ConfigError, match=r"'changes\[0\]\.values\[1\]\.la': A \(E06000001\) "
                                          r"pop_all is corrected twice \(values\[0\]\)"):
        amend(tmp_path / "a", [{"kind": "correct", "policy": "resolve_all", "values": values}])
    _, built = amend(tmp_path / "b", [{"kind": "correct", "policy": "resolve_all", "values": [
        values[0], {"la": "A", "indicator": "pop_15_64", "value": 1}]}])
    assert len(built.info["corrections"]) == 2


# ---- the framework's checks, each shown failing -------------------------------------------

def _frame(values: dict[str, list[int]]) -> pd.DataFrame:
    return pd.DataFrame({"code": ["A", "B"], **values})


def test_check_locked_fails_on_a_changed_locked_year() -> None:
    from allocator.ledger.api import check_locked

    a, b = _frame({Y1: [1, 2]}), _frame({Y1: [1, 3]})
    check_locked(a, a, ["core"], ["2022-23"])
    with pytest.raises(SolverError, match="changed a locked year: B core_2022_23"):
        check_locked(a, b, ["core"], ["2022-23"])


def test_check_budgets_fails_when_a_pound_is_lost() -> None:
    from allocator.ledger.api import check_budgets

    key = ("core", "2022-23")
    check_budgets({key: 1000}, {key: 925}, {key: -75})
    with pytest.raises(SolverError, match="does not sum to its budget"):
        check_budgets({key: 1000}, {key: 924}, {key: -75})


def test_check_lower_fails_below_the_published_amount() -> None:
    from allocator.ledger.api import check_lower

    frame = _frame({Y1: [100, 199]})
    check_lower(frame, {("B", "core", "2022-23"): 199})
    with pytest.raises(SolverError, match="no_fall broken: B core_2022_23"):
        check_lower(frame, {("B", "core", "2022-23"): 200})


def test_verify_rules_fails_on_a_broken_cap() -> None:
    from allocator.ledger.solve import recompute_totals, verify_rules

    cfg = synthetic_config(caps=[{"share_of_stream": 0.4}])
    table = recompute_totals(four_las().assign(**{c: [100, 200, 300, 400] for c in COLS}),
                             ["core"], YEARS)
    verify_rules(cfg, four_las(), table)
    bad = table.assign(**{Y2: [90, 200, 300, 410]})
    with pytest.raises(SolverError, match="cap"):
        verify_rules(cfg, four_las(), bad)


def test_a_kind_registers_by_name() -> None:
    from allocator.ledger import KINDS, Kind, register
    from allocator.ledger.schema import load_kinds

    assert {"reallocate", "claw_back", "correct"} <= set(load_kinds())

    class Twin(Kind):
        name = "reallocate"

    with pytest.raises(ValueError, match="already registered"):
        register(Twin)
    assert KINDS["reallocate"] is not Twin


def test_rule_labels_in_words() -> None:
    """The rules' internal cell labels become LA, stream and year in words (streams and rules
    with underscores included); other text is left alone."""
    from types import SimpleNamespace

    from allocator.ledger.claw_back import plain_rule_labels

    ctx = SimpleNamespace(streams=["place_based", "core"],
                          name_of={"E06000009": "Blackpool"}.get)
    text = ("pace_no_cash_cut_place_based_2024_25_E06000009: no cash cut broken by £3.00; "
            "floor_core_2023_24_E06000009: £1 < floor £2; total wrong for E06000009")
    assert plain_rule_labels(text, ctx) == (  # type: ignore[arg-type]
        "pace no cash cut (Blackpool, Place based 2024-25): no cash cut broken by £3.00; "
        "floor (Blackpool, Core 2023-24): £1 < floor £2; total wrong for E06000009")


@pytest.mark.parametrize(("key", "keys", "change"), [
    ("reason", {"reason": ""}, {}),
    ("reason", {"reason": "   "}, {}),
    ("name", {"name": " \t "}, {}),
    ("changes[0].reason", {}, {"reason": "  "}),
])
def test_a_blank_reason_or_name_is_refused(tmp_path: Path, key: str, keys: dict,
                                           change: dict) -> None:
    """An auditor needs a reason: an empty or all-spaces one is refused, naming the key (it was
    recorded blank on every ledger row)."""
    import re

    claw = {"kind": "claw_back", "stream": "core", "year": "2024-25", "amounts": {"A": 1},
            "to": "centre", **change}
    with pytest.raises(ConfigError, match=rf"amendment\.yaml: .*'{re.escape(key)}': must say"):
        amend(tmp_path, [claw], **keys)


def test_a_blank_reason_is_exit_2_on_the_command_line(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from allocator.cli import main

    run = make_parent(tmp_path, synthetic_config())
    bad = tmp_path / "blank.yaml"
    bad.write_text(yaml.safe_dump({"parent": "ab" * 32, "name": "t", "reason": "  ",
                                   "effective": "2023-06-01", "changes": [
                                       {"kind": "claw_back", "stream": "core", "year": "2024-25",
                                        "amounts": {"A": 1}, "to": "centre"}]}), encoding="utf-8")
    before = sorted(tmp_path.iterdir())
    res = CliRunner().invoke(main, ["amend", str(run), str(bad), "--quiet"])
    assert res.exit_code == 2, res.output
    assert "error:" in res.output and "'reason': must say why in words" in res.output
    assert "Traceback" not in res.output
    assert sorted(tmp_path.iterdir()) == before  # no new version written


def test_the_example_amendments_are_valid() -> None:
    from allocator.ledger.schema import read_amendment

    files = sorted((ROOT / "configs" / "amendments").glob("*.yaml"))
    assert len(files) >= 3
    for path in files:
        am = read_amendment(path)
        assert am.doc.reason.strip() and am.doc.name.strip()


GOOD = {"parent": "ab" * 32, "name": "t", "reason": "r", "effective": "2023-06-01",
        "changes": [{"kind": "claw_back", "stream": "core", "year": "2024-25",
                     "amounts": {"A": 1}, "to": "centre"}]}


@pytest.mark.parametrize(("text", "says"), [
    (None, "amendment file not found"),
    ("", "the amendment file is empty"),
    ("- a\n", "an amendment must be a mapping of keys"),
    ({**GOOD, "colour": "red"}, "problem in the amendment file: unknown key 'colour'"),
    ({**GOOD, "changes": [{**GOOD["changes"][0], "extra": 1}]},
     "problem in the amendment file: unknown key 'changes[0].extra'"),
    ({**GOOD, "changes": [{**GOOD["changes"][0], "amounts": {"A": 1.5}}]},
     "problem in the amendment file: 'changes[0].amounts.A'"),
    ({k: v for k, v in GOOD.items() if k != "reason"},
     "problem in the amendment file: missing required key 'reason'"),
])
def test_amendment_errors_name_the_amendment_file_and_key(tmp_path: Path, text: object,
                                                          says: str) -> None:
    """Errors about an amendment file call it that, never "config" (they did: "1 problem in
    the config", "the config file is empty"), and name the file and the key."""
    from click.testing import CliRunner

    from allocator.cli import main

    run = make_parent(tmp_path, synthetic_config())
    path = tmp_path / "my-amendment.yaml"
    if text is not None:
        path.write_text(text if isinstance(text, str) else yaml.safe_dump(text), encoding="utf-8")
    res = CliRunner().invoke(main, ["amend", str(run), str(path), "--quiet"])
    assert res.exit_code == 2, res.output
    assert res.output.startswith("error:") and "my-amendment.yaml" in res.output
    assert says in res.output and "config" not in res.output.replace(str(tmp_path), "")


def test_history_labels_written_and_effective_dates(tmp_path: Path) -> None:
    """One column per meaning: when each version was written (its folder's date) and from
    when it applies. The single date column showed the run's folder date for version 1 and
    the amendment's effective date for later versions."""
    from allocator.ledger.chain import history
    from allocator.ledger.version import read_version
    from allocator.ledger.write import write_version

    _, built = amend(tmp_path, [{"kind": "claw_back", "stream": "core", "year": "2024-25",
                                 "amounts": {"A": 1}, "to": "centre"}])
    v1 = tmp_path / "v1"
    v2 = write_version(built, tmp_path, "2026-03-04-synthetic-four-las-v2-abcdef12")
    rows = history(v2).versions.set_index("version")
    assert rows.loc[1, "written"] == "-"  # its folder ("v1") carries no date
    assert rows.loc[1, "effective"] == "2022-04-01 (start of 2022-23)"
    assert rows.loc[2, "written"] == "2026-03-04"
    assert rows.loc[2, "effective"] == "2023-06-01"
    text = history(v2).to_text()
    assert "written: the date the version was made; effective: from when it applies" in text
    assert "version 1  written -  effective 2022-04-01 (start of 2022-23)" in text
    assert "version 2  written 2026-03-04  effective 2023-06-01" in text
    dated = v1.rename(tmp_path / "2026-01-02-synthetic-four-las-abababab")
    assert read_version(dated).number == 1
    assert history(dated).versions.loc[0, "written"] == "2026-01-02"
