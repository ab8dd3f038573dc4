"""Server-rendered HTML of the health view: overview, live source debugger, messageId lookup.

Pages are plain HTML with inline CSS and, for the debugger, a few lines of vanilla JavaScript that
subscribe to ``/debugger/stream`` (Server-Sent Events) — no CDN, no build step, works offline.  Every
value taken from events or headers goes through :func:`html.escape`.
"""

from __future__ import annotations

import html
import json
from typing import Any
from urllib.parse import quote

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d2330;background:#f5f6f8}
header{background:#1d2330;color:#fff;padding:10px 24px;display:flex;gap:24px;align-items:center}
header a{color:#cfd6e4;text-decoration:none}header b{font-size:16px}
main{padding:16px 24px}h2{font-size:16px;margin:24px 0 8px}
table{border-collapse:collapse;background:#fff;min-width:480px}
th,td{border-bottom:1px solid #e3e6eb;padding:6px 10px;text-align:left;vertical-align:top}
th{background:#eef0f4;font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
.ok{color:#137333}.error{color:#b3261e}.pending{color:#8a6d00}
.bar{background:#4a7bd0;height:10px;display:inline-block}
pre{background:#f0f2f5;padding:8px;margin:4px 0;white-space:pre-wrap;word-break:break-all;max-width:900px}
.ev{background:#fff;border-bottom:1px solid #e3e6eb;padding:6px 10px}
.ev .meta{color:#5b6475;font-size:12px}input[type=search]{width:320px;padding:4px}
"""

DEBUGGER_JS = """
const list = document.getElementById('events'), search = document.getElementById('q');
const modeBox = document.getElementById('raw');
function render(e) {
  const div = document.createElement('div'); div.className = 'ev';
  const ev = e.event, name = ev.event || ev.name || ev.type;
  div.dataset.text = JSON.stringify(ev).toLowerCase();
  const meta = document.createElement('div'); meta.className = 'meta';
  meta.textContent = new Date(e.time * 1000).toISOString() + ' · ' + ev.type + ' · ' + ev.messageId;
  const title = document.createElement('b'); title.textContent = name;
  const pretty = document.createElement('pre'); pretty.className = 'pretty';
  pretty.textContent = JSON.stringify(ev, null, 2);
  const raw = document.createElement('pre'); raw.className = 'rawv'; raw.textContent = JSON.stringify(ev);
  div.append(title, meta, pretty, raw); return div;
}
function apply() {
  const q = search.value.toLowerCase(), raw = modeBox.checked;
  for (const div of list.children) {
    div.style.display = !q || div.dataset.text.includes(q) ? '' : 'none';
    div.querySelector('.pretty').style.display = raw ? 'none' : '';
    div.querySelector('.rawv').style.display = raw ? '' : 'none';
  }
}
for (const e of INITIAL) list.append(render(e));
apply(); search.oninput = apply; modeBox.onchange = apply;
const stream = new EventSource('/debugger/stream?source=' + encodeURIComponent(SOURCE));
stream.onmessage = (m) => {
  list.prepend(render(JSON.parse(m.data))); apply();
  while (list.children.length > 500) list.lastChild.remove();
};
"""


def _e(value: Any) -> str:
    return html.escape("—" if value is None else str(value))


def layout(title: str, body: str, script: str = "") -> str:
    """A complete page."""
    nav = ('<header><b>eventyard health</b><a href="/">Overview</a><a href="/debugger">Source debugger</a>'
           '<a href="/lookup">Lookup by messageId</a></header>')
    tail = f"<script>{script}</script>" if script else ""
    return (f'<!doctype html><html><head><meta charset="utf-8"><title>{_e(title)}</title>'
            f"<style>{STYLE}</style></head><body>{nav}<main>{body}</main>{tail}</body></html>")


def _table(headers: list[str], rows: list[list[str]], numeric: set[int] = frozenset()) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="n">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def sparkline(series: list[int]) -> str:
    """An inline SVG line of events per minute."""
    top = max(series) or 1
    points = " ".join(f"{i * 2},{20 - 20 * v / top:.1f}" for i, v in enumerate(series))
    return (f'<svg width="{2 * len(series)}" height="22" role="img" aria-label="events per minute">'
            f'<polyline fill="none" stroke="#4a7bd0" points="{points}"/></svg>')


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{100 * value:.1f} %"


def overview_page(summary: dict[str, Any]) -> str:
    """Sources, destinations, funnels, errors and rejects."""
    parts = [f"<h1>Workspace {_e(summary['workspace'])}</h1><h2>Sources</h2>"]
    parts.append(_table(
        ["source", "received", "last 60 min", "events / minute", "trend (5 min)", "rejected"],
        [[f'<a href="/debugger?source={quote(s["name"])}">{_e(s["name"])}</a>', _e(s["received"]),
          _e(s["last_hour"]), sparkline(s["per_minute"]),
          "—" if s["trend_percent"] is None else f"{s['trend_percent']:+.1f} %", _e(s["rejected"])]
         for s in summary["sources"]], {1, 2, 5}))
    parts.append("<h2>Destinations</h2>")
    parts.append(_table(
        ["destination", "routed", "delivered", "not delivered", "pending", "success rate", "p95 latency"],
        [[_e(d["name"]), _e(d["routed"]), _e(d["delivered"]), _e(d["not_delivered"]), _e(d["pending"]),
          _percent(d["success_rate"]),
          "—" if d["p95_latency_seconds"] is None else f"{d['p95_latency_seconds']:.3f} s"]
         for d in summary["destinations"]], {1, 2, 3, 4, 5, 6}))
    for d in summary["destinations"]:
        top = max([n or 0 for _, n in d["funnel"]] + [1])
        rows = [[_e(stage.replace("_", " ")), _e(n), f'<span class="bar" style="width:{200 * (n or 0) // top}px">'
                 "</span>"] for stage, n in d["funnel"]]
        parts.append(f"<h2>Funnel — {_e(d['name'])}</h2>" + _table(["stage", "events", ""], rows, {1}))
    parts.append("<h2>Errors</h2>")
    parts.append(_table(["destination", "error class", "status", "count", "latest sample"],
                        [[_e(r["destination"]), _e(r["error_class"]), _e(r["status"]), _e(r["count"]),
                          _sample(r["sample"])] for r in summary["errors"]], {3})
                 if summary["errors"] else "<p>No dead letters.</p>")
    parts.append("<h2>Rejects</h2>")
    parts.append(_table(["source", "reason", "count"], [[_e(r["source"]), _e(r["reason"]), _e(r["count"])]
                                                         for r in summary["rejects"]], {2})
                 if summary["rejects"] else "<p>No rejects.</p>")
    if summary["scrape_errors"]:
        parts.append("<h2>Unreachable /metrics</h2>" + "".join(
            f"<p class=error>{_e(url)}: {_e(err)}</p>" for url, err in summary["scrape_errors"].items()))
    return layout("eventyard health", "".join(parts))


def _sample(sample: dict[str, Any]) -> str:
    sections = [("message", sample.get("message")), ("event sent", json.dumps(sample.get("event"), indent=2)),
                ("request", sample.get("request")), ("response", sample.get("response"))]
    body = "".join(f"<div><b>{name}</b><pre>{_e(text)}</pre></div>" for name, text in sections if text)
    return f"<details><summary>{_e(sample.get('message', ''))[:80]}</summary>{body}</details>"


def debugger_page(sources: list[str], source: str, entries: list[dict[str, Any]]) -> str:
    """The live debugger of one source (newest first)."""
    links = " · ".join(f'<a href="/debugger?source={quote(s)}">{_e(s)}</a>' for s in sources)
    body = (f"<h1>Source debugger — {_e(source)}</h1><p>Sources: {links}</p>"
            '<p><input type="search" id="q" placeholder="search events (name, userId, property…)"> '
            '<label><input type="checkbox" id="raw"> raw</label> '
            f"<span class=meta>last {len(entries)} events, live</span></p><div id=events></div>")
    initial = json.dumps(list(reversed(entries))).replace("</", "<\\/")
    script = f"const SOURCE = {json.dumps(source)}; const INITIAL = {initial};{DEBUGGER_JS}"
    return layout(f"debugger {source}", body, script)


def lookup_page(message_id: str, steps: list[dict[str, Any]] | None) -> str:
    """The lineage of one messageId."""
    form = (f'<form action="/lookup"><input type="search" name="messageId" value="{_e(message_id or "")}" '
            'placeholder="messageId" size=48> <button>Look up</button></form>')
    if not message_id:
        result = ""
    elif steps is None:
        result = f"<p>messageId {_e(message_id)} is not among the events this server has seen.</p>"
    else:
        result = f"<h2>Path of {_e(message_id)}</h2>" + _table(
            ["stage", "status", "detail"],
            [[_e(s["stage"]), f'<span class="{s["status"]}">{_e(s["status"])}</span>', _e(s["detail"])]
             for s in steps])
    return layout("lookup", f"<h1>Lookup by messageId</h1>{form}{result}")
