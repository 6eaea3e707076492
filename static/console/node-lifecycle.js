/* Node lifecycle: poll the node's lifecycle endpoint every 2 s and show its phase, message and the pods a
 * disruption budget blocks, until the phase settles (Online, Maintenance) or the node is gone. Without
 * JavaScript the panel shows the state as of page load. */
(function () {
  "use strict";
  var INTERVAL = 2000;

  function show(panel, state) {
    panel.querySelectorAll("[data-field]").forEach(function (node) {
      var value = state[node.getAttribute("data-field")];
      node.textContent = value === null || value === undefined ? "" : String(value);
    });
    panel.setAttribute("data-terminal", state.terminal ? "true" : "false");
  }

  function poll(panel) {
    fetch(panel.getAttribute("data-status-url"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (response.status === 404 || response.status === 403) {  /* decommissioned: the node is gone */
          show(panel, {phase: "Decommissioned", message: "the node was removed", blocked: "", terminal: true});
          return null;
        }
        return response.ok ? response.json() : undefined;
      })
      .then(function (state) {
        if (state === null) { return; }
        if (state) { show(panel, state); }
        if (!state || !state.terminal) { window.setTimeout(function () { poll(panel); }, INTERVAL); }
      })
      .catch(function () { window.setTimeout(function () { poll(panel); }, INTERVAL * 2); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("node-lifecycle");
    if (panel && panel.getAttribute("data-terminal") !== "true") {
      window.setTimeout(function () { poll(panel); }, INTERVAL);
    }
  });
})();
