/* Component progress: poll the component's status endpoint every 2 s and show its phase, step, message and
 * retries, until the phase is terminal (Ready, Failed, Disabled, Unmanaged). Without JavaScript the panel shows
 * the state as of page load. */
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
    var url = panel.getAttribute("data-status-url");
    fetch(url, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state) { return; }
        show(panel, state);
        if (!state.terminal) { window.setTimeout(function () { poll(panel); }, INTERVAL); }
      })
      .catch(function () { window.setTimeout(function () { poll(panel); }, INTERVAL * 2); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("component-progress");
    if (panel && panel.getAttribute("data-terminal") !== "true") {
      window.setTimeout(function () { poll(panel); }, INTERVAL);
    }
  });
})();
