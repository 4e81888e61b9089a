"""What a published output says about its run, in plain English: method in five lines, sources
with their years, caveats and licence. Built once per run and shared by the workbook, the summary,
the CSV headers, the map and the figures.

Everything comes from the validated config and the data layer's records. Config ``source:``
fields (which carry internal citations) are never copied here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .caveats import LICENCE, la_names, plain_caveats

if TYPE_CHECKING:
    from ..config import RunConfig
    from ..pipeline import RunResult

_INDICATORS = {
    "drug_deaths_rate": "drug-misuse deaths per 100,000",
    "imd_score": "deprivation (IMD 2019 average score)",
    "crime_score": "crime",
    "ocu_rate": "opiate and crack cocaine use prevalence",
}
_NORMALISE = {
    "zscore": "standardised (z-scores)",
    "minmax": "rescaled to 0-100",
    "rank": "ranked",
    "exponential": "ranked and exponentially transformed as in the English indices of deprivation",
}
_POP = {"pop_all": "all ages", "pop_15_64": "aged 15-64"}


def _gbp(x: float) -> str:
    return f"£{x:,.0f}" if float(x).is_integer() else f"£{x:,.2f}"


def _list(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def method_lines(cfg: RunConfig, used_indicators: list[str] | None = None) -> list[str]:
    """The method in five plain sentences: need, waves, targets, rules, uncertainty."""
    ix = cfg.index
    names = used_indicators or [s.name for s in ix.indicators]
    inds = [_INDICATORS.get(n, n.replace("_", " ")) for n in names]
    weights = {s.name: s.weight for s in ix.indicators}
    if ix.weighting == "explicit" and len({weights[n] for n in names if n in weights}) == 1:
        how = "with equal weights"
    elif ix.weighting == "explicit":
        how = "with weights " + ", ".join(f"{_INDICATORS.get(n, n)} {weights[n]:g}" for n in names if n in weights)
    else:
        how = f"with {ix.weighting.upper() if ix.weighting == 'pca' else ix.weighting} weights"
    need = (
        f"Need: each local authority's need score combines {_list(inds)}, each "
        f"{_NORMALISE.get(ix.normalise, ix.normalise)}, {how}; rank 1 is the highest need."
    )
    sizes = [str(s) for s in cfg.waves.sizes]
    labels = list(cfg.waves.labels)
    parts = []
    for k, (size, label) in enumerate(zip(sizes, labels, strict=False)):
        who = "the rest" if size == "rest" else (f"the {size} highest-need LAs" if k == 0 else f"the next {size}")
        parts.append(f"{who} from {label}")
    waves = "Waves: " + "; ".join(parts) + " (place-based money starts with an LA's wave)."
    nf = ix.need_factor
    al = cfg.allocation
    basis = al.target.basis if al.target is not None else "need_x_population"
    pop = "aged 15-64" if basis.endswith("15_64") else "all ages"
    if basis.startswith("need_x_population"):
        target = (
            f"Targets: each LA's target share of each budget is its share of the population ({pop}, "
            f"mid-2020) multiplied by a need factor from {nf.low:g} (lowest need) to {nf.high:g} "
            "(highest need)."
        )
    elif basis == "population":
        target = "Targets: each LA's target share of each budget is its share of the population (mid-2020)."
    else:
        target = "Targets: every eligible LA has an equal target share of each budget."
    rules = []
    for f in al.floors:
        scope = _list([s.replace("_", "-") for s in (f.streams or list(al.streams))])
        if f.kind == "per_head" and f.amount is not None:
            rules.append(f"at least {_gbp(f.amount)} per head of {scope} money")
        elif f.kind == "fixed" and f.amount is not None:
            rules.append(f"at least {_gbp(f.amount)} a year of {scope} money once eligible")
        else:
            rules.append(f"at least the amounts in a floor file for {scope} money")
    for c in al.caps:
        if c.share_of_stream is not None:
            rules.append(f"at most {c.share_of_stream:.0%} of any stream's yearly budget")
        if c.per_head is not None:
            rules.append(f"at most {_gbp(c.per_head)} per head")
    if al.pace is not None:
        p = al.pace
        if p.no_cash_cut:
            rules.append("no cash cut from one year to the next once funded")
        if p.max_growth is not None:
            rules.append(f"growth of at most {p.max_growth:.0%} a year")
        if p.min_uplift is not None:
            rules.append(f"an uplift of at least {p.min_uplift:.0%} a year")
    rules_line = (
        "Rules: " + (_list(rules) + "; " if rules else "")
        + "a linear programme then finds whole-pound amounts as close as the rules allow to the "
        "targets, summing exactly to each budget."
    )
    u = cfg.uncertainty
    unc = (
        f"Uncertainty: {u.draws:,} random variations of the weights, methods and indicator values "
        "give each LA's likely rank range and its chance of being in the first wave (Need index sheet)."
        if u.enabled
        else "Uncertainty: not assessed in this run."
    )
    return [need, waves, target, rules_line, unc]


_PUBLISHERS = {
    "Office for National Statistics": "ONS",
    "Ministry of Housing, Communities and Local Government": "MHCLG",
    "Department for Levelling Up, Housing and Communities": "DLUHC",
    "Office for Health Improvement and Disparities": "OHID",
}
_SHORT = {
    "boundaries_ctyua_2021": "LA boundaries May 2021",
    "population_mye_2020": "population mid-2020",
    "drug_deaths_table6": "drug-misuse deaths {deaths}",
    "imd2019_utla": "IMD 2019",
    "imd2019_ltla": "IMD 2019",
    "crime_severity_2223": "crime severity 2022-23",
}


def short_sources(sources: list[dict], deaths_period: str = "") -> str:
    """One line: each publisher with its datasets and data years, e.g. "Sources: ONS (population
    mid-2020, drug-misuse deaths 2018-20); MHCLG (IMD 2019)." Look-up tables are left out."""
    by_pub: dict[str, list[str]] = {}
    for s in sources:
        key = str(s.get("key", ""))
        label = _SHORT.get(key)
        if label is None:
            if key.startswith(("lookup", "lad_changes", "hex")):
                continue
            label = str(s.get("title", key)).split(" (")[0]
        pub = str(s.get("publisher", "")).split(" (")[0].split(";")[0].strip()
        pub = _PUBLISHERS.get(pub, pub) or "user-supplied"
        label = label.format(deaths=deaths_period).strip()
        if label not in by_pub.setdefault(pub, []):
            by_pub[pub].append(label)
    return "Sources: " + "; ".join(f"{p} ({', '.join(ls)})" for p, ls in by_pub.items()) + "."


@dataclass
class Publication:
    """What every published output says about a run.

    Attributes
    ----------
    title, config_name, config_hash, run_hash : str
    years, streams : list of str
    budgets : dict
        ``{stream: {year: pounds}}``.
    method : list of str
        Five plain sentences.
    sources : list of str
        One per source file: publisher, title and data year.
    caveats : list of str
        Plain-English caveats, each once.
    licence : str
    """

    title: str
    config_name: str
    config_hash: str
    run_hash: str
    years: list[str]
    streams: list[str]
    budgets: dict[str, dict[str, int]]
    method: list[str]
    sources: list[str]
    caveats: list[str]
    licence: str = LICENCE
    description: str = ""
    source_line: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def period(self) -> str:
        return self.years[0] if len(self.years) == 1 else f"{self.years[0]} to {self.years[-1]}"


def publication(result: RunResult) -> Publication:
    """The :class:`Publication` of a run."""
    cfg = result.config
    used = [s.name for s in cfg.index.indicators if s.name in result.areas.frame.columns]
    return Publication(
        title=cfg.title or cfg.name,
        config_name=cfg.name,
        config_hash=result.config_hash,
        run_hash=result.run_hash,
        years=list(result.years),
        streams=list(result.streams),
        budgets={s: dict(sc.budget) for s, sc in cfg.allocation.streams.items()},
        method=method_lines(cfg, used),
        sources=result.sources(),
        caveats=plain_caveats(result.notes, la_names(result.allocation)),
        description=" ".join((cfg.description or "").split()),
        source_line=short_sources(result.areas.sources, str(cfg.data.deaths_period or "")),
    )
