"""The ``pounds_uncertainty:`` config section: defaults of ``allocator uncertainty RUN``.

Absent by default, and then left out of the canonical config (so every existing config's hash,
and the default run's outputs, are unchanged). It has no effect on ``allocator run``: the pounds
uncertainty is a separate command that reads a finished run directory and writes a new
directory beside it. When the run's ``config.yaml`` has the section, the command takes its
draws, workers, share, attribution sample size, chunk size and seed from it; command-line
options override them.
"""

from __future__ import annotations

from pydantic import Field, model_validator

from .._model import Sourced

MAX_POUNDS_DRAWS = 1_000_000


class PoundsUncertaintyConfig(Sourced):
    """Defaults of the pounds Monte Carlo (see the module docstring).

    Parameters
    ----------
    draws : int
        Monte Carlo draws carried to whole pounds (1 to 1,000,000).
    workers : int
        Local worker processes (results do not depend on it).
    share : float
        ``p_below_<share>``: probability of receiving less than this share of the published
        amount, in (0, 1].
    sobol_samples : int
        Base samples of the Saltelli design for the attribution in pounds (0: none).
    chunk_size : int
        Draws per task (speed only).
    seed : int, optional
        Default: ``uncertainty.seed``.
    elasticity : [float, float], optional
        Also draw the elasticity of every ``need_weighted_population`` target uniformly from
        this range (0 to 10), one value per draw; an error when no target uses that basis.
    """

    draws: int = Field(default=1000, ge=1, le=MAX_POUNDS_DRAWS)
    workers: int = Field(default=1, ge=1, le=1024)
    share: float = Field(default=0.9, gt=0, le=1)
    sobol_samples: int = Field(default=64, ge=0, le=65_536)
    chunk_size: int = Field(default=25, ge=1, le=100_000)
    seed: int | None = Field(default=None, ge=0, le=2**63 - 1)
    elasticity: tuple[float, float] | None = None

    @model_validator(mode="after")
    def _range(self) -> PoundsUncertaintyConfig:
        if self.elasticity is not None and not 0 <= self.elasticity[0] <= self.elasticity[1] <= 10:
            raise ValueError("elasticity must be [low, high] with 0 <= low <= high <= 10")
        return self


__all__ = ["PoundsUncertaintyConfig"]
