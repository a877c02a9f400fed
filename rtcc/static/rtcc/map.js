// The console's maps (the fleet, where and when): the vendored Leaflet with the console's tile
// setting, a circle marker per box and per camera coloured by state through CSS classes, and a
// camera's facing as a wedge. Tiles only when a tile server is configured; without one the
// markers sit on a blank ground and nothing is fetched from anywhere but the console.
var rtccMap = (function () {
  "use strict";
  var SVG = "http://www.w3.org/2000/svg";
  var WEDGE_RADIUS = 22; // pixels: the same size at every zoom, a direction rather than a range
  var WEDGE_HALF = 25; // degrees either side of the facing: a typical lens's ~50° view

  function create(element, tileUrl) {
    var map = L.map(element, { attributionControl: !!tileUrl, zoomSnap: 0.25 });
    if (tileUrl) {
      L.tileLayer(tileUrl, { maxZoom: 19, attribution: "Map tiles: " + new URL(tileUrl.replace("{s}", "a")).host }).addTo(map);
    }
    // Wedges go under the markers (rtcc.css puts this pane below the overlay pane), so a
    // camera's dot stays on top of its own wedge and every dot stays clickable.
    map.createPane("rtccFacing");
    return map;
  }

  function marker(m) {
    var circle = L.circleMarker([m.lat, m.lon], {
      radius: m.kind === "box" ? 10 : 5,
      weight: m.kind === "box" ? 3 : 1,
      className: "rtcc-marker rtcc-marker-" + m.kind + " marker-" + m.state,
      fillOpacity: m.kind === "box" ? 0.35 : 0.9,
    });
    circle.bindTooltip(m.tip);
    return circle;
  }

  // A point `WEDGE_RADIUS` from the centre at compass bearing `degrees` (0 north, 90 east);
  // the screen's y axis points down, so north is -y.
  function point(degrees) {
    var a = (degrees * Math.PI) / 180;
    return (WEDGE_RADIUS * Math.sin(a)).toFixed(2) + " " + (-WEDGE_RADIUS * Math.cos(a)).toFixed(2);
  }

  // The camera's facing as a wedge drawn in plain SVG inside a non-interactive marker, or null
  // for a camera whose facing is not known (drawn as a dot only, as before).
  function facing(m) {
    if (typeof m.facing !== "number") {
      return null;
    }
    var size = 2 * WEDGE_RADIUS + 4;
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", size);
    svg.setAttribute("height", size);
    svg.setAttribute("viewBox", [-size / 2, -size / 2, size, size].join(" "));
    var path = document.createElementNS(SVG, "path");
    path.setAttribute("class", "rtcc-wedge marker-" + m.state);
    // From the centre out to the left edge, clockwise along the arc to the right edge, back.
    path.setAttribute("d", "M0 0 L" + point(m.facing - WEDGE_HALF) + " A" + WEDGE_RADIUS + " " + WEDGE_RADIUS + " 0 0 1 " + point(m.facing + WEDGE_HALF) + " Z");
    path.dataset.camera = m.id;
    path.dataset.facing = String(m.facing);
    svg.appendChild(path);
    var icon = L.divIcon({ className: "rtcc-facing", html: svg, iconSize: [size, size] });
    return L.marker([m.lat, m.lon], { icon: icon, interactive: false, keyboard: false, pane: "rtccFacing" });
  }

  // The map fitted to the markers, then each marker (with its wedge, if any) on it; `onClick(m)`
  // when one is clicked. Fitted first: Leaflet draws a layer only once the map has a view.
  function draw(map, markers, onClick) {
    var points = markers.map(function (m) { return [m.lat, m.lon]; });
    if (points.length) {
      map.fitBounds(points, { padding: [30, 30], maxZoom: 16 });
    } else {
      map.setView([0, 0], 2);
    }
    return markers.map(function (m) {
      var wedge = facing(m);
      if (wedge) {
        wedge.addTo(map);
      }
      var circle = marker(m).addTo(map);
      circle.getElement().dataset.id = m.id; // which box or camera a dot is, for the page's tests
      circle.on("click", function () { onClick(m); });
      return { data: m, layer: circle };
    });
  }

  return { create: create, draw: draw };
})();
