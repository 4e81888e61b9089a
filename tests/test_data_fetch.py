"""fetch_sources with a fake opener (OCU from Fingertips: tests/test_ocu_fingertips.py): recorded bytes, never the network."""

from __future__ import annotations

import hashlib

import pytest

from allocator.data import fetch
from allocator.data.catalogue import catalogue
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
