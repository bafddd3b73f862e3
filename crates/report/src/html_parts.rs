//! The HTML building blocks every page uses (escaping, a table, a figure with its caption),
//! apart from the pages themselves so that any section can use them.

use crate::figures;
use std::fmt::Write;

pub(crate) fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

pub(crate) fn table(out: &mut String, headers: &[&str], rows: &[Vec<String>]) {
    out.push_str("<div class=\"scroll\"><table><thead><tr>");
    for h in headers {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead><tbody>");
    for r in rows {
        out.push_str("<tr>");
        for c in r {
            let class = if c.starts_with("WARN") {
                " class=\"warn long\""
            } else if c == "VALID" {
                " class=\"ok\""
            } else if c.len() > 40 {
                " class=\"long\""
            } else {
                ""
            };
            let _ = write!(out, "<td{class}>{}</td>", esc(c));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></div>");
}

pub(crate) fn figure(out: &mut String, svg: Result<String, figures::FigureError>, caption: &str) {
    match svg {
        Ok(svg) => {
            let _ = write!(out, "<figure>{svg}<figcaption>{}</figcaption></figure>", esc(caption));
        }
        Err(e) => {
            let _ = write!(out, "<p class=\"warn\">figure not drawn: {}</p>", esc(&e.to_string()));
        }
    }
}
