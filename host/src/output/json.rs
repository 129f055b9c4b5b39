//! A small JSON object writer for the per-line records netan prints. Written by hand rather
//! than through `serde_json` so that timestamps keep all nine decimals exactly
//! (`1096989582.687684000`) and the per-record cost stays at a few appends to one buffer.

use std::fmt::Write as _;

/// One JSON object being written into a reusable buffer.
pub struct JsonLine<'a> {
    buf: &'a mut String,
    first: bool,
}

impl<'a> JsonLine<'a> {
    /// Starts an object at the end of `buf`.
    pub fn new(buf: &'a mut String) -> JsonLine<'a> {
        buf.push('{');
        JsonLine { buf, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.buf.push(',');
        }
        self.first = false;
        escape_into(self.buf, key);
        self.buf.push(':');
    }

    /// `"key":"value"`.
    pub fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        escape_into(self.buf, value);
        self
    }

    /// `"key":123`.
    pub fn num(&mut self, key: &str, value: u64) -> &mut Self {
        self.key(key);
        let _ = write!(self.buf, "{value}");
        self
    }

    /// `"key":true`.
    pub fn bool(&mut self, key: &str, value: bool) -> &mut Self {
        self.key(key);
        self.buf.push_str(if value { "true" } else { "false" });
        self
    }

    /// `"key":null`.
    pub fn null(&mut self, key: &str) -> &mut Self {
        self.key(key);
        self.buf.push_str("null");
        self
    }

    /// A capture time in ns, written as seconds with nine decimals.
    pub fn time(&mut self, key: &str, ns: u64) -> &mut Self {
        self.key(key);
        let _ = write!(self.buf, "{}.{:09}", ns / 1_000_000_000, ns % 1_000_000_000);
        self
    }

    /// `"key":` followed by JSON text the caller vouches for.
    pub fn raw(&mut self, key: &str, json: &str) -> &mut Self {
        self.key(key);
        self.buf.push_str(json);
        self
    }

    /// Closes the object and ends the line.
    pub fn finish(self) {
        self.buf.push_str("}\n");
    }
}

/// Appends `s` as a JSON string literal.
pub fn escape_into(buf: &mut String, s: &str) {
    buf.push('"');
    // Fast path: most strings need no escape at all.
    if !netan_plugin_api::json::needs_escape(s) {
        buf.push_str(s);
        buf.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => buf.push_str("\\\""),
            '\\' => buf.push_str("\\\\"),
            '\n' => buf.push_str("\\n"),
            '\r' => buf.push_str("\\r"),
            '\t' => buf.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(buf, "\\u{:04x}", c as u32);
            }
            c => buf.push(c),
        }
    }
    buf.push('"');
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_are_valid_json_with_exact_times() {
        let mut buf = String::new();
        let mut o = JsonLine::new(&mut buf);
        o.str("k", "a\"b\\c\n\u{1}")
            .num("n", 7)
            .time("t", 1_096_989_582_687_684_000)
            .null("z")
            .bool("b", true);
        o.finish();
        assert_eq!(buf, "{\"k\":\"a\\\"b\\\\c\\n\\u0001\",\"n\":7,\"t\":1096989582.687684000,\"z\":null,\"b\":true}\n");
        let v: serde_json::Value = serde_json::from_str(&buf).unwrap();
        assert_eq!(v["k"], "a\"b\\c\n\u{1}");
    }
}
