"""Drive a real headless Chromium against map.html (SYNTHETIC allocation on real boundaries).

Checks what a minister relies on: the page loads from ``file://`` with no other request, shows
no console error, every layer in the layer control switches (with its own legend), the tooltip of
a named LA shows the same pounds as the frame's money columns, search finds an LA, and an LA
name carrying HTML is shown as text. Saves screenshots under ``test-artifacts/``.

Skipped when Chromium is not installed, unless ``CI`` is set (then it must run).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from allocator.paths import REPO_ROOT
from allocator.report.map import money_column, write_compare_map, write_map, year_key
from test_map_synthetic import STREAMS, YEARS, synthetic_frame, synthetic_meta

pytestmark = pytest.mark.browser

CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = REPO_ROOT / "test-artifacts"
EVIL = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">Hartlepool'


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


@pytest.fixture(scope="module")
def driver() -> Iterator[object]:
    binary = _chromium()
    ci = os.environ.get("CI", "").lower() not in ("", "0", "false", "no")
    if binary is None or not CHROMEDRIVER.exists():
        if ci:
            pytest.fail("CI is set but chromium / /usr/bin/chromedriver are not installed")
        pytest.skip(
            "chromium and /usr/bin/chromedriver not installed (apt-get install chromium chromium-driver)"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="alloc-chromium-")
    opts = webdriver.ChromeOptions()
    opts.binary_location = binary
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        "--window-size=1400,1000",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    drv = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=opts)
    drv.set_page_load_timeout(60)
    try:
        yield drv
    finally:
        drv.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _load(drv: object, path: Path) -> None:
    drv.get_log("performance")  # drop earlier entries
    drv.get_log("browser")
    drv.get(path.resolve().as_uri())
    deadline = time.time() + 30
    while time.time() < deadline:
        if drv.execute_script("return !!(window.allocatorMap && window.allocatorMap.map)"):
            return
        time.sleep(0.1)
    raise AssertionError(f"map application did not start; console: {drv.get_log('browser')}")


def _requested_urls(drv: object) -> list[str]:
    urls = []
    for entry in drv.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    urls += drv.execute_script(
        "return performance.getEntriesByType('resource').map(function (e) { return e.name; })"
    )
    return urls


def _console_errors(drv: object) -> list[dict]:
    return [e for e in drv.get_log("browser") if e.get("level") in ("SEVERE", "ERROR")]


def _pounds(text: str) -> float:
    m = re.fullmatch(r"\s*(-?)£([\d,]+(?:\.\d+)?)\s*", text)
    assert m, f"not a pounds figure: {text!r}"
    v = float(m.group(2).replace(",", ""))
    return -v if m.group(1) else v


def _hover(drv: object, lat: float, lon: float) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    x, y = drv.execute_script(
        "var p = window.allocatorMap.map.latLngToContainerPoint([arguments[0], arguments[1]]);"
        "return [p.x, p.y];",
        lat,
        lon,
    )
    el = drv.find_element(By.CSS_SELECTOR, ".folium-map")
    w, h = el.size["width"], el.size["height"]
    ActionChains(drv).move_to_element_with_offset(el, int(x - w / 2), int(y - h / 2)).perform()


def _network(urls: list[str]) -> list[str]:
    """URLs that would leave the machine: anything but the page's own file://, data: and blob:
    resources, and the browser's internal chrome:// / about: pages (its new-tab favicon, say),
    which never touch the network."""
    local = ("file://", "data:", "blob:", "chrome://", "chrome-untrusted://", "about:", "devtools://")
    return [u for u in urls if not u.startswith(local)]


def _tooltip_cells(drv: object) -> dict[str, str]:
    return drv.execute_script(
        "var out = {}; document.querySelectorAll('.leaflet-tooltip [data-col]').forEach("
        "function (e) { out[e.getAttribute('data-col')] = e.textContent; }); return out;"
    )


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object]:
    frame = synthetic_frame()
    frame.loc[frame["code"] == "E06000001", "name"] = EVIL
    path = write_map(frame, synthetic_meta(), tmp_path_factory.mktemp("map") / "map.html")
    return path, frame


def test_page_is_offline_and_error_free(driver: object, built: tuple[Path, object]) -> None:
    path, _ = built
    _load(driver, path)
    time.sleep(0.5)
    urls = _requested_urls(driver)
    assert urls, "no request recorded at all: the performance log is not working"
    leaving = _network(urls)
    assert leaving == [], f"requests leaving file://: {leaving}"
    assert path.resolve().as_uri() in urls
    assert _console_errors(driver) == []
    n = driver.execute_script("return document.querySelectorAll('path[data-code]').length")
    assert n == 152
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "map.png"))


def test_every_layer_toggles_with_its_own_legend(
    driver: object, built: tuple[Path, object]
) -> None:
    from selenium.webdriver.common.by import By

    path, frame = built
    _load(driver, path)
    labels = driver.find_elements(By.CSS_SELECTOR, ".leaflet-control-layers-base label")
    keys = driver.execute_script(
        "return window.allocatorMap.layers.map(function (l) { return l.spec.key; })"
    )
    expected = (
        ["wave", "score"]
        + [f"total_{year_key(y)}" for y in YEARS]
        + ["total", "per_head", "p_wave_1"]
    )
    assert keys == expected
    assert len(labels) == len(keys)
    seen_legends = set()
    for label, key in zip(labels, keys, strict=True):
        label.click()
        time.sleep(0.15)
        legend = driver.find_element(By.ID, "alloc-legend")
        assert legend.get_attribute("data-layer") == key
        assert legend.text not in seen_legends
        seen_legends.add(legend.text)
        on_map = driver.execute_script(
            "return Array.from(document.querySelectorAll('path[data-code]'))"
            ".map(function (p) { return p.getAttribute('data-layer'); })"
        )
        assert on_map == [key] * 152, f"layer {key} did not replace the others"
        checked = label.find_element(By.TAG_NAME, "input").is_selected()
        assert checked
    # the borderline outline overlay switches on and off
    n_border = int(frame["borderline"].sum())
    assert n_border > 0
    overlay = driver.find_element(By.CSS_SELECTOR, ".leaflet-control-layers-overlays label")
    count = "return document.querySelectorAll('.leaflet-overlay-pane path').length"
    before = driver.execute_script(count)
    overlay.click()
    time.sleep(0.15)
    assert driver.execute_script(count) == before + n_border
    assert "borderline" in driver.find_element(By.ID, "alloc-legend").text
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "map_p_wave_1.png"))
    overlay.click()
    time.sleep(0.15)
    assert driver.execute_script(count) == before
    assert _console_errors(driver) == []


def test_tooltip_of_named_la_shows_the_frames_pounds(
    driver: object, built: tuple[Path, object]
) -> None:
    path, frame = built
    _load(driver, path)
    row = frame.loc[frame["name"] == "Leeds"].iloc[0]
    geo = frame.loc[frame["name"] == "Leeds"].to_crs("EPSG:4326").geometry.iloc[0]
    pt = geo.representative_point()
    _hover(driver, pt.y, pt.x)
    time.sleep(0.3)
    text = driver.execute_script(
        "var t = document.querySelector('.leaflet-tooltip'); return t ? t.innerText : null;"
    )
    assert text is not None, "no tooltip appeared on hover"
    assert "Leeds" in text and row["code"] in text
    cells = _tooltip_cells(driver)
    expected_cols = [money_column(s, y) for s in STREAMS for y in YEARS]
    expected_cols += [f"total_{year_key(y)}" for y in YEARS] + ["total", "target_total"]
    for col in expected_cols:
        assert col in cells, f"tooltip lacks {col}"
        assert abs(_pounds(cells[col]) - float(row[col])) <= 0.5, (col, cells[col], row[col])
    assert abs(_pounds(cells["per_head"]) - float(row["per_head"])) <= 0.005
    assert f"Need rank {int(row['rank'])} of 152" in text.replace("\t", " ")
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "map_tooltip.png"))


def test_search_finds_an_la_and_escapes_html_names(
    driver: object, built: tuple[Path, object]
) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    path, frame = built
    _load(driver, path)
    box = driver.find_element(By.ID, "alloc-search-input")
    box.send_keys("Cornwall", Keys.ENTER)
    time.sleep(0.3)
    tip = driver.execute_script(
        "var t = document.querySelector('.leaflet-tooltip'); return t && t.innerText;"
    )
    assert tip and "Cornwall" in tip and "E06000052" in tip
    box.clear()
    box.send_keys("Atlantis", Keys.ENTER)
    assert "No local authority matches" in driver.find_element(By.ID, "alloc-search-msg").text
    # the LA whose name carries markup: shown as text, nothing executed, nothing fetched
    box.clear()
    box.send_keys("E06000001", Keys.ENTER)
    time.sleep(0.3)
    tip = driver.execute_script(
        "var t = document.querySelector('.leaflet-tooltip'); return t && t.innerText;"
    )
    assert tip and "<script>window.__pwned=1</script>" in tip
    assert driver.execute_script("return window.__pwned === undefined")
    assert (
        driver.execute_script(
            "return document.querySelectorAll('.leaflet-tooltip img, .leaflet-tooltip script').length"
        )
        == 0
    )
    assert [u for u in _requested_urls(driver) if u.endswith("/x")] == []
    assert _console_errors(driver) == []


def test_compare_map_loads_offline(driver: object, tmp_path: Path) -> None:
    a = synthetic_frame(seed=7)
    b = synthetic_frame(seed=8)
    path = write_compare_map(
        a, b, synthetic_meta(), synthetic_meta(config_name="synthetic-b"), tmp_path / "compare.html"
    )
    _load(driver, path)
    time.sleep(0.3)
    urls = _requested_urls(driver)
    assert _network(urls) == []
    assert _console_errors(driver) == []
    keys = driver.execute_script(
        "return window.allocatorMap.layers.map(function (l) { return l.spec.key; })"
    )
    assert keys == ["change", "change_pct", "move"]
    ARTIFACTS.mkdir(exist_ok=True)
    driver.save_screenshot(str(ARTIFACTS / "compare_map.png"))
