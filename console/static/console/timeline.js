// Drag across a day's (or hour's) timeline to select a window: export it or hold it.
(function () {
  "use strict";
  const bar = document.getElementById("timeline");
  const box = document.getElementById("timeline-selection");
  const info = document.getElementById("selection-bar");
  if (!bar || !box || !info) return;
  const [from, to] = bar.dataset.window.split(",").map(Number);
  let down = null;
  let dragged = false;
  let picked = null;

  const at = (x) => {
    const r = bar.getBoundingClientRect();
    const f = Math.min(1, Math.max(0, (x - r.left) / r.width));
    return Math.round((from + f * (to - from)) / 1000) * 1000;  // whole seconds
  };
  const pct = (ms) => (100 * (ms - from)) / (to - from);
  const local = (ms) => {
    const d = new Date(ms);
    const p = (n) => String(n).padStart(2, "0");
    return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ` +
      `${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
  };
  function boxTime(ms) {  // in the box's zone, as the server formats it (the hold form's)
    const zone = bar.dataset.zone || undefined;
    const parts = {};
    new Intl.DateTimeFormat("en-US", { timeZone: zone, hourCycle: "h23", year: "numeric",
      month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", second: "2-digit" })
      .formatToParts(new Date(ms)).forEach((x) => { parts[x.type] = x.value; });
    return zone ? `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second}` : local(ms);
  }
  function show(a, b) {
    picked = [Math.min(a, b), Math.max(a, b)];
    box.hidden = false;
    box.style.left = `${pct(picked[0])}%`;
    box.style.width = `${pct(picked[1]) - pct(picked[0])}%`;
    info.hidden = false;
    document.getElementById("selection-text").textContent =
      `${boxTime(picked[0])} – ${boxTime(picked[1]).slice(11)}`;
    const exp = document.getElementById("export-selection");
    if (exp) {
      const url = new URL(exp.dataset.base, location.href);
      url.searchParams.set("start", new Date(picked[0]).toISOString());
      url.searchParams.set("end", new Date(picked[1]).toISOString());
      exp.href = url.toString();
    }
  }
  bar.addEventListener("pointerdown", (e) => {
    down = at(e.clientX);
    dragged = false;
    bar.setPointerCapture(e.pointerId);
  });
  bar.addEventListener("pointermove", (e) => {
    if (down === null) return;
    const here = at(e.clientX);
    if (Math.abs(pct(here) - pct(down)) > 0.3) dragged = true;
    if (dragged) show(down, here);
  });
  bar.addEventListener("pointerup", (e) => {
    if (down !== null && dragged) show(down, at(e.clientX));
    down = null;
  });
  // A drag that ends over a segment must not also open the player.
  bar.addEventListener("click", (e) => { if (dragged) { e.preventDefault(); dragged = false; } }, true);
  const hold = document.getElementById("hold-selection");
  if (hold) hold.addEventListener("click", (e) => {
    e.preventDefault();
    const form = document.getElementById("hold-form");
    form.elements.start.value = boxTime(picked[0]);
    form.elements.end.value = boxTime(picked[1]);
    form.scrollIntoView();
    form.elements.reason.focus();
  });
  window.consoleTimeline = { select: show };
})();
