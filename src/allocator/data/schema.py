"""The contract of the areas table: what every later step may rely on.

:func:`allocator.data.load_areas` returns an :class:`AreaData` whose ``frame`` is a GeoDataFrame
with one row per English upper-tier local authority on May 2021 boundaries (152 rows), sorted by
``code``, CRS EPSG:27700, and these columns:

=====================  ==========================================================================
column                 meaning
=====================  ==========================================================================
code                   ONS GSS code (E06/E08/E09/E10), unique
name                   LA name as published by ONS (May 2021 boundaries)
region                 ONS region name (e.g. "North East")
region_code            ONS region code (E12...)
pop_all                mid-2020 population, all ages (ONS MYE on 2021 geography)
pop_15_64              mid-2020 population aged 15-64
drug_deaths_rate       ONS drug-misuse deaths, 3-year age-standardised rate per 100,000
drug_deaths_lcl        lower 95% confidence limit of that rate
drug_deaths_ucl        upper 95% confidence limit of that rate
drug_deaths_count      deaths registered in the period
drug_deaths_flag       "" or why the value is not the published rate for the period
imd_score              IMD 2019 average score (higher = more deprived)
imd_rank               IMD 2019 rank of average score (1 = most deprived)
imd_flag               "" or how the value was derived (e.g. population-weighted districts)
income_score           IoD 2019 Income domain average score (share of people income-deprived)
income_flag            "" or how the value was derived (as imd_flag)
employment_score       IoD 2019 Employment domain average score (share of working-age people
                       employment-deprived)
employment_flag        "" or how the value was derived (as imd_flag)
crime_score            crime indicator (IMD 2019 Crime domain average score by default)
crime_flag             "" or how the value was derived
ocu_rate               OCU prevalence per 1,000 aged 15-64 (only when a file is supplied)
ocu_count              estimated number of OCU users (only when a file is supplied)
ocu_flag               "" or why missing/derived (only when a file is supplied)
geometry               polygon in EPSG:27700
=====================  ==========================================================================

``AreaData.sources`` lists every file read (path, SHA-256, publisher, period, licence);
``AreaData.notes`` lists human-readable statements every output must repeat (e.g. "built without
OCU prevalence: not supplied").
"""

from __future__ import annotations

ID_COLUMNS = ["code", "name", "region", "region_code"]
POPULATION_COLUMNS = ["pop_all", "pop_15_64"]
DEATHS_COLUMNS = [
    "drug_deaths_rate",
    "drug_deaths_lcl",
    "drug_deaths_ucl",
    "drug_deaths_count",
    "drug_deaths_flag",
]
IMD_COLUMNS = ["imd_score", "imd_rank", "imd_flag"]
#: IoD 2019 domains offered as deprivation measures without the Crime domain inside them.
DOMAIN_COLUMNS = ["income_score", "income_flag", "employment_score", "employment_flag"]
CRIME_COLUMNS = ["crime_score", "crime_flag"]
OCU_COLUMNS = ["ocu_rate", "ocu_count", "ocu_flag"]
REQUIRED_COLUMNS = (ID_COLUMNS + POPULATION_COLUMNS + DEATHS_COLUMNS + IMD_COLUMNS + DOMAIN_COLUMNS
                    + CRIME_COLUMNS)

#: Indicators the index can use, with the column holding each and its unit.
INDICATORS: dict[str, dict[str, str]] = {
    "drug_deaths_rate": {"column": "drug_deaths_rate", "unit": "deaths per 100,000 (ASMR)"},
    "imd_score": {"column": "imd_score", "unit": "IMD 2019 average score"},
    "income_score": {"column": "income_score", "unit": "IoD 2019 Income domain average score"},
    "employment_score": {"column": "employment_score",
                         "unit": "IoD 2019 Employment domain average score"},
    "crime_score": {"column": "crime_score", "unit": "crime indicator score"},
    "ocu_rate": {"column": "ocu_rate", "unit": "OCU per 1,000 aged 15-64"},
}

ANALYSIS_CRS = "EPSG:27700"
MAP_CRS = "EPSG:4326"
N_UTLA_2021 = 152
