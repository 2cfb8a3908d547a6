//! One self-contained HTML page per report: summary figures first, small
//! inline-SVG charts, then sortable tables. No external assets and no
//! network: CSS and a small script are inline, and a Content-Security-Policy
//! allows only that script (by nonce) and no other source at all. Every
//! server-provided string goes through [`crate::escape::html`].

use std::fmt::Write as _;
use std::hash::{BuildHasher as _, Hasher as _};

use super::Table;
use crate::escape::html;

/// A chart drawn as inline SVG.
#[derive(Debug, Clone)]
pub enum Chart {
    /// Seats per platform: (platform, used, reclaimable, licensed).
    Seats(Vec<(String, u64, u64, Option<u64>)>),
    /// A histogram: (bucket label, count), with a title.
    Histogram(String, Vec<(String, u64)>),
}

/// A report page being assembled.
#[derive(Debug, Clone, Default)]
pub struct Page {
    title: String,
    subtitle: String,
    figures: Vec<(String, String)>,
    notes: Vec<String>,
    charts: Vec<Chart>,
    tables: Vec<(String, Table)>,
}

const CSS: &str = "
body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#1b1f24;background:#fff}
h1{font-size:1.6rem;margin:0 0 .2rem}h2{font-size:1.15rem;margin:2rem 0 .5rem}
.sub{color:#57606a;margin:0 0 1.2rem}
.figs{display:flex;flex-wrap:wrap;gap:.8rem;margin:1rem 0}
.fig{border:1px solid #d0d7de;border-radius:8px;padding:.6rem .9rem;min-width:9rem}
.fig b{display:block;font-size:1.5rem}.fig span{color:#57606a;font-size:.85rem}
.notes{color:#57606a;font-size:.9rem;padding-left:1.2rem}
.charts{display:flex;flex-wrap:wrap;gap:1.5rem;margin:1rem 0}
table{border-collapse:collapse;width:100%;font-size:.9rem}
th,td{border-bottom:1px solid #d8dee4;padding:.3rem .5rem;text-align:left;vertical-align:top;white-space:pre-wrap;overflow-wrap:break-word;max-width:32rem}
th{white-space:nowrap}
th{background:#f6f8fa;cursor:pointer;user-select:none;position:sticky;top:0}
th[aria-sort=ascending]::after{content:' \\25B2'}th[aria-sort=descending]::after{content:' \\25BC'}
tr:hover td{background:#f6f8fa}
.count{color:#57606a;font-size:.85rem}
.wrap{overflow-x:auto}
footer{margin-top:2rem;color:#8c959f;font-size:.8rem}
";

const SCRIPT: &str = "
document.querySelectorAll('table.sortable').forEach(function (table) {
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    th.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var body = table.tBodies[0];
      var rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].textContent, y = b.cells[col].textContent;
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (!isNaN(nx) && !isNaN(ny) && String(nx) === x.trim() && String(ny) === y.trim())
          ? nx - ny : x.localeCompare(y);
        return asc ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
";

impl Page {
    /// A page with a title and a one-line explanation.
    pub fn new(title: &str, subtitle: &str) -> Self {
        Self {
            title: title.to_owned(),
            subtitle: subtitle.to_owned(),
            ..Self::default()
        }
    }
    /// Adds a summary figure.
    pub fn figure(&mut self, label: &str, value: &str) {
        self.figures.push((label.to_owned(), value.to_owned()));
    }
    /// Adds a note under the figures.
    pub fn note(&mut self, text: &str) {
        self.notes.push(text.to_owned());
    }
    /// Adds a chart.
    pub fn chart(&mut self, chart: Chart) {
        self.charts.push(chart);
    }
    /// Adds a sortable table under a heading.
    pub fn table(&mut self, heading: &str, table: Table) {
        self.tables.push((heading.to_owned(), table));
    }

    /// The whole document.
    pub fn render(&self) -> String {
        let nonce = format!(
            "{:016x}",
            std::collections::hash_map::RandomState::new()
                .build_hasher()
                .finish()
        );
        let mut o = String::with_capacity(64 * 1024);
        let _ = write!(
            o,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'nonce-{nonce}'\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n<p class=\"sub\">{}</p>\n",
            html(&self.title),
            html(&self.title),
            html(&self.subtitle)
        );
        if !self.figures.is_empty() {
            o.push_str("<div class=\"figs\">\n");
            for (label, value) in &self.figures {
                let _ = writeln!(
                    o,
                    "<div class=\"fig\"><b>{}</b><span>{}</span></div>",
                    html(value),
                    html(label)
                );
            }
            o.push_str("</div>\n");
        }
        if !self.notes.is_empty() {
            o.push_str("<ul class=\"notes\">\n");
            for n in &self.notes {
                let _ = writeln!(o, "<li>{}</li>", html(n));
            }
            o.push_str("</ul>\n");
        }
        if !self.charts.is_empty() {
            o.push_str("<div class=\"charts\">\n");
            for c in &self.charts {
                o.push_str(&svg(c));
            }
            o.push_str("</div>\n");
        }
        for (heading, table) in &self.tables {
            let _ = writeln!(
                o,
                "<h2>{}</h2>\n<p class=\"count\">{} rows; click a column to sort.</p>",
                html(heading),
                table.rows.len()
            );
            o.push_str("<div class=\"wrap\"><table class=\"sortable\">\n<thead><tr>");
            for c in &table.columns {
                let _ = write!(o, "<th>{}</th>", html(c));
            }
            o.push_str("</tr></thead>\n<tbody>\n");
            for r in &table.rows {
                o.push_str("<tr>");
                for c in r {
                    let _ = write!(o, "<td>{}</td>", html(c));
                }
                o.push_str("</tr>\n");
            }
            o.push_str("</tbody>\n</table></div>\n");
        }
        let _ = write!(
            o,
            "<footer>Generated by roster {} from snapshot data; every value is shown as the server reported it.</footer>\n\
             <script nonce=\"{nonce}\">{SCRIPT}</script>\n</body>\n</html>\n",
            env!("CARGO_PKG_VERSION")
        );
        o
    }
}

const BAR: &str = "#0969da";
const SPARE: &str = "#d0d7de";
const WARN: &str = "#bf8700";

/// A chart as an inline `<svg>` with a `<title>` (text is escaped).
fn svg(chart: &Chart) -> String {
    let mut o = String::new();
    match chart {
        Chart::Seats(rows) => {
            let w = 460;
            let row_h = 46;
            let h = 40 + row_h * rows.len().max(1);
            let max = rows
                .iter()
                .map(|(_, used, _, lic)| (*used).max(lic.unwrap_or(0)))
                .max()
                .unwrap_or(0)
                .max(1) as f64;
            let _ = write!(
                o,
                "<svg role=\"img\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">\
                 <title>Seats used vs licensed</title>\
                 <text x=\"0\" y=\"16\" font-size=\"13\" font-weight=\"600\">Seats used vs licensed</text>"
            );
            let scale = |n: u64| (n as f64 / max * 300.0).round() as i64;
            for (i, (name, used, reclaimable, licensed)) in rows.iter().enumerate() {
                let y = 30 + i * row_h;
                let active = used.saturating_sub(*reclaimable);
                let _ = write!(
                    o,
                    "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text>\
                     <rect x=\"110\" y=\"{y}\" width=\"{}\" height=\"18\" fill=\"{BAR}\"/>\
                     <rect x=\"{}\" y=\"{y}\" width=\"{}\" height=\"18\" fill=\"{WARN}\"/>",
                    y + 13,
                    html(name),
                    scale(active),
                    110 + scale(active),
                    scale(*reclaimable)
                );
                let label = match licensed {
                    Some(l) => {
                        let x = 110 + scale(*l);
                        let _ = write!(
                            o,
                            "<line x1=\"{x}\" y1=\"{}\" x2=\"{x}\" y2=\"{}\" stroke=\"#cf222e\" stroke-width=\"2\"/>",
                            y - 3,
                            y + 21
                        );
                        format!("{used} used / {l} licensed, {reclaimable} reclaimable")
                    }
                    None => {
                        format!("{used} used / licence not reported, {reclaimable} reclaimable")
                    }
                };
                let _ = write!(
                    o,
                    "<text x=\"110\" y=\"{}\" font-size=\"11\" fill=\"#57606a\">{}</text>",
                    y + 33,
                    html(&label)
                );
            }
            o.push_str("</svg>\n");
        }
        Chart::Histogram(title, buckets) => {
            let w = 460;
            let h = 200;
            let n = buckets.len().max(1);
            let slot = (w - 20) / n;
            let max = buckets.iter().map(|b| b.1).max().unwrap_or(0).max(1) as f64;
            let _ = write!(
                o,
                "<svg role=\"img\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" xmlns=\"http://www.w3.org/2000/svg\">\
                 <title>{t}</title><text x=\"0\" y=\"16\" font-size=\"13\" font-weight=\"600\">{t}</text>",
                t = html(title)
            );
            for (i, (label, count)) in buckets.iter().enumerate() {
                let bh = (*count as f64 / max * 120.0).round() as usize;
                let x = 10 + i * slot;
                let fill = if label == "unknown" { SPARE } else { BAR };
                let _ = write!(
                    o,
                    "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{bh}\" fill=\"{fill}\"/>\
                     <text x=\"{}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{count}</text>\
                     <text x=\"{}\" y=\"190\" font-size=\"10\" text-anchor=\"middle\" fill=\"#57606a\">{}</text>",
                    x + 4,
                    170 - bh,
                    slot - 8,
                    x + slot / 2,
                    166 - bh,
                    x + slot / 2,
                    html(label)
                );
            }
            o.push_str("</svg>\n");
        }
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_strings_are_text() {
        let mut page = Page::new("T", "<b>sub</b>");
        page.figure("<i>x</i>", "1");
        let mut t = Table::new(&["Name"]);
        t.rows.push(vec!["<img src=x onerror=alert(1)>".to_owned()]);
        page.table("Rows", t);
        page.chart(Chart::Histogram("h".into(), vec![("<script>".into(), 1)]));
        let out = page.render();
        assert!(!out.contains("<img"), "{out}");
        assert!(!out.contains("<script>"), "{out}");
        assert!(!out.contains("<b>sub"), "{out}");
        assert!(out.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert_eq!(out.matches("<script").count(), 1);
    }
}
