// expbook: compare any two runs on a history page, offline. The page embeds its runs as JSON
// (<script type="application/json" id="expbook-runs">); this renders params, verdicts and metric deltas.
(function () {
  "use strict";

  function cell(row, text, tag) {
    const element = document.createElement(tag || "td");
    element.textContent = text;
    row.appendChild(element);
    return element;
  }

  function table(container, title, header, rows) {
    const heading = document.createElement("h3");
    heading.textContent = title;
    container.appendChild(heading);
    if (!rows.length) {
      const none = document.createElement("p");
      none.textContent = "No differences.";
      container.appendChild(none);
      return;
    }
    const t = document.createElement("table");
    t.className = "table expbook-compare-table";
    const head = t.createTHead().insertRow();
    header.forEach((h) => cell(head, h, "th"));
    const body = t.createTBody();
    rows.forEach((r) => {
      const row = body.insertRow();
      r.cells.forEach((c) => cell(row, c));
      if (r.changed) row.className = "expbook-changed";
    });
    container.appendChild(t);
  }

  function fmt(value) {
    if (value === undefined || value === null) return "–";
    if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(4);
    return JSON.stringify(value);
  }

  function render(runs, a, b, container) {
    container.innerHTML = "";
    const A = runs[a], B = runs[b];
    const keys = (x, y) => Array.from(new Set(Object.keys(x).concat(Object.keys(y)))).sort();
    const params = keys(A.params, B.params)
      .filter((k) => JSON.stringify(A.params[k]) !== JSON.stringify(B.params[k]))
      .map((k) => ({ cells: [k, fmt(A.params[k]), fmt(B.params[k])], changed: true }));
    const verdicts = keys(A.verdicts, B.verdicts).map((k) => {
      const va = A.verdicts[k], vb = B.verdicts[k];
      const mark = (v) => (v === undefined ? "–" : v[1]);  // the state: holds / does not hold / inconclusive
      const changed = mark(va) !== mark(vb);
      return { cells: [k, (va || vb)[0], mark(va), mark(vb), changed ? "changed" : ""], changed: changed };
    });
    const metrics = keys(A.metrics, B.metrics)
      .filter((k) => A.metrics[k] !== B.metrics[k])
      .map((k) => {
        const delta = (B.metrics[k] ?? NaN) - (A.metrics[k] ?? NaN);
        return { key: Math.abs(delta) || 0, cells: [k, fmt(A.metrics[k]), fmt(B.metrics[k]), isNaN(delta) ? "–" : (delta > 0 ? "+" : "") + delta.toPrecision(3)] };
      })
      .sort((x, y) => y.key - x.key);
    table(container, "Verdicts", ["", "question", "A", "B", ""], verdicts);
    table(container, "Parameters that differ", ["parameter", "A", "B"], params);
    table(container, "Metrics that differ (largest change first)", ["metric", "A", "B", "Δ (B − A)"], metrics);
  }

  document.addEventListener("DOMContentLoaded", function () {
    const source = document.getElementById("expbook-runs");
    if (!source) return;
    const runs = JSON.parse(source.textContent);
    const ids = Object.keys(runs);
    const pickA = document.getElementById("expbook-run-a"), pickB = document.getElementById("expbook-run-b");
    const output = document.getElementById("expbook-compare-output");
    [pickA, pickB].forEach((select) => ids.forEach((id) => {
      const option = document.createElement("option");
      option.value = id;
      option.textContent = id + (runs[id].label ? " · " + runs[id].label : "");
      select.appendChild(option);
    }));
    pickA.value = ids[ids.length - 1];
    pickB.value = ids[0];
    const update = () => render(runs, pickA.value, pickB.value, output);
    pickA.addEventListener("change", update);
    pickB.addEventListener("change", update);
    update();
  });
})();
