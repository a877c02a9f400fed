// The fleet map: a marker per box and per camera from the page's JSON (#fleet-data), drawn by
// rtcc/map.js; a click opens the box's page.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("fleet-data").textContent);
  var element = document.getElementById("fleet-map");
  var map = rtccMap.create(element, data.tile_url);
  rtccMap.draw(map, data.markers, function (m) { window.location.href = m.url; });
  element.dataset.ready = String(data.markers.length);
})();
