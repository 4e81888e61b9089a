"""``allocator uncertainty RUN``: the pounds Monte Carlo of a finished run, as one function.

Reads the run directory (``config.yaml``, ``manifest.json``, ``allocation.csv`` and, for the map,
``allocation.gpkg``), loads the same data, checks that the unperturbed draw reproduces the run's
allocation exactly, runs :class:`allocator.pounds.PoundsUncertainty` and writes a new directory
beside the run (or under ``out``), never touching the run directory itself.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from .errors import DataError, OutputError


def pounds_uncertainty(
    run_dir: str | os.PathLike[str],
    *,
    draws: int | None = None,
    workers: int | None = None,
    scheduler: Any = None,
    out: str | os.PathLike[str] | None = None,
    data_dir: str | os.PathLike[str] | None = None,
    share: float | None = None,
    sobol_samples: int | None = None,
    progress: bool | None = False,
) -> tuple[Any, Path]:
    """Run the pounds uncertainty of ``run_dir`` and write its directory.

    Parameters default to the run config's ``pounds_uncertainty:`` section, else to
    :class:`~allocator.pounds.config.PoundsUncertaintyConfig` ().

    Returns
    -------
    estimator : PoundsUncertainty
        Fitted.
    path : Path
        The new directory.

    Raises
    ------
    DataError
        ``run_dir`` is not a run directory, or is an amended version, or a file it reads
        (``allocation.csv``, the config, ``allocation.gpkg``) is not the one the run wrote.
    OutputError
        ``out`` is inside ``run_dir`` or cannot be written.
    ConfigError
        The run cannot be reproduced from the data, or a parameter is out of range.
    """
    import pandas as pd

    from .config import config_from_dict, read_config_document
    from .pipeline import prepare
    from .pounds import PoundsUncertainty
    from .pounds.config import PoundsUncertaintyConfig
    from .provenance import MANIFEST_NAME, Manifest, sha256_file
    from .report.caveats import la_names, plain_caveats
    from .report.map import MapMeta
    from .report.pounds import RunInfo, write_pounds_dir
    from .report.publication import short_sources
    from .rundir import check_writable
    from .runtable import check_run_files, header_values
    from .runtable import header_lines as _header_lines

    run_dir = Path(run_dir).resolve()  # `allocator uncertainty .` inside it: beside it, named
    for name in (MANIFEST_NAME, "allocation.csv"):
        if not (run_dir / name).is_file():
            raise DataError(f"{run_dir} is not a run directory: it has no {name} (give the "
                            "folder `allocator run` wrote)", file=run_dir / name)
    parent = Path(out) if out is not None else run_dir.parent
    if parent.resolve().is_relative_to(run_dir.resolve()):
        raise OutputError(f"output folder {parent} (--out) is inside the run directory {run_dir}, which is never "
                          "changed; choose a folder outside it (default: beside the run)")
    manifest = Manifest.read(run_dir / MANIFEST_NAME)
    if manifest.ledger:
        led = manifest.ledger
        origin = os.path.normpath(run_dir / str(led.get("parent", {}).get("dir", "..")))
        raise DataError(f"{run_dir} is version {led.get('version', '?')} of a run, amended by "
                        f"'{led.get('amendment', {}).get('name', 'an amendment')}'; an amendment's "
                        "changes are not made by the config, so no draw can reproduce them: run "
                        f"`allocator uncertainty` on the run it was made from ({origin})",
                        file=run_dir / MANIFEST_NAME)
    check_run_files(run_dir, ("allocation.csv", manifest.config_file, "allocation.gpkg"),
                    manifest=manifest)
    cfg = config_from_dict(read_config_document(run_dir / manifest.config_file),
                           source=str(run_dir))
    sec = cfg.pounds_uncertainty or PoundsUncertaintyConfig()
    check_writable(parent)
    if isinstance(scheduler, str):  # before the data are loaded: a wrong address fails at once
        from .pounds.parallel import check_scheduler

        check_scheduler(scheduler)
    est = PoundsUncertainty(
        n_draws=sec.draws if draws is None else draws,
        random_state=sec.seed,
        n_jobs=sec.workers if workers is None else workers,
        scheduler=scheduler,
        share=sec.share if share is None else share,
        sobol_samples=sec.sobol_samples if sobol_samples is None else sobol_samples,
        chunk_size=sec.chunk_size,
        progress=progress,
        elasticity=sec.elasticity,
    )
    est._check_params()
    root, areas = prepare(cfg, data_dir)
    published = pd.read_csv(run_dir / "allocation.csv", comment="#", dtype={"code": str})
    est.fit(cfg, areas.frame, root, published)
    sources = header_values(_header_lines(run_dir / "allocation.csv"), "Source")
    meta = MapMeta(config_name=cfg.name, config_hash=manifest.config_hash,
                   streams=list(cfg.allocation.streams), years=cfg.allocation.resolved_years(),
                   sources=sources,
                   notes=plain_caveats(manifest.data_notes, la_names(published)),
                   source_line=short_sources(areas.sources, str(cfg.data.deaths_period or "")),
                   title=cfg.title or "Drug treatment grant: allocation to local authorities",
                   details=f"summary.md in this folder; the run's allocation.xlsx (Cover sheet), "
                           f"in {run_dir.name}")
    geometry = None
    if (run_dir / "allocation.gpkg").is_file():
        import geopandas as gpd

        geometry = gpd.read_file(run_dir / "allocation.gpkg")
    info = RunInfo(run_dir, sha256_file(run_dir / MANIFEST_NAME), meta, geometry)
    path = write_pounds_dir(est, info, parent, f"{run_dir.name}-pounds-{est.n_draws}")
    return est, path


__all__ = ["pounds_uncertainty"]
