"""The allocation ledger: amendments to a published allocation, as a chain of versions.

A grant is not allocated once: underspend is reallocated, money is clawed back, input data are
revised. Each amendment is a small YAML file naming its parent version by run hash; ``amend``
applies it and writes a NEW run directory (the next version), whose manifest links to its
parent's manifest, so an auditor can walk the chain (``history``) and re-create every version
(``replay``)::

    import allocator
    v2 = allocator.amend("outputs/<run>", "configs/amendments/underspend-2022-23.yaml")
    print(allocator.history(v2))        # the chain, oldest first
    allocator.replay_chain(v2).ok       # every version re-created, byte for byte

(:func:`.api.amend`, :func:`.chain.history`, :func:`.chain.replay_chain`.)

The amendment file
------------------
::

    parent: 1f3c...            # run_hash of the version amended (its manifest.json), >= 12 hex
    name: 2022-23 underspend    # shown by `allocator history`
    reason: LAs returned unspent place-based money at year end   # required, in words
    effective: 2023-03-01       # years that ended before this date are locked (already paid)
    # years: ["2023-24"]        # ... or instead: exactly the years this amendment may change
    unlock: []                  # locked years it may change all the same, on purpose
    changes:                    # one or more, applied in order
      - kind: reallocate
        stream: place_based
        year: "2022-23"
        returned: {Manchester: 150_000}
        no_fall: true

Unknown keys, a wrong parent hash, unknown LAs, pounds that are not whole or exceed what an LA
has, and changes to a locked year are errors (exit 2) naming the file and the key.

Kinds (one module each)
-----------------------
=================  ===========================================================================
``reallocate``     money returned by named LAs in a stream-year is shared again by the run's own
                   rules; ``no_fall: true`` keeps every other LA at or above its published amount
``claw_back``      reduce named LAs' amounts; ``to: centre`` (budget falls by exactly the sum)
                   or ``to: reallocate`` (as ``reallocate``)
``reboundary``     the allocation carried onto later LA boundaries from a given year (splits
                   apportioned by a declared basis, mergers summed, new codes carried), with
                   the map and tables on the new boundaries
``correct``        an input value revised (an indicator value for an LA, or a replacement
                   input file with its SHA-256), with a policy:
                   ``resolve_all``, ``future_years`` or ``no_worse_off`` (see its module)
=================  ===========================================================================

Adding a kind
-------------
A kind is one module here with one :class:`~.base.Kind` subclass, registered by name:

1. ``ledger/<kind>.py``: a pydantic schema for its YAML block, subclassing
   :class:`~.base.ChangeSchema` (which gives ``kind`` and an optional ``reason``; unknown keys
   are errors), and ``@register class MyKind(Kind)`` with ``name = "<kind>"``, ``schema =
   MySchema``.
2. ``check(self, ctx)`` raises ``ctx.error(key, message)`` (a ConfigError, exit 2) when the
   change cannot be made, in the user's terms: LA names (``ctx.la(text, key)`` turns a name or
   code into a code, with "did you mean"), stream, year (``ctx.require_stream_year`` refuses
   locked years), pounds (``ctx.amount(code, stream, year)``).
3. ``apply(self, ctx)`` returns an :class:`~.base.Outcome`: the whole new allocation
   (``ctx.allocation`` with its money columns changed, whole pounds), any budget change per
   stream-year, corrections, new problem areas, plain-English ``words`` for the summary and
   ``lower`` bounds to re-check. It may re-solve with the run's rules through
   :func:`~.solve.resolve` (``ctx.current_areas()`` is the problem's areas table).
4. Add the module's name to :data:`KIND_MODULES` (importing it registers the kind).

The framework then checks, on the final whole pounds and loudly, that locked years are
untouched, every stream-year sums exactly to its budget (old budget plus the declared changes),
nothing is negative, ``lower`` bounds hold and every rule of the run holds; it writes the
ledger (one row per LA x stream x year that changed: published, amendment, new amount, reason)
and the version's files (:mod:`.write`).
"""

from __future__ import annotations

from .base import KINDS, ChangeSchema, Context, Kind, Outcome, register

#: Modules of the registered kinds, imported (and so registered) on first use.
KIND_MODULES = ["reallocate", "claw_back", "correct", "reboundary"]


__all__ = ["KINDS", "KIND_MODULES", "ChangeSchema", "Context", "Kind", "Outcome", "register"]
