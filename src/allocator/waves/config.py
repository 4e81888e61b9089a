"""The ``waves:`` section: sizes, labels, tie-break, locks and lock-outs (see :mod:`allocator.waves`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from .._model import Sourced, StrictModel
from ..errors import ConfigError
from ..index.ranking import DEFAULT_TIE_BREAK, TieBreakKey


class WaveLock(StrictModel):
    """Force ``code`` into ``wave`` (1-based number or label) for a stated ``reason``."""

    code: str
    wave: int | str
    reason: str = Field(min_length=1)


class WaveLockOut(StrictModel):
    """Keep ``code`` out of ``wave`` (1-based number or label) for a stated ``reason``."""

    code: str
    wave: int | str
    reason: str = Field(min_length=1)


class WavesConfig(Sourced):
    """How the ranking is cut into waves (the ``waves:`` section).

    Parameters
    ----------
    sizes : list of int, optionally ending with "rest"
        LAs per wave in order; ``"rest"`` (last only, at most once) takes every LA left. Without
        ``"rest"`` the sizes must add up to the number of LAs.
    labels : list of str
        One unique label per wave (default the financial years 2022-23, 2023-24, 2024-25).
    tie_break : list of TieBreakKey
        Keys breaking equal scores, in order; ONS code ascending is always the last key.
        Default: higher ``drug_deaths_rate`` first, then ``code``.
    locks : list of WaveLock
        LAs forced into a wave.
    lock_out : list of WaveLockOut
        LAs kept out of a wave (an LA may be locked out of several waves, not all of them).
    """

    sizes: list[int | Literal["rest"]] = Field(default_factory=lambda: [50, 50, "rest"])
    labels: list[str] = Field(default_factory=lambda: ["2022-23", "2023-24", "2024-25"])
    tie_break: list[TieBreakKey] = Field(default_factory=lambda: list(DEFAULT_TIE_BREAK))
    locks: list[WaveLock] = Field(default_factory=list)
    lock_out: list[WaveLockOut] = Field(default_factory=list)

    @field_validator("sizes")
    @classmethod
    def _sizes(cls, v: list[int | str]) -> list[int | str]:
        if not v:
            raise ValueError("give at least one wave size")
        for i, s in enumerate(v):
            if s == "rest":
                if i != len(v) - 1:
                    raise ValueError("'rest' may appear only once, as the last wave size")
            elif isinstance(s, bool) or not isinstance(s, int) or s < 1:
                raise ValueError(f"wave size {s!r} must be a positive integer or 'rest'")
        return v

    @model_validator(mode="after")
    def _consistent(self) -> WavesConfig:
        if len(self.labels) != len(self.sizes):
            raise ValueError(
                f"{len(self.sizes)} wave sizes but {len(self.labels)} labels; give one label per wave"
            )
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"wave labels must be unique, got {self.labels}")
        locked: dict[str, int] = {}
        for lock in self.locks:
            w = self.wave_number(lock.wave)
            if lock.code in locked:
                raise ValueError(
                    f"LA {lock.code} is locked more than once (waves {locked[lock.code]} and {w})"
                )
            locked[lock.code] = w
        outs: dict[str, set[int]] = {}
        for lo in self.lock_out:
            w = self.wave_number(lo.wave)
            if lo.code in locked:
                raise ValueError(
                    f"LA {lo.code} is locked both in (wave {locked[lo.code]}) and out "
                    f"(wave {w}); keep one"
                )
            outs.setdefault(lo.code, set()).add(w)
        for code, ws in outs.items():
            if len(ws) == len(self.sizes):
                raise ValueError(f"LA {code} is locked out of every wave")
        return self

    def wave_number(self, ref: int | str) -> int:
        """1-based wave number of a reference given as a number or a label."""
        if isinstance(ref, int) and not isinstance(ref, bool):
            if 1 <= ref <= len(self.sizes):
                return ref
            raise ValueError(f"wave {ref} does not exist (waves are 1..{len(self.sizes)})")
        if ref in self.labels:
            return self.labels.index(ref) + 1
        raise ValueError(f"unknown wave {ref!r}; waves are 1..{len(self.sizes)} or {self.labels}")

    def resolve_sizes(self, n_areas: int) -> list[int]:
        """Wave sizes for ``n_areas`` LAs, with ``"rest"`` filled in.

        Raises
        ------
        ConfigError
            If the sizes exceed the number of LAs, or (without ``"rest"``) do not cover them all.
        """
        fixed = [s for s in self.sizes if s != "rest"]
        total = sum(int(s) for s in fixed)
        shown = "+".join(str(s) for s in self.sizes)
        if total > n_areas or (total == n_areas and "rest" in self.sizes):
            raise ConfigError(
                f"wave sizes {shown} need more than the {n_areas} LAs in the areas table"
                + (" (leaving none for 'rest')" if total == n_areas else "")
            )
        if "rest" in self.sizes:
            return [int(s) for s in fixed] + [n_areas - total]
        if total != n_areas:
            raise ConfigError(
                f"wave sizes {shown} = {total} do not cover the {n_areas} LAs; end sizes with "
                "'rest' or make them add up"
            )
        return [int(s) for s in fixed]
