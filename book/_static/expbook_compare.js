// expbook: compare any two runs on a history page, offline. The page embeds the list of its runs as JSON
// (<script type="application/json" id="expbook-runs">); each run's params, verdicts and metrics load on demand
// from runs/<experiment>/<run>.data.js through a script tag (which works from file:// as well as over HTTP).
// Every text goes in with textContent: nothing from a run is parsed as HTML.
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
    // a readable label: the top-level key as the group, the rest with " › " and spaces for underscores
    const label = (k) => {
      const parts = k.split(".");
      return parts.length > 1 ? [parts[0], parts.slice(1).join(" › ").replace(/_/g, " ")] : ["", k.replace(/_/g, " ")];
    };
    const metrics = keys(A.metrics, B.metrics)
      .filter((k) => A.metrics[k] !== B.metrics[k])
      .map((k) => {
        const a = A.metrics[k], delta = (B.metrics[k] ?? NaN) - (a ?? NaN);
        const relative = isNaN(delta) ? 0 : Math.abs(delta) / (a ? Math.abs(a) : 1);
        const [group, name] = label(k);
        return { key: relative, cells: [group, name, fmt(a), fmt(B.metrics[k]), isNaN(delta) ? "–" : (delta > 0 ? "+" : "") + delta.toPrecision(3)] };
      })
      .sort((x, y) => y.key - x.key);
    table(container, "Verdicts", ["", "question", "A", "B", ""], verdicts);
    table(container, "Parameters that differ", ["parameter", "A", "B"], params);
    table(container, "Metrics that differ (largest relative change first)", ["group", "metric", "A", "B", "Δ (B − A)"], metrics);
    if (window.expbookFigures) {
      const heading = document.createElement("h3");
      heading.textContent = "Figures";
      container.appendChild(heading);
      const figures = document.createElement("div");
      figures.className = "expbook-compare-figures";
      container.appendChild(figures);
      window.expbookFigures.render(figures, window.EXPBOOK_RUNS_BASE, a, b, A.label || a, B.label || b);
    }
  }

  function load(base, id) {
    window.EXPBOOK_RUN_DATA = window.EXPBOOK_RUN_DATA || {};
    if (window.EXPBOOK_RUN_DATA[id]) return Promise.resolve(window.EXPBOOK_RUN_DATA[id]);
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = base + encodeURIComponent(id) + ".data.js";
      script.onload = () => (window.EXPBOOK_RUN_DATA[id] ? resolve(window.EXPBOOK_RUN_DATA[id]) : reject(id));
      script.onerror = () => reject(id);
      document.head.appendChild(script);
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    const source = document.getElementById("expbook-runs");
    if (!source) return;
    const choices = JSON.parse(source.textContent);
    const base = source.dataset.base;
    window.EXPBOOK_RUNS_BASE = base;
    const pickA = document.getElementById("expbook-run-a"), pickB = document.getElementById("expbook-run-b");
    const output = document.getElementById("expbook-compare-output");
    [pickA, pickB].forEach((select) => choices.forEach((choice) => {
      const option = document.createElement("option");
      option.value = choice.id;
      option.textContent = choice.id + (choice.label ? " · " + choice.label : "");
      select.appendChild(option);
    }));
    if (!choices.length) return;
    pickA.value = choices[choices.length - 1].id;
    pickB.value = choices[0].id;
    const update = () => {
      const a = pickA.value, b = pickB.value;
      Promise.all([load(base, a), load(base, b)]).then(([A, B]) => {
        if (pickA.value === a && pickB.value === b) render({ [a]: A, [b]: B }, a, b, output);
      }, (missing) => { output.textContent = "The data of run " + missing + " could not be loaded."; });
    };
    pickA.addEventListener("change", update);
    pickB.addEventListener("change", update);
    update();
  });
})();
