"""The ``allocator`` entry point (allocator.console): the command's status and output as usual,
``atexit`` handlers run, and no interpreter teardown after it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from allocator import __version__

PROLOGUE = "import os, sys, atexit\nimport allocator.console as entry\n"


def _entry(args: list[str], extra: str = "") -> subprocess.CompletedProcess[str]:
    code = (PROLOGUE + extra + f"sys.argv = ['allocator', *{args!r}]\nentry.console()\n")
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_output_and_status_of_a_good_command() -> None:
    res = _entry(["--version"])
    assert res.returncode == 0
    assert res.stdout.strip() == f"allocator, version {__version__}"


def test_bad_input_keeps_its_status_and_error_paragraph(tmp_path: Path) -> None:
    res = _entry(["run", str(tmp_path / "missing.yaml")])
    assert res.returncode == 2
    assert res.stderr.startswith("error:") or "Error" in res.stderr
    assert "Traceback" not in res.stderr


def test_atexit_handlers_run_but_the_interpreter_is_not_torn_down() -> None:
    extra = (  # a handler the command registers (the handlers of the libraries it imports)
        "import allocator.cli as cli\n"
        "def command():\n"
        "    atexit.register(lambda: os.write(1, b'handler ran\\n'))\n"
        "    sys.exit(0)\n"
        "cli.main = command\n"
        "class Probe:\n"
        "    def __del__(self):\n"
        "        os.write(1, b'torn down\\n')\n"
        "entry.probe = Probe()\n"  # freed only when the interpreter tears the module down
    )
    res = _entry([], extra)
    assert res.returncode == 0
    assert "handler ran" in res.stdout
    assert "torn down" not in res.stdout


def test_a_non_integer_exit_status_is_printed_and_is_1() -> None:
    extra = "import allocator.cli as cli\ncli.main = lambda: sys.exit('stopped: reason')\n"
    res = _entry([], extra)
    assert res.returncode == 1
    assert "stopped: reason" in res.stderr
