"""What changed between two releases: verdicts whose state changed, headlines, measured values outside the earlier
release's interval, the parameter, code and data changes behind them, and the failed runs since. As text for
``release-diff`` and as the standalone ``changes.html`` page of each release (every value escaped)."""

from __future__ import annotations

import html
from typing import Any


def release_diff(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Per experiment in ``new``: verdicts whose state changed, a changed headline, verdict values that moved
    outside the earlier release's interval, and the parameter, code and data changes behind them."""
    report = []
    for experiment, now in new.items():
        before = old.get(experiment)
        known = {f["run_id"] for f in (before or {}).get("failed", [])}
        failures = [f for f in now.get("failed", []) if f["run_id"] not in known]
        if before is None:
            report.append({"experiment": experiment, "new": True, "verdicts": [], "moved": [], "params": [],
                           "headline": None, "commit": None, "data": False, "failed": failures})
            continue
        verdicts = [(i, v["question"], before["verdicts"].get(i, {}).get("state"), v["state"])
                    for i, v in now["verdicts"].items() if before["verdicts"].get(i, {}).get("state") != v["state"]]
        moved = []
        for i, v in now["verdicts"].items():
            earlier = before["verdicts"].get(i, {})
            ci, value = earlier.get("ci"), v.get("value")
            if ci and value is not None and not ci[0] <= value <= ci[1]:
                moved.append((i, earlier.get("value_text", ""), v.get("value_text", "")))
        params = [(k, before["params"].get(k), now["params"].get(k))
                  for k in sorted(set(before["params"]) | set(now["params"]))
                  if before["params"].get(k) != now["params"].get(k)]
        report.append({"experiment": experiment, "new": False, "verdicts": verdicts, "moved": moved, "params": params,
                       "headline": (before["headline"], now["headline"]) if before["headline"] != now["headline"] else None,
                       "commit": (before["commit"], now["commit"]) if before["commit"] != now["commit"] else None,
                       "data": before["data"] != now["data"], "runs": (before["run_id"], now["run_id"]),
                       "failed": failures})
    return report


def render_diff_text(name_a: str, name_b: str, diff: list[dict[str, Any]]) -> str:
    lines = [f"what changed from {name_a} to {name_b}"]
    for item in diff:
        lines.append(f"\n{item['experiment']}" + (" (new in this release)" if item["new"] else ""))
        found = [f"  verdict {i}: {a or '–'} -> {b}  {q}" for i, q, a, b in item["verdicts"]]
        found += [f"  {i} moved outside the earlier interval: {a} -> {b}" for i, a, b in item["moved"]]
        if item["headline"]:
            found += [f"  headline was: {item['headline'][0]}", f"  headline now: {item['headline'][1]}"]
        found += [f"  parameter {k}: {a!r} -> {b!r}" for k, a, b in item["params"]]
        if item["commit"]:
            found.append(f"  code: {item['commit'][0][:10]} -> {item['commit'][1][:10]}")
        if item["data"]:
            found.append("  data: changed")
        found += [f"  failed run {f['run_id']} ({_overrides(f['overrides'])}): {f['error']}" for f in item.get("failed", [])]
        lines += found or ([] if item["new"] else ["  nothing changed"])
    return "\n".join(lines)


def _overrides(overrides: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in overrides.items()) or "defaults"


def render_diff_html(name: str, previous: str | None, diff: list[dict[str, Any]]) -> str:
    """A standalone page in the release folder: the site's stylesheet and switcher, the changes per report."""
    e = html.escape
    badge = {"holds": "holds", "does not hold": "fails", "inconclusive": "inconclusive", "not applicable": "na"}

    def state(s: str | None) -> str:
        return "–" if s is None else f'<span class="expbook-verdict expbook-verdict-{badge[s]}">{e(s)}</span>'

    body = [f"<h1>What changed in {e(name)}</h1>"]
    if previous is None:
        body.append("<p>This is the first release: there is nothing earlier to compare with.</p>")
        diff = [item for item in diff if item.get("failed")]
    else:
        body.append(f"<p>Every report's canonical run in <b>{e(name)}</b> against release <b>{e(previous)}</b>: verdicts "
                    "whose state changed, headlines that changed, measured values outside the earlier release's "
                    "interval, and the parameter, code and data changes behind them.</p>")
    for item in diff:
        body.append(f"<h2>{e(item['experiment'])}</h2>")
        failed = ""
        if item.get("failed"):
            rows = "".join(f"<tr><td><code>{e(f['run_id'])}</code></td><td><code>{e(_overrides(f['overrides']))}</code></td>"
                           f"<td>{e(f['error'])}</td></tr>" for f in item["failed"])
            failed = ("<h3>Failed runs" + (" since the previous release" if previous else "") + "</h3><p>They do not "
                      "change any report: a failed run never replaces the canonical one.</p><table class='table'><tr>"
                      f"<th>run</th><th>parameters</th><th>error</th></tr>{rows}</table>")
        if item["new"]:
            body.append("<p>New in this release.</p>" + failed)
            continue
        parts = [failed] if failed else []
        if item["verdicts"]:
            rows = "".join(f"<tr><td>{e(i)}</td><td>{e(q)}</td><td>{state(a)}</td><td>{state(b)}</td></tr>"
                           for i, q, a, b in item["verdicts"])
            parts.append("<h3>Verdicts whose state changed</h3><table class='table'><tr><th></th><th>question</th>"
                         f"<th>{e(previous or '')}</th><th>{e(name)}</th></tr>{rows}</table>")
        if item["headline"]:
            parts.append(f"<h3>Headline</h3><p><i>{e(previous or '')}:</i> {e(item['headline'][0])}</p>"
                         f"<p><i>{e(name)}:</i> {e(item['headline'][1])}</p>")
        if item["moved"]:
            rows = "".join(f"<tr><td>{e(i)}</td><td>{e(a)}</td><td>{e(b)}</td></tr>" for i, a, b in item["moved"])
            parts.append("<h3>Measured values outside the earlier interval</h3><table class='table'><tr><th></th>"
                         f"<th>{e(previous or '')} [interval]</th><th>{e(name)}</th></tr>{rows}</table>")
        causes = [f"parameter <code>{e(k)}</code>: <code>{e(repr(a))}</code> → <code>{e(repr(b))}</code>"
                  for k, a, b in item["params"]]
        if item["commit"]:
            causes.append(f"code <code>{e(item['commit'][0][:10])}</code> → <code>{e(item['commit'][1][:10])}</code>")
        if item["data"]:
            causes.append("data changed")
        if causes:
            parts.append("<h3>Behind it</h3><ul>" + "".join(f"<li>{c}</li>" for c in causes) + "</ul>")
        body += parts or ["<p>Nothing changed.</p>"]
    return ("<!DOCTYPE html><html data-content_root=\"./\"><head><meta charset=\"utf-8\">"
            f"<title>What changed in {e(name)}</title>"
            '<link rel="stylesheet" href="_static/styles/theme.css"><link rel="stylesheet" href="_static/expbook.css">'
            '<script src="_static/expbook_versions.js"></script></head>'
            f'<body><div class="bd-article-container" style="margin: 2rem auto; max-width: 60rem"><article>'
            f'<p><a href="index.html">← the {e(name)} site</a></p>{"".join(body)}</article></div></body></html>\n')
