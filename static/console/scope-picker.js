/* Scope picker: cascading selects Platform → Cluster → Workspace/NodeGroup → Namespace/Node.
 * Each select is filled from the console's scopes endpoint (only the scopes the user may see) and
 * writes the chosen scope path into the form's scope field. Without JavaScript the field stays a
 * plain text input that takes a path. */
(function () {
  "use strict";

  function ancestors(path) {
    if (!path || path === "platform") { return []; }
    var parts = path.split("/"), out = [];
    for (var end = 2; end <= parts.length; end += 2) { out.push(parts.slice(0, end).join("/")); }
    return out;
  }

  function init(input) {
    var url = input.getAttribute("data-scopes-url");
    var box = document.createElement("div");
    box.className = "scope-picker";
    box.id = input.id + "-picker";
    var shown = document.createElement("div");
    shown.className = "help scope-picker-path";
    input.parentNode.insertBefore(box, input.nextSibling);
    box.parentNode.insertBefore(shown, box.nextSibling);
    input.type = "hidden";
    var wanted = ancestors(input.value);

    function show() { shown.textContent = "Scope: " + (input.value || "(choose one)"); }

    function level(parent, depth) {
      while (box.children.length > depth) { box.removeChild(box.lastChild); }
      return fetch(url + "?parent=" + encodeURIComponent(parent), {credentials: "same-origin"})
        .then(function (response) { return response.json(); })
        .then(function (data) {
          var items = data.items || [];
          if (!items.length) { return; }
          var select = document.createElement("select");
          select.id = input.id + "-level-" + depth;
          select.setAttribute("aria-label", "scope below " + parent);
          var here = document.createElement("option");
          here.value = "";
          here.textContent = depth === 0 ? "platform (every cluster)" : "— all of " + parent + " —";
          select.appendChild(here);
          items.forEach(function (item) {
            var option = document.createElement("option");
            option.value = item.path;
            option.textContent = item.label;
            select.appendChild(option);
          });
          select.addEventListener("change", function () {
            input.value = select.value || parent;
            show();
            if (select.value) { level(select.value, depth + 1); }
            else { while (box.children.length > depth + 1) { box.removeChild(box.lastChild); } }
          });
          box.appendChild(select);
          if (wanted[depth]) {
            select.value = wanted[depth];
            if (select.value) { return level(wanted[depth], depth + 1); }
          }
        });
    }

    show();
    level("platform", 0);
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input.scope-picker-input").forEach(init);
  });
})();
