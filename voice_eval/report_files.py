"""The report as files: report.json (everything), junit.xml (one test case per run and per
threshold, for CI systems) and report.html (which tier ran, per-persona pass rates with intervals,
the metrics, the rubric, field capture by field, a plot of voice-to-voice latency per turn, cost per
call, and every failed run with its failures, its transcript, the judge's evidence and its decision
lines)."""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from xml.etree import ElementTree as ET

from .report import SuiteReport, tier_label
from .scoring import CallScore


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".yaml")


def junit_xml(report: SuiteReport) -> str:
    failed = sum(not c.passed and not c.broke_character for c in report.calls)
    suite = ET.Element(
        "testsuite",
        name=f"voice-agent eval {report.suite} ({report.tier})",
        tests=str(len(report.calls) + len(report.checks)),
        failures=str(failed + sum(not c.passed for c in report.checks)),
        errors=str(len(report.errors)),
        skipped=str(sum(c.broke_character for c in report.calls)),
        time=f"{report.wall_s:.1f}",
    )
    for call in report.calls:
        case = ET.SubElement(
            suite,
            "testcase",
            classname=_stem(call.scenario),
            name=f"seed {call.seed}",
            time=f"{call.duration_ms / 1000:.1f}",
        )
        if call.broke_character:  # says nothing about the agent: neither a pass nor a failure
            ET.SubElement(case, "skipped", message="the simulated caller broke character")
        elif call.failures:
            ET.SubElement(case, "failure", message="; ".join(call.failures)).text = f"call {call.call_id}"
    for bar in report.checks:
        case = ET.SubElement(suite, "testcase", classname="thresholds", name=bar.metric)
        if not bar.passed:
            bound = ">=" if bar.bound == "min" else "<="
            ET.SubElement(case, "failure", message=f"{bar.metric} = {bar.value} (must be {bound} {bar.threshold})")
    for error in report.errors:
        ET.SubElement(ET.SubElement(suite, "testcase", classname="errors", name=error[:80]), "error", message=error)
    return ET.tostring(suite, encoding="unicode", xml_declaration=True) + "\n"


def _row(*cells: object) -> str:
    return "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in cells) + "</tr>"


def report_html(report: SuiteReport) -> str:
    e = html.escape
    verdict = "PASSED" if report.passed else "FAILED"
    parts = [
        "<!doctype html><meta charset=utf-8>",
        f"<title>{e(report.suite)}: {verdict}</title>",
        "<style>body{font:14px sans-serif;margin:2em}td,th{padding:2px 8px;text-align:left}"
        ".bar{background:#4a7;height:10px;display:inline-block}</style>",
        f"<h1>{e(report.suite)}: {verdict}</h1>",
        f"<p><b>{e(tier_label(report.tier))}</b>. {len(report.calls)} runs, {report.runs} per persona, "
        f"{report.wall_s:.0f} s.</p>",
        "<h2>Personas</h2><table><tr><th>persona</th><th>passed</th><th>rate</th><th>Wilson 95%</th></tr>",
    ]
    for p in report.personas:
        parts.append(
            _row(
                _stem(p.scenario),
                f"{p.passes}/{p.runs}",
                f"{p.pass_rate:.2f}",
                f"[{p.wilson_low:.2f}, {p.wilson_high:.2f}]",
            )
        )
    parts.append("</table>")
    if report.pass_rate_interval is not None:
        low, high = report.pass_rate_interval
        parts.append(f"<p>Suite pass rate, bootstrap 95% over personas: [{low:.2f}, {high:.2f}]</p>")
    parts.append("<h2>Metrics</h2><table><tr><th>metric</th><th>value</th><th>threshold</th></tr>")
    bars = {c.metric: c for c in report.checks}
    for name, value in report.metrics.items():
        bar = bars.get(name)
        shown = (
            ""
            if bar is None
            else f"{'>=' if bar.bound == 'min' else '<='} {bar.threshold} {'ok' if bar.passed else 'FAIL'}"
        )
        parts.append(_row(name, "n/a" if value is None else f"{value:.3f}", shown))
    parts.append(
        "</table><h2>Field capture</h2><table><tr><th>field</th><th>meant</th><th>correct</th>"
        "<th>live</th><th>backfill</th><th>wrong</th><th>missing</th><th>unsupported</th></tr>"
    )
    for name, s in report.fields.items():
        parts.append(_row(name, s.meant, s.correct, s.live, s.backfill, s.wrong, s.missing, s.unsupported))
    if report.rubric:
        parts.append(
            "</table><h2>Rubric</h2><table><tr><th>criterion</th><th>pass</th><th>fail</th><th>unsure</th></tr>"
        )
        for criterion, n in report.rubric.items():
            parts.append(_row(criterion, n["pass"], n["fail"], n["unsure"]))
    parts.append("</table><h2>Voice-to-voice latency per turn (caller stops speaking to first agent audio)</h2>")
    parts.append(latency_plot(report.calls))
    parts.append("<h2>Cost per call (estimated)</h2><table><tr><th>run</th><th>cost</th><th>median latency</th></tr>")
    for c in report.calls:
        cost = "n/a" if c.cost_usd is None else f"${c.cost_usd:.4f}"
        median = sorted(c.latencies_ms)[len(c.latencies_ms) // 2] if c.latencies_ms else None
        parts.append(_row(f"{_stem(c.scenario)} seed {c.seed}", cost, "n/a" if median is None else f"{median} ms"))
    if report.broke_character:
        parts.append("</table><h2>Runs where the caller broke character (excluded)</h2><ul>")
        parts += [f"<li>{e(run)}</li>" for run in report.broke_character]
        parts.append("</ul>")
    parts.append("</table><h2>Failed runs</h2>")
    failed = [c for c in report.calls if not c.passed and not c.broke_character]
    if not failed:
        parts.append("<p>none</p>")
    parts += [_failed_run(c) for c in failed]
    for error in report.errors:
        parts.append(f"<p>error: {e(error)}</p>")
    return "\n".join(parts) + "\n"


def _failed_run(c: CallScore) -> str:
    e = html.escape
    items = "".join(f"<li>{e(f)}</li>" for f in c.failures)
    out = [f"<h3>{e(_stem(c.scenario))} seed {c.seed} (call {e(c.call_id)})</h3><ul>{items}</ul>"]
    if c.judgment is not None:
        out.append("<p>Judge:</p><ul>")
        if not c.judgment.in_persona:
            out.append(f"<li>the caller broke character: {e('; '.join(c.judgment.persona_evidence))}</li>")
        for v in c.judgment.criteria:
            quotes = " ".join(f"&ldquo;{e(q)}&rdquo;" for q in v.evidence)
            out.append(f"<li><b>{e(v.id)}</b>: {e(v.verdict)} ({e(v.reason)}) {quotes}</li>")
        out.append("</ul>")
    lines = "".join(f"<tr><td>{t.seq}</td><td>{e(t.speaker)}</td><td>{e(t.text)}</td></tr>" for t in c.transcript)
    out.append(f"<details><summary>transcript</summary><table>{lines}</table></details>")
    decisions = e("\n".join(c.decision_lines))
    out.append(f"<details><summary>decision lines</summary><pre>{decisions}</pre></details>")
    return "".join(out)


def latency_plot(calls: list[CallScore]) -> str:
    """An inline PNG: every run's latency at each caller turn, and the median per turn. Without
    matplotlib (a dev dependency) a table of the same numbers instead."""
    by_turn: dict[int, list[int]] = {}
    for c in calls:
        for n, ms in enumerate(c.latencies_ms, 1):
            by_turn.setdefault(n, []).append(ms)
    if not by_turn:
        return "<p>no answered turn</p>"
    try:
        import matplotlib

        matplotlib.use("Agg")
        from matplotlib import pyplot as plt
    except ImportError:
        rows = "".join(_row(n, ", ".join(map(str, v))) for n, v in sorted(by_turn.items()))
        return f"<table><tr><th>turn</th><th>ms</th></tr>{rows}</table>"
    fig, ax = plt.subplots(figsize=(8, 3.5), dpi=100)
    for n, values in sorted(by_turn.items()):
        ax.scatter([n] * len(values), values, s=12, alpha=0.5, color="#4a7")
    turns = sorted(by_turn)
    ax.plot(turns, [sorted(by_turn[n])[len(by_turn[n]) // 2] for n in turns], color="#333", label="median")
    ax.set_xlabel("caller turn")
    ax.set_ylabel("ms")
    ax.legend()
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="latency per turn" src="data:image/png;base64,{data}">'


def write_report(report: SuiteReport, folder: str | Path) -> list[Path]:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "report.json": report.model_dump_json(indent=2) + "\n",
        "junit.xml": junit_xml(report),
        "report.html": report_html(report),
    }
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return [folder / name for name in files]
