"""Offline HTML plumbing for the interactive maps.

Everything a map page needs is inlined here: Leaflet's JavaScript and CSS (vendored under
``allocator/assets``, with its images turned into ``data:`` URIs), the page's own CSS, and a small
vanilla-JS application (layers, legends, search, tooltips) that reads one JSON payload. Nothing
refers to a CDN, so a page opens from ``file://`` with no network at all.

Escaping rules: every piece of text that comes from data or configuration is escaped with
:func:`esc` before it is put into HTML; JSON embedded in a ``<script>`` goes through
:func:`script_json` so that no string can close the script element.
"""

from __future__ import annotations

import base64
import json
import re
from functools import cache
from importlib import resources
from typing import Any

from branca.element import Element, Figure, MacroElement
from jinja2 import Template

from .mapfmt import esc  # noqa: F401 - the escape every page uses, re-exported

#: Files vendored under ``allocator/assets`` (see its README.md for origin and licence).
LEAFLET_JS = "leaflet.js"
LEAFLET_CSS = "leaflet.css"
LEAFLET_IMAGES = ("layers.png", "layers-2x.png", "marker-icon.png")


def script_json(obj: Any) -> str:
    """Serialise ``obj`` as JSON that is safe inside an inline ``<script>`` element.

    ``<``, ``>`` and ``&`` become ``\\u003c`` etc., so no string (e.g. an LA name containing
    ``</script>``) can end the script early; U+2028/U+2029 are escaped for old JS engines. Keys
    are sorted so the output is deterministic.
    """
    text = json.dumps(
        obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True, allow_nan=False
    )
    return (
        text.replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _asset_bytes(name: str) -> bytes:
    return resources.files("allocator").joinpath("assets", name).read_bytes()


@cache
def leaflet_assets() -> tuple[str, str]:
    """Return Leaflet's ``(css, js)`` ready to inline.

    The CSS's ``url(images/*.png)`` references become ``data:`` URIs and the JS's
    ``sourceMappingURL`` comment is dropped, so the browser never asks for another file.
    """
    css = _asset_bytes(LEAFLET_CSS).decode("utf-8")
    for name in LEAFLET_IMAGES:
        uri = "data:image/png;base64," + base64.b64encode(_asset_bytes(name)).decode("ascii")
        css = css.replace(f"url(images/{name})", f"url({uri})")
    if re.search(r"url\((?!data:|#)", css):
        raise RuntimeError("vendored leaflet.css still refers to an external file")
    js = _asset_bytes(LEAFLET_JS).decode("utf-8")
    js = re.sub(r"//# sourceMappingURL=\S+\s*$", "", js)
    # An inline script must not contain "</script"; Leaflet's build does not, but make sure.
    if "</script" in js.lower():
        raise RuntimeError("vendored leaflet.js contains '</script'")
    return css, js


PAGE_CSS = """
html, body { height: 100%; margin: 0; padding: 0; overflow: hidden; }
body { font-family: Arial, Helvetica, sans-serif; color: #1b1b1b; background: #fff; }
.folium-map { position: fixed !important; top: 0; left: 0; right: 0; bottom: 0;
              width: 100% !important; height: 100% !important; background: #eef2f5; }
.alloc-head { position: fixed; top: 10px; left: 56px; z-index: 1000; max-width: min(470px, 38vw);
              background: #fff; padding: 6px 10px; border-radius: 4px;
              box-shadow: 0 1px 5px rgba(0,0,0,0.35); font-size: 0.8rem; line-height: 1.3; }
.alloc-head h1 { font-size: 1.02rem; margin: 0; }
.alloc-head .alloc-sub { margin: 2px 0 0 0; color: #333; }
.alloc-head .alloc-warn { margin: 2px 0 0 0; color: #1b1b1b; }
.alloc-about summary { cursor: pointer; margin-top: 3px; color: #1d5fa8; }
.alloc-about[open] { max-height: 62vh; overflow: auto; }
.alloc-foot { font-size: 0.74rem; line-height: 1.3; color: #333; }
.alloc-foot p { margin: 3px 0; }
.alloc-foot ul { margin: 2px 0 2px 16px; padding: 0; }
.alloc-foot code { font-size: 0.7rem; word-break: break-all; }
.alloc-legend { background: #fff; padding: 6px 8px; border-radius: 4px;
                box-shadow: 0 1px 5px rgba(0,0,0,0.35); font-size: 0.78rem; line-height: 1.35;
                max-width: 270px; }
.alloc-legend .lg-title { font-weight: bold; margin-bottom: 3px; white-space: normal; }
.alloc-legend .lg-note { color: #444; margin-top: 3px; font-size: 0.72rem; white-space: normal; }
.alloc-legend .lg-row { white-space: nowrap; }
.alloc-legend i.sw { display: inline-block; width: 14px; height: 12px; margin-right: 6px;
                     vertical-align: middle; border: 1px solid #777; }
.alloc-legend i.sw-outline { background: transparent; border: 2px dashed #000; }
.alloc-search { background: #fff; padding: 4px; }
.alloc-search input { width: 210px; font-size: 0.85rem; padding: 3px 4px; }
.alloc-search-msg { font-size: 0.75rem; color: #1b1b1b; max-width: 215px; }
.alloc-search-msg:empty { display: none; }
.leaflet-tooltip.alloc-tip { font-size: 0.8rem; line-height: 1.3; max-width: 460px; white-space: normal;
                             background: #fff; opacity: 1 !important; color: #1b1b1b;
                             border: 1px solid #666; box-shadow: 0 2px 8px rgba(0,0,0,0.35); }
.alloc-tip .tt-h { font-weight: bold; font-size: 0.92rem; }
.alloc-tip .tt-s { color: #444; margin-bottom: 3px; }
.alloc-tip table { border-collapse: collapse; margin-top: 3px; }
.alloc-tip th, .alloc-tip td { padding: 1px 5px; text-align: left; vertical-align: top; }
.alloc-tip table.tt-money td, .alloc-tip table.tt-money th.num { text-align: right; }
.alloc-tip table.tt-money tr.tt-total { font-weight: bold; border-top: 1px solid #999; }
.alloc-tip .tt-flag { font-weight: bold; }
.leaflet-control-layers-expanded { font-size: 0.8rem; max-height: 55vh; overflow-y: auto; overflow-x: hidden;
                                   padding: 4px 8px; }
.leaflet-control-layers-base label, .leaflet-control-layers-overlays label { margin: 0; }
.leaflet-container .leaflet-control-attribution { font-size: 12px; line-height: 1.3; white-space: normal;
                              max-width: 55vw; background: rgba(255,255,255,0.95); padding: 2px 6px; }
.alloc-label { background: none; border: none; }
.alloc-label span { display: inline-block; transform: translate(-50%, -50%); white-space: nowrap;
                    font-size: 11px; font-weight: bold; color: #111;
                    text-shadow: 0 0 3px #fff, 0 0 3px #fff, 0 0 2px #fff; pointer-events: none; }
"""

APP_JS = r"""
(function () {
  "use strict";
  var map = {{ map_name }};
  var D = {{ payload }};
  var feats = D.features;
  var layers = [];
  var base = {};
  var overlays = {};

  function styleFor(spec) {
    return function (f) {
      var k = f.properties.k[spec.i];
      var st = {fillColor: k < 0 ? D.na_color : spec.colors[k], fillOpacity: 0.85,
                color: "#555555", weight: 0.5, opacity: 1, dashArray: null};
      if (spec.outline_borderline && f.properties.b) {
        st.color = "#000000"; st.weight = 3; st.dashArray = "6 4";
      }
      return st;
    };
  }

  D.layers.forEach(function (spec, i) {
    spec.i = i;
    var idx = {};
    var lyr = L.geoJSON(feats, {
      style: styleFor(spec),
      onEachFeature: function (f, sub) {
        idx[f.properties.code] = sub;
        sub.bindTooltip(f.properties.tip, {sticky: true, direction: "auto", className: "alloc-tip", opacity: 1});
        sub.on("mouseover", function () { sub.setStyle({weight: 2.5, color: "#111111"}); });
        sub.on("mouseout", function () { lyr.resetStyle(sub); });
        sub.on("add", function () {
          var el = sub.getElement();
          if (el) { el.setAttribute("data-code", f.properties.code); el.setAttribute("data-layer", spec.key); }
        });
      }
    });
    layers.push({spec: spec, layer: lyr, idx: idx});
    base[spec.title] = lyr;
  });

  var outline = null;
  if (D.outline) {
    outline = L.geoJSON(feats, {
      filter: function (f) { return !!f.properties.b; },
      style: {fill: false, color: "#000000", weight: 3, dashArray: "6 4", opacity: 1},
      interactive: false
    });
    overlays[D.outline.title] = outline;
  }
  {% if tiles_name %}
  overlays[D.tiles_title] = {{ tiles_name }};
  {% endif %}

  // LA names once the map is zoomed in far enough for them not to crowd (zoom 8 and closer)
  var LABEL_ZOOM = 8;
  var labels = L.layerGroup(feats.features.map(function (f) {
    var span = document.createElement("span");
    span.textContent = f.properties.name;
    return L.marker(L.latLng(f.properties.pt[0], f.properties.pt[1]), {
      icon: L.divIcon({className: "alloc-label", html: span, iconSize: null}),
      interactive: false, keyboard: false
    });
  }));
  function toggleLabels() {
    if (map.getZoom() >= LABEL_ZOOM) { if (!map.hasLayer(labels)) { labels.addTo(map); } }
    else if (map.hasLayer(labels)) { map.removeLayer(labels); }
  }
  map.on("zoomend", toggleLabels);

  var current = layers[0];
  current.layer.addTo(map);
  if (D.attribution) { map.attributionControl.addAttribution(D.attribution); }

  var legend = L.control({position: "bottomright"});
  legend.onAdd = function () {
    var div = L.DomUtil.create("div", "alloc-legend");
    div.id = "alloc-legend";
    L.DomEvent.disableScrollPropagation(div);
    L.DomEvent.disableClickPropagation(div);
    return div;
  };
  legend.addTo(map);
  function drawLegend() {
    var h = current.spec.legend;
    if (outline && map.hasLayer(outline) && !current.spec.outline_borderline) { h += D.outline.legend; }
    var div = legend.getContainer();
    div.innerHTML = h;
    div.setAttribute("data-layer", current.spec.key);
  }
  map.on("baselayerchange", function (e) {
    layers.forEach(function (x) { if (x.layer === e.layer) { current = x; } });
    drawLegend();
    if (outline && map.hasLayer(outline)) { outline.bringToFront(); }
  });
  map.on("overlayadd overlayremove", drawLegend);
  drawLegend();

  var focused = null;
  function focus(code) {
    var sub = current.idx[code];
    if (!sub) { return false; }
    if (focused) {
      focused.sub.closeTooltip();
      if (focused.layer.hasLayer(focused.sub)) { focused.layer.resetStyle(focused.sub); }
    }
    focused = {sub: sub, layer: current.layer};
    map.fitBounds(sub.getBounds(), {maxZoom: 9, padding: [30, 30], animate: false});
    var pt = sub.feature.properties.pt;
    sub.setStyle({weight: 3, color: "#111111"});
    sub.openTooltip(L.latLng(pt[0], pt[1]));
    return true;
  }

  var search = L.control({position: "topright"});
  search.onAdd = function () {
    var div = L.DomUtil.create("div", "alloc-search leaflet-bar");
    var input = L.DomUtil.create("input", "", div);
    input.type = "search";
    input.id = "alloc-search-input";
    input.placeholder = "Find a local authority";
    input.setAttribute("aria-label", "Find a local authority by name or code");
    input.setAttribute("list", "alloc-la-names");
    var list = L.DomUtil.create("datalist", "", div);
    list.id = "alloc-la-names";
    feats.features.map(function (f) { return f.properties.name; }).sort().forEach(function (n) {
      var o = document.createElement("option");
      o.value = n;
      list.appendChild(o);
    });
    var msg = L.DomUtil.create("div", "alloc-search-msg", div);
    msg.id = "alloc-search-msg";
    msg.setAttribute("aria-live", "polite");
    L.DomEvent.disableClickPropagation(div);
    L.DomEvent.disableScrollPropagation(div);
    function go() {
      var q = input.value.trim().toLowerCase();
      msg.textContent = "";
      if (!q) { return; }
      var hits = feats.features.filter(function (f) {
        return f.properties.name.toLowerCase() === q || f.properties.code.toLowerCase() === q;
      });
      if (!hits.length) {
        hits = feats.features.filter(function (f) { return f.properties.name.toLowerCase().indexOf(q) >= 0; });
      }
      if (!hits.length) { msg.textContent = "No local authority matches \u201c" + input.value + "\u201d"; return; }
      if (hits.length > 1) { msg.textContent = hits.length + " matches; showing " + hits[0].properties.name; }
      focus(hits[0].properties.code);
    }
    input.addEventListener("change", go);
    input.addEventListener("keydown", function (e) { if (e.key === "Enter") { go(); } });
    return div;
  };
  search.addTo(map);
  L.control.layers(base, overlays, {collapsed: false, position: "topright"}).addTo(map);

  map.fitBounds(D.bounds, {animate: false, padding: [8, 8]});
  toggleLabels();
  window.allocatorMap = {map: map, layers: layers, outline: outline, focus: focus, labels: labels,
                         labelZoom: LABEL_ZOOM};
})();
"""


class InlineAssets(Element):
    """Leaflet's CSS and JS, and the page CSS, inlined into the page header."""

    def __init__(self) -> None:
        super().__init__()
        self._name = "InlineAssets"
        css, js = leaflet_assets()
        self._rendered = (
            f"<style>\n{css}\n</style>\n<style>{PAGE_CSS}</style>\n<script>\n{js}\n</script>"
        )

    def render(self, **kwargs: Any) -> str:
        return self._rendered


class RawHTML(Element):
    """A fixed, already-escaped piece of HTML."""

    def __init__(self, markup: str, name: str = "RawHTML") -> None:
        super().__init__()
        self._name = name
        self._markup = markup

    def render(self, **kwargs: Any) -> str:
        return self._markup


class MapApp(MacroElement):
    """The map application: layers, legend, search, tooltips and the page footer.

    Parameters
    ----------
    payload : dict
        Data read by :data:`APP_JS` (features, layer specs with legends, bounds, ...).
    footer_html : str
        Already-escaped footer markup placed under the map.
    tiles_name : str, optional
        JavaScript name of an optional tile layer to list as an overlay.
    """

    _template = Template(
        """
        {% macro html(this, kwargs) %}{{ this.footer_html }}{% endmacro %}
        {% macro script(this, kwargs) %}{{ this.app_js }}{% endmacro %}
        """
    )

    def __init__(self, payload: dict[str, Any], footer_html: str, tiles_name: str | None) -> None:
        super().__init__()
        self._name = "MapApp"
        self.payload = payload
        self.footer_html = footer_html
        self.tiles_name = tiles_name

    @property
    def app_js(self) -> str:
        return Template(APP_JS).render(
            map_name=self._parent.get_name(),
            payload=script_json(self.payload),
            tiles_name=self.tiles_name,
        )


def fix_ids(figure: Figure) -> None:
    """Replace branca's random element ids by sequential ones so output is byte-identical."""
    counter = 0
    seen: set[int] = set()

    def walk(el: Element) -> None:
        nonlocal counter
        if id(el) in seen:
            return
        seen.add(id(el))
        counter += 1
        el._id = f"{counter:04d}"
        for extra in ("header", "html", "script"):
            child = getattr(el, extra, None)
            if isinstance(child, Element):
                walk(child)
        for child in list(el._children.values()):
            walk(child)

    walk(figure)
