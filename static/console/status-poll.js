/* Live status panels: each element with data-status-url polls that endpoint every 2 s and shows the answer's
 * fields in its [data-field] children, until the answer is terminal. Used by the component and cluster progress
 * panels and the node lifecycle panel. Without JavaScript a panel shows the state as of page load.
 *
 * Per panel, by data attributes:
 *   data-terminal="true"       the state at page load is settled: no polling;
 *   data-gone-phase, -message  a 404 or 403 means the object is gone: show that phase and message and stop;
 *   data-retry-on-error="true" another error answer polls again (without it, polling stops).
 *
 * A [data-field] names a field of the answer, or a path into it ("topologies.0.phase"); a [data-phase-field]
 * child gets that field's value as its data-phase attribute (which the stylesheet colours). */
(function () {
  "use strict";
  var INTERVAL = 2000;

  function lookup(state, path) {
    return path.split(".").reduce(function (value, key) {
      return value === null || value === undefined ? undefined : value[key];
    }, state);
  }

  function show(panel, state) {
    panel.querySelectorAll("[data-field]").forEach(function (node) {
      var value = lookup(state, node.getAttribute("data-field"));
      node.textContent = value === null || value === undefined ? "" : String(value);
    });
    panel.querySelectorAll("[data-phase-field]").forEach(function (node) {
      var value = lookup(state, node.getAttribute("data-phase-field"));
      if (value !== null && value !== undefined) { node.setAttribute("data-phase", String(value)); }
    });
    panel.setAttribute("data-terminal", state.terminal ? "true" : "false");
  }

  function poll(panel) {
    var gone = panel.getAttribute("data-gone-phase");
    var retry = panel.getAttribute("data-retry-on-error") === "true";
    fetch(panel.getAttribute("data-status-url"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (gone && (response.status === 404 || response.status === 403)) {
          show(panel, {phase: gone, message: panel.getAttribute("data-gone-message") || "", terminal: true});
          return null;
        }
        if (response.ok) { return response.json(); }
        return retry ? undefined : null;
      })
      .then(function (state) {
        if (state === null) { return; }
        if (state) { show(panel, state); }
        if (!state || !state.terminal) { window.setTimeout(function () { poll(panel); }, INTERVAL); }
      })
      .catch(function () { window.setTimeout(function () { poll(panel); }, INTERVAL * 2); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-status-url]").forEach(function (panel) {
      if (panel.getAttribute("data-terminal") !== "true") {
        window.setTimeout(function () { poll(panel); }, INTERVAL);
      }
    });
  });
})();
