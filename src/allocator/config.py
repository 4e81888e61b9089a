"""Run configuration: YAML in, one validated, hashed :class:`RunConfig` out.

A config is YAML read with the safe loader only (duplicate keys are errors, not silent
overrides). It may ``extends:`` another config file (a path relative to itself); the two are
deep-merged, mappings key by key and everything else replaced, so a scenario names only what it
changes. The merged document is validated into typed, frozen models: an unknown key, a wrong type
or an impossible value is a :class:`~allocator.errors.ConfigError` that names the key's full
path. The canonical hash is the SHA-256 of the validated model as canonical JSON, so formatting,
comments and key order do not change it, but every value does.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, field_validator, model_validator

from ._model import Sourced, StrictModel, validate_model
from .allocate.config import AllocationConfig
from .data.config import DataConfig
from .errors import AllocatorError, ConfigError
from .index.config import IndexConfig, UncertaintyConfig
from .pounds.config import PoundsUncertaintyConfig
from .provenance import canonical_json, sha256_bytes
from .report.published import PublishedTableConfig
from .report.reconcile import ReconciliationConfig
from .report.rollup import RollupConfig
from .waves import WavesConfig

_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")

#: Largest config file read, in bytes (the published config is about 6 kB).
MAX_CONFIG_BYTES = 1_000_000
#: Deepest nesting of mappings and lists a config may have (the published config has 6).
MAX_DEPTH = 32
#: Most values (mapping entries and list items, aliases counted each time) in one config file.
MAX_NODES = 100_000
#: Longest ``extends:`` chain.
MAX_EXTENDS = 16


class OutputConfig(StrictModel):
    """What a run writes, and where.

    Parameters
    ----------
    dir : str
        Parent folder of run directories, relative to the project root, and inside it. The
        command line's ``--out DIR`` overrides it with any folder the user names explicitly.
    map, static_maps, excel, gpkg : bool
        Write ``map.html``, the PNG/PDF twins, ``allocation.xlsx`` and ``allocation.gpkg``.
    model_format : {"lp", "mps"}
        Format of the exported optimisation model.
    hex_cartogram : bool
        Also draw the static maps on the House of Commons Library hex cartogram.
    map_tiles : str, optional
        A basemap tile provider for ``map.html`` (e.g. ``"OpenStreetMap"``), shown as an optional
        layer that needs internet. Default none: the map is fully offline.
    published : PublishedTableConfig, optional
        Also write ``allocation_published.csv`` (and a ``published`` sheet in the workbook): the
        allocation in the department's published layout (see :mod:`allocator.report.published`).
    rollups : list of RollupConfig
        Groupings of LAs (e.g. Combating Drugs Partnerships, police force areas) each written as
        ``rollup_<name>.csv`` and a workbook sheet ``By <label>`` (see
        :mod:`allocator.report.rollup`). Default none.
    """

    omit_when_default = frozenset({"published", "rollups"})

    dir: str = "outputs"
    map: bool = True
    static_maps: bool = True
    excel: bool = True
    gpkg: bool = True
    model_format: Literal["lp", "mps"] = "lp"
    hex_cartogram: bool = True
    map_tiles: str | None = None
    published: PublishedTableConfig | None = None
    rollups: tuple[RollupConfig, ...] = ()

    @field_validator("rollups")
    @classmethod
    def _distinct_rollups(cls, v: tuple[RollupConfig, ...]) -> tuple[RollupConfig, ...]:
        for key in ("name", "label"):
            seen = [getattr(r, key).lower() for r in v]  # sheet names ignore case
            twice = sorted({x for x in seen if seen.count(x) > 1})
            if twice:
                raise ValueError(f"two roll-ups share the {key} {', '.join(map(repr, twice))}")
        return v

    @field_validator("dir")
    @classmethod
    def _inside_project(cls, v: str) -> str:
        p = Path(v)
        if p.is_absolute() or ".." in p.parts:
            raise ValueError(
                f"output.dir must be a folder inside the project (got {v!r}); to write elsewhere "
                "pass --out DIR on the command line"
            )
        return v


class RunConfig(Sourced):
    """A whole run: data, index, uncertainty, waves, allocation and outputs.

    Parameters
    ----------
    name : str
        Short lowercase identifier used in run directory names (``a-z0-9._-``).
    title : str, optional
        Human title shown on outputs.
    description : str, optional
        What this scenario is for.
    reconciliation : ReconciliationConfig, optional
        The envelope the allocated money comes from, lines not paid to LAs and other published
        profiles; reconciled in ``summary.md`` (see :mod:`allocator.report.reconcile`).
    pounds_uncertainty : PoundsUncertaintyConfig, optional
        Defaults of ``allocator uncertainty RUN`` (no effect on the run itself; see
        :mod:`allocator.pounds.config`).
    """

    omit_when_default = frozenset({"reconciliation", "pounds_uncertainty"})

    name: str
    title: str | None = None
    description: str | None = None
    data: DataConfig = Field(default_factory=DataConfig)
    index: IndexConfig
    uncertainty: UncertaintyConfig
    waves: WavesConfig = Field(default_factory=WavesConfig)
    allocation: AllocationConfig
    output: OutputConfig = Field(default_factory=OutputConfig)
    reconciliation: ReconciliationConfig | None = None
    pounds_uncertainty: PoundsUncertaintyConfig | None = None

    @field_validator("name")
    @classmethod
    def _name_shape(cls, v: str) -> str:
        if not _NAME.match(v):
            raise ValueError(
                f"name must be 1-64 characters of lowercase letters, digits, '.', '_' or '-', "
                f"starting with a letter or digit (got {v!r})"
            )
        return v

    @model_validator(mode="after")
    def _years_agree(self) -> RunConfig:
        labels = list(self.waves.labels)
        years = self.allocation.resolved_years()
        if labels[: len(years)] != years[: len(labels)]:
            raise ValueError(
                f"waves.labels {labels} must name the allocation years in order {years}: wave k "
                "starts in year k"
            )
        if self.output.published is not None:
            self.output.published.check_streams(list(self.allocation.streams))
        if self.reconciliation is not None:
            self.reconciliation.check_years(years)
        return self

    def canonical(self) -> dict[str, Any]:
        """The validated config as plain JSON-able data (paths as strings)."""
        return self.model_dump(mode="json")

    def hash(self) -> str:
        """SHA-256 of the canonical JSON of the validated config."""
        return sha256_bytes(canonical_json(self.canonical()).encode("utf-8"))

    def to_yaml(self) -> str:
        """The fully resolved config as YAML (what a run directory stores for replay)."""
        return yaml.safe_dump(self.canonical(), sort_keys=True, allow_unicode=True, width=100)


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe loader that rejects duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader: yaml.SafeLoader, node: yaml.MappingNode, deep: bool = False) -> dict:
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in mapping:
            raise ConfigError(
                f"duplicate key {key!r} at line {key_node.start_mark.line + 1}, column "
                f"{key_node.start_mark.column + 1}"
            )
        mapping[key] = loader.construct_object(value_node, deep=deep)
    return mapping


def _construct_timestamp(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> Any:
    try:
        return yaml.constructor.SafeConstructor.construct_yaml_timestamp(loader, node)
    except ValueError as exc:
        raise ConfigError(
            f"{node.value!r} at line {node.start_mark.line + 1}, column {node.start_mark.column + 1} "
            f"is not a valid date ({exc}); write dates as YYYY-MM-DD"
        ) from None


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping
)
_UniqueKeyLoader.add_constructor("tag:yaml.org,2002:timestamp", _construct_timestamp)


def _check_values(value: Any, path: str = "", depth: int = 0, seen: list[int] | None = None,
                  what: str = "config") -> None:
    """Reject what no config key can mean: deep nesting, NaN/inf, integers beyond 64 bits,
    and more than :data:`MAX_NODES` values (YAML aliases can multiply a small file)."""
    seen = [0] if seen is None else seen
    seen[0] += 1
    if seen[0] > MAX_NODES:
        raise ConfigError(f"more than {MAX_NODES:,} values (YAML aliases expanding?); not "
                          f"{'an' if what[0] in 'aeiou' else 'a'} {what}")
    if depth > MAX_DEPTH:
        raise ConfigError(f"'{path or '(top level)'}' is nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ConfigError(f"key {k!r} under '{path or '(top level)'}' is not text")
            _check_values(v, f"{path}.{k}" if path else k, depth + 1, seen, what)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            _check_values(v, f"{path}[{i}]", depth + 1, seen, what)
    elif isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"'{path}': {value!r} is not a finite number")
    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**63:
        raise ConfigError(f"'{path}': {value:.3g} is far too large (the limits are in the docs "
                          "of each key; money is capped at £4 * 10**15)")


def _read_yaml(path: Path, what: str = "config") -> dict[str, Any]:
    from .safe_files import check_regular_file, excerpt

    a = "an" if what[0] in "aeiou" else "a"
    if not path.exists() and not path.is_symlink():
        raise ConfigError(f"{what} file not found: {path}")
    try:
        check_regular_file(path, f"{what} file", MAX_CONFIG_BYTES)
    except AllocatorError as exc:
        raise ConfigError(str(exc)) from None
    raw = path.read_bytes()[: MAX_CONFIG_BYTES + 1]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    try:
        doc = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to be {a} {what} (more than {MAX_DEPTH} "
                          "levels)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: malformed YAML{where}: {excerpt(problem, 120)}") from None
    if doc is None:
        raise ConfigError(f"{path}: the {what} file is empty")
    if not isinstance(doc, dict):
        raise ConfigError(f"{path}: {a} {what} must be a mapping of keys, got "
                          f"{type(doc).__name__}")
    try:
        _check_values(doc, what=what)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    return doc


def read_yaml(path: str | os.PathLike[str], what: str = "config") -> dict[str, Any]:
    """Read one YAML mapping the way configs are read: safe loader, duplicate keys and
    non-finite or absurd values are errors (:class:`ConfigError` naming the file; ``what`` is
    the kind of file messages call it, e.g. ``"amendment"``)."""
    return _read_yaml(Path(path), what)


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``over`` into ``base``: mappings key by key, anything else replaced."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def read_config_document(path: str | os.PathLike[str], _seen: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Read a config file and resolve its ``extends:`` chain into one document."""
    from .safe_files import check_path_text

    try:
        p = Path(check_path_text(path, "config file")).resolve()
    except AllocatorError as exc:
        raise ConfigError(str(exc)) from None
    if p in _seen:
        chain = " -> ".join(str(s) for s in (*_seen, p))
        raise ConfigError(f"config 'extends' loops: {chain}")
    if len(_seen) >= MAX_EXTENDS:
        raise ConfigError(f"{p}: 'extends' chain is longer than {MAX_EXTENDS} files")
    doc = _read_yaml(p)
    parent = doc.pop("extends", None)
    if parent is None:
        return doc
    if not isinstance(parent, str):
        raise ConfigError(f"{p}: 'extends' must be a file path, got a {type(parent).__name__}")
    try:
        check_path_text(parent, "'extends'")
    except AllocatorError as exc:
        raise ConfigError(f"{p}: {exc}") from None
    base = read_config_document(p.parent / parent, (*_seen, p))
    return deep_merge(base, doc)


def config_from_dict(doc: Mapping[str, Any], source: str = "config") -> RunConfig:
    """Validate a config document (already merged) into a :class:`RunConfig`."""
    rasters = ((doc.get("data") or {}).get("rasters") or []) if isinstance(doc.get("data"), Mapping) else []
    extra = [r["name"] for r in rasters if isinstance(r, Mapping) and isinstance(r.get("name"), str)]
    return validate_model(RunConfig, dict(doc), source=source, context={"extra_indicators": extra})


def load_config(path: str | os.PathLike[str]) -> RunConfig:
    """Load, merge (``extends:``) and validate a YAML config file.

    Parameters
    ----------
    path : path-like
        The YAML file.

    Returns
    -------
    RunConfig

    Raises
    ------
    ConfigError
        Malformed YAML, duplicate or unknown keys, wrong types or impossible values; the message
        names the file and each key's path.
    """
    doc = read_config_document(path)
    return config_from_dict(doc, source=str(path))
