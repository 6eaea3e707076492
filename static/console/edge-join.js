/* Edge nodes page: the copy button of the join command, and the joining nodes list kept current by polling the
 * API's joinrequests every 3 s (a node that registers shows up with its Approve/Reject buttons, no reload).
 * Without JavaScript the page shows the state as of page load and the command can be selected by hand. */
(function () {
  "use strict";
  var INTERVAL = 3000;

  function cell(row, text) {
    var td = document.createElement("td");
    td.textContent = text === null || text === undefined ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  function buttons(td, node) {
    var csrf = document.querySelector("input[name=csrfmiddlewaretoken]");
    var form = document.createElement("form");
    form.method = "post";
    form.style.display = "inline";
    form.innerHTML = '<input type="hidden" name="csrfmiddlewaretoken"><input type="hidden" name="node">' +
      '<button type="submit" name="action" value="approve" class="button">Approve</button> ' +
      '<button type="submit" name="action" value="reject" class="button">Reject</button>';
    form.querySelector("[name=csrfmiddlewaretoken]").value = csrf ? csrf.value : "";
    form.querySelector("[name=node]").value = node;
    td.appendChild(form);
  }

  function render(panel, items) {
    var body = panel.querySelector("#pending-rows");
    var manage = panel.getAttribute("data-may-manage") === "true";
    var known = {};
    body.querySelectorAll("tr[data-phase]").forEach(function (row) { known[row.id] = row.getAttribute("data-phase"); });
    items.forEach(function (item) {
      var id = "join-" + item.node;
      if (known[id] === item.phase) { return; }
      var row = document.getElementById(id) || document.createElement("tr");
      row.id = id;
      row.setAttribute("data-phase", item.phase);
      row.innerHTML = "";
      cell(row, item.node);
      cell(row, item.phase);
      cell(row, item.token);
      cell(row, item.reason).title = item.message || "";
      cell(row, item.created);
      if (manage) {
        var td = cell(row, "");
        if (item.phase === "Pending") { buttons(td, item.node); }
      }
      if (!row.parentNode) {
        var empty = body.querySelector("tr.empty");
        if (empty) { empty.remove(); }
        body.appendChild(row);
      }
    });
  }

  function poll(panel) {
    fetch(panel.getAttribute("data-api-url"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (list) {
        if (list) { render(panel, list.items || []); }
        window.setTimeout(function () { poll(panel); }, INTERVAL);
      })
      .catch(function () { window.setTimeout(function () { poll(panel); }, INTERVAL * 2); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("pending-nodes");
    if (panel) { window.setTimeout(function () { poll(panel); }, INTERVAL); }
    var copy = document.getElementById("copy-join-command");
    if (copy) {
      copy.addEventListener("click", function () {
        var text = document.querySelector(copy.getAttribute("data-copy")).textContent;
        var state = document.getElementById("copy-state");
        var done = function () { state.textContent = "Copied."; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done, function () { state.textContent = "Select the command and copy it."; });
        } else {
          var range = document.createRange();
          range.selectNodeContents(document.querySelector(copy.getAttribute("data-copy")));
          window.getSelection().removeAllRanges();
          window.getSelection().addRange(range);
          state.textContent = document.execCommand("copy") ? "Copied." : "Select the command and copy it.";
        }
      });
    }
  });
})();
