"""The command line's plumbing (:mod:`allocator.cli`): one-paragraph errors and exit codes,
``--debug`` / ``--quiet`` on every command, interrupts as exit 130."""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import traceback
from collections.abc import Callable
from typing import Any, TypeVar

import click

from . import _signals
from .errors import AllocatorError

F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str, code: int) -> None:
    # one paragraph, unwrapped: terminals wrap it, and scripts can grep it
    click.echo(f"error: {' '.join(message.split())}", err=True)
    sys.exit(code)


def _flag(name: str) -> bool:
    """``--debug`` / ``--quiet`` given anywhere on the line (group or subcommand)."""
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.find_root().meta.get(f"allocator.{name}"))


def _remember(ctx: click.Context, param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.find_root().meta[f"allocator.{param.name}"] = True
    return value


def common_options(func: F) -> F:
    """``--debug`` and ``--quiet``, accepted on the group and on every subcommand alike."""
    func = click.option(
        "--quiet", "-q", is_flag=True, expose_value=False, is_eager=True, callback=_remember,
        help="No progress output (results and errors are still printed).",
    )(func)
    return click.option(
        "--debug", is_flag=True, expose_value=False, is_eager=True, callback=_remember,
        help="Show the full traceback on errors.",
    )(func)


class AllocatorGroup(click.Group):
    """A click group whose own usage errors use the documented one-paragraph ``error:`` format."""

    def main(self, args: Any = None, prog_name: str | None = None, complete_var: str | None = None,
             standalone_mode: bool = True, **extra: Any) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx is not None else "allocator"
            message = exc.format_message().strip()
            if not message.endswith((".", "?", "!")):
                message += "."
            _fail(f"{where}: {message} See '{where} --help'.", 2)
        except click.ClickException as exc:
            _fail(exc.format_message(), exc.exit_code)
        except click.Abort:
            _fail(_signals.INTERRUPTED, 130)
        sys.exit(rv if isinstance(rv, int) else 0)



def friendly(func: F) -> F:
    """Turn library errors into one paragraph and a non-zero exit (traceback only with --debug)."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        debug = _flag("debug")
        try:
            with _signals.interruptible():
                return func(*args, **kwargs)
        except KeyboardInterrupt:
            _fail(_signals.INTERRUPTED, 130)
        except AllocatorError as exc:
            if debug:
                traceback.print_exc()
            if _signals.received():  # the signal's KeyboardInterrupt was swallowed on the way
                _fail(_signals.INTERRUPTED, 130)
            _fail(str(exc), exc.exit_code)
        except MemoryError:
            _fail("ran out of memory", 1)
        except BrokenPipeError:  # stdout's reader has gone (`| head`): not a bug to report
            if _signals.received():  # (or a pipe to a helper the signal ended)
                _fail(_signals.INTERRUPTED, 130)
            with contextlib.suppress(OSError, AttributeError, ValueError):  # exit's flush: quiet
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            _fail("standard output was closed before everything was printed (broken pipe)", 1)
        except Exception as exc:  # noqa: BLE001 - the last line of defence for a CLI
            if _signals.received():
                _fail(_signals.INTERRUPTED, 130)
            if debug:
                traceback.print_exc()
            _fail(
                f"unexpected internal error ({type(exc).__name__}: {exc}). This is a bug in "
                "allocator; re-run with --debug for the traceback and report it.",
                1,
            )

    return wrapper  # type: ignore[return-value]
