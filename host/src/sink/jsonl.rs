//! JSON Lines: one object per record, on stdout or in one file per record kind
//! (`http.jsonl`, `smtp.jsonl`, ... like Zeek's per-protocol logs).
//!
//! Each object starts with `type` (the record kind), `plugin` (the pipeline entry), `ts`
//! (capture time, seconds with nine decimals), `session` and `key` (null for records not about
//! one session), then the record's own fields in order. A field whose name collides with one
//! of these is written with a `field_` prefix.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use netan_plugin_api::{Record, Value};

use super::{SessionRef, Sink};
use crate::output::json::{escape_into, hex, JsonLine};

const RESERVED: [&str; 5] = ["type", "plugin", "ts", "session", "key"];

/// Where the lines go.
pub enum Target {
    /// One stream (stdout).
    Stream(Box<dyn Write>),
    /// One file per record kind in a directory.
    Directory(PathBuf),
}

/// The JSON Lines sink.
pub struct JsonlSink {
    target: Target,
    /// With a directory target: each record kind's file (its path, for messages) by kind.
    files: HashMap<String, (PathBuf, BufWriter<File>)>,
    line: String,
    error: Option<io::Error>,
    /// Records written, by kind (handed to the output before it failed or was closed, if it
    /// was).
    pub counts: HashMap<String, u64>,
}

/// The file of record kind `kind` in an output directory: `KIND.jsonl` when the kind is a safe
/// file name, else its safe form and a digest of it, so that kinds never share a file
/// (`a/b` and `a_b`, `веб` and `пчт`, the empty kind and `records`) and a long kind still
/// makes a name the file system takes.
pub fn kind_file_name(kind: &str) -> String {
    format!("{}.jsonl", super::artifacts::entry_dir_name(kind))
}

impl JsonlSink {
    /// A sink writing to `target`.
    pub fn new(target: Target) -> JsonlSink {
        JsonlSink {
            target,
            files: HashMap::new(),
            line: String::new(),
            error: None,
            counts: HashMap::new(),
        }
    }

    fn write_line(&mut self, kind: &str) -> io::Result<()> {
        match &mut self.target {
            Target::Stream(w) => w.write_all(self.line.as_bytes()),
            Target::Directory(dir) => {
                if !self.files.contains_key(kind) {
                    let path = dir.join(kind_file_name(kind));
                    let f = File::create(&path).map_err(|e| in_file(&path, e))?;
                    let file = (path, BufWriter::with_capacity(1 << 16, f));
                    self.files.insert(kind.to_string(), file);
                }
                match self.files.get_mut(kind) {
                    Some((path, f)) => f
                        .write_all(self.line.as_bytes())
                        .map_err(|e| in_file(path, e)),
                    None => Ok(()),
                }
            }
        }
    }

    /// The files this sink wrote, with a directory target.
    pub fn file_names(&self) -> impl Iterator<Item = &std::path::Path> {
        self.files.values().map(|(path, _)| path.as_path())
    }
}

/// `e`, naming the file it happened in.
fn in_file(path: &std::path::Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

/// Gives up on a record file a write to failed (a full disk): what is still buffered is
/// dropped, not written later, and a line the failure cut short is cut off, so that the file
/// holds whole lines only (as many records as reached it).
fn abandon(path: &std::path::Path, writer: BufWriter<File>) {
    let (file, _unwritten) = writer.into_parts();
    let Ok(len) = file.metadata().map(|m| m.len()) else {
        return;
    };
    // The last line break is within the last block the writer handed over.
    let tail = len.min(1 << 16);
    let Ok(mut reader) = File::open(path) else {
        return;
    };
    use std::io::{Read, Seek, SeekFrom};
    let mut buf = Vec::new();
    if reader.seek(SeekFrom::Start(len - tail)).is_err()
        || reader.take(tail).read_to_end(&mut buf).is_err()
    {
        return;
    }
    let keep = match buf.iter().rposition(|&b| b == b'\n') {
        Some(i) => len - tail + i as u64 + 1,
        None if tail == len => 0,
        None => return,
    };
    if keep < len {
        let _ = file.set_len(keep);
    }
}

/// Appends `value` as JSON.
pub fn value_json(buf: &mut String, value: &Value) {
    match value {
        Value::Null => buf.push_str("null"),
        Value::Bool(b) => buf.push_str(if *b { "true" } else { "false" }),
        Value::Int(n) => buf.push_str(&n.to_string()),
        Value::UInt(n) => buf.push_str(&n.to_string()),
        Value::Float(f) if f.is_finite() => buf.push_str(&f.to_string()),
        Value::Float(_) => buf.push_str("null"),
        Value::Str(s) => escape_into(buf, s.as_str()),
        Value::Bytes(b) => escape_into(buf, &hex(b.as_slice())),
        Value::StrList(list) => {
            buf.push('[');
            for (i, s) in list.iter().enumerate() {
                if i > 0 {
                    buf.push(',');
                }
                escape_into(buf, s.as_str());
            }
            buf.push(']');
        }
        // Built by the plugin (netan_plugin_api::json builds it well): validated by serde_json
        // without building anything (`well_formed`); text that fails is written as a string,
        // so that one faulty plugin cannot break the lines of the others.
        Value::Json(text) if text.trim().is_empty() => buf.push_str("null"),
        Value::Json(text) if well_formed(text.as_str()) => buf.push_str(text.as_str()),
        Value::Json(text) => escape_into(buf, text.as_str()),
    }
}

/// Whether `text` is one JSON value that keeps the record on one line: valid JSON (serde_json
/// parses it into nothing: no allocation) without a raw line break (JSON allows one between
/// tokens).
fn well_formed(text: &str) -> bool {
    !text.contains(['\n', '\r']) && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

impl Sink for JsonlSink {
    fn record(&mut self, plugin: &str, session: Option<SessionRef<'_>>, record: &Record) {
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let mut o = JsonLine::new(&mut line);
        o.str("type", record.kind.as_str())
            .str("plugin", plugin)
            .time("ts", record.ts);
        match session {
            Some(s) => o.num("session", s.id).str("key", s.key),
            None => o.null("session").null("key"),
        };
        let mut scratch = String::new();
        for field in record.fields.iter() {
            scratch.clear();
            value_json(&mut scratch, &field.value);
            let name: &str = &field.name;
            if RESERVED.contains(&name) {
                // Renamed out of the way of the host's own keys, and of the record's other
                // fields (rare: only records that use a reserved name pay for the look).
                let mut renamed = format!("field_{name}");
                while record.fields.iter().any(|f| f.name.as_str() == renamed) {
                    renamed.push('_');
                }
                o.raw(&renamed, &scratch);
            } else {
                o.raw(name, &scratch);
            }
        }
        o.finish();
        self.line = line;
        if self.error.is_none() {
            match self.write_line(record.kind.as_str()) {
                Ok(()) => match self.counts.get_mut(record.kind.as_str()) {
                    Some(n) => *n += 1,
                    None => {
                        self.counts.insert(record.kind.to_string(), 1);
                    }
                },
                Err(e) => {
                    self.error = Some(e);
                    if let Some((path, writer)) = self.files.remove(record.kind.as_str()) {
                        abandon(&path, writer);
                    }
                }
            }
        }
    }

    fn failed(&self) -> bool {
        self.error.is_some()
    }

    fn finish(&mut self) -> io::Result<()> {
        // Every record file is flushed, even after one failed (the others' records are
        // whole); one whose flush fails too is given up on, cut back to whole lines. The
        // first error is the one returned.
        let mut error = self.error.take();
        let kinds: Vec<String> = self.files.keys().cloned().collect();
        for kind in kinds {
            let flushed = match self.files.get_mut(&kind) {
                Some((path, f)) => f.flush().map_err(|e| in_file(path, e)),
                None => Ok(()),
            };
            if let Err(e) = flushed {
                if let Some((path, writer)) = self.files.remove(&kind) {
                    abandon(&path, writer);
                }
                error.get_or_insert(e);
            }
        }
        if let Target::Stream(w) = &mut self.target {
            if let Err(e) = w.flush() {
                error.get_or_insert(e);
            }
        }
        error.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_file_given_up_on_keeps_whole_lines_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("http.jsonl");
        std::fs::write(&path, "{\"a\":1}\n{\"a\":2}\n{\"a\":").unwrap();
        let file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        let mut writer = BufWriter::new(file);
        // Still buffered when the disk filled: never written.
        writer.write_all(b"3}\n").unwrap();
        abandon(&path, writer);
        assert_eq!(
            std::fs::read_to_string(&path).unwrap(),
            "{\"a\":1}\n{\"a\":2}\n"
        );
    }

    #[test]
    fn record_kinds_never_share_a_file_and_always_make_a_name() {
        assert_eq!(kind_file_name("http"), "http.jsonl");
        assert_eq!(kind_file_name("smtp_session"), "smtp_session.jsonl");
        let kinds = ["a/b", "a_b", "веб", "пчт", "", "records", "unnamed", "a.b"];
        let names: std::collections::HashSet<String> =
            kinds.iter().map(|k| kind_file_name(k)).collect();
        assert_eq!(names.len(), kinds.len(), "{names:?}");
        let long = kind_file_name(&"k".repeat(300));
        assert!(long.len() < 100, "{long}");
        assert!(!long.contains('/'));
    }

    #[test]
    fn json_values_that_would_break_the_lines_are_written_as_strings() {
        for good in [r#"{"a":[1,2,{"b":"x\"}"}]}"#, "[]", "17", r#""s""#, " [1] "] {
            let mut buf = String::new();
            value_json(&mut buf, &Value::Json(good.into()));
            assert_eq!(buf, good, "{good}");
        }
        for bad in [
            "{\"a\":1}\n{\"b\":2}",
            "{\"a\":1",
            "[1]]",
            "\"x\ny\"",
            "{\"a\":1} x",
            "[1,}",
            "1,2",
            "1 2",
            "true false",
            "1,\"b\"",
            "\"a\":1",
            // Balanced but not JSON (they passed the structure-only check this replaced).
            "[1 2]",
            "{\"a\" \"b\"}",
            "tru",
            // Valid JSON, but over two lines.
            "[1,\n2]",
        ] {
            let mut buf = String::new();
            value_json(&mut buf, &Value::Json(bad.into()));
            let back: serde_json::Value = serde_json::from_str(&buf).unwrap();
            assert_eq!(back.as_str(), Some(bad), "{bad} -> {buf}");
        }
    }

    #[test]
    fn a_field_with_a_reserved_name_is_renamed_without_clashing_with_another() {
        let dir = tempfile::tempdir().unwrap();
        let mut sink = JsonlSink::new(Target::Directory(dir.path().to_path_buf()));
        let record = Record {
            kind: "k".into(),
            ts: 1,
            fields: netan_plugin_api::Fields::new()
                .str("type", "mine")
                .str("field_type", "other")
                .0,
        };
        sink.record("p", None, &record);
        sink.finish().unwrap();
        let text = std::fs::read_to_string(dir.path().join("k.jsonl")).unwrap();
        let line: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(text.trim()).unwrap();
        assert_eq!(line["type"], "k");
        assert_eq!(line["field_type_"], "mine");
        assert_eq!(line["field_type"], "other");
        assert_eq!(line.len(), 7, "{text}");
    }
}
