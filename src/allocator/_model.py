"""Base classes for typed, strict configuration models.

Every config section derives from :class:`StrictModel`: unknown keys are errors (reported with
their path by :func:`allocator.config.load_config`) and models are immutable once validated.
Policy sections also mix in :class:`Sourced`, so a number can carry where it came from, its units
and the date it takes effect (OpenFisca-style dated, sourced parameters).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any, ClassVar, TypeVar

from pydantic import (
    BaseModel,
    ConfigDict,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
)

from .errors import excerpt

M = TypeVar("M", bound=BaseModel)

#: Largest sum of money (whole pounds) a config or floor file may hold: £4 * 10**15. Larger
#: numbers are typing mistakes, and from 2**53 (about 9.007e15) whole pounds are no longer exact
#: in the solver's floating point.
MAX_POUNDS = 4 * 10**15


class StrictModel(BaseModel):
    """Pydantic model that forbids unknown keys and is frozen after validation.

    Keys named in ``omit_when_default`` (keys added after configs were first published) are left
    out of the dump while they hold their default, so the canonical config, and with it the
    config hash of every existing config and the replay of every earlier run, does not change
    when a new optional key is introduced.

    Floats must be finite: ``.inf`` or ``.nan`` anywhere in a config is an error naming the key.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, allow_inf_nan=False
    )
    omit_when_default: ClassVar[frozenset[str]] = frozenset()

    @model_serializer(mode="wrap")
    def _omit_new_defaults(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if self.omit_when_default and isinstance(data, dict):
            fields = type(self).model_fields
            for key in self.omit_when_default:
                if key in data and getattr(self, key) == fields[key].get_default(call_default_factory=True):
                    del data[key]
        return data


class Sourced(StrictModel):
    """Provenance carried by a policy parameter block.

    Attributes
    ----------
    source : str, optional
        Document and page/line the value comes from, e.g. ``"From harm to hope (2021) [001 L644]"``.
    units : str, optional
        Units of the numbers in the block, e.g. ``"GBP"`` or ``"GBP per head"``.
    effective : datetime.date, optional
        Date the parameter takes effect.
    """

    source: str | None = None
    units: str | None = None
    effective: dt.date | None = None


def _format_loc(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def format_errors(exc: ValidationError, section: str | None = None) -> list[str]:
    """One line per validation problem, each naming the key by its full path.

    Unknown keys read "unknown key 'a.b'", missing ones "missing required key 'a.b'", others
    "'a.b': message (got value)"; the offending value is shown only when it is a scalar, so a
    section-level error does not dump the whole section.
    """
    lines = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        path = _format_loc(((section,) if section else ()) + loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown key '{path}'")
        elif err["type"] == "missing":
            lines.append(f"missing required key '{path}'")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            value = err.get("input")
            shown = ("" if isinstance(value, Mapping | list | tuple | BaseModel)
                     else f" (got {excerpt(repr(value), 80)})")
            lines.append(f"'{path}': {msg}{shown}")
    return lines


def validate_model(
    model: type[M],
    data: object,
    *,
    source: str = "config",
    section: str | None = None,
    context: dict[str, Any] | None = None,
    what: str = "config",
) -> M:
    """Validate ``data`` as ``model``; on failure raise one ConfigError naming every bad key.

    Parameters
    ----------
    model : type
        The pydantic model class.
    data : mapping or model
        Raw section (as read from YAML) or an instance.
    source : str
        What the data came from (a file name), the start of the message.
    section : str, optional
        Config section the data sits under, prefixed to every key path (e.g. ``"index"``).
    context : dict, optional
        Pydantic validation context.
    what : str
        What kind of file the data is, in the message ("config", "amendment file").
    """
    from .errors import ConfigError

    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        lines = format_errors(exc, section)
        n = len(lines)
        raise ConfigError(
            f"{source}: {n} problem{'s' if n != 1 else ''} in the {what}: " + "; ".join(lines)
        ) from None
