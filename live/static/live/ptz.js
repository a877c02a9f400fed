// PTZ controls of the live player: press and hold (mouse, touch or keyboard) to move, release
// to stop. The camera also stops when the page loses focus or is hidden, and, if this page
// dies or its connection drops, when the box hears no keep-alive for 1.5 s (server deadman).
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("live-config").textContent);
  var box = document.getElementById("ptz");
  var stateLine = document.getElementById("ptz-state");
  var csrf = box.querySelector("input[name=csrfmiddlewaretoken]").value;
  var KEYS = { ArrowUp: "up", ArrowDown: "down", ArrowLeft: "left", ArrowRight: "right",
               "+": "in", "=": "in", "-": "out" };
  var moving = null, keepTimer = null;

  function send(action, value) {
    return fetch(config.ptz_url + action, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf },
      body: JSON.stringify({ value: value || "" })
    }).then(function (r) {
      return r.json().then(function (data) {
        if (!r.ok) { stateLine.textContent = data.message || ("error " + r.status); }
        else { show(data); }
        return data;
      });
    }).catch(function () { stateLine.textContent = "The box did not answer."; stop(); });
  }

  function show(data) {
    var who = data.holder ? "Steered by " + data.holder : "Nobody steers this camera";
    stateLine.textContent = who + (data.position ? "; it is at: " + data.position : "") + ".";
  }

  function start(dir) {
    if (moving === dir) { return; }
    if (moving) { stop(); }
    moving = dir;
    box.dataset.moving = dir;
    send("move", dir);
    keepTimer = window.setInterval(function () { send("keep"); }, 500);
  }

  function stop() {
    if (!moving) { return; }
    moving = null;
    delete box.dataset.moving;
    window.clearInterval(keepTimer);
    keepTimer = null;
    send("stop");
  }

  box.querySelectorAll(".ptz-move").forEach(function (button) {
    var dir = button.dataset.dir;
    button.addEventListener("pointerdown", function (e) {
      e.preventDefault();
      button.setPointerCapture(e.pointerId);
      start(dir);
    });
    ["pointerup", "pointercancel", "lostpointercapture"].forEach(function (name) {
      button.addEventListener(name, stop);
    });
    button.addEventListener("keydown", function (e) {
      if ((e.key === " " || e.key === "Enter") && !e.repeat) { e.preventDefault(); start(dir); }
    });
    button.addEventListener("keyup", function (e) {
      if (e.key === " " || e.key === "Enter") { stop(); }
    });
    button.addEventListener("contextmenu", function (e) { e.preventDefault(); });
  });
  box.addEventListener("keydown", function (e) {
    if (KEYS[e.key] && e.target.tagName !== "INPUT" && !e.repeat) {
      e.preventDefault(); start(KEYS[e.key]);
    }
  });
  box.addEventListener("keyup", function (e) { if (KEYS[e.key]) { stop(); } });
  window.addEventListener("blur", stop);
  window.addEventListener("pagehide", stop);
  window.addEventListener("offline", stop);
  document.addEventListener("visibilitychange", function () {
    if (document.hidden) { stop(); }
  });

  document.getElementById("ptz-home").addEventListener("click", function () { send("home"); });
  document.getElementById("ptz-release").addEventListener("click", function () {
    stop(); send("release");
  });
  var select = document.getElementById("ptz-presets");
  document.getElementById("ptz-goto").addEventListener("click", function () {
    if (select.value) { send("preset", select.value); }
  });
  var save = document.getElementById("ptz-save");
  if (save) {
    save.addEventListener("click", function () {
      send("save", document.getElementById("ptz-name").value).then(loadPresets);
    });
  }

  function loadPresets() {
    fetch(config.ptz_presets_url, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (!data.presets) { stateLine.textContent = data.message || ""; return; }
        select.textContent = "";
        data.presets.forEach(function (p) {
          var option = document.createElement("option");
          option.value = p.token;
          option.textContent = p.name;
          select.appendChild(option);
        });
        show(data);
      });
  }
  loadPresets();
})();
