"""Where the engine finds its source data.

Resolution order for the data directory: an explicit argument (the CLI's ``--data-dir``), else
the ``ALLOCATOR_DATA_DIR`` environment variable, else ``../shared/geodata`` next to the repository
when it exists. Anything else is an error that says how to get the data.
"""

from __future__ import annotations

import os
from pathlib import Path

from .errors import DataError

ENV_VAR = "ALLOCATOR_DATA_DIR"

#: The House of Commons Library hex cartogram, relative to the data directory (optional).
HEX_CARTOGRAM = "hex_cartogram_utla/LocalAuthorities-uppertier.gpkg"

#: Repository root when running from a source checkout (src/allocator/paths.py -> repo).
REPO_ROOT = Path(__file__).resolve().parents[2]


def default_data_dir() -> Path | None:
    """Return ``../shared/geodata`` beside the repository if it exists, else ``None``."""
    candidates = [REPO_ROOT.parent / "shared" / "geodata", Path.cwd().parent / "shared" / "geodata"]
    for c in candidates:
        if c.is_dir():
            return c.resolve()
    return None


def resolve_data_dir(data_dir: str | os.PathLike[str] | None = None) -> Path:
    """Resolve the directory holding the official source files.

    Parameters
    ----------
    data_dir : path-like, optional
        Explicit directory. Takes precedence over ``$ALLOCATOR_DATA_DIR`` and the default.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    DataError
        If no directory is given or found, or the one given does not exist.
    """
    if data_dir is not None:
        p = Path(data_dir).expanduser()
        origin = "--data-dir"
    elif os.environ.get(ENV_VAR):
        p = Path(os.environ[ENV_VAR]).expanduser()
        origin = f"${ENV_VAR}"
    else:
        found = default_data_dir()
        if found is None:
            raise DataError(
                "no data directory found. Pass --data-dir DIR, set $ALLOCATOR_DATA_DIR, or place "
                "the official files in ../shared/geodata next to the repository. On a connected "
                "machine `allocator data fetch --data-dir DIR` downloads them from their "
                "publishers (see geodata/catalogue.yaml)."
            )
        return found
    if not p.is_dir():
        raise DataError(f"data directory given by {origin} does not exist: {p}")
    return p.resolve()
