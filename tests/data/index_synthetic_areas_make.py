"""Generate tests/data/index_synthetic_areas.csv: SYNTHETIC areas table (not real data)."""

from pathlib import Path

import numpy as np
import pandas as pd

rng = np.random.default_rng(20220413)
regions = [
    "North East",
    "North West",
    "Yorkshire and The Humber",
    "East Midlands",
    "West Midlands",
    "East of England",
    "London",
    "South East",
    "South West",
]
n = 152
reg = np.array(regions)[rng.integers(0, 9, n)]
north = np.isin(reg, ["North East", "North West", "Yorkshire and The Humber"])
imd = np.round(rng.gamma(6, 3.5, n) + 8 * north, 3)
rate = np.round(np.exp(rng.normal(1.4 + 0.35 * north, 0.45, n)), 1)
pop = rng.integers(40_000, 1_400_000, n)
deaths = np.maximum(1, np.round(rate * pop / 100_000 * 3)).astype(int)
half = 1.96 * rate / np.sqrt(deaths)
crime = np.round(rng.normal(0.0 + 0.02 * (imd - imd.mean()), 0.35, n), 3)
df = pd.DataFrame(
    {
        "code": [f"{('E06', 'E08', 'E09', 'E10')[i % 4]}{i:06d}" for i in range(n)],
        "name": [f"Synthetic LA {i:03d}" for i in range(n)],
        "region": reg,
        "region_code": ["E1200000" + str(regions.index(r) + 1) for r in reg],
        "pop_all": pop,
        "pop_15_64": (pop * rng.uniform(0.6, 0.68, n)).astype(int),
        "drug_deaths_rate": rate,
        "drug_deaths_lcl": np.round(np.maximum(rate - half, 0), 2),
        "drug_deaths_ucl": np.round(rate + half, 2),
        "drug_deaths_count": deaths,
        "drug_deaths_flag": "",
        "imd_score": imd,
        "imd_rank": pd.Series(-imd).rank(method="min").astype(int),
        "imd_flag": "",
        "crime_score": crime,
        "crime_flag": "",
    }
)
df.to_csv(Path(__file__).with_name("index_synthetic_areas.csv"), index=False)
