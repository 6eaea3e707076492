// Fleet overview: a changed filter applies at once (the form still works without this script).
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("fleet-filters");
  if (!form) { return; }
  form.querySelectorAll("select").forEach(function (select) {
    select.addEventListener("change", function () { form.requestSubmit(); });
  });
});
