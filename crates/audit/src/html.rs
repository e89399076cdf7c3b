//! `report.html`: the report for a person. A summary, two inline SVG charts (the main
//! output's argmax per entry over time, and the proving time per entry) and a table of the
//! entries. Self-contained: no script, no external resource.

use std::fmt::Write;

use crate::window::{Report, Verdict};

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn verdict_text(v: &Verdict) -> String {
    match v {
        Verdict::Proved => "proved".into(),
        Verdict::OutputMismatch => "OUTPUT MISMATCH".into(),
        Verdict::OtherModel => "other model".into(),
        Verdict::Failed(why) => format!("failed: {why}"),
    }
}

const W: f64 = 720.0;
const H: f64 = 180.0;
const PAD: f64 = 36.0;

/// A scatter chart of `points` (x = entry position, y = value) with a y-axis label.
fn chart(title: &str, points: &[(usize, f64, bool)], n: usize) -> String {
    let ymax = points.iter().map(|p| p.1).fold(1.0f64, f64::max);
    let x = |i: usize| PAD + (W - 2.0 * PAD) * (i as f64 + 0.5) / n.max(1) as f64;
    let y = |v: f64| H - PAD - (H - 2.0 * PAD) * v / ymax;
    let mut s = format!(
        "<h2>{}</h2><svg width=\"{W}\" height=\"{H}\" viewBox=\"0 0 {W} {H}\" role=\"img\">\
         <line x1=\"{PAD}\" y1=\"{b}\" x2=\"{r}\" y2=\"{b}\" stroke=\"#888\"/>\
         <line x1=\"{PAD}\" y1=\"{PAD}\" x2=\"{PAD}\" y2=\"{b}\" stroke=\"#888\"/>\
         <text x=\"2\" y=\"{top}\" font-size=\"11\">{ymax:.0}</text>\
         <text x=\"2\" y=\"{b}\" font-size=\"11\">0</text>",
        esc(title),
        b = H - PAD,
        r = W - PAD,
        top = PAD + 4.0,
    );
    for &(i, v, ok) in points {
        let colour = if ok { "#2a6fdb" } else { "#d33" };
        let _ = write!(
            s,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"3\" fill=\"{colour}\"/>",
            x(i),
            y(v)
        );
    }
    s.push_str("</svg>");
    s
}

/// The page.
pub fn render(r: &Report) -> String {
    let n = r.entries.len();
    let t = &r.totals;
    let mut s = String::from(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>stwo-ml audit report</title>\
         <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:2px 6px;font-size:13px}td.bad{color:#d33}\
         code{font-size:12px}</style></head><body><h1>Audit report</h1>",
    );
    let _ = write!(
        s,
        "<p>Model <code>{}</code>; entries {}..{} of the log{}.</p>\
         <p>Log root at size {}: <code>{}</code><br>Log root at size {}: <code>{}</code></p>\
         <p>{} entries: {} proved, {} output mismatches, {} for other models, {} failed. \
         Proving {:.2} s, wall {:.2} s. Report hash <code>{}</code>; made {}.</p>",
        hex::encode(r.model_digest),
        r.window.from_seq,
        r.window.to_seq,
        match (&r.window.from_time, &r.window.to_time) {
            (Some(a), Some(b)) => format!(" (from {} to {})", esc(a), esc(b)),
            _ => String::new(),
        },
        r.start.size,
        hex::encode(r.start.root),
        r.end.size,
        hex::encode(r.end.root),
        t.entries,
        t.proved,
        t.output_mismatch,
        t.other_model,
        t.failed,
        t.prove_seconds,
        t.wall_seconds,
        esc(&r.report_hash),
        esc(&r.created),
    );
    let argmax: Vec<(usize, f64, bool)> = r
        .entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| Some((i, e.argmax? as f64, e.verdict == Verdict::Proved)))
        .collect();
    s.push_str(&chart(
        "Output (argmax of the main output) per entry, in log order; red: not proved",
        &argmax,
        n,
    ));
    let times: Vec<(usize, f64, bool)> = r
        .entries
        .iter()
        .enumerate()
        .map(|(i, e)| (i, e.prove_ms, e.verdict == Verdict::Proved))
        .collect();
    s.push_str(&chart("Proving time per entry (ms)", &times, n));
    s.push_str(
        "<h2>Entries</h2><table><tr><th>seq</th><th>time</th><th>input hash</th>\
         <th>argmax</th><th>verdict</th><th>prove ms</th><th>proof</th></tr>",
    );
    for e in &r.entries {
        let bad = if e.verdict == Verdict::Proved {
            ""
        } else {
            " class=\"bad\""
        };
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td><td{bad}>{}</td>\
             <td>{:.1}</td><td>{}</td></tr>",
            e.seq,
            esc(&e.time),
            &hex::encode(e.input_hash)[..16],
            e.argmax.map_or("-".into(), |a| a.to_string()),
            esc(&verdict_text(&e.verdict)),
            e.prove_ms,
            e.proof_file.as_deref().map_or(String::new(), esc),
        );
    }
    s.push_str("</table></body></html>\n");
    s
}
