// The fleet map: a marker per box and per camera from the page's JSON (#fleet-data), coloured
// by state through CSS classes. Tiles only when the console has a tile server configured;
// without one the markers sit on a blank ground and nothing is fetched from anywhere else.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fleet-data").textContent);
  var element = document.getElementById("fleet-map");
  var map = L.map(element, { attributionControl: !!data.tile_url, zoomSnap: 0.25 });
  if (data.tile_url) {
    L.tileLayer(data.tile_url, { maxZoom: 19, attribution: "Map tiles: " + new URL(data.tile_url.replace("{s}", "a")).host }).addTo(map);
  }
  var points = [];
  data.markers.forEach(function (m) {
    var marker = L.circleMarker([m.lat, m.lon], {
      radius: m.kind === "box" ? 10 : 5,
      weight: m.kind === "box" ? 3 : 1,
      className: "rtcc-marker rtcc-marker-" + m.kind + " marker-" + m.state,
      fillOpacity: m.kind === "box" ? 0.35 : 0.9,
    });
    marker.bindTooltip(m.tip);
    marker.on("click", function () { window.location.href = m.url; });
    marker.addTo(map);
    points.push([m.lat, m.lon]);
  });
  if (points.length) {
    map.fitBounds(points, { padding: [30, 30], maxZoom: 16 });
  } else {
    map.setView([0, 0], 2);
  }
  element.dataset.ready = String(data.markers.length);
})();
