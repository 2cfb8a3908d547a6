//! One escaping rule for everything roster shows a person: server data is
//! data, never markup or terminal control.
//!
//! - [`term`]: for terminals and any human-readable text (tables, diff text,
//!   `validate`, warnings, `error:` lines). C0 and C1 controls, DEL and the
//!   Unicode bidi / invisible formatting characters are shown as visible
//!   escapes (`\e`, `\n`, `\u{202e}`), so a name cannot clear the screen, set
//!   the window title, forge a link, reorder text or start a new line.
//!   A backslash is doubled so an escape cannot be forged either.
//! - [`csv_cell`]: RFC 4180 quoting plus OWASP's rule against formula
//!   injection: a cell starting with `=`, `+`, `-`, `@`, TAB or CR gets a
//!   leading `'` so a spreadsheet shows it as text.
//! - [`html`]: for HTML text and attribute values.

use std::borrow::Cow;
use std::fmt::Write as _;

use roster_core::ValidationReport;

/// Characters shown as an escape in human-readable output.
fn needs_escape(c: char) -> bool {
    c.is_control() // C0, DEL, C1
        || c == '\\'
        || matches!(c,
            '\u{061c}'              // Arabic letter mark
            | '\u{200b}'..='\u{200f}' // zero-width space/joiners, LRM, RLM
            | '\u{2028}' | '\u{2029}' // line / paragraph separator
            | '\u{202a}'..='\u{202e}' // bidi embeddings and overrides
            | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
            | '\u{2066}'..='\u{2069}' // bidi isolates
            | '\u{feff}'              // byte-order mark / ZWNBSP
        )
}

/// Escapes server-provided text for a terminal or any human-readable output.
///
/// Text with nothing to escape is borrowed unchanged.
pub fn term(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if !needs_escape(c) {
            out.push(c);
            continue;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{1b}' => out.push_str("\\e"),
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
        }
    }
    Cow::Owned(out)
}

/// A validation report whose every server-provided string (check names and
/// details, rate-limit detail, plan totals, buckets, advice) went through
/// [`term`], ready for its multi-line `Display`.
pub fn validation_report(report: &ValidationReport) -> ValidationReport {
    let t = |s: &str| term(s).into_owned();
    let mut out = report.clone();
    out.connector = t(&report.connector);
    out.source = t(&report.source);
    for c in &mut out.checks {
        c.name = t(&c.name);
        c.detail = t(&c.detail);
    }
    if let Some(rl) = &mut out.rate_limit {
        rl.detail = t(&rl.detail);
    }
    if let Some(plan) = &mut out.plan {
        for (k, _) in &mut plan.totals {
            *k = t(k);
        }
        for b in &mut plan.buckets {
            b.bucket = t(&b.bucket);
        }
        // Advice names settings by their flags here, then is plain text.
        for a in &mut plan.advice {
            *a = roster_core::plan::Advice::Text(t(&crate::util::advice_text(a)));
        }
    }
    out
}

/// One CSV cell: OWASP's formula-injection rule, then RFC 4180 quoting.
///
/// The apostrophe makes a spreadsheet treat `=HYPERLINK(...)` as text; the
/// quoting keeps commas, quotes and newlines inside the cell.
pub fn csv_cell(text: &str) -> Cow<'_, str> {
    let formula = text.starts_with(['=', '+', '-', '@', '\t', '\r']);
    let quote = formula || text.contains([',', '"', '\n', '\r']);
    if !quote {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 4);
    out.push('"');
    if formula {
        out.push('\'');
    }
    for c in text.chars() {
        if c == '"' {
            out.push('"');
        }
        out.push(c);
    }
    out.push('"');
    Cow::Owned(out)
}

/// Escapes text for HTML element content and quoted attribute values.
pub fn html(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed() {
        assert!(matches!(term("Ana Müller 😀"), Cow::Borrowed(_)));
        assert!(matches!(csv_cell("ana@example.com"), Cow::Borrowed(_)));
        assert!(matches!(html("Ana"), Cow::Borrowed(_)));
    }

    #[test]
    fn terminal_controls_become_visible() {
        assert_eq!(term("a\x1b[2Jb"), "a\\e[2Jb");
        assert_eq!(term("\x1b]0;pwned\x07"), "\\e]0;pwned\\x07");
        assert_eq!(term("line\nforged"), "line\\nforged");
        assert_eq!(term("over\rwrite"), "over\\rwrite");
        assert_eq!(term("\u{202e}txt.exe"), "\\u{202e}txt.exe");
        assert_eq!(term("\u{9b}31m"), "\\x9b31m");
        assert_eq!(term("del\x7f"), "del\\x7f");
        assert_eq!(term("back\\e"), "back\\\\e");
        assert_eq!(term("\u{2067}iso\u{2069}"), "\\u{2067}iso\\u{2069}");
    }

    #[test]
    fn csv_formulas_are_neutralised() {
        assert_eq!(csv_cell("=1+1"), "\"'=1+1\"");
        assert_eq!(
            csv_cell("=HYPERLINK(\"http://x\")"),
            "\"'=HYPERLINK(\"\"http://x\"\")\""
        );
        assert_eq!(csv_cell("+1"), "\"'+1\"");
        assert_eq!(csv_cell("-2"), "\"'-2\"");
        assert_eq!(csv_cell("@SUM(A1)"), "\"'@SUM(A1)\"");
        assert_eq!(csv_cell("\tx"), "\"'\tx\"");
        assert_eq!(csv_cell("\rx"), "\"'\rx\"");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("a-b"), "a-b");
    }

    #[test]
    fn validation_report_text_stays_on_its_lines() {
        use roster_core::{Check, CheckKind};
        let mut r = ValidationReport::new("mattermost", "https://x");
        r.push(Check::fail(
            CheckKind::Authenticated,
            "authenticated",
            "as @eve\n  [ok  ] forged\x1b]0;t\x07",
        ));
        let text = validation_report(&r).to_string();
        assert_eq!(text.lines().count(), 3, "{text}");
        assert!(!text.contains('\x1b'), "{text}");
        assert!(
            text.contains("as @eve\\n  [ok  ] forged\\e]0;t\\x07"),
            "{text}"
        );
    }

    #[test]
    fn html_markup_is_text() {
        assert_eq!(
            html("<img src=x onerror=alert(1)>"),
            "&lt;img src=x onerror=alert(1)&gt;"
        );
        assert_eq!(html("a&b \"c\" 'd'"), "a&amp;b &quot;c&quot; &#39;d&#39;");
    }
}
