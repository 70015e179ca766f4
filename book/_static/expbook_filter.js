// expbook: filter the metric rows of a compare page by name (the rows' data-name), groups without a match hidden.
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    const input = document.getElementById("expbook-metric-filter");
    if (!input) return;
    const count = document.getElementById("expbook-metric-count");
    const rows = Array.from(document.querySelectorAll("table.expbook-metrics tbody tr"));
    const update = () => {
      const text = input.value.trim().toLowerCase();
      let shown = 0;
      rows.forEach((row) => {
        const match = !text || row.dataset.name.toLowerCase().includes(text) || row.cells[0].textContent.toLowerCase().includes(text);
        row.hidden = !match;
        shown += match ? 1 : 0;
      });
      document.querySelectorAll("details.expbook-metric-group").forEach((group) => {
        group.hidden = !group.querySelector("tbody tr:not([hidden])");
      });
      count.textContent = shown + " of " + rows.length + " metrics";
    };
    input.addEventListener("input", update);
    update();
  });
})();
