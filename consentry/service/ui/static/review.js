// Small, optional: everything works without it. A button with data-confirm asks first
// (the reveal), so a stray click never shows an item unblurred.
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  if (button && button.dataset.confirm && !window.confirm(button.dataset.confirm)) {
    event.preventDefault();
  }
});
// Video is muted and never plays on its own.
document.querySelectorAll("video").forEach(function (v) { v.muted = true; v.autoplay = false; });
