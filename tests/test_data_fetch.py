"""fetch_sources / fetch_ocu with a fake opener: recorded bytes, never the network."""

from __future__ import annotations

import hashlib

import pandas as pd
import pytest

from allocator.data import fetch
from allocator.data.catalogue import catalogue
from allocator.data.ocu import read_ocu
from allocator.errors import DataError
from allocator.paths import default_data_dir

DATA_DIR = default_data_dir()
needs_data = pytest.mark.skipif(DATA_DIR is None, reason="shared/geodata not present")


@needs_data
def test_fetch_sources_verifies_and_reports(tmp_path):
    by_url = {s.download_url: (DATA_DIR / s.path).read_bytes()
              for s in catalogue().values() if s.download_url and not s.derived}
    calls = []

    def opener(url):
        calls.append(url)
        return by_url[url]

    rep = fetch.fetch_sources(tmp_path, opener=opener)
    assert sorted(calls) == sorted(by_url)
    assert "lad_changes" in rep.fetched and "population_mye_2020" in rep.fetched
    assert "drug_deaths_table6" in rep.needs_conversion  # a CSV conversion: not downloadable
    for key in rep.fetched:
        src = catalogue()[key]
        assert hashlib.sha256((tmp_path / src.path).read_bytes()).hexdigest() == src.sha256
    # a second run verifies what is there without downloading
    calls.clear()
    fetch.fetch_sources(tmp_path, opener=opener)
    assert calls == []


def test_fetch_sources_rejects_a_different_file(tmp_path):
    with pytest.raises(DataError, match="differs from the catalogue"):
        fetch.fetch_sources(tmp_path, opener=lambda url: b"<html>moved</html>",
                            keys=["lad_changes"])
    assert not (tmp_path / catalogue()["lad_changes"].path).exists()


def test_fetch_sources_records_network_failures(tmp_path):
    def down(url):
        raise OSError("no route to host")

    rep = fetch.fetch_sources(tmp_path, opener=down, keys=["lad_changes"])
    assert "no route to host" in rep.failed["lad_changes"]
    assert "FAILED lad_changes" in rep.to_text()


def test_fetch_ocu_writes_the_documented_schema(tmp_path):
    # SYNTHETIC Fingertips-shaped answer (values invented for the test)
    recorded = (
        b"Indicator ID,Area Code,Area Name,Area Type,Sex,Age,Time period,Value,Count\n"
        b"9,E92000001,England,England,Persons,15-64 yrs,2016/17,8.9,313971\n"
        b"9,E06000002,Middlesbrough,UTLA,Persons,15-64 yrs,2015/16,20.0,1800\n"
        b"9,E06000002,Middlesbrough,UTLA,Persons,15-64 yrs,2016/17,21.5,1900\n"
        b"9,E06000001,Hartlepool,UTLA,Persons,15-64 yrs,2016/17,18.2,1050\n"
    )
    seen = []
    out = fetch.fetch_ocu(tmp_path / "ocu.csv", indicator_id=9, area_type_id=502,
                          opener=lambda url: seen.append(url) or recorded)
    assert "indicator_ids=9" in seen[0] and "child_area_type_id=502" in seen[0]
    df = pd.read_csv(out, dtype=str)
    assert list(df.columns) == ["code", "rate_per_1000_15_64", "count", "year", "source"]
    assert df["code"].tolist() == ["E06000001", "E06000002"]
    assert df["rate_per_1000_15_64"].tolist() == ["18.2", "21.5"]
    got = read_ocu(out, {"E06000001": "Hartlepool", "E06000002": "Middlesbrough"})
    assert got["ocu_rate"].tolist() == [18.2, 21.5]
