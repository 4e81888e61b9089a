"""A lasting place for matplotlib's font cache when its default place cannot be written.

Without a writable ``~/.config/matplotlib`` and ``~/.cache/matplotlib`` (a read-only or missing
HOME: a container, a cron job of a system account), matplotlib makes a new temporary folder at
every import, warns about it on stderr (also under ``--quiet``), rebuilds its font list there,
and removes the folder at the interpreter's exit, which a forked drawer, ending without the
interpreter's exit handlers, never reaches: every run left a ``matplotlib-*`` folder in the
temporary directory. :func:`use_private_cache_if_needed` points ``MPLCONFIGDIR`` at one private
folder, ``<tmp>/allocator-matplotlib-<uid>``, instead: made once, reused, no warning. Figures do
not depend on it (their style is reset to matplotlib's defaults, :mod:`.figsave`).
"""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path


def _writable(folder: Path) -> bool:
    """Whether ``folder`` is a writable folder, or could be made: a folder can be made in its
    nearest existing ancestor (tried, and removed at once; ``os.access`` says yes to root even
    where nothing can be made, as in ``/proc``)."""
    for here in (folder, *folder.parents):
        if here.exists():
            if not here.is_dir():
                return False
            if here == folder:
                return os.access(here, os.W_OK | os.X_OK)
            import tempfile

            try:
                os.rmdir(tempfile.mkdtemp(prefix=".allocator-probe-", dir=here))
            except OSError:
                return False
            return True
    return False


def _default_places() -> list[Path]:
    """matplotlib's own config and cache folders (``matplotlib._get_xdg_*_dir``)."""
    home = Path(os.environ.get("HOME") or "/nonexistent")
    config = os.environ.get("XDG_CONFIG_HOME") or str(home / ".config")
    cache = os.environ.get("XDG_CACHE_HOME") or str(home / ".cache")
    return [Path(config) / "matplotlib", Path(cache) / "matplotlib"]


def use_private_cache_if_needed() -> Path | None:
    """Set ``MPLCONFIGDIR`` to a private lasting folder when matplotlib's default places cannot
    be written and nobody chose one; the folder set, or ``None`` (nothing changed).

    Only before matplotlib is imported, only on POSIX (the folder must be the user's own:
    made with mode 0700, not a link, owned by this user, or it is not used).
    """
    if ("matplotlib" in sys.modules or os.environ.get("MPLCONFIGDIR") or os.name != "posix"
            or all(_writable(p) for p in _default_places())):
        return None
    import tempfile

    folder = Path(tempfile.gettempdir()) / f"allocator-matplotlib-{os.getuid()}"
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        info = os.lstat(folder)
    except OSError:
        return None
    if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid()
            or info.st_mode & 0o077 or not os.access(folder, os.W_OK | os.X_OK)):
        return None  # someone else's, or open to others: leave matplotlib to its own devices
    os.environ["MPLCONFIGDIR"] = str(folder)
    return folder
