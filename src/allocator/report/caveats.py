"""One set of caveats, in plain English, said once and shared by every output a person reads.

The data and index layers record notes for developers and auditors (rule names, column names,
"pass data.ocu_file ..."); the manifest and the command line keep them as they are. Published
files (CSV headers, workbook, map, figures, summary) show :func:`plain_caveats` of them instead:
licence statements removed (the licence is said once, :data:`LICENCE`), the two OCU statements
merged into one, configuration keys and rule names put into words, duplicates dropped.

Internal citations (seed line numbers such as ``[001 L644]``, digest sections) belong in configs
and code; :func:`internal_references` finds any that leak into text meant for readers. Raw ONS
area codes are internal references too: given the run's ``{code: name}``, caveats and flags name
the areas instead (:func:`plain_flag`, :func:`named`), and :func:`ons_codes` finds any code left.
Machine-readable CSV code columns, and the manifest's notes, keep the codes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping


def licence(boundary_year: int = 2021) -> str:
    """The licence attribution of an output drawn on the ONS boundaries of ``boundary_year``."""
    return (
        f"Contains OS data © Crown copyright and database right {boundary_year}. Contains public "
        "sector information licensed under the Open Government Licence v3.0 (ONS, MHCLG/DLUHC)."
    )


def short_licence(boundary_year: int = 2021) -> str:
    """:func:`licence` in one short line, for figures."""
    return (f"Contains OS data © Crown copyright {boundary_year}; ONS, MHCLG/DLUHC data, Open "
            "Government Licence v3.0.")


#: The licence attribution, said once on every output (May 2021 boundaries).
LICENCE = licence(2021)

OCU_MISSING = (
    "The need index does not include opiate and crack cocaine use (OCU) prevalence: no "
    "local-authority estimates were supplied, so need rests on drug deaths, deprivation and crime."
)
#: Every output of a re-boundaried version (``kind: reboundary``) says this about split LAs.
REBOUNDARY_APPORTIONMENT = (
    "The pounds of an LA split by a boundary change are an apportionment of its published "
    "allocation (by the declared basis), not a re-run of the need index on the new boundaries; "
    "its need score, rank and wave are those of the LA it came from."
)

#: ... and this about the layout of its allocation.csv (``{year}``, ``{vintage}`` filled in).
REBOUNDARY_LAYOUT = (
    "In allocation.csv an LA replaced from {year} shows £0 from then on, and a new LA £0 before "
    "it (it did not exist then); allocation_new_boundaries.csv and the maps show the LAs of "
    "April {vintage} alone."
)

OCU_MISSING_SHORT = "Need index built without OCU prevalence (no local estimates supplied)."

_RULES = {
    "crude_from_counts": "a crude rate from the registered deaths is used instead",
    "region_median": "the median of their region is used instead",
    "exclude": "they are left out of the indicator",
}

# Text meant for developers or internal references, never shown to readers.
_INTERNAL = [
    re.compile(r"\[\d{3}\s+L\d+"),  # [001 L644-652]
    re.compile(r"seeds-digest", re.I),
    re.compile(r"§\s*\d"),
    re.compile(r"\bpass (?:data|index|allocation|output)\.\w+"),
    re.compile(r"\bdata\.ocu_file\b"),
    re.compile(r"\bengine assumption\b", re.I),
]


#: An ONS (GSS) area code: a country letter and eight digits, e.g. E06000060.
ONS_CODE = re.compile(r"\b[EWSNK]\d{8}\b")
#: A code, and the space before a capitalised name that follows it.
_CODE_THEN_NAME = re.compile(r"\b([EWSNK]\d{8})\b( (?=[A-Z][a-z]))?")

_RECODED_NOTE = re.compile(r"IMD 2019: (?P<old>[EWSNK]\d{8}) (?P<name>.+?) recoded to "
                           r"(?P<new>[EWSNK]\d{8}) \(same area\)\.")
_SPLIT_NOTE = re.compile(r"IMD 2019: (?P<old>[EWSNK]\d{8}) (?P<name>.+?) split into (?P<new>.+?) by "
                         r"population-weighted district scores \(weights recovered; county IMD score "
                         r"reproduced as (?P<got>[\d.]+) vs published (?P<pub>[\d.]+)\)\.")
_RECODED_FLAG = re.compile(r"recoded from (?P<old>[EWSNK]\d{8}) (?P<name>.+?) \(2019 county, same "
                           r"area\)")
_DERIVED_FLAG = re.compile(r"derived: population-weighted mean of 2019 districts of "
                           r"(?P<old>[EWSNK]\d{8}) (?P<name>.+?) \((?:[EWSNK]\d{8} [\d,]+(?:, )?)+; "
                           r"(?P<how>weights recovered from [^)]*)\)")


def ons_codes(text: str) -> list[str]:
    """Every raw ONS area code in ``text`` (empty when the text names areas in words)."""
    return ONS_CODE.findall(text)


def _and(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def named(text: str, names: Mapping[str, str]) -> str:
    """``text`` with each ONS code of a named area replaced by the name.

    A code followed by its own name (``"E06000060 Buckinghamshire"``) or by any other name (an
    abolished area, ``"E10000002 Buckinghamshire"``) loses the code; a code standing alone
    (``"E06000061"``) becomes its name when ``names`` has it. Other codes stay.
    """
    return _CODE_THEN_NAME.sub(
        lambda m: "" if m.group(2) else names.get(m.group(1), m.group(1)), text)


def la_names(table: object) -> dict[str, str]:
    """``{code: name}`` of a table with ``code`` and ``name`` columns (e.g. the allocation)."""
    return dict(zip(table["code"].astype(str), table["name"].astype(str), strict=True))  # type: ignore[index]


def plain_flag(flag: str, names: Mapping[str, str] | None = None) -> str:
    """A data flag (``imd_flag`` and the like) for readers: the abolished 2019 county by name,
    without the district codes and weights (they stay in ``index.csv`` and the manifest)."""
    text = _RECODED_FLAG.sub(lambda m: f"recoded from the 2019 county {m['name']} (same area)",
                             str(flag))
    text = _DERIVED_FLAG.sub(lambda m: "derived: population-weighted mean of its former districts "
                             f"in the 2019 county {m['name']} ({m['how']})", text)
    return named(text, names or {})


def internal_references(text: str) -> list[str]:
    """Every internal citation or developer instruction found in ``text`` (empty when clean)."""
    return [m.group(0) for pat in _INTERNAL for m in pat.finditer(text)]


def _plain(note: str, names: Mapping[str, str]) -> str | None:
    n = " ".join(str(note).split())
    low = n.lower()
    if low.startswith("source:") or "open government licence" in low:
        return None  # licence and attribution: said once, separately
    if "without ocu" in low or "without ocu_rate" in low:
        return OCU_MISSING
    m = re.match(
        r"Drug deaths (?P<p>[\w-]+): ONS suppressed the rate for (?P<n>\d+) LAs \(fewer than 10 "
        r"deaths\); treated by rule '(?P<r>\w+)'",
        n,
    )
    if m:
        how = _RULES.get(m["r"], f"they are handled by the rule '{m['r'].replace('_', ' ')}'")
        return (
            f"Drug deaths {m['p']}: ONS does not publish a rate for {m['n']} LAs with fewer than 10 "
            f"deaths; for these {how} (marked in the tables)."
        )
    m = _RECODED_NOTE.fullmatch(n)
    if m:
        new = f" {names[m['new']]}," if m["new"] in names else ""
        return (f"IMD 2019: the scores published for the 2019 county {m['name']} are used for the "
                f"unitary authority{new} which replaced it on the same area.")
    m = _SPLIT_NOTE.fullmatch(n)
    if m:
        new = [names.get(c.strip(), c.strip()) for c in m["new"].split(",")]
        return (f"IMD 2019: the 2019 county {m['name']} was split into {_and(new)}; each takes the "
                "population-weighted mean of its former districts' scores, with weights recovered "
                f"from IoD 2019 that reproduce the county's published IMD score of {m['pub']} as "
                f"{m['got']}.")
    n = re.sub(r"\s*\(flagged in \w+\)", " (marked in the tables)", n)
    n = re.sub(r"\s*and flagged in \w+", " (marked in the tables)", n)
    n = n.replace("shapely.make_valid", "a standard geometry repair")
    return named(n, names)


def plain_caveats(notes: Iterable[str], names: Mapping[str, str] | None = None) -> list[str]:
    """The notes of a run as caveats for readers: plain English, each once, in order.

    Parameters
    ----------
    notes : iterable of str
        Notes from the data and index layers (:attr:`allocator.pipeline.RunResult.notes`).
    names : mapping of str to str, optional
        ``{code: name}`` of the run's LAs: ONS codes in the notes become names.

    Returns
    -------
    list of str
    """
    out: list[str] = []
    for note in notes:
        text = _plain(note, names or {})
        if text and text not in out:
            out.append(text)
    return out


def short_caveats(caveats: Iterable[str]) -> list[str]:
    """The caveats a figure repeats in one short line each (the OCU caveat, shortened)."""
    return [OCU_MISSING_SHORT for c in caveats if c == OCU_MISSING]
