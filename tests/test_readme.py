"""Every example in the README runs: the two set-up commands, the command list and the Python block.

The README's code blocks are read from the file itself, so an edited example is tested as edited.
Placeholders in the command list (``CONFIG``, ``DIR``, ``outputs/<run>``, ``RUN_A``...) are
replaced by a real config, data folder and run directory; nothing else is changed.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from allocator.cli import main
from allocator.paths import default_data_dir

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DATA = default_data_dir()

needs_data = pytest.mark.skipif(DATA is None, reason="the official data (../shared/geodata) is not present")


def code_blocks(text: str) -> list[tuple[str, str]]:
    """``(language, body)`` of every fenced code block, in order."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```", text, re.S | re.M)]


def blocks(lang: str) -> list[str]:
    return [body for la, body in code_blocks(README.read_text(encoding="utf-8")) if la == lang]


def setup_commands() -> list[str]:
    first_lang, first = code_blocks(README.read_text(encoding="utf-8"))[0]
    assert first_lang == "bash"
    return [ln for ln in first.splitlines() if ln.strip()]


def test_readme_starts_with_the_two_setup_commands() -> None:
    text = README.read_text(encoding="utf-8")
    # the first code block comes before any other section's content
    assert text.index("```") < text.index("## What a run writes")
    cmds = setup_commands()
    assert len(cmds) == 2
    install, tests = cmds
    assert 'pip install -e ".[test]"' in install
    assert install.endswith("allocator run configs/ssmtrg-2022-25.yaml")
    assert tests == ".venv/bin/python -m pytest"
    # CI runs the same test command
    assert ".venv/bin/python -m pytest" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")


def test_every_readme_command_is_a_real_command() -> None:
    """Each line of the command list names a subcommand the CLI has, with options it accepts."""
    (listing,) = [b for b in blocks("bash") if "allocator data fetch" in b]
    runner = CliRunner()
    for line in listing.splitlines():
        words = shlex.split(line.split("#")[0])
        assert words[0] == "allocator"
        sub = [w for w in words[1:] if not w.startswith(("-", "[")) and w.isalpha() and w.islower()][:2]
        res = runner.invoke(main, [*sub, "--help"])
        assert res.exit_code == 0, (line, res.output)
        for opt in re.findall(r"(--[a-z-]+)", line):
            assert opt in res.output, (line, opt)


def _concrete(line: str, subs: dict[str, str]) -> list[str]:
    line = re.sub(r"\[[^\]]*\]", "", line.split("#")[0])  # optional arguments are left out
    words = shlex.split(line)
    out = []
    for w in words:
        for k, v in subs.items():
            w = w.replace(k, v)
        out.append(w)
    return out[1:]  # drop "allocator"


@pytest.fixture(scope="module")
def setup_run() -> Path:
    """The README's first command (its `allocator run` part), verbatim, from the repository root."""
    cmd = setup_commands()[0].split("&&")[-1].strip()
    exe = Path(sys.executable).with_name("allocator")
    args = shlex.split(cmd)
    assert args[0] == ".venv/bin/allocator"
    outputs = ROOT / "outputs"
    before = set(outputs.iterdir()) if outputs.is_dir() else set()
    proc = subprocess.run([str(exe), *args[1:]], cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr
    new = sorted(set(outputs.iterdir()) - before)
    assert len(new) == 1, new
    assert f"run directory: {new[0]}" in proc.stdout
    yield new[0]
    import shutil

    shutil.rmtree(new[0], ignore_errors=True)
    for extra in outputs.glob(f"{new[0].name}-pounds-*"):  # `allocator uncertainty RUN` beside it
        shutil.rmtree(extra, ignore_errors=True)


@needs_data
def test_readme_command_list_runs(setup_run: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (listing,) = [b for b in blocks("bash") if "allocator data fetch" in b]
    data = tmp_path / "data"
    for p in DATA.rglob("*"):  # a mirror of symlinks: `data fetch` may rewrite files in it
        if p.is_file():
            t = data / p.relative_to(DATA)
            t.parent.mkdir(parents=True, exist_ok=True)
            t.symlink_to(p)

    def offline(url: str) -> bytes:
        raise OSError("offline test")

    monkeypatch.setattr("allocator.data.fetch.urllib_opener", offline)
    subs = {
        "outputs/<run>": str(setup_run),
        "CONFIG": str(ROOT / "configs" / "ssmtrg-2022-25.yaml"),
        "RUN_A": str(setup_run),
        "RUN_B": str(setup_run),
        "RUN": str(setup_run),
        "DIR": str(data),
        "cmp.html": str(tmp_path / "cmp.html"),
    }
    runner = CliRunner()
    ran = []
    for line in listing.splitlines():
        args = _concrete(line, subs)
        if args[0] == "run":
            args += ["--out", str(tmp_path / "runs"), "--quiet"]
        res = runner.invoke(main, args, catch_exceptions=False)
        assert res.exit_code == 0, (line, res.output)
        ran.append(args[0])
    assert (tmp_path / "cmp.html").is_file()
    assert {"run", "validate", "replay", "diff", "explain", "map", "data", "uncertainty"} <= set(ran)
    assert list(setup_run.parent.glob(f"{setup_run.name}-pounds-200/pounds_uncertainty.csv"))


@needs_data
def test_readme_python_example_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (example,) = [b for b in blocks("python") if "from allocator import" in b]
    (tmp_path / "configs").symlink_to(ROOT / "configs")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ALLOCATOR_DATA_DIR", str(DATA))
    ns: dict[str, object] = {}
    exec(compile(example, "README.md", "exec"), ns)  # noqa: S102 - the README's own example
    result = ns["result"]
    runs = list((tmp_path / "outputs").iterdir())
    assert len(runs) == 1 and (runs[0] / "manifest.json").is_file()
    alloc = result.allocation  # type: ignore[attr-defined]
    assert int(alloc["total_2022_23"].sum()) == 100_000_000


def test_import_allocator_is_light() -> None:
    """The public names are there, but `import allocator` loads no heavy library."""
    code = (
        "import sys, allocator; "
        "heavy = [m for m in ('pandas', 'numpy', 'geopandas', 'pulp', 'matplotlib') if m in sys.modules]; "
        "assert not heavy, heavy; "
        "from allocator import load_config, run, validate, RunResult, replay_run, diff_runs; "
        "assert callable(run) and callable(load_config)"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr


def test_unknown_public_name_is_an_attribute_error() -> None:
    import allocator

    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        allocator.nope  # noqa: B018


def test_public_names_all_resolve() -> None:
    import allocator

    assert set(allocator.__all__) == {"__version__", *allocator._EXPORTS}
    for name in allocator.__all__:
        assert getattr(allocator, name) is not None


def _amend_block() -> str:
    (block,) = [b for b in blocks("bash") if "underspend-2022-23.yaml" in b]
    return block


def test_readme_amendment_yaml_is_the_example_file() -> None:
    """The YAML shown in "Amending a published allocation" is the committed example, value for value."""
    import yaml

    (shown,) = [b for b in blocks("yaml") if "kind: reallocate" in b]
    committed = ROOT / "configs" / "amendments" / "underspend-2022-23.yaml"
    assert yaml.safe_load(shown) == yaml.safe_load(committed.read_text(encoding="utf-8"))


@needs_data
def test_readme_amendment_commands_run(setup_run: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The amendment section's commands, in order, on the README's run; then its Python block."""
    import shutil

    subs = {"outputs/<run>": str(setup_run)}
    made: list[Path] = []
    runner = CliRunner()
    try:
        for line in _amend_block().splitlines():
            args = _concrete(line, subs)
            res = runner.invoke(main, [*args, "--quiet"], catch_exceptions=False)
            assert res.exit_code == 0, (line, res.output)
            if args[0] == "amend":
                path = Path(res.output.split("new version: ", 1)[1].strip())
                made.append(path)
                subs[f"outputs/<version-{len(made) + 1}>"] = str(path)
            if args[0] == "history":
                assert "3 version(s)" in res.output
            if args[0] == "replay":
                assert "byte-identical" in res.output
        (example,) = [b for b in blocks("python") if "allocator.amend" in b]
        code = example.replace('"outputs/<run>"', repr(str(setup_run)))
        monkeypatch.chdir(ROOT)  # the example's configs/ path is relative to the repository
        ns: dict[str, object] = {}
        exec(compile(code, "README.md", "exec"), ns)  # noqa: S102 - the README's own example
        made.append(Path(ns["v2"]))  # type: ignore[arg-type]
        assert "2 version(s)" in str(ns["allocator"].history(ns["v2"]))  # type: ignore[attr-defined]
    finally:
        for p in made:
            shutil.rmtree(p, ignore_errors=True)
