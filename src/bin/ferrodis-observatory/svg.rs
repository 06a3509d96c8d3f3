//! A tiny SVG writer: rectangles, text, arrows, groups carrying `data-*` attributes (so tests
//! and curious users can read the drawn values back), with every text escaped.

use std::fmt::Write;

/// Escapes text for HTML and SVG (element content and attribute values).
pub fn esc(s: &str) -> String {
    let mut o = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => o.push_str("&amp;"),
            '<' => o.push_str("&lt;"),
            '>' => o.push_str("&gt;"),
            '"' => o.push_str("&quot;"),
            '\'' => o.push_str("&#39;"),
            c => o.push(c),
        }
    }
    o
}

/// Bytes as readable text: printable ASCII as is, anything else as `\xNN`.
pub fn show(b: &[u8]) -> String {
    let mut o = String::new();
    for &c in b {
        if (0x20..0x7f).contains(&c) {
            o.push(c as char);
        } else {
            let _ = write!(o, "\\x{c:02x}");
        }
    }
    o
}

/// `s` cut to `n` characters with an ellipsis.
pub fn clip(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        let mut o: String = s.chars().take(n.saturating_sub(1)).collect();
        o.push('…');
        o
    }
}

/// An SVG being built; its size grows with what is drawn.
pub struct Svg {
    body: String,
    w: f64,
    h: f64,
}

impl Svg {
    pub fn new() -> Svg {
        Svg {
            body: String::new(),
            w: 10.0,
            h: 10.0,
        }
    }

    fn grow(&mut self, x: f64, y: f64) {
        self.w = self.w.max(x + 10.0);
        self.h = self.h.max(y + 10.0);
    }

    /// Opens a group with `data-*` attributes (names without the prefix).
    pub fn group(&mut self, kind: &str, data: &[(&str, String)]) {
        let _ = write!(self.body, "<g data-kind=\"{}\"", esc(kind));
        for (k, v) in data {
            let _ = write!(self.body, " data-{}=\"{}\"", k, esc(v));
        }
        self.body.push('>');
    }

    pub fn end_group(&mut self) {
        self.body.push_str("</g>");
    }

    /// Opens a link (closed by `end_link`).
    pub fn link(&mut self, href: &str) {
        let _ = write!(self.body, "<a href=\"{}\">", esc(href));
    }

    pub fn end_link(&mut self) {
        self.body.push_str("</a>");
    }

    /// A rectangle with a fill and an optional tooltip.
    pub fn rect(&mut self, x: f64, y: f64, w: f64, h: f64, fill: &str, title: &str) {
        self.grow(x + w, y + h);
        let _ = write!(
            self.body,
            "<rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\" fill=\"{fill}\" \
             stroke=\"#444\" stroke-width=\"0.6\" rx=\"2\">"
        );
        if !title.is_empty() {
            let _ = write!(self.body, "<title>{}</title>", esc(title));
        }
        self.body.push_str("</rect>");
    }

    /// Text anchored at its middle (`anchor` "middle") or start.
    pub fn text(&mut self, x: f64, y: f64, s: &str, class: &str, anchor: &str) {
        // Text is not measured: about 7 px per character is enough to keep it inside.
        let w = s.chars().count() as f64 * 7.0;
        self.grow(
            if anchor == "start" {
                x + w
            } else {
                x + w / 2.0
            },
            y,
        );
        let _ = write!(
            self.body,
            "<text x=\"{x:.1}\" y=\"{y:.1}\" class=\"{class}\" text-anchor=\"{anchor}\">{}</text>",
            esc(s)
        );
    }

    /// A straight arrow.
    pub fn arrow(&mut self, x1: f64, y1: f64, x2: f64, y2: f64, class: &str) {
        self.grow(x1.max(x2), y1.max(y2));
        let _ = write!(
            self.body,
            "<line x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\" class=\"{class}\" \
             marker-end=\"url(#arrow)\"/>"
        );
    }

    /// A curved arrow below a row (backward links).
    pub fn curve(&mut self, x1: f64, x2: f64, y: f64, depth: f64, class: &str) {
        self.grow(x1.max(x2), y + depth);
        let mx = (x1 + x2) / 2.0;
        let _ = write!(
            self.body,
            "<path d=\"M{x1:.1},{y:.1} Q{mx:.1},{:.1} {x2:.1},{y:.1}\" class=\"{class}\" \
             fill=\"none\" marker-end=\"url(#arrow)\"/>",
            y + depth
        );
    }

    /// The finished `<svg>` element.
    pub fn finish(self, label: &str) -> String {
        format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w:.0}\" height=\"{h:.0}\" \
             viewBox=\"0 0 {w:.0} {h:.0}\" role=\"img\" aria-label=\"{label}\">\
             <defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" \
             markerWidth=\"6\" markerHeight=\"6\" orient=\"auto-start-reverse\">\
             <path d=\"M0,0 L10,5 L0,10 z\" fill=\"#333\"/></marker>\
             <pattern id=\"hatch\" width=\"6\" height=\"6\" patternUnits=\"userSpaceOnUse\" \
             patternTransform=\"rotate(45)\"><rect width=\"6\" height=\"6\" fill=\"#cfd8e3\"/>\
             <line x1=\"0\" y1=\"0\" x2=\"0\" y2=\"6\" stroke=\"#8899aa\" stroke-width=\"2\"/>\
             </pattern></defs>{body}</svg>",
            w = self.w,
            h = self.h,
            label = esc(label),
            body = self.body
        )
    }
}
