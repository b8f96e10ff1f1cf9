"""HTML page of `make nlu-report`: one self-contained file, no JavaScript or images.

The confusion matrix is a table coloured as a heat map: each cell's shade is its
share of the row (the messages of that expected intent), green on the diagonal,
red off it, so the mistakes that matter stand out at any set size.
"""

from __future__ import annotations

from html import escape
from typing import Any

from scripts.nlu_metrics import FALLBACK

_STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { margin-bottom: 0; } h2 { margin-top: 2.5em; border-bottom: 2px solid #ccc; }
table { border-collapse: collapse; margin: 0.8em 0; }
th, td { border: 1px solid #ddd; padding: 3px 7px; text-align: right; }
th { background: #f4f4f4; } td.l, th.l { text-align: left; }
.low { background: #fde2e2; } .ok { background: #e6f4e6; }
.cm td { min-width: 1.6em; text-align: center; font-size: 12px; }
.cm th.col { writing-mode: vertical-rl; transform: rotate(180deg); font-weight: normal; }
.cm th.row { text-align: left; font-weight: normal; }
.muted { color: #777; } q { font-style: italic; }
"""


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def _cell_style(count: int, row_total: int, diagonal: bool) -> str:
    if not count:
        return ""
    share = count / row_total
    # The lightest shade is still visible, so a single miss is never invisible.
    alpha = 0.12 + 0.88 * share
    colour = "40, 150, 60" if diagonal else "210, 40, 40"
    text = "#fff" if alpha > 0.6 else "#000"
    return f' style="background: rgba({colour}, {alpha:.2f}); color: {text}"'


def confusion_table(confusion: dict[str, Any]) -> str:
    rows, columns, counts = confusion["rows"], confusion["columns"], confusion["counts"]
    head = "".join(
        f'<th class="col" title="predicted">{escape(c)}</th>' for c in columns
    )
    body = []
    for r, row in zip(rows, counts):
        total = sum(row)
        cells = "".join(
            f'<td{_cell_style(n, total, r == c)} title="{escape(r)} → {escape(c)}: {n}">'
            f'{n or ""}</td>'
            for c, n in zip(columns, row)
        )
        body.append(f'<tr><th class="row">{escape(r)}</th>{cells}<td>{total}</td></tr>')
    return (
        '<table class="cm"><tr><th class="l">expected ↓ / predicted →</th>'
        f'{head}<th class="col">total</th></tr>{"".join(body)}</table>'
    )


def intent_table(per_intent: dict[str, dict[str, float]]) -> str:
    # Worst first: the rows a reader needs are at the top.
    ordered = sorted(per_intent.items(), key=lambda item: (item[1]["f1"], item[0]))
    rows = []
    for intent, s in ordered:
        css = "low" if s["recall"] < 0.85 else "ok" if s["f1"] >= 0.95 else ""
        rows.append(
            f'<tr class="{css}"><td class="l">{escape(intent)}</td><td>{_pct(s["precision"])}</td>'
            f'<td>{_pct(s["recall"])}</td><td>{_pct(s["f1"])}</td><td>{s["support"]}</td>'
            f'<td>{s["predicted"]}</td></tr>'
        )
    return (
        '<table><tr><th class="l">intent</th><th>precision</th><th>recall (accuracy)</th>'
        f'<th>F1</th><th>messages</th><th>predicted</th></tr>{"".join(rows)}</table>'
    )


def group_table(per_group: dict[str, dict[str, float]], title: str = "persona") -> str:
    rows = "".join(
        f'<tr class="{"low" if g["accuracy"] < 0.85 else ""}"><td class="l">{escape(name)}</td>'
        f'<td>{_pct(g["accuracy"])}</td><td>{g["examples"]}</td><td>{g["misses"]}</td>'
        f'<td>{g["fallbacks"]}</td></tr>'
        for name, g in sorted(per_group.items(), key=lambda item: item[1]["accuracy"])
    )
    return (
        f'<table><tr><th class="l">{escape(title)}</th><th>accuracy</th><th>messages</th>'
        f"<th>misses</th><th>fallbacks</th></tr>{rows}</table>"
    )


def confusions_list(worst: list[dict[str, Any]]) -> str:
    if not worst:
        return "<p>No confusions.</p>"
    items = []
    for c in worst:
        examples = "".join(
            f"<li><q>{escape(e['text'])}</q> <span class=muted>({e['confidence']:.2f}"
            f"{', ' + escape(e['group']) if e.get('group') else ''})</span></li>"
            for e in c["examples"]
        )
        predicted = c["predicted"] + (" (asked to rephrase)" if c["predicted"] == FALLBACK else "")
        items.append(
            f"<li><b>{escape(c['expected'])}</b> → <b>{escape(predicted)}</b>: {c['count']} "
            f"({_pct(c['share_of_expected'])} of {escape(c['expected'])})<ul>{examples}</ul></li>"
        )
    return f"<ol>{''.join(items)}</ol>"


def section(name: str, result: dict[str, Any], note: str = "") -> str:
    parts = [
        f'<h2 id="{escape(name)}">{escape(name)}</h2>',
        f"<p>{escape(note)}</p>" if note else "",
        f"<p><b>Accuracy {_pct(result['accuracy'])}</b> ({result['correct']} of "
        f"{result['examples']}); macro accuracy {_pct(result['accuracy_macro'])}, macro F1 "
        f"{_pct(result['f1_macro'])}; {result['fallbacks']} fallbacks (counted as misses).</p>",
    ]
    if result["per_group"]:
        parts += ["<h3>By persona</h3>", group_table(result["per_group"])]
    parts += [
        "<h3>By intent</h3>",
        intent_table(result["per_intent"]),
        "<h3>Worst confusions</h3>",
        confusions_list(result["worst_confusions"]),
        "<h3>Confusion matrix</h3>",
        confusion_table(result["confusion"]),
    ]
    return "\n".join(parts)


def render(report: dict[str, Any]) -> str:
    """The whole page for a report as written to report.json."""
    evaluations = report["evaluations"]
    summary = "".join(
        f'<tr><td class="l"><a href="#{escape(name)}">{escape(name)}</a></td>'
        f"<td>{_pct(r['accuracy'])}</td><td>{_pct(r['accuracy_macro'])}</td>"
        f"<td>{_pct(r['f1_macro'])}</td><td>{r['examples']}</td><td>{r['fallbacks']}</td></tr>"
        for name, r in evaluations.items()
    )
    sections = "\n".join(
        section(name, r, report.get("notes", {}).get(name, "")) for name, r in evaluations.items()
    )
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>NLU report</title><style>{_STYLE}</style></head><body>"
        f"<h1>NLU report</h1><p class=muted>{escape(report.get('generated', ''))} · model "
        f"{escape(report.get('model', ''))}</p>"
        '<table><tr><th class="l">set</th><th>accuracy</th><th>macro accuracy</th>'
        f"<th>macro F1</th><th>messages</th><th>fallbacks</th></tr>{summary}</table>"
        f"{sections}</body></html>"
    )
