"""Issue 14: exit codes as a tested contract (hypothesis).

Configs, floor files, OCU files, manifests and published tables are mutated at random (types,
NaN/inf, huge numbers, deep nesting, encodings, empty files, unicode, path tricks). Whatever the
mutation, the command ends with exit 0 or 2 (3 for a replay that differs), a single ``error:``
paragraph when it fails, never a traceback or "unexpected internal error" (exit 1 is reserved
for genuine bugs), and leaves nothing behind.

``allocator validate`` is the target for configs and input files: it makes every check ``run``
makes before its Monte Carlo and solve (the same code, :func:`allocator.pipeline.set_up`), and
is fast enough to try many examples. Commands run in-process (click's runner) for speed; the
process-level behaviour of the same error path is covered in ``test_faults.py``. Examples are
derandomised so CI sees the same cases every time.
"""

from __future__ import annotations

import contextlib
import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator.config import read_config_document
from allocator.errors import DataError
from allocator.provenance import Manifest

from .helpers import BASE_CONFIG, BOUNDARIES, DATA_DIR, Baseline, CliResult, run_cli

pytestmark = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")

fuzz = settings(deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

# ----------------------------------------------------------------------------- hostile values
HOSTILE_TEXT = st.sampled_from([
    "", " ", "\x00", "a\x00b", "\u202e", "\ufeff", "=cmd|' /C calc'!A0", "../../../etc/passwd",
    "/proc/self/environ", "/dev/zero", "~", "\\\\server\\share", "nan", "inf", "-inf", "1e400",
    "NaN", "null", "🙂" * 50, "x" * 5000, "2022-13-45", "E06000001", "rest", "1_000",
])
SCALARS = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 10**9, 10**15, 10**30, 2**63, -(2**63)]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e30, 1e308, -0.0, 5e-324]),
    HOSTILE_TEXT, st.text(max_size=30),
)
VALUES = st.recursive(SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12)


def _paths(doc: Any, prefix: tuple = ()) -> list[tuple]:
    out = [prefix] if prefix else []
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _set(doc: Any, path: tuple, value: Any) -> None:
    for p in path[:-1]:
        doc = doc[p]
    doc[path[-1]] = value


def assert_contract(res: CliResult, allowed: tuple[int, ...] = (0, 2)) -> None:
    shown = f"exit {res.returncode}\nstdout:\n{res.stdout[-1500:]}\nstderr:\n{res.stderr[-3000:]}"
    assert res.returncode in allowed, shown
    assert "Traceback" not in res.stderr + res.stdout, shown
    assert "unexpected internal error" not in res.stderr, shown
    if res.returncode == 2:
        errors = [line for line in res.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1, shown  # one paragraph
        assert len(errors[0]) < 4000, shown


@pytest.fixture(scope="module")
def base_doc() -> dict[str, Any]:
    doc = read_config_document(BASE_CONFIG)
    doc["uncertainty"]["draws"] = 50
    return doc


@pytest.fixture(scope="module")
def codes() -> list[str]:
    import geopandas as gpd

    b = gpd.read_file(DATA_DIR / BOUNDARIES, columns=["utla21_code"], ignore_geometry=True)
    return sorted(c for c in b["utla21_code"] if c.startswith("E"))


def _validate(folder: Path, text: str | bytes) -> CliResult:
    p = folder / "fuzz.yaml"
    p.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8", "surrogatepass"))
    before = sorted(folder.iterdir())
    res = run_cli("validate", p, "--data-dir", DATA_DIR)
    assert sorted(folder.iterdir()) == before  # validate writes nothing
    return res


# ----------------------------------------------------------------------------- configs
@settings(fuzz, max_examples=60)
@given(data=st.data())
def test_mutated_config_value(tmp_path_factory, base_doc, data):
    doc = copy.deepcopy(base_doc)
    path = data.draw(st.sampled_from(_paths(doc)), label="key")
    _set(doc, path, data.draw(VALUES, label="value"))
    folder = tmp_path_factory.mktemp("cfg")
    try:
        text = yaml.safe_dump(doc, allow_unicode=True)
    except yaml.YAMLError:
        return
    assert_contract(_validate(folder, text))


@settings(fuzz, max_examples=40)
@given(data=st.data())
def test_mutated_config_text(tmp_path_factory, base_doc, data):
    """Byte-level damage to the YAML: cuts, inserts, other encodings, nesting, aliases."""
    text = yaml.safe_dump(base_doc, allow_unicode=True, sort_keys=False)
    kind = data.draw(st.sampled_from(["cut", "insert", "latin1", "utf16", "nest", "alias",
                                      "extends", "tabs", "dup"]), label="kind")
    if kind == "cut":
        i = data.draw(st.integers(0, len(text)))
        raw: str | bytes = text[:i]
    elif kind == "insert":
        i = data.draw(st.integers(0, len(text)))
        raw = text[:i] + data.draw(st.sampled_from(["{", "[", "]", ":", "&a", "*a", "!!python/object:os.system ''",
                                                    "\x00", "\t", "- ", "'", '"', "? ", "\u2028"])) + text[i:]
    elif kind == "latin1":
        raw = (text + "description: café £\n").encode("latin-1")
    elif kind == "utf16":
        raw = text.encode("utf-16")
    elif kind == "nest":
        depth = data.draw(st.sampled_from([10, 40, 1000, 50_000]))
        raw = text + "description: " + "[" * depth + "]" * depth + "\n"
    elif kind == "alias":
        raw = "a: &a [" + ",".join(["x"] * 9) + "]\n" + "".join(
            f"{c}: &{c} [" + ",".join([f"*{p}"] * 9) + "]\n" for p, c in zip("abcdef", "bcdefg", strict=True)) + text
    elif kind == "extends":
        raw = "extends: " + json.dumps(data.draw(HOSTILE_TEXT)) + "\n" + text
    elif kind == "tabs":
        raw = text.replace("  ", "\t", 1)
    else:
        raw = text + text.splitlines()[0] + "\n"
    assert_contract(_validate(tmp_path_factory.mktemp("txt"), raw))


# ----------------------------------------------------------------------------- floor and OCU files
CELL = st.one_of(HOSTILE_TEXT, st.sampled_from(["400000", "0", "-1", "1e15", "4e15", "1e16", " 5 ",
                                               "5.5", "£5", "1,000", "0x10"]))


def _mutate_table(data: st.DataObject, frame: pd.DataFrame) -> bytes:
    kind = data.draw(st.sampled_from(["cell", "cells", "column", "drop", "dup", "ragged", "empty",
                                      "header_only", "latin1", "utf16", "bom", "nul", "blank"]),
                     label="table mutation")
    frame = frame.copy().astype(str)
    if kind in ("cell", "cells"):
        for _ in range(1 if kind == "cell" else data.draw(st.integers(2, 6))):
            r = data.draw(st.integers(0, len(frame) - 1))
            c = data.draw(st.sampled_from(list(frame.columns)))
            frame.iloc[r, frame.columns.get_loc(c)] = data.draw(CELL)
    elif kind == "column":
        c = data.draw(st.sampled_from(list(frame.columns)))
        frame = frame.rename(columns={c: data.draw(HOSTILE_TEXT) or "x"})
    elif kind == "drop":
        frame = frame.drop(columns=data.draw(st.sampled_from(list(frame.columns))))
    elif kind == "dup":
        frame = pd.concat([frame, frame.iloc[[0]]])
    text = frame.to_csv(index=False)
    if kind == "ragged":
        lines = text.splitlines()
        lines[data.draw(st.integers(1, len(lines) - 1))] += ",extra"
        text = "\n".join(lines) + "\n"
    elif kind == "empty":
        return b""
    elif kind == "header_only":
        text = text.splitlines()[0] + "\n"
    elif kind == "blank":
        text = text.replace("\n", "\n\n", 3)
    if kind == "latin1":
        return (text + frame.columns[0] + ",café\n").encode("latin-1")
    if kind == "utf16":
        return text.encode("utf-16")
    if kind == "bom":
        return b"\xef\xbb\xbf" + text.encode()
    if kind == "nul":
        return text.encode().replace(b"\n", b"\x00\n", 1)
    return text.encode("utf-8", "surrogatepass")


def _validate_with(folder: Path, base_doc: dict, over: dict) -> CliResult:
    doc = copy.deepcopy(base_doc)
    for k, v in over.items():
        doc.setdefault(k, {}).update(v)
    return _validate(folder, yaml.safe_dump(doc, allow_unicode=True))


@settings(fuzz, max_examples=20)
@given(data=st.data())
def test_mutated_floor_file(tmp_path_factory, base_doc, codes, data):
    years = ["2022_23", "2023_24", "2024_25"]
    frame = pd.DataFrame({"code": codes, **{f"continuation_{y}": 400_000 for y in years}})
    folder = tmp_path_factory.mktemp("floor")
    (folder / "floor.csv").write_bytes(_mutate_table(data, frame))
    floors = [{"kind": "file", "path": str(folder / "floor.csv"), "streams": ["continuation"]}]
    doc = copy.deepcopy(base_doc)
    doc["allocation"]["floors"] = floors
    assert_contract(_validate(folder, yaml.safe_dump(doc)))


@settings(fuzz, max_examples=15)
@given(data=st.data())
def test_mutated_ocu_file(tmp_path_factory, base_doc, codes, data):
    frame = pd.DataFrame({"code": codes, "rate_per_1000_15_64": 8.5, "count": 1000,
                          "year": "2016-17", "source": "OHID"})
    folder = tmp_path_factory.mktemp("ocu")
    (folder / "ocu.csv").write_bytes(_mutate_table(data, frame))
    assert_contract(_validate_with(folder, base_doc, {"data": {"ocu_file": str(folder / "ocu.csv")}}))


@settings(fuzz, max_examples=10)
@given(path=st.one_of(HOSTILE_TEXT, st.sampled_from(["/proc/self/environ", "/dev/stdin",
                                                     "/etc", "../" * 30 + "etc/passwd", "."])))
def test_hostile_data_paths(tmp_path_factory, base_doc, path):
    folder = tmp_path_factory.mktemp("paths")
    for over in ({"data": {"ocu_file": path}},
                 {"allocation": {"floors": [{"kind": "file", "path": path}]}}):
        res = _validate_with(folder, base_doc, over)
        assert_contract(res, (2,))
        assert "root:x:" not in res.stderr and "PATH=" not in res.stderr  # no file content echoed


# ----------------------------------------------------------------------------- published runs
@pytest.fixture(scope="module")
def manifest_doc(baseline: Baseline) -> dict[str, Any]:
    return json.loads((baseline.run_dir / "manifest.json").read_text())


@settings(fuzz, max_examples=150)
@given(data=st.data())
def test_manifest_read_never_crashes(tmp_path_factory, manifest_doc, data):
    """Any mutation: ``Manifest.read`` returns a manifest or raises DataError (exit 2)."""
    doc: Any = copy.deepcopy(manifest_doc)
    if data.draw(st.booleans(), label="whole document"):
        doc = data.draw(VALUES)
    else:
        path = data.draw(st.sampled_from(_paths(doc)), label="key")
        _set(doc, path, data.draw(VALUES, label="value"))
    p = tmp_path_factory.mktemp("m") / "manifest.json"
    p.write_text(json.dumps(doc, allow_nan=True))
    with contextlib.suppress(DataError):
        Manifest.read(p)


@settings(fuzz, max_examples=15)
@given(data=st.data())
def test_replay_of_a_mistyped_manifest_is_exit_2(tmp_path_factory, baseline: Baseline,
                                                 manifest_doc, data):
    run = Path(shutil.copytree(baseline.run_dir, tmp_path_factory.mktemp("r") / "run"))
    doc = copy.deepcopy(manifest_doc)
    key = data.draw(st.sampled_from(["seed", "inputs", "outputs", "versions", "solver",
                                     "data_notes", "config", "config_hash", "config_file",
                                     "manifest_version", "run_hash"]))
    wrong = {"seed": st.one_of(st.text(), st.floats(), st.lists(st.integers())),
             "config_file": st.sampled_from(["../x", "/etc/passwd", "", "a/b", "\x00"]),
             "manifest_version": st.one_of(st.text(), st.floats(), st.booleans())}.get(
        key, st.one_of(st.integers(), st.floats(), st.booleans(), st.none()))
    if key in ("config", "seed"):
        wrong = wrong.filter(lambda v: v is not None)
    doc[key] = data.draw(wrong)
    (run / "manifest.json").write_text(json.dumps(doc))
    res = run_cli("replay", run / "manifest.json", "--data-dir", DATA_DIR)
    assert_contract(res, (2,))
    assert "not an allocator manifest" in res.stderr


@settings(fuzz, max_examples=30)
@given(data=st.data())
def test_diff_and_explain_on_a_mutated_table(tmp_path_factory, baseline: Baseline, data):
    run = Path(shutil.copytree(baseline.run_dir, tmp_path_factory.mktemp("d") / "run"))
    p = run / "allocation.csv"
    lines = p.read_text(encoding="utf-8").splitlines()
    head = [line for line in lines if line.startswith("#")]
    frame = pd.read_csv(p, comment="#", dtype=str, keep_default_na=False)
    body = _mutate_table(data, frame)
    p.write_bytes(("\n".join(head) + "\n").encode() + body)
    assert_contract(run_cli("diff", baseline.run_dir, run))
    assert_contract(run_cli("explain", run, "E06000002"))
