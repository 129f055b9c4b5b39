//! Small, allocation-light builders for [`crate::Value::Json`] fields: a plugin that reports
//! header lists or nested objects should not need a JSON library, and must produce valid JSON
//! (the host embeds it verbatim).

/// Appends `s` as a JSON string literal.
pub fn push_str(out: &mut String, s: &str) {
    out.push('"');
    if !needs_escape(s) {
        out.push_str(s);
    } else {
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
    }
    out.push('"');
}

/// Whether `s` holds a byte JSON must escape (a branch-free scan the compiler vectorises).
pub fn needs_escape(s: &str) -> bool {
    s.bytes().fold(false, |acc, b| {
        acc | (b < 0x20) | (b == b'"') | (b == b'\\')
    })
}

/// `[["name","value"],...]` from a list of pairs (header lists).
pub fn pairs<K: AsRef<str>, V: AsRef<str>>(items: &[(K, V)]) -> String {
    let mut out = String::with_capacity(
        2 + items
            .iter()
            .map(|(k, v)| k.as_ref().len() + v.as_ref().len() + 8)
            .sum::<usize>(),
    );
    out.push('[');
    for (i, (k, v)) in items.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        push_str(&mut out, k.as_ref());
        out.push(',');
        push_str(&mut out, v.as_ref());
        out.push(']');
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_valid_json() {
        let text = pairs(&[("A", "b\"c"), ("D\n", "\u{1}")]);
        assert_eq!(text, r#"[["A","b\"c"],["D\n","\u0001"]]"#);
        assert_eq!(pairs::<&str, &str>(&[]), "[]");
    }
}
