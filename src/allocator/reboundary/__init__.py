"""Re-boundary: carry a published allocation onto later LA boundaries from a given year.

* :mod:`.carry` - whole pounds from old codes to new ones (largest remainder, exact totals);
* :mod:`.shares` - the declared split basis (mid-2020 population, or a user's share file);
* :mod:`.amend` - the change as written in an amendment, the amended table and ledger rows;
* :mod:`.recheck` - the run's rules re-checked on the new boundaries, on the final pounds.

The mapping itself is derived from ONS's files by :mod:`allocator.data.vintage`.
"""
