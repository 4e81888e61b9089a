"""How many draws the reported percentiles need, and what to say when there are fewer.

``allocator uncertainty`` reports the 5th, 50th and 95th percentiles of each amount over the
allocated draws (numpy's ``inverted_cdf``: the 5th percentile of ``n`` draws is the
``ceil(0.05 n)``-th smallest amount drawn, the 95th the ``ceil(0.95 n)``-th). With fewer than
20 draws they are simply the smallest and the largest amount; with fewer than 200, fewer than
10 draws lie in each 5% tail, and another seed moves them a lot. The command still computes
them (a quick look is useful), but every output says so, in the words of
:func:`percentile_caveat`.
"""

from __future__ import annotations

#: Fewest allocated draws that support the 5th and 95th percentiles: 10 draws in each 5% tail.
#: With fewer, every output says so (:func:`percentile_caveat`).
MIN_PERCENTILE_DRAWS = 200


def _nth(k: int, end: str) -> str:
    if k == 1:
        return end
    suffix = "th" if 10 <= k % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(k % 10, "th")
    return f"{k}{suffix} {end}"


def percentile_caveat(n_ok: int, *, short: bool = False) -> str | None:
    """What ``n_ok`` allocated draws cannot support, in words; ``None`` from
    :data:`MIN_PERCENTILE_DRAWS` on (or with no draw allocated: nothing is reported then).

    With ``n`` draws the 5th percentile (numpy's ``inverted_cdf``) is the ``ceil(0.05 n)``-th
    smallest amount drawn and the 95th the ``ceil(0.95 n)``-th: below 20 draws they are the
    smallest and the largest, and below 200 fewer than 10 draws lie beyond each, so another
    seed moves them a lot.
    """
    import math

    if n_ok <= 0 or n_ok >= MIN_PERCENTILE_DRAWS:
        return None
    lo = math.ceil(0.05 * n_ok)
    hi = n_ok - math.ceil(0.95 * n_ok) + 1
    if n_ok == 1:
        which = "p05, p50 and p95 are all the one amount drawn"
    else:
        which = (f"p05 is the {_nth(lo, 'smallest')} and p95 the {_nth(hi, 'largest')} amount "
                 f"of {n_ok:,} draws")
    draws = f"{n_ok:,} allocated draw{'s' if n_ok != 1 else ''}"
    if short:
        return (f"Only {draws}: too few for 5th and 95th percentiles (at least "
                f"{MIN_PERCENTILE_DRAWS} needed); {which}.")
    verdict = ("a smoke test, not a result" if lo == 1 or hi == 1 else
               "rough: another seed could move them a lot")
    return (f"only {draws}, too few to support the 5th and 95th percentiles reported (at least "
            f"{MIN_PERCENTILE_DRAWS} are needed, so that 10 draws lie in each 5% tail): {which}, "
            f"so read them as {verdict}; run with --draws {MIN_PERCENTILE_DRAWS} or more (the "
            "default is 1,000)")


__all__ = ["MIN_PERCENTILE_DRAWS", "percentile_caveat"]
