// Where and when: the boxes to search picked on a small map of the fleet. A click on a box (or
// on one of its cameras) selects or unselects its option in the form's list (#id_boxes), so what
// is sent is exactly what the list would send without JavaScript; the list's own changes show
// on the map too.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("where-map-data").textContent);
  var element = document.getElementById("where-map");
  var select = document.getElementById("id_boxes");
  var summary = document.getElementById("where-picked");
  var all = document.getElementById("where-all");
  var options = {};
  Array.prototype.forEach.call(select.options, function (o) { options[o.value] = o; });

  function show() {
    var picked = [];
    drawn.forEach(function (d) {
      var option = options[d.data.box];
      var element = d.layer.getElement();
      if (element) {
        element.classList.toggle("rtcc-picked", !!(option && option.selected));
      }
    });
    Array.prototype.forEach.call(select.selectedOptions, function (o) { picked.push(o.value); });
    summary.textContent = picked.length ? "Picked: " + picked.join(", ") + "." : "No box picked: all " + select.options.length + " boxes.";
    all.hidden = !picked.length;
    element.dataset.picked = picked.join(",");
  }

  function toggle(m) {
    var option = options[m.box];
    if (option) {
      option.selected = !option.selected;
      show();
    }
  }

  element.hidden = false; // before Leaflet measures it
  var map = rtccMap.create(element, data.tile_url);
  var drawn = rtccMap.draw(map, data.markers, toggle);
  select.addEventListener("change", show);
  all.addEventListener("click", function () {
    Array.prototype.forEach.call(select.options, function (o) { o.selected = false; });
    show();
  });
  show();
  element.dataset.ready = String(data.markers.length);
})();
