// expbook: every figure two runs both produced, as a pair with four views — side by side, swipe (a draggable
// divider), onion skin (an opacity slider) and difference (per-pixel, computed here from the two PNGs, changed
// pixels in magenta). Offline, from file:// as over HTTP: each run's figures come as data URLs from
// runs/<experiment>/<run>.figures.js through a script tag, so a canvas can read their pixels (an image loaded
// from file:// would taint it). Every text goes in with textContent; nothing from a run is parsed as HTML.
(function () {
  "use strict";
  const VIEWS = [["side", "Side by side"], ["swipe", "Swipe"], ["onion", "Onion skin"], ["diff", "Difference"]];

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function load(base, id) {
    window.EXPBOOK_FIGURES = window.EXPBOOK_FIGURES || {};
    if (window.EXPBOOK_FIGURES[id]) return Promise.resolve(window.EXPBOOK_FIGURES[id]);
    return new Promise((resolve, reject) => {
      const script = document.createElement("script");
      script.src = base + encodeURIComponent(id) + ".figures.js";
      script.onload = () => (window.EXPBOOK_FIGURES[id] ? resolve(window.EXPBOOK_FIGURES[id]) : reject(id));
      script.onerror = () => reject(id);
      document.head.appendChild(script);
    });
  }

  function image(src, alt) {
    return new Promise((resolve) => {
      const img = el("img", { alt: alt });
      img.onload = () => resolve(img);
      img.onerror = () => resolve(img);
      img.src = src;
    });
  }

  // the per-pixel difference: changed pixels magenta, unchanged ones a faded grey of A; returns the changed count
  function difference(a, b, canvas) {
    const w = Math.max(a.naturalWidth, b.naturalWidth), h = Math.max(a.naturalHeight, b.naturalHeight);
    const pixels = (img) => {
      const c = el("canvas", { width: w, height: h });
      const ctx = c.getContext("2d");
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, w, h);
      ctx.drawImage(img, 0, 0);
      return ctx.getImageData(0, 0, w, h).data;
    };
    const pa = pixels(a), pb = pixels(b);
    canvas.width = w;
    canvas.height = h;
    const ctx = canvas.getContext("2d");
    const out = ctx.createImageData(w, h);
    let changed = 0;
    for (let i = 0; i < pa.length; i += 4) {
      const differs = pa[i] !== pb[i] || pa[i + 1] !== pb[i + 1] || pa[i + 2] !== pb[i + 2] || pa[i + 3] !== pb[i + 3];
      if (differs) {
        changed += 1;
        out.data[i] = 255; out.data[i + 1] = 0; out.data[i + 2] = 255;
      } else {
        const grey = 255 - (255 - (pa[i] + pa[i + 1] + pa[i + 2]) / 3) * 0.25;
        out.data[i] = out.data[i + 1] = out.data[i + 2] = grey;
      }
      out.data[i + 3] = 255;
    }
    ctx.putImageData(out, 0, 0);
    return { changed: changed, total: w * h, sameSize: a.naturalWidth === b.naturalWidth && a.naturalHeight === b.naturalHeight };
  }

  function pair(name, srcA, srcB, labelA, labelB) {
    const section = el("section", { class: "expbook-figure-pair", "data-figure": name });
    section.appendChild(el("h3", {}, name));
    section.appendChild(el("p", { class: "expbook-figure-labels" }, "A: " + labelA + " · B: " + labelB));
    const bar = el("div", { class: "expbook-figure-views", role: "tablist", "aria-label": "view of " + name });
    section.appendChild(bar);
    const panes = {};
    VIEWS.forEach(([key, text]) => {
      const button = el("button", { type: "button", role: "tab", "data-view": key, "aria-selected": "false" }, text);
      bar.appendChild(button);
      panes[key] = el("div", { class: "expbook-figure-view expbook-view-" + key, role: "tabpanel", hidden: "" });
      section.appendChild(panes[key]);
    });
    return Promise.all([image(srcA, "run A: " + name), image(srcB, "run B: " + name),
                        image(srcA, "run A: " + name), image(srcB, "run B: " + name),
                        image(srcA, "run A: " + name), image(srcB, "run B: " + name)]).then(([a1, b1, a2, b2, a3, b3]) => {
      // side by side
      [[a1, "A"], [b1, "B"]].forEach(([img, label]) => {
        const figure = el("figure");
        figure.appendChild(img);
        figure.appendChild(el("figcaption", {}, label));
        panes.side.appendChild(figure);
      });
      // swipe: B below, A above clipped to the divider's left; the slider and a drag on the picture move it
      const swipe = el("div", { class: "expbook-figure-stack" });
      a2.className = "expbook-swipe-top";
      swipe.appendChild(b2);
      swipe.appendChild(a2);
      const divider = el("div", { class: "expbook-swipe-divider" });
      swipe.appendChild(divider);
      const slider = el("input", { type: "range", min: "0", max: "100", value: "50", class: "expbook-swipe",
                                   "aria-label": "swipe: share of the picture showing A" });
      const setSwipe = (value) => {
        slider.value = String(value);
        a2.style.clipPath = "inset(0 " + (100 - value) + "% 0 0)";
        divider.style.left = value + "%";
        swipe.dataset.position = String(value);
      };
      slider.addEventListener("input", () => setSwipe(Number(slider.value)));
      let dragging = false;
      const fromPointer = (event) => {
        const box = swipe.getBoundingClientRect();
        setSwipe(Math.round(Math.min(100, Math.max(0, 100 * (event.clientX - box.left) / box.width))));
      };
      [a2, b2].forEach((img) => { img.draggable = false; });  // no native image drag in the way of the divider
      swipe.addEventListener("pointerdown", (event) => {
        event.preventDefault();
        dragging = true;
        swipe.setPointerCapture(event.pointerId);
        fromPointer(event);
      });
      swipe.addEventListener("pointermove", (event) => { if (dragging) fromPointer(event); });
      swipe.addEventListener("pointerup", () => { dragging = false; });
      swipe.addEventListener("pointercancel", () => { dragging = false; });
      setSwipe(50);
      panes.swipe.appendChild(swipe);
      panes.swipe.appendChild(slider);
      panes.swipe.appendChild(el("p", { class: "expbook-figure-hint" }, "Left of the divider: A; right: B. Drag the picture or use the slider (arrow keys)."));
      // onion skin: A below, B above at the slider's opacity
      const onion = el("div", { class: "expbook-figure-stack" });
      b3.className = "expbook-onion-top";
      onion.appendChild(a3);
      onion.appendChild(b3);
      const opacity = el("input", { type: "range", min: "0", max: "100", value: "50", class: "expbook-opacity",
                                    "aria-label": "onion skin: opacity of B" });
      const setOpacity = () => { b3.style.opacity = String(Number(opacity.value) / 100); onion.dataset.opacity = opacity.value; };
      opacity.addEventListener("input", setOpacity);
      setOpacity();
      panes.onion.appendChild(onion);
      panes.onion.appendChild(opacity);
      panes.onion.appendChild(el("p", { class: "expbook-figure-hint" }, "0: only A; 100: only B."));
      // difference, computed when first shown
      const canvas = el("canvas", { class: "expbook-diff", "aria-label": "pixels that differ between A and B" });
      const count = el("p", { class: "expbook-diff-count" });
      panes.diff.appendChild(canvas);
      panes.diff.appendChild(count);
      let computed = false;
      const show = (key) => {
        VIEWS.forEach(([k]) => {
          panes[k].hidden = k !== key;
          bar.querySelector('[data-view="' + k + '"]').setAttribute("aria-selected", String(k === key));
        });
        section.dataset.view = key;
        if (key === "diff" && !computed) {
          computed = true;
          const result = difference(a1, b1, canvas);
          section.dataset.changed = String(result.changed);
          count.textContent = result.changed.toLocaleString("en") + " of " + result.total.toLocaleString("en") +
            " pixels differ (" + (100 * result.changed / result.total).toFixed(2) + "%)" +
            (result.sameSize ? "" : "; the two figures differ in size");
        }
      };
      bar.querySelectorAll("button").forEach((button) => {
        button.addEventListener("click", () => show(button.dataset.view));
        button.addEventListener("keydown", (event) => {
          const keys = VIEWS.map(([k]) => k), at = keys.indexOf(button.dataset.view);
          const step = event.key === "ArrowRight" ? 1 : event.key === "ArrowLeft" ? -1 : 0;
          if (step) {
            const next = keys[(at + step + keys.length) % keys.length];
            show(next);
            bar.querySelector('[data-view="' + next + '"]').focus();
            event.preventDefault();
          }
        });
      });
      show("side");
      return section;
    });
  }

  // the pairs of two runs' figures into ``container``; names only one run has are listed
  function render(container, base, a, b, labelA, labelB) {
    container.textContent = "";
    container.appendChild(el("p", {}, "Loading the figures …"));
    return Promise.all([load(base, a), load(base, b)]).then(([A, B]) => {
      container.textContent = "";
      const has = (object, name) => Object.prototype.hasOwnProperty.call(object, name);
      const both = Object.keys(A).filter((name) => has(B, name)).sort();
      const onlyA = Object.keys(A).filter((name) => !has(B, name)).sort();
      const onlyB = Object.keys(B).filter((name) => !has(A, name)).sort();
      if (!both.length) container.appendChild(el("p", {}, "The two runs have no figure in common."));
      if (onlyA.length) container.appendChild(el("p", {}, "Only in A: " + onlyA.join(", ")));
      if (onlyB.length) container.appendChild(el("p", {}, "Only in B: " + onlyB.join(", ")));
      return Promise.all(both.map((name) => pair(name, A[name], B[name], labelA, labelB)))
        .then((sections) => sections.forEach((section) => container.appendChild(section)));
    }, (missing) => { container.textContent = "The figures of run " + missing + " could not be loaded."; });
  }

  window.expbookFigures = { render: render };

  document.addEventListener("DOMContentLoaded", function () {
    const host = document.getElementById("expbook-figures");
    if (!host) return;
    render(host, host.dataset.base, host.dataset.a, host.dataset.b, host.dataset.labelA, host.dataset.labelB);
  });
})();
