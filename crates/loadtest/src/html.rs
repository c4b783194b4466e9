//! The self-contained latency report (`<scenario>-latency.html`): for every request type a
//! plot of p50/p95/p99 response time over time, and one of answers per second (2xx, 429,
//! errors), as inline SVG with no script and nothing fetched, so it opens offline (goose's
//! own HTML report loads its chart library from a CDN).

use std::fmt::Write as _;

use crate::report::RunReport;
use crate::timeline::{Timeline, Window};

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 60.0;
const BOTTOM: f64 = 30.0;
const TOP: f64 = 20.0;

/// One line of a plot: its label, colour and value per window.
struct Line<'a> {
    label: &'a str,
    colour: &'a str,
    value: fn(&Window) -> f64,
}

/// A [`Line`] (`const`, for the tables below).
const fn line<'a>(label: &'a str, colour: &'a str, value: fn(&Window) -> f64) -> Line<'a> {
    Line {
        label,
        colour,
        value,
    }
}

const LATENCY: [Line<'static>; 3] = [
    line("p50", "#1f77b4", |w| w.p50_ms),
    line("p95", "#ff7f0e", |w| w.p95_ms),
    line("p99", "#d62728", |w| w.p99_ms),
];

const RATES: [Line<'static>; 3] = [
    line("2xx/s", "#2ca02c", |w| w.ok_per_sec),
    line("429/s", "#9467bd", |w| w.limited_per_sec),
    line("errors/s", "#d62728", |w| w.errors_per_sec),
];

/// The HTML page for `report` with the plots of `timeline` (windows sized so a plot has at
/// most about 150 points).
pub fn render(report: &RunReport, timeline: &Timeline) -> String {
    let window_secs = ((report.duration_secs / 150.0).ceil() as u64).max(1);
    let windows = timeline.windows(window_secs);
    let mut page = format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{0} load run</title>\
         <style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}\
         td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}td:first-child{{text-align:left}}</style>\
         </head><body>\n<h1>{0} ({1} profile)</h1>\n<p>{2}: {3:.0} s, up to {4} users over {5} source addresses, \
         windows of {6} s. <b>{7}</b></p>\n",
        esc(&report.scenario),
        esc(&report.profile),
        esc(&report.base_url),
        report.duration_secs,
        report.max_users,
        report.sources,
        window_secs,
        if report.passed { "PASSED" } else { "FAILED" },
    );
    page.push_str("<table><tr><th>request</th><th>count</th><th>req/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>429</th><th>errors</th><th>error %</th></tr>\n");
    for s in report.requests.iter().chain(std::iter::once(&report.total)) {
        let _ = writeln!(
            page,
            "<tr><td>{}</td><td>{}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{:.2}</td></tr>",
            esc(&s.name),
            s.requests,
            s.per_sec,
            s.p50_ms,
            s.p95_ms,
            s.p99_ms,
            s.rate_limited,
            s.errors,
            s.error_rate * 100.0
        );
    }
    page.push_str("</table>\n<ul>\n");
    for v in &report.thresholds {
        let _ = writeln!(
            page,
            "<li>{}: {} (measured {})</li>",
            esc(&v.rule),
            if v.passed { "pass" } else { "FAIL" },
            esc(&v.observed)
        );
    }
    page.push_str("</ul>\n");
    for (name, list) in &windows {
        let _ = writeln!(page, "<h2>{} response time (ms)</h2>", esc(name));
        page.push_str(&plot(list, &LATENCY, "ms"));
    }
    if let Some(all) = windows.get("all") {
        page.push_str("<h2>answers per second</h2>\n");
        page.push_str(&plot(all, &RATES, "/s"));
    }
    page.push_str("</body></html>\n");
    page
}

/// One SVG plot of `lines` over `windows`.
fn plot(windows: &[Window], lines: &[Line<'_>], unit: &str) -> String {
    let max_x = windows.last().map_or(1.0, |w| w.start_secs as f64).max(1.0);
    let max_y = windows
        .iter()
        .flat_map(|w| lines.iter().map(move |l| (l.value)(w)))
        .fold(0.0_f64, f64::max)
        .max(1.0)
        * 1.1;
    let x = |secs: f64| LEFT + secs / max_x * (WIDTH - LEFT - 10.0);
    let y = |v: f64| TOP + (1.0 - v / max_y) * (HEIGHT - TOP - BOTTOM);
    let mut svg = format!(
        "<svg width=\"{WIDTH}\" height=\"{HEIGHT}\" font-size=\"11\">\n\
         <rect x=\"{LEFT}\" y=\"{TOP}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#999\"/>\n",
        WIDTH - LEFT - 10.0,
        HEIGHT - TOP - BOTTOM
    );
    for tick in 0..=4 {
        let v = max_y * f64::from(tick) / 4.0;
        let _ = writeln!(
            svg,
            "<text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{v:.1}{unit}</text>",
            LEFT - 4.0,
            y(v) + 4.0
        );
        let secs = max_x * f64::from(tick) / 4.0;
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{secs:.0} s</text>",
            x(secs),
            HEIGHT - 10.0
        );
    }
    for (i, line) in lines.iter().enumerate() {
        let points: Vec<String> = windows
            .iter()
            .map(|w| format!("{:.1},{:.1}", x(w.start_secs as f64), y((line.value)(w))))
            .collect();
        let _ = writeln!(
            svg,
            "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.5\" points=\"{}\"/>\n<text x=\"{}\" y=\"14\" fill=\"{}\">{}</text>",
            line.colour,
            points.join(" "),
            LEFT + 70.0 * i as f64,
            line.colour,
            line.label
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// `text` safe inside HTML.
fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Scenario;
    use crate::report::{RequestStats, Verdict};
    use std::collections::BTreeMap;
    use std::sync::Arc;

    #[test]
    fn the_page_is_self_contained_with_one_plot_per_request_type() {
        let timeline = Timeline::default();
        for i in 0..50u64 {
            timeline.record(Arc::from("GET /api/listings"), i * 100, 1000 + i, 200);
            timeline.record(Arc::from("POST /api/auth/register"), i * 100, 40_000, 429);
        }
        let stats = |name: &str| RequestStats {
            name: name.into(),
            requests: 50,
            per_sec: 10.0,
            p50_ms: 1.0,
            p95_ms: 1.0,
            p99_ms: 1.0,
            max_ms: 1.0,
            ok: 50,
            rate_limited: 0,
            errors: 0,
            error_rate: 0.0,
            statuses: BTreeMap::new(),
        };
        let report = RunReport {
            scenario: Scenario::HttpEndpoints.name().into(),
            profile: "ci".into(),
            base_url: "http://127.0.0.1:1".into(),
            stages: String::new(),
            duration_secs: 5.0,
            max_users: 2,
            sources: 2,
            requests: vec![stats("GET /api/listings")],
            total: stats("all"),
            thresholds: vec![Verdict {
                rule: "p95 < 200 ms".into(),
                observed: "1 ms".into(),
                passed: true,
            }],
            flow: None,
            passed: true,
            html_report: String::new(),
        };
        let page = render(&report, &timeline);
        assert_eq!(page.matches("<svg").count(), 4, "GET, POST, all, rates");
        assert!(page.contains("GET /api/listings response time"));
        assert!(page.contains("429/s"));
        assert!(
            !page.contains("<script") && !page.contains("http://www") && !page.contains("https://")
        );
    }
}
