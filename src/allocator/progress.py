"""Progress lines on stderr: the console's one progress channel (``--quiet`` turns it off)."""

from __future__ import annotations

import sys


def progress_line(enabled: bool, message: str) -> None:
    """Print ``message`` as one indented line on stderr when ``enabled``."""
    if enabled:
        print(f"  {message}", file=sys.stderr, flush=True)
