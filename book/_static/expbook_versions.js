// expbook version switcher: on a released site (book/_build/versions/<name>/...), list every release and `latest`.
// The list comes from ../versions.js through a script tag, which works from file:// as well as over HTTP.
(function () {
  "use strict";
  function siteRoot() {
    const root = document.documentElement.dataset.content_root || "./";
    return new URL(root, window.location.href);
  }

  function build(versions, root) {
    const base = new URL("../", root);
    const current = decodeURIComponent(root.pathname.replace(/\/$/, "").split("/").pop());
    const page = window.location.href.slice(root.href.length).split("#")[0] || "index.html";
    const names = versions.versions.map((v) => v.name).reverse();
    const box = document.createElement("div");
    box.className = "expbook-version-switcher";
    const label = document.createElement("label");
    label.textContent = "Version ";
    const select = document.createElement("select");
    select.id = "expbook-version";
    [["latest", "latest (" + versions.aliases.latest + ")"]].concat(names.map((n) => [n, n])).forEach(([value, text]) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = text;
      select.appendChild(option);
    });
    select.value = names.includes(current) ? current : "latest";
    select.addEventListener("change", () => {
      window.location.href = new URL(select.value + "/" + page, base).href;
    });
    label.appendChild(select);
    box.appendChild(label);
    const changes = document.createElement("a");
    changes.href = new URL("changes.html", root).href;
    changes.textContent = "what changed in " + current;
    changes.className = "expbook-version-changes";
    box.appendChild(changes);
    const host = document.querySelector(".bd-header-article") || document.querySelector("article") || document.body;
    host.insertBefore(box, host.firstChild);
  }

  document.addEventListener("DOMContentLoaded", function () {
    const root = siteRoot();
    const script = document.createElement("script");
    script.src = new URL("../versions.js", root).href;
    script.onload = () => window.EXPBOOK_VERSIONS && build(window.EXPBOOK_VERSIONS, root);
    script.onerror = () => {};  // the live site, not a release: no switcher
    document.head.appendChild(script);
  });
})();
