// Progressive enhancement only: every page works without this file.
// Submitting a filter form through htmx moves focus to the results for keyboard users.
document.addEventListener("htmx:afterSwap", function (event) {
  var target = event.detail.target;
  if (target && target.dataset.focusAfterSwap !== undefined) { target.focus(); }
});
