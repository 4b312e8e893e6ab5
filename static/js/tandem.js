// Progressive enhancement only: every page works without this file.
// After a form comes back with errors, put the keyboard on the first field to fix.
document.addEventListener("DOMContentLoaded", function () {
  var invalid = document.querySelector("main [aria-invalid='true']");
  if (invalid) { invalid.focus(); }
});

// After htmx replaces the order's lines (a line added, changed or removed), keep the keyboard
// in the same place: on the line form's heading, or the first field it marks as wrong.
// The live preview and the listing picker update while the person types: they never move the keyboard.
document.addEventListener("htmx:afterSettle", function (event) {
  var part = document.getElementById("order-main");
  var elt = event.detail.elt;
  if (!part || !part.contains(elt) && elt !== part) { return; }
  if (elt.id === "line-preview" || elt.id === "id_listing_select") { return; }
  var target = part.querySelector("[aria-invalid='true']") || document.getElementById("add-line-heading");
  if (target) { target.focus(); }
});

// A select marked data-autosubmit sends its form when changed (the form keeps its button for
// browsers without this file). No on*= attributes: the Content-Security-Policy forbids them.
document.addEventListener("change", function (event) {
  var field = event.target;
  if (field.matches && field.matches("select[data-autosubmit]") && field.form) {
    field.form.requestSubmit ? field.form.requestSubmit() : field.form.submit();
  }
});

// The supplier of a bill entered by hand (a select marked data-currency-target) brings the
// currency it trades in (its option's data-currency) into that currency input, unless the
// person chose a currency there themselves.
document.addEventListener("change", function (event) {
  var field = event.target;
  if (!field.matches) { return; }
  if (field.matches("select[data-currency-target]")) {
    var target = document.getElementById(field.getAttribute("data-currency-target"));
    var option = field.options[field.selectedIndex];
    var currency = option ? option.getAttribute("data-currency") : null;
    if (target && currency && !target.hasAttribute("data-chosen")) { target.value = currency; }
  } else if (field.id && document.querySelector("select[data-currency-target='" + field.id + "']")) {
    field.setAttribute("data-chosen", "");
  }
});

// A form marked data-once is sent once: a second click while the page loads (Order again, Paste
// lines) would make a second draft or add the lines twice. The next page brings a fresh form.
document.addEventListener("submit", function (event) {
  var form = event.target;
  if (!form.matches || !form.matches("form[data-once]")) { return; }
  if (form.hasAttribute("data-sent")) { event.preventDefault(); return; }
  form.setAttribute("data-sent", "");
});
