/* The deploy form: each cluster's "every node group" box ticks or clears the node groups of that cluster (not its
 * cloud side). Without JavaScript the boxes stay hidden and each node group is ticked on its own. */
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".appstore-cluster-pick").forEach(function (block) {
      var all = block.querySelector(".appstore-pick-all");
      if (!all) { return; }
      var boxes = block.querySelectorAll(".appstore-place:not(.appstore-cloud) input[type=checkbox]");
      all.parentNode.hidden = boxes.length < 2;
      all.addEventListener("change", function () {
        boxes.forEach(function (box) { box.checked = all.checked; });
      });
    });
  });
})();
