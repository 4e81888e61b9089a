"""Issue 14: replay re-creates the whole run directory and compares every file, both ways.

An edit to any manifest field, an extra, missing or changed file, and an edited ``config.yaml``
(even one that no longer validates) are each exit 3 with the change named. A manifest that is
not a manifest is exit 2. A run made from a tampered areas cache does not replay.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from .helpers import DATA_DIR, CliResult, assert_clean_error, run_cli, write_config

pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")

#: A cheap run to replay many times: a small Monte Carlo, no Sobol', no second solver, no maps,
#: no GeoPackage. (``uncertainty.enabled: false`` would be cheaper, but summary.md then fails
#: to render.)
CHEAP = {"uncertainty": {"draws": 20, "sensitivity": {"enabled": False}},
         "allocation": {"solver": {"cross_check": None}},
         "output": {"map": False, "static_maps": False, "hex_cartogram": False, "gpkg": False}}


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("published")
    cfg = write_config(root / "cheap.yaml", CHEAP)
    res = run_cli("run", cfg, "--data-dir", DATA_DIR, "--out", root / "out", "--quiet")
    assert res.returncode == 0, res.stderr
    (run,) = (root / "out").iterdir()
    return run


@pytest.fixture
def run_copy(published: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(published, tmp_path / published.name))


def replay(run: Path) -> CliResult:
    """``allocator replay`` with a private temporary folder, checked empty afterwards."""
    private = Path(tempfile.mkdtemp(prefix="audit-tmp-"))
    saved = tempfile.tempdir
    tempfile.tempdir = str(private)
    try:
        res = run_cli("replay", run / "manifest.json", "--data-dir", DATA_DIR)
    finally:
        tempfile.tempdir = saved
    assert "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
    # the replay's temporary folder and its lock are gone whatever the outcome
    assert list(private.iterdir()) == []
    private.rmdir()
    return res


def edit_manifest(run: Path, fn: Callable[[dict[str, Any]], None]) -> None:
    p = run / "manifest.json"
    doc = json.loads(p.read_text())
    fn(doc)
    p.write_text(json.dumps(doc, indent=2, sort_keys=True) + "\n")


def test_untouched_run_replays_byte_identical(published: Path):
    res = replay(published)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "every output is byte-identical" in res.stdout


def _first(d: dict[str, Any]) -> str:
    return sorted(d)[0]


#: One edit per manifest field, each keeping the field's type; the needle names the change.
FIELD_EDITS: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "manifest_version": (lambda m: m.update(manifest_version=2), "field manifest_version: 1 -> 2"),
    "config_name": (lambda m: m.update(config_name="approved"), "config_name: 'ssmtrg-2022-25' -> 'approved'"),
    "config_hash": (lambda m: m.update(config_hash="0" * 64), "field config_hash:"),
    "config_file": (lambda m: m.update(config_file="other.yaml"), "config_file: 'config.yaml' -> 'other.yaml'"),
    "config": (lambda m: m["config"]["uncertainty"].update(seed=1), "config.uncertainty.seed: 20220413 -> 1"),
    "run_hash": (lambda m: m.update(run_hash="f" * 64), "field run_hash:"),
    "seed": (lambda m: m.update(seed=m["seed"] + 1), "field seed: 20220413 -> 20220414"),
    "inputs": (lambda m: m["inputs"].update({_first(m["inputs"]): "0" * 64}), "field inputs."),
    "outputs": (lambda m: m["outputs"].update({"summary.md": "0" * 64}), "field outputs.summary.md"),
    "versions": (lambda m: m["versions"].update(numpy="0.0.1"), "field versions.numpy"),
    "solver": (lambda m: m["solver"].update(status="approved by the minister"), "field solver.status"),
    "data_notes": (lambda m: m["data_notes"].__setitem__(0, "All figures approved by the minister."),
                   "data_notes[0]"),
    "areas_sha256": (lambda m: m.update(areas_sha256="a" * 64), "field areas_sha256"),
}


def test_every_manifest_field_is_covered():
    """The edits below cover every field the engine writes (a new field must get its edit)."""
    from allocator.provenance import Manifest

    written = json.loads(Manifest("n", "h", "r", 1, {}, {}, {}, {}).to_json())
    assert set(written) == set(FIELD_EDITS)


@pytest.mark.parametrize("field", sorted(FIELD_EDITS))
def test_each_edited_manifest_field_is_exit_3_and_named(run_copy: Path, field: str):
    edit, needle = FIELD_EDITS[field]
    edit_manifest(run_copy, edit)
    res = replay(run_copy)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "DIFFERS" in res.stdout
    assert "manifest.json: the published bytes differ" in res.stdout
    assert needle in res.stdout, res.stdout


def test_extra_missing_and_hidden_files_are_each_named(run_copy: Path):
    (run_copy / "allocation_FINAL.csv").write_text("code,total\nE06000001,999999999\n")
    (run_copy / ".hidden").write_text("x")
    (run_copy / "sub").mkdir()
    (run_copy / "summary.md").unlink()
    res = replay(run_copy)
    assert res.returncode == 3, res.stdout + res.stderr
    out = res.stdout
    assert "allocation_FINAL.csv: in the published run but not produced by the replay" in out
    assert ".hidden: in the published run but not produced by the replay" in out
    assert "sub/: in the published run but not produced by the replay" in out
    assert "summary.md: produced by the replay but missing from the published run" in out
    assert "published file allocation_FINAL.csv: not in the manifest" in out


def test_one_changed_byte_in_config_yaml_is_exit_3_with_the_edit_shown(run_copy: Path):
    """It no longer validates ("unknown key"), yet this is evidence of an edit: exit 3, not 2."""
    p = run_copy / "config.yaml"
    text = p.read_text()
    assert text.startswith("allocation:\n")
    p.write_text("allocatiom:\n" + text.removeprefix("allocation:\n"))
    res = replay(run_copy)
    assert res.returncode == 3, res.stdout + res.stderr
    out = res.stdout
    assert "config.yaml differs from the copy in the manifest" in out
    assert "-allocation:" in out and "+allocatiom:" in out
    assert "config.yaml is not a valid config now" in out and "unknown key" in out
    assert "config.yaml: the published bytes differ" in out


def edit_cell(table: Path, code: str, column: str, fn: Callable[[str], str]) -> None:
    """Rewrite one cell of a run's CSV table in place (header and provenance lines kept)."""
    lines = table.read_text().splitlines()
    header = next(line for line in lines if not line.startswith("#")).split(",")
    i = next(k for k, line in enumerate(lines) if line.startswith(code + ","))
    cells = lines[i].split(",")
    j = header.index(column)
    cells[j] = fn(cells[j])
    lines[i] = ",".join(cells)
    table.write_text("\n".join(lines) + "\n")


def test_a_changed_cell_is_named_with_its_amount(run_copy: Path):
    edit_cell(run_copy / "allocation.csv", "E06000001", "total", lambda v: str(int(v) + 1000))
    res = replay(run_copy)
    assert res.returncode == 3
    assert "E06000001 total" in res.stdout and "(-1000)" in res.stdout


# ----------------------------------------------------------------------------- not a manifest
@pytest.mark.parametrize(("text", "needle"), [
    ("42", "holds a JSON int"),
    ('"a string"', "holds a JSON str"),
    ("[]", "holds a JSON list"),
    ("null", "holds a JSON NoneType"),
    ("", "JSON error"),
    ("{", "JSON error"),
    ("[" * 100_000 + "]" * 100_000, "JSON"),
])
def test_manifest_that_is_not_an_object_is_exit_2(run_copy: Path, text: str, needle: str):
    (run_copy / "manifest.json").write_text(text)
    res = replay(run_copy)
    assert_clean_error(res, "manifest.json", needle)


@pytest.mark.parametrize(("field", "value", "needle"), [
    ("seed", "20220413", "'seed' must be a whole number"),
    ("seed", 1.5, "'seed' must be a whole number"),
    ("seed", True, "'seed' must be a whole number"),
    ("inputs", [], "'inputs' must map names to text"),
    ("outputs", {"a": 1}, "'outputs' must map names to text"),
    ("config", "x", "'config' must be an object"),
    ("config_hash", 7, "'config_hash' must be text"),
    ("data_notes", "one note", "'data_notes' must be a list of text"),
    ("solver", [], "'solver' must be an object"),
    ("manifest_version", "1", "'manifest_version' must be a whole number"),
    ("config_file", "../../../../proc/self/environ", "'config_file' must be a plain file name"),
    ("config_file", "/etc/passwd", "'config_file' must be a plain file name"),
])
def test_manifest_with_wrongly_typed_fields_is_exit_2(run_copy: Path, field, value, needle):
    edit_manifest(run_copy, lambda m: m.update({field: value}))
    res = replay(run_copy)
    assert_clean_error(res, "not an allocator manifest", needle)


def test_manifest_missing_a_key_is_exit_2(run_copy: Path):
    edit_manifest(run_copy, lambda m: m.pop("outputs"))
    assert_clean_error(replay(run_copy), "missing keys ['outputs']")


# ----------------------------------------------------------------------------- diff / explain
@pytest.mark.parametrize(("value", "needle"), [
    ("lots", "not whole numbers"),
    ("1e400", "not whole numbers"),
    ("12.5", "not whole numbers"),
    ("5,extra,cells", "allocation.csv"),
])
def test_diff_and_explain_on_a_tampered_run_are_exit_2(run_copy: Path, published: Path, value, needle):
    edit_cell(run_copy / "allocation.csv", "E06000001", "total", lambda v: value)
    assert_clean_error(run_cli("diff", published, run_copy), "allocation.csv", needle)
    assert_clean_error(run_cli("explain", run_copy, "E06000002"), "allocation.csv", needle)


def test_diff_on_a_binary_or_headerless_table_is_exit_2(run_copy: Path, published: Path):
    (run_copy / "allocation.csv").write_bytes(b"\xff\xfe\x00garbage")
    assert_clean_error(run_cli("diff", published, run_copy), "not UTF-8")
    (run_copy / "allocation.csv").write_text("# only a comment\n")
    assert_clean_error(run_cli("diff", published, run_copy), "allocation.csv")
    (run_copy / "allocation.csv").write_text("a,b\n1,2\n")
    assert_clean_error(run_cli("diff", published, run_copy), "missing columns")


# ----------------------------------------------------------------------------- the cache
def _cache_for(tmp_path: Path, cfg: Path) -> Path:
    """A private cache filled by one run of ``cfg``; returns the cache folder."""
    d = tmp_path / "cache"
    res = run_cli("run", cfg, "--data-dir", DATA_DIR, "--out", tmp_path / "first", "--quiet",
                  env={"ALLOCATOR_CACHE_DIR": str(d)})
    assert res.returncode == 0, res.stderr
    return d


def _run_with(tmp_path: Path, cfg: Path, cache: Path, tag: str) -> tuple[CliResult, Path | None]:
    out = tmp_path / tag
    res = run_cli("run", cfg, "--data-dir", DATA_DIR, "--out", out, "--quiet",
                  env={"ALLOCATOR_CACHE_DIR": str(cache)})
    runs = sorted(out.iterdir()) if out.is_dir() else []
    return res, (runs[0] if runs else None)


def test_cache_is_geoparquet_never_pickle(tmp_path: Path, published: Path):
    cache = _cache_for(tmp_path, write_config(tmp_path / "c.yaml", CHEAP))
    names = sorted(p.suffix for p in cache.iterdir())
    assert names == [".json", ".parquet"]
    import geopandas as gpd

    (table,) = cache.glob("*.parquet")
    assert len(gpd.read_parquet(table)) == 152
    src = Path(__file__).resolve().parents[2] / "src" / "allocator"
    assert not [p for p in src.rglob("*.py") if "import pickle" in p.read_text()]


def _tamper_values(table: Path, meta: Path, *, consistent: bool, interval: bool = True) -> None:
    """Edit one LA's death rate (and, with ``interval``, its 95% limits, so the data contracts
    still pass) and population in the cached table (the issue's attack)."""
    import geopandas as gpd

    from allocator.data.cache import table_digest

    frame = gpd.read_parquet(table)
    i = frame.index[frame["code"] == "E06000001"][0]
    for col in ("drug_deaths_rate", "pop_all") + (("drug_deaths_lcl", "drug_deaths_ucl")
                                                   if interval else ()):
        frame.loc[i, col] *= 5
    frame.to_parquet(table, index=False)
    if consistent:  # the worst case: the attacker also recomputes the recorded digest
        from allocator.data.areas import AreaData, flag_table

        doc = json.loads(meta.read_text())
        doc["digest"] = table_digest(AreaData(frame, doc["sources"], doc["notes"], flag_table(frame)))
        meta.write_text(json.dumps(doc))


@pytest.mark.parametrize("tamper", [
    "values_digest_stale", "values_breaking_contracts", "truncated", "garbage", "column_dropped", "column_retyped",
    "notes_edited", "meta_garbage", "pickle_planted",
])
def test_a_tampered_cache_is_refused_and_the_money_is_identical(tmp_path: Path, tamper: str):
    cfg = write_config(tmp_path / "c.yaml", CHEAP)
    cache = _cache_for(tmp_path, cfg)
    (table,) = cache.glob("*.parquet")
    meta = table.with_suffix(".json")
    import geopandas as gpd

    if tamper == "values_digest_stale":
        _tamper_values(table, meta, consistent=False)
    elif tamper == "values_breaking_contracts":
        _tamper_values(table, meta, consistent=True, interval=False)
    elif tamper == "truncated":
        table.write_bytes(table.read_bytes()[:1000])
    elif tamper == "garbage":
        table.write_bytes(b"PAR1" + b"\x00" * 5000 + b"PAR1")
    elif tamper == "column_dropped":
        gpd.read_parquet(table).drop(columns=["imd_score"]).to_parquet(table, index=False)
    elif tamper == "column_retyped":
        f = gpd.read_parquet(table)
        f["imd_rank"] = f["imd_rank"].astype(float)
        f.to_parquet(table, index=False)
    elif tamper == "notes_edited":
        doc = json.loads(meta.read_text())
        doc["notes"][0] = "All figures approved by the minister."
        meta.write_text(json.dumps(doc))
    elif tamper == "meta_garbage":
        meta.write_text("{]")
    elif tamper == "pickle_planted":
        import pickle

        (cache / table.name.replace(".parquet", ".pkl")).write_bytes(pickle.dumps({"x": 1}))
    res, run = _run_with(tmp_path, cfg, cache, "second")
    assert res.returncode == 0, res.stderr
    (first,) = (tmp_path / "first").iterdir()
    for name in ("allocation.csv", "index.csv", "explain.csv", "manifest.json"):
        assert (run / name).read_bytes() == (first / name).read_bytes(), name


def test_a_consistently_tampered_cache_changes_nothing_that_replays(tmp_path: Path):
    """Values and digest both edited: the run cannot tell, but its manifest records the table's
    digest, and replay (which rebuilds from the sources) exits 3 naming it and the money."""
    cfg = write_config(tmp_path / "c.yaml", CHEAP)
    cache = _cache_for(tmp_path, cfg)
    (table,) = cache.glob("*.parquet")
    _tamper_values(table, table.with_suffix(".json"), consistent=True)
    res, run = _run_with(tmp_path, cfg, cache, "second")
    assert res.returncode == 0, res.stderr
    (first,) = (tmp_path / "first").iterdir()
    assert (run / "allocation.csv").read_bytes() != (first / "allocation.csv").read_bytes()
    res = replay(run)
    assert res.returncode == 3, res.stdout + res.stderr
    assert "areas_sha256" in res.stdout
    assert "E06000001" in res.stdout and "cell(s) differ" in res.stdout
    # --no-cache ignores the tampered table: the money is the cold build's again
    out = tmp_path / "nocache"
    res = run_cli("run", cfg, "--data-dir", DATA_DIR, "--out", out, "--quiet", "--no-cache",
                  env={"ALLOCATOR_CACHE_DIR": str(cache)})
    assert res.returncode == 0, res.stderr
    (again,) = out.iterdir()
    assert (again / "allocation.csv").read_bytes() == (first / "allocation.csv").read_bytes()
