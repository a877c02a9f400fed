// Continuous playback over a camera's day: plays on through the following segments (saying
// so across a gap), shows the wall-clock time of the frame on screen in the box's zone and
// UTC, draws a scrubber over the day's coverage, and opens the export form for a window.
(function () {
  "use strict";
  const root = document.getElementById("console-player");
  if (!root) return;
  const video = document.getElementById("player");
  const readout = document.getElementById("wallclock");
  const notice = document.getElementById("player-notice");
  const scrub = document.getElementById("scrubber");
  const zoom = document.getElementById("zoom");
  const zoomHead = document.getElementById("zoom-head");
  const head = document.getElementById("playhead");
  const selection = document.getElementById("selection");
  const exportLink = document.getElementById("export-this");
  let list = JSON.parse(document.getElementById("playlist").textContent);
  let idx = list.segments.findIndex((s) => s.id === Number(root.dataset.segment));
  let marks = { start: null, end: null };

  const isUtc = ["UTC", "Etc/UTC", "Etc/UCT", "UCT"].includes(list.zone);
  function fmt(msValue, zone, withDate) {
    const parts = {};
    new Intl.DateTimeFormat("en-US", {
      timeZone: zone, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit", second: "2-digit", timeZoneName: "short",
    }).formatToParts(new Date(msValue)).forEach((p) => { parts[p.type] = p.value; });
    const time = `${parts.hour}:${parts.minute}:${parts.second}`;
    const wall = Date.UTC(+parts.year, +parts.month - 1, +parts.day, +parts.hour % 24,
                          +parts.minute, +parts.second);
    const offset = String(Math.round((wall - Math.floor(msValue / 1000) * 1000) / 60000));
    const label = zone === "UTC" || isUtc ? "UTC" : (list.zone_names[offset] || parts.timeZoneName);
    return (withDate ? `${parts.year}-${parts.month}-${parts.day} ` : "") + `${time} ${label}`;
  }
  function wallText(msValue) {
    const local = fmt(msValue, list.zone, true);
    return isUtc ? local : `${local} · ${fmt(msValue, "UTC", false)}`;
  }
  function current() { return list.segments[idx]; }
  function moment() { return current().start + video.currentTime * 1000; }
  function pct(msValue) {
    return (100 * (msValue - list.day_start)) / (list.day_end - list.day_start);
  }
  function say(text) { notice.textContent = text; notice.hidden = !text; }

  // Coverage bars of [from, to) drawn into a scrubber element (the day's, or the hour's).
  function drawBars(bar, from, to) {
    bar.querySelectorAll(".seg, .gap, .later").forEach((el) => el.remove());
    const at = (ms) => (100 * (ms - from)) / (to - from);
    const span = (cls, a, b, title) => {
      if (b <= from || a >= to) return;
      const el = document.createElement("span");
      el.className = cls;
      el.style.left = `${Math.max(0, at(a))}%`;
      el.style.width = `${Math.max(0.08, Math.min(100, at(b)) - Math.max(0, at(a)))}%`;
      el.title = title;
      bar.appendChild(el);
    };
    list.segments.forEach((s) => span("seg", s.start, s.end, fmt(s.start, list.zone, false)));
    list.gaps.forEach((g) => span("gap", g.start, g.end, `No footage: ${g.cause}`));
    if (list.now < to) span("later", Math.max(list.now, from), to, "Later today: not yet recorded");
  }
  let zoomFrom = null;
  function drawZoom(m) {  // the hour holding the frame on screen, for seeking to the second
    const hour = 3600000;
    const from = list.day_start + Math.floor((m - list.day_start) / hour) * hour;
    if (from !== zoomFrom) {
      zoomFrom = from;
      drawBars(zoom, from, from + hour);
      document.getElementById("zoom-from").textContent = fmt(from, list.zone, false).slice(0, 5);
      document.getElementById("zoom-to").textContent = fmt(from + hour - 1000, list.zone, false).slice(0, 3) + "59";
    }
    zoomHead.style.left = `${(100 * (m - from)) / hour}%`;
  }
  function drawScrubber() {
    drawBars(scrub, list.day_start, list.day_end);
    zoomFrom = null;
    document.getElementById("later-key").hidden = list.now >= list.day_end;
  }
  function drawMarks() {
    const a = marks.start ?? moment() - 60000;
    const b = marks.end ?? moment() + 60000;
    selection.hidden = marks.start === null && marks.end === null;
    selection.style.left = `${pct(Math.min(a, b))}%`;
    selection.style.width = `${Math.max(0.1, pct(Math.max(a, b)) - pct(Math.min(a, b)))}%`;
    const url = new URL(exportLink.dataset.base, location.href);
    url.searchParams.set("camera", list.camera);
    url.searchParams.set("start", new Date(Math.min(a, b)).toISOString());
    url.searchParams.set("end", new Date(Math.max(a, b)).toISOString());
    exportLink.href = url.toString();
    document.getElementById("window-text").textContent =
      `${fmt(Math.min(a, b), list.zone, true)} – ${fmt(Math.max(a, b), list.zone, false)}`;
  }
  function tick() {
    const m = moment();
    readout.textContent = wallText(m);
    head.style.left = `${pct(m)}%`;
    drawZoom(m);
    drawMarks();
  }
  function showDetails(s) {
    document.getElementById("seg-start").textContent = wallText(s.start);
    document.getElementById("seg-status").textContent = s.status + (s.held ? " — on legal hold" : "");
    document.getElementById("seg-sha").textContent = s.sha256 || "at close (still being recorded)";
    document.getElementById("seg-details").textContent = s.details;
    document.getElementById("seg-chain").textContent = s.sequence
      ? `#${s.sequence} ${s.chain_hash}` : "given when the segment closes";
    const clock = document.getElementById("seg-clock");
    if (clock && s.id !== Number(root.dataset.segment)) clock.textContent = s.clock;
    const dl = document.getElementById("seg-download");
    dl.hidden = !s.download;
    if (s.download) dl.href = s.download;
  }
  function load(i, offsetSeconds, play) {
    idx = i;
    const s = current();
    video.src = s.src;
    video.addEventListener("loadedmetadata", function once() {
      video.removeEventListener("loadedmetadata", once);
      if (offsetSeconds > 0) video.currentTime = offsetSeconds;
      if (play) video.play().catch(() => {});
      tick();
    });
    history.replaceState(null, "", s.url + (offsetSeconds ? `?t=${offsetSeconds.toFixed(3)}` : ""));
    audit(s);
    showDetails(s);
  }
  function audit(s) {  // every segment played goes into the audit trail
    const token = document.querySelector("input[name=csrfmiddlewaretoken]");
    fetch(s.played, {
      method: "POST", credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "" },
    }).catch(() => {});
  }
  function gapBetween(a, b) {
    const g = list.gaps.find((x) => x.start < b && x.end > a);
    return g ? g.cause : "nothing recorded";
  }
  async function fetchDay(day) {
    const url = root.dataset.playlist.replace("DAY", day);
    const response = await fetch(url, { credentials: "same-origin" });
    return response.ok ? response.json() : null;
  }
  async function playOn() {
    const cur = current();
    let next = idx + 1 < list.segments.length ? idx + 1 : -1;
    if (next < 0) {
      const fresh = await fetchDay(list.next_day || list.day);
      if (fresh && fresh.segments.some((s) => s.start > cur.start)) {
        list = fresh;
        drawScrubber();
        next = list.segments.findIndex((s) => s.start > cur.start);
      } else if (cur.recording) {
        say("This is the newest footage: the segment is still being recorded.");
        return;
      } else {
        say("End of the footage recorded so far.");
        return;
      }
    }
    const s = list.segments[next];
    if (s.start - cur.end > 1000) {
      say(`No footage ${fmt(cur.end, list.zone, false)}–${fmt(s.start, list.zone, false)} ` +
          `(${gapBetween(cur.end, s.start)}): playing on from ${fmt(s.start, list.zone, false)}.`);
    } else {
      say("");
    }
    load(next, 0, true);
  }
  function seekTo(msValue) {
    let i = list.segments.findIndex((s) => s.start <= msValue && msValue < s.end);
    if (i >= 0) {
      say("");
      if (i === idx) video.currentTime = (msValue - current().start) / 1000;
      else load(i, (msValue - list.segments[i].start) / 1000, !video.paused);
      return;
    }
    i = list.segments.findIndex((s) => s.start > msValue);
    if (msValue > list.now) { say("Later today: not recorded yet."); return; }
    if (i < 0) { say(`No footage at ${fmt(msValue, list.zone, false)}.`); return; }
    say(`No footage at ${fmt(msValue, list.zone, false)} (${gapBetween(msValue, msValue + 1)}): ` +
        `showing the next footage, from ${fmt(list.segments[i].start, list.zone, false)}.`);
    load(i, 0, !video.paused);
  }

  scrub.addEventListener("click", (e) => {
    const box = scrub.getBoundingClientRect();
    seekTo(list.day_start + ((e.clientX - box.left) / box.width) * (list.day_end - list.day_start));
  });
  zoom.addEventListener("click", (e) => {
    const box = zoom.getBoundingClientRect();
    seekTo(zoomFrom + ((e.clientX - box.left) / box.width) * 3600000);
  });
  video.addEventListener("timeupdate", tick);
  video.addEventListener("seeked", tick);
  video.addEventListener("ended", playOn);
  document.getElementById("mark-start").addEventListener("click", () => { marks.start = moment(); tick(); });
  document.getElementById("mark-end").addEventListener("click", () => { marks.end = moment(); tick(); });
  document.getElementById("mark-clear").addEventListener("click", () => { marks = { start: null, end: null }; tick(); });
  window.consolePlayer = { seekTo, moment, list: () => list, index: () => idx };
  drawScrubber();
  showDetails(current());
  tick();
})();
