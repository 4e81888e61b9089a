"""``amend``: apply an amendment file to a version and write the next version.

Steps: read the parent version and the amendment; check the amendment names the parent's run
hash; for each change, ``check`` then ``apply`` its kind; then check the result on the final
whole pounds, loudly: the years the amendment may not change are exactly as published, every
stream-year sums exactly to its old budget plus the budget changes the kinds declared, no
amount is negative, no LA protected by ``no_fall`` is below its published amount, and every
rule of the run holds (:func:`allocator.ledger.solve.verify_rules`).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

from ..columns import money_column
from ..errors import ConfigError, SolverError
from ..provenance import Manifest, canonical_json, sha256_bytes
from ..runtable import check_run_files, header_values
from .base import Context
from .schema import Amendment, parse_amendment
from .solve import budgets_of, recompute_totals, verify_rules
from .version import Version, read_version
from .write import Amended, ledger_rows, write_version


def _read_amendment_bytes(path: Path) -> tuple[bytes, Amendment]:
    from ..config import read_yaml

    raw = read_yaml(path, "amendment")  # safe YAML; a small regular UTF-8 file
    return path.read_bytes(), parse_amendment(raw, str(path))


def check_locked(published: pd.DataFrame, final: pd.DataFrame, streams: list[str],
                 locked: list[str]) -> None:
    """Raise SolverError if any LA's pounds changed in a locked year."""
    bad = []
    codes = sorted(set(published["code"]) | set(final["code"]))
    for y in locked:
        for s in streams:
            col = money_column(s, y)
            before = published.set_index("code")[col].reindex(codes, fill_value=0)
            diff = before != final.set_index("code")[col].reindex(codes, fill_value=0)
            bad += [f"{c} {col}" for c in diff.index[diff.to_numpy()]]
    if bad:
        raise SolverError(f"an amendment changed a locked year: {', '.join(bad[:10])}")


def check_budgets(before: Mapping[tuple[str, str], int], after: Mapping[tuple[str, str], int],
                  change: Mapping[tuple[str, str], int]) -> None:
    """Raise SolverError unless every stream-year sums to its old budget plus its change."""
    bad = [f"{s} {y}: £{after[(s, y)]:,} but the budget is £{before[(s, y)] + change.get((s, y), 0):,}"
           for (s, y) in before if after[(s, y)] != before[(s, y)] + change.get((s, y), 0)]
    if bad:
        raise SolverError("an amended stream-year does not sum to its budget: " + "; ".join(bad))


def check_lower(final: pd.DataFrame, lower: Mapping[tuple[str, str, str], int]) -> None:
    """Raise SolverError if an LA protected by ``no_fall`` ends below its published amount."""
    now = final.set_index("code")
    bad = [f"{c} {money_column(s, y)}: £{int(now.at[c, money_column(s, y)]):,} < £{v:,}"
           for (c, s, y), v in sorted(lower.items()) if int(now.at[c, money_column(s, y)]) < v]
    if bad:
        raise SolverError("no_fall broken: " + "; ".join(bad[:10]))


def carry_replacements(inputs: Mapping[str, str], corrections: list[dict[str, Any]],
                       replacements: Mapping[str, Path]
                       ) -> tuple[dict[str, str], Callable[[Path, list[str]], None] | None]:
    """The version's input hashes with the replacement files in force, and a writer copying
    those files into the version (``inputs/``), so every version holds what it was built from."""
    in_force = [c for c in corrections if "input" in c]
    out = dict(inputs)
    for c in in_force:
        out[c["input"]] = c["sha256"]
    if not in_force:
        return out, None

    def write(folder: Path, header: list[str]) -> None:
        for c in in_force:
            target = folder / c["file"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(Path(replacements[c["sha256"]]).read_bytes())

    return out, write


def names_files(section: Any) -> bool:
    """Whether a dumped config section names a relative file anywhere (a ``path`` or ``file``
    key), i.e. needs the data folder such paths are read from."""
    if isinstance(section, Mapping):
        return any((k in ("path", "file") and v is not None and not Path(v).is_absolute())
                   or names_files(v) for k, v in section.items())
    if isinstance(section, list | tuple):
        return any(names_files(v) for v in section)
    return False


def build_version(parent: Version, amendment_path: str | Path, *, parent_dir: str,
                  data_dir: str | Path | None = None, cache: bool | None = None,
                  root_dir: Path | None = None,
                  areas: Callable[..., pd.DataFrame] | None = None) -> Amended:
    """Apply the amendment at ``amendment_path`` to ``parent``; return the next version.

    ``parent_dir`` is the parent's folder as recorded in the new manifest (relative to the
    new version's folder); ``root_dir`` the chain's run folder (default: ``parent``'s when it is
    the run). ``areas`` replaces the problem-areas builder (default
    :func:`allocator.ledger.areas.areas_builder` on the run's config and the data); with
    ``areas`` and no ``data_dir`` the data folder is not looked for unless the config's
    allocation names a file (floors, eligibility) or a change needs it (a re-boundary).
    """
    from ..paths import resolve_data_dir
    from .areas import areas_builder

    path = Path(amendment_path)
    data, am = _read_amendment_bytes(path)
    if not parent.run_hash.startswith(am.doc.parent):
        raise ConfigError(f"{path}: 'parent': names run hash {am.doc.parent}, but "
                          f"{parent.path} has run hash {parent.run_hash} (this amendment is for "
                          "another version)")
    check_run_files(parent.path, ("allocation.csv", parent.manifest.config_file),
                    manifest=parent.manifest)
    config = parent.config()
    streams, years = list(config.allocation.streams), config.allocation.resolved_years()
    open_years = am.open_years(years)
    locked = [y for y in years if y not in open_years]
    root = (resolve_data_dir(data_dir) if areas is None or data_dir is not None
            or names_files(config.allocation.model_dump()) else None)
    published = parent.allocation
    replacements = {c["sha256"]: parent.path / c["file"] for c in parent.corrections
                    if "input" in c}
    ctx = Context(source=str(path), reason=am.doc.reason, config=config, published=published,
                  allocation=published.copy(), open_years=open_years,
                  effective=am.doc.effective, corrections=parent.corrections,
                  problem_areas=areas or areas_builder(config, root, cache=cache,
                                                             files=replacements),
                  inputs=dict(parent.manifest.inputs), files=replacements,
                  data_dir=root,
                  root_dir=root_dir or (parent.path if parent.number == 1 else None))
    if any(k.name != "reboundary" for k in am.kinds):
        extra = sorted(set(published["code"]) - set(ctx.current_areas()["code"]))
        if extra:
            raise ConfigError(
                f"{path}: 'changes': {parent.label()} holds LAs the run's data does not have "
                f"({', '.join(extra[:6])}): it was carried onto other boundaries (kind: "
                "reboundary), where the run's rules cannot be re-solved. Amend the version "
                "before the re-boundary, then re-boundary the result")
    budget_change: dict[tuple[str, str], int] = {}
    lower: dict[tuple[str, str, str], int] = {}
    reasons: dict[tuple[str, str, str], list[str]] = {}
    words: list[str] = []
    caveats: list[str] = []
    sources: list[str] = []
    files: list[Any] = []
    rechecked = False
    solver: list[dict[str, Any]] = []
    for kind in am.kinds:
        kind.check(ctx)
        out = kind.apply(ctx)
        new = recompute_totals(out.allocation, streams, years)
        for r in ledger_rows(ctx.allocation, new, streams, years, "").itertuples():
            cell = (r.code, r.stream, r.year)
            reasons.setdefault(cell, []).append(out.reasons.get(cell, kind.reason(ctx)))
        for k, v in out.budget_change.items():
            budget_change[k] = budget_change.get(k, 0) + v
        lower.update(out.lower)
        ctx.allocation = new
        ctx.corrections = [*ctx.corrections, *out.corrections]
        if out.areas is not None:
            ctx.areas = out.areas
        words += out.words
        caveats += [c for c in out.caveats if c not in caveats]
        sources += [c for c in out.sources if c not in sources]
        files += [out.files] if out.files is not None else []
        rechecked = rechecked or out.rules_rechecked
        solver.append({"change": kind.key, "kind": kind.name, **out.solver})
    final = ctx.allocation
    check_locked(published, final, streams, locked)
    before, after = budgets_of(published, streams, years), budgets_of(final, streams, years)
    check_budgets(before, after, budget_change)
    money = [money_column(s, y) for s in streams for y in years]
    if (final[money] < 0).to_numpy().any():
        raise SolverError("an amended amount is negative")
    check_lower(final, lower)
    if not rechecked:
        verify_rules(config, ctx.current_areas(), final, ctx.data_dir)

    ledger = ledger_rows(published, final, streams, years, "")
    ledger["reason"] = ["; ".join(dict.fromkeys(reasons.get((r.code, r.stream, r.year), [])))
                        for r in ledger.itertuples()]
    ledger = ledger.sort_values(["stream", "year", "code"], kind="stable").reset_index(drop=True)
    number = parent.number + 1
    pm = parent.manifest
    inputs, carried = carry_replacements(pm.inputs, ctx.corrections, replacements)
    files = [*([carried] if carried is not None else []), *files]
    amendment_hash = sha256_bytes(canonical_json(am.raw).encode("utf-8"))
    run_hash = sha256_bytes(canonical_json({"parent": parent.run_hash, "amendment": amendment_hash,
                                            "inputs": inputs}).encode("utf-8"))
    info = {
        "version": number,
        "parent": {"run_hash": parent.run_hash, "manifest_sha256": parent.manifest_sha256,
                   "dir": parent_dir},
        "root_run_hash": parent.root_run_hash,
        "amendment": {"file": "amendment.yaml", "sha256": sha256_bytes(data),
                      "content_sha256": amendment_hash, "name": am.doc.name,
                      "reason": am.doc.reason,
                      "effective": None if am.doc.effective is None else am.doc.effective.isoformat(),
                      "years": am.doc.years, "unlock": list(am.doc.unlock)},
        "open_years": open_years,
        "corrections": ctx.corrections,
        "budget_change": {money_column(s, y): v for (s, y), v in sorted(budget_change.items())},
        "pounds_up": int(ledger["amendment"].clip(lower=0).sum()),
        "pounds_down": int(-ledger["amendment"].clip(upper=0).sum()),
    }
    manifest = Manifest(config_name=pm.config_name, config_hash=pm.config_hash, run_hash=run_hash,
                        seed=pm.seed, inputs=inputs, outputs={}, versions={},
                        solver={"changes": solver}, data_notes=list(pm.data_notes),
                        config=pm.config, config_file=pm.config_file,
                        areas_sha256=pm.areas_sha256, ledger=info)
    return Amended(
        number=number, title=config.title or config.name, config_name=config.name,
        run_hash=run_hash, allocation=final[list(published.columns)], ledger=ledger,
        amendment_bytes=data, config_bytes=(parent.path / pm.config_file).read_bytes(),
        manifest=manifest, streams=streams, years=years, locked=locked, words=words,
        budgets_before=before, budgets_after=after,
        sources=[*header_values(parent.header, "Source"), *sources],
        caveats=[*header_values(parent.header, "Caveat"), *caveats],
        files=files,
    )


def version_name(a: Amended) -> str:
    """``<date>-<config name>-v<n>-<short run hash>``."""
    return f"{dt.date.today().isoformat()}-{a.config_name}-v{a.number}-{a.run_hash[:8]}"


def amend(parent_dir: str | os.PathLike[str], amendment: str | os.PathLike[str], *,
          out: str | os.PathLike[str] | None = None, data_dir: str | os.PathLike[str] | None = None,
          cache: bool | None = None) -> Path:
    """Amend the version in ``parent_dir`` with the file ``amendment``; write the next version.

    Parameters
    ----------
    parent_dir : path-like
        A run directory (version 1) or an amended version.
    amendment : path-like
        The amendment YAML (see :mod:`allocator.ledger`).
    out : path-like, optional
        Folder receiving the new version (default: the parent's folder, beside it).
    data_dir : path-like, optional
        The data folder (default resolution as for ``run``).
    cache : bool, optional
        Override the config's areas cache (``--no-cache``).

    Returns
    -------
    Path
        The new version's folder (never an existing one).

    Raises
    ------
    ConfigError
        A bad amendment (exit 2), naming the file and key.
    """
    from ..errors import OutputError
    from ..rundir import check_writable
    from .version import chain

    parent = read_version(parent_dir)
    dest = Path(out) if out is not None else parent.path.resolve().parent
    versions = chain(parent.path)
    for v in versions:  # a published version is never changed: a folder in it breaks its replay
        if dest.resolve().is_relative_to(v.path.resolve()):
            raise OutputError(f"output folder {dest} (--out) is inside {v.label()} at {v.path}, "
                              "which is never changed; choose a folder outside it (default: "
                              "beside the version amended)")
    check_writable(dest)
    rel = os.path.join("..", os.path.relpath(parent.path.resolve(), dest.resolve()))
    built = build_version(parent, amendment, parent_dir=Path(rel).as_posix(), data_dir=data_dir,
                          root_dir=versions[0].path, cache=cache)
    return write_version(built, dest, version_name(built))


__all__ = ["amend", "build_version", "check_budgets", "check_locked", "check_lower",
           "version_name"]
