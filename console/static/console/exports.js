// Exports list (templates/console/exports.html); a file, not inline: the CSP allows no inline script.
(function () {
  // While a package is queued or being built, refresh the rows every 2 s (progress, link).
  const body = document.getElementById("export-rows");
  async function refresh() {
    const state = document.getElementById("rows-state");
    if (!state || state.dataset.busy !== "1") return;
    const url = new URL(location.href);
    url.searchParams.set("rows", "1");
    try {
      const response = await fetch(url, { credentials: "same-origin" });
      if (response.ok) body.innerHTML = await response.text();
    } catch (e) { /* a thin link drops a request now and then: try again */ }
    setTimeout(refresh, 2000);
  }
  setTimeout(refresh, 2000);
})();
