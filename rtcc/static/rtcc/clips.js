// Clip jobs (templates/rtcc/clips.html, clip.html); a file, not inline: the CSP allows no inline script.
(function () {
  // While a job shown is open, fetch the live part (state, progress) every 3 s and swap it in.
  const PERIOD = 3000;
  async function refresh() {
    const live = document.getElementById("clip-live");
    if (!live || live.dataset.open !== "1") return;
    const url = new URL(location.href);
    url.searchParams.set("part", "1");
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      // Signed out meanwhile: the answer is the login page; stop rather than show it here.
      if (response.redirected) return;
      if (response.ok) live.outerHTML = await response.text();
    } catch (e) { /* a thin link drops a request now and then: try again */ }
    setTimeout(refresh, PERIOD);
  }
  setTimeout(refresh, PERIOD);
})();
