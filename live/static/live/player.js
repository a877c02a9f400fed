// The live player: poll the small status JSON (which also keeps the stream wanted), attach
// the playlist once the box says "playing", show a clear message otherwise — never a
// spinner forever. hls.js (a static file, no CDN) wherever the browser has Media Source
// Extensions; the browser's own HLS otherwise (iPhone Safari). Chromium 13x also says it
// plays HLS natively, but its player failed on these fMP4 playlists (DEMUXER_ERROR_COULD_NOT_
// PARSE), so it is not preferred where hls.js works.
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("live-config").textContent);
  var video = document.getElementById("live-video");
  var message = document.getElementById("live-message");
  var hls = null, attached = false, last = null;
  var NATIVE = video.canPlayType("application/vnd.apple.mpegurl") !== "";
  var HLSJS = !!(window.Hls && window.Hls.isSupported());
  var STATES = { playing: "live", starting: "starting", capped: "not started: cap reached",
                 unavailable: "unavailable", service_down: "live service down",
                 disabled: "camera disabled", refused: "not allowed" };

  function text(id, value) { document.getElementById(id).textContent = value; }

  function say(words, isError) {
    message.textContent = words || "";
    message.className = "live-message" + (isError ? " error" : "");
  }

  function attach() {
    attached = true;
    var url = config.playlist_url;
    if (HLSJS) {
      video.dataset.engine = "hls.js";
      // 2.5 s behind the newest segment: enough for a jittery cellular link with 1 s
      // segments; drifted further (a stall), it plays 10 % fast until back. It never slows
      // down, so it starts once the playlist has 2 segments: started on the first alone it
      // stayed 0.5 s from the edge (measured), one late segment from a stall. No worker:
      // fMP4 needs no transmuxing, and a blob: worker would need a CSP exception.
      hls = new window.Hls({ enableWorker: false, liveSyncDuration: 2.5, initialLiveManifestSize: 2,
                             liveMaxLatencyDuration: 8, maxLiveSyncPlaybackRate: 1.1,
                             manifestLoadingMaxRetry: 4, levelLoadingMaxRetry: 4 });
      hls.on(window.Hls.Events.ERROR, function (event, data) {
        if (data.fatal) { detach(); say("Playback stopped (" + data.details + "); retrying…", true); }
      });
      hls.loadSource(url);
      hls.attachMedia(video);
    } else if (NATIVE) {
      video.dataset.engine = "native";
      video.src = url;
    } else {
      say("This browser cannot play HLS video.", true);
      return;
    }
    video.play().catch(function () {});
  }

  function detach() {
    attached = false;
    if (hls) { hls.destroy(); hls = null; }
    video.removeAttribute("src");
    video.load();
  }

  function bufferAhead() {
    var s = video.seekable;
    return s.length ? Math.max(0, s.end(s.length - 1) - video.currentTime) : 0;
  }

  function show(status) {
    last = status;
    text("live-state", STATES[status.state] || status.state);
    if (status.recording) text("live-recording", status.recording);
    if (video.videoWidth) text("live-resolution", video.videoWidth + "×" + video.videoHeight);
    text("live-bitrate", status.bitrate_kbps ? status.bitrate_kbps + " kbit/s" : "—");
    if (status.state === "playing") {
      if (!attached) attach();
      var delay = (status.edge_age || 0) + bufferAhead();
      video.dataset.delay = delay.toFixed(2);
      text("live-delay", attached && video.currentTime > 0 ? "about " + delay.toFixed(1) + " s" : "—");
      say(video.currentTime > 0 ? "" : "Loading…", false);
    } else {
      if (attached) detach();
      text("live-delay", "—");
      say(status.message, status.state !== "starting");
    }
  }

  function poll() {
    fetch(config.status_url, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(show)
      .catch(function () { say("The box does not answer; retrying…", true); })
      .then(function () {
        // Every 0.2 s until the stream plays (the status says so as soon as the first
        // segment is written: the first picture waits on this poll), then every 2 s.
        var starting = !last || (last.state === "starting" && !attached);
        setTimeout(poll, starting ? 200 : 2000);
      });
  }

  var recorded = document.getElementById("live-recorded");
  if (recorded) {
    recorded.addEventListener("click", function () {
      var behind = last && last.state === "playing" ? (last.edge_age || 0) + bufferAhead() : 0;
      recorded.href = recorded.href.split("?")[0] + "?behind=" + behind.toFixed(1);
    });
  }
  poll();
})();
