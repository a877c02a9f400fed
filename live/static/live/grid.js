// The live grid: refresh each still and each camera's status every few seconds.
(function () {
  "use strict";
  var grid = document.getElementById("live-grid");
  if (!grid) return;
  var LIVE = { playing: "live now", starting: "starting", capped: "waiting (cap)",
               unavailable: "live unavailable", off: "" };
  function refresh() {
    fetch(grid.dataset.statusUrl, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        document.getElementById("live-service").textContent = data.service ? "" :
          "The live service (crimebox-live) is not running: stills only.";
        data.cameras.forEach(function (c) {
          var card = document.getElementById("card-" + c.id);
          if (!card) return;
          var live = LIVE[c.live] || c.live;
          card.querySelector(".live-status").textContent = c.status + (live ? ", " + live : "");
          card.querySelector(".live-source").textContent = "still: " + c.still;
        });
      })
      .catch(function () {});
    grid.querySelectorAll("img.live-still").forEach(function (img) {
      img.src = img.dataset.src + "?t=" + Date.now();
    });
  }
  refresh();
  setInterval(refresh, 5000);
})();
