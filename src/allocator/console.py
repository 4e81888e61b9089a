"""The ``allocator`` command's entry point: :func:`allocator.cli.main`, then a quick exit.

Tearing down the interpreter after a run (freeing every module of geopandas, matplotlib,
scipy, folium...) takes ~0.4 s of CPU and wall time on a 2-core machine, after every output has
been written and closed. :func:`console` runs the command as usual (exit codes, messages and
``atexit`` handlers unchanged), then ends the process without that teardown. The Python API and
``CliRunner`` (tests) call :func:`allocator.cli.main` itself and are unaffected.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading

_status: list[int] = [0]


def _end() -> None:
    """Registered first, so run last of the ``atexit`` handlers: flush and end the process."""
    import logging

    logging.shutdown()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError, AttributeError):  # closed, a broken pipe
            stream.flush()
    os._exit(_status[0])


def console() -> None:
    """Run :func:`allocator.cli.main` with ``sys.argv``; exit with its status, quickly."""
    atexit.register(_end)
    from .cli import main

    try:
        main()
    except SystemExit as exc:
        code = exc.code
        if code is not None and not isinstance(code, int):
            print(code, file=sys.stderr)  # what the interpreter does with a non-integer status
            code = 1
        _status[0] = code or 0
        for thread in threading.enumerate():  # as at a normal exit: wait for non-daemon threads
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join()
        raise
    except BaseException:
        _status[0] = 1
        raise
