"""The report as files: report.json (everything), junit.xml (one test case per run and per
threshold, for CI systems) and report.html (per-persona pass rates with intervals, the metrics,
field capture, response time per turn and cost per call, every failed run with its failures and
call id; `voice-agent calls show CALL_ID` has its transcript and decisions while the stack runs)."""

from __future__ import annotations

import html
from pathlib import Path
from xml.etree import ElementTree as ET

from .report import SuiteReport


def _stem(path: str) -> str:
    return path.rsplit("/", 1)[-1].removesuffix(".yaml")


def junit_xml(report: SuiteReport) -> str:
    failed = sum(not c.passed for c in report.calls)
    suite = ET.Element(
        "testsuite",
        name=f"voice-agent eval {report.suite} ({report.tier})",
        tests=str(len(report.calls) + len(report.checks)),
        failures=str(failed + sum(not c.passed for c in report.checks)),
        errors=str(len(report.errors)),
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
        if call.failures:
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
        f"<p>{e(report.tier)} tier: the model is the project's stand-in, so this measures the product around "
        f"the model, not the model. {len(report.calls)} runs, {report.runs} per persona, {report.wall_s:.0f} s.</p>",
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
    parts.append("</table><h2>Response time per turn (caller stops speaking to first agent audio)</h2><table>")
    longest = max((ms for c in report.calls for ms in c.latencies_ms), default=1) or 1
    for c in report.calls:
        bars_html = "".join(
            f'<span class=bar style="width:{max(1, int(120 * ms / longest))}px" title="{ms} ms"></span> '
            for ms in c.latencies_ms
        )
        cost = "n/a" if c.cost_usd is None else f"${c.cost_usd:.4f}"
        parts.append(f"<tr><td>{e(_stem(c.scenario))} seed {c.seed}</td><td>{bars_html}</td><td>{cost}</td></tr>")
    parts.append("</table><h2>Failed runs</h2>")
    failed = [c for c in report.calls if not c.passed]
    if not failed:
        parts.append("<p>none</p>")
    for c in failed:
        items = "".join(f"<li>{e(f)}</li>" for f in c.failures)
        parts.append(f"<h3>{e(_stem(c.scenario))} seed {c.seed} (call {e(c.call_id)})</h3><ul>{items}</ul>")
    for error in report.errors:
        parts.append(f"<p>error: {e(error)}</p>")
    return "\n".join(parts) + "\n"


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
