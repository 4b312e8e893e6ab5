// Progressive enhancement only: every page works without this file.
// After a form comes back with errors, put the keyboard on the first field to fix.
document.addEventListener("DOMContentLoaded", function () {
  var invalid = document.querySelector("main [aria-invalid='true']");
  if (invalid) { invalid.focus(); }
});
