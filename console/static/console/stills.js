// A still that cannot be had (no snapshot URI, no footage yet) is hidden instead of showing a
// broken-image icon. Inline onerror= attributes would be blocked by the box's Content Security
// Policy (script-src 'self'), so this listens on the document, in the capture phase (image
// errors do not bubble), from the page's head: before any image can fail.
(function () {
  "use strict";
  function hide(img) { img.style.visibility = "hidden"; }
  document.addEventListener("error", function (event) {
    var img = event.target;
    if (img && img.tagName === "IMG" && img.classList.contains("hide-if-broken")) hide(img);
  }, true);
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("img.hide-if-broken").forEach(function (img) {
      if (img.complete && img.naturalWidth === 0 && img.getAttribute("src")) hide(img);
    });
  });
})();
