// expbook: the history table, filtered by status and parameters and shown a page at a time (the page works
// without this script too: then every row is shown).
(function () {
  "use strict";
  document.addEventListener("DOMContentLoaded", function () {
    const table = document.querySelector("table.expbook-history");
    if (!table) return;
    const rows = Array.from(table.tBodies[0].rows);
    const size = parseInt(table.dataset.pageSize || "50", 10);
    const status = document.getElementById("expbook-history-status");
    const params = document.getElementById("expbook-history-params");
    const count = document.getElementById("expbook-history-count");
    const pager = document.getElementById("expbook-history-pages");
    let page = 0;

    function matching() {
      const wanted = status.value, text = params.value.trim().toLowerCase();
      return rows.filter((row) => (!wanted || row.dataset.status === wanted)
        && (!text || (row.dataset.params || "").toLowerCase().includes(text)));
    }

    function show() {
      const shown = matching();
      const pages = Math.max(1, Math.ceil(shown.length / size));
      page = Math.min(page, pages - 1);
      rows.forEach((row) => { row.style.display = "none"; });
      shown.slice(page * size, (page + 1) * size).forEach((row) => { row.style.display = ""; });
      count.textContent = shown.length + " of " + rows.length + " runs";
      pager.textContent = "";
      if (pages > 1) {
        for (let i = 0; i < pages; i++) {
          const button = document.createElement("button");
          button.type = "button";
          button.textContent = String(i + 1);
          button.className = "expbook-page" + (i === page ? " expbook-page-current" : "");
          button.addEventListener("click", () => { page = i; show(); });
          pager.appendChild(button);
        }
      }
    }

    status.addEventListener("change", () => { page = 0; show(); });
    params.addEventListener("input", () => { page = 0; show(); });
    show();
  });
})();
