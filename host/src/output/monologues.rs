//! `netan monologues`: one JSON line per monologue, in the order monologues complete (the
//! original's per-monologue trace), optionally with each monologue's bytes written to a file.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rustc_hash::{FxHashMap, FxHashSet};
use sha2::{Digest, Sha256};

use super::json::{hex, JsonLine};
use crate::tcp::{Direction, Monologue, SessionEnd, SessionInfo, TcpObserver};

/// Files kept open at once while dumping; beyond, all are closed and reopened on demand.
const MAX_OPEN_FILES: usize = 256;

/// Writes monologue records, and with a dump directory, the monologues' bytes.
pub struct MonologuesWriter<W: Write> {
    out: W,
    hash: bool,
    hashers: FxHashMap<u64, Sha256>,
    dump_dir: Option<PathBuf>,
    open_files: FxHashMap<u64, File>,
    /// Sessions whose scratch file holds bytes of their current monologue (a file closed to
    /// stay under [`MAX_OPEN_FILES`] is reopened to append; any other is started empty, so
    /// that nothing left by an earlier run, killed or out of space, joins a dump).
    started: FxHashSet<u64>,
    line: String,
    error: Option<io::Error>,
    /// Records written.
    pub written: u64,
}

impl<W: Write> MonologuesWriter<W> {
    /// A writer to `out`.
    pub fn new(out: W, hash: bool, dump_dir: Option<PathBuf>) -> MonologuesWriter<W> {
        MonologuesWriter {
            out,
            hash,
            hashers: FxHashMap::default(),
            dump_dir,
            open_files: FxHashMap::default(),
            started: FxHashSet::default(),
            line: String::with_capacity(512),
            error: None,
            written: 0,
        }
    }

    /// A write failed (output or dump file): reading stops.
    pub fn failed(&self) -> bool {
        self.error.is_some()
    }

    /// Flushes. Returns the first write error (output or dump file), if any.
    pub fn finish(mut self) -> io::Result<W> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.out)
    }

    /// File name of a monologue dump: the session key, the session number (keys repeat when a
    /// port pair is reused) and the monologue number from 1, as the original named them.
    pub fn dump_name(session: &SessionInfo, index: u64) -> String {
        let safe: String = session
            .key
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || ".:-[]".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        format!("{safe}.s{}.{}", session.ordinal, index + 1)
    }

    fn dump_path(dir: &Path, session: &SessionInfo, index: u64) -> PathBuf {
        dir.join(Self::dump_name(session, index))
    }

    fn fail(&mut self, e: io::Error) {
        if self.error.is_none() {
            self.error = Some(e);
        }
    }
}

impl<W: Write> TcpObserver for MonologuesWriter<W> {
    fn stop_requested(&self) -> bool {
        // Nothing more can be written (stdout closed by `| head`, a full disk): stop reading.
        self.error.is_some()
    }

    fn session_start(&mut self, _session: &SessionInfo, _ts: u64) {}

    fn data(
        &mut self,
        session: &SessionInfo,
        _direction: Direction,
        data: &[u8],
        _ts: u64,
        _packet: u64,
    ) {
        if self.hash {
            self.hashers
                .entry(session.ordinal)
                .or_default()
                .update(data);
        }
        if let Some(dir) = &self.dump_dir {
            if !self.open_files.contains_key(&session.ordinal) {
                if self.open_files.len() >= MAX_OPEN_FILES {
                    self.open_files.clear();
                }
                // The monologue's number is not known before it ends: write to a per-session
                // scratch file, renamed at monologue end.
                let path = dir.join(format!(".partial.s{}", session.ordinal));
                let again = self.started.contains(&session.ordinal);
                let opened = if again {
                    OpenOptions::new().append(true).open(&path)
                } else {
                    File::create(&path)
                };
                match opened {
                    Ok(f) => {
                        self.open_files.insert(session.ordinal, f);
                        self.started.insert(session.ordinal);
                    }
                    Err(e) => {
                        self.fail(io::Error::new(e.kind(), format!("{}: {e}", path.display())));
                        return;
                    }
                }
            }
            if let Some(f) = self.open_files.get_mut(&session.ordinal) {
                if let Err(e) = f.write_all(data) {
                    let path = dir.join(format!(".partial.s{}", session.ordinal));
                    self.fail(io::Error::new(e.kind(), format!("{}: {e}", path.display())));
                }
            }
        }
    }

    fn gap(&mut self, _session: &SessionInfo, _direction: Direction, _len: u64, _ts: u64) {}

    fn monologue_end(&mut self, s: &SessionInfo, m: &Monologue) {
        let (from, to) = s.endpoints(m.direction);
        let mut line = std::mem::take(&mut self.line);
        line.clear();
        let mut o = JsonLine::new(&mut line);
        o.num("session", s.ordinal)
            .str("key", &s.key)
            .num("monologue", m.index)
            .str("from", &from.to_string())
            .str("to", &to.to_string())
            .str("direction", m.direction.short_name())
            .time("t_start", m.t_start)
            .time("t_end", m.t_end)
            .num("packets", m.packets)
            .num("bytes", m.bytes)
            .num("gaps", m.gap_count());
        if !m.gaps.is_empty() {
            let list: Vec<String> = m
                .gaps
                .iter()
                .map(|g| format!("{{\"offset\":{},\"len\":{}}}", g.offset, g.len))
                .collect();
            o.raw("gap_list", &format!("[{}]", list.join(",")));
            if m.gaps_unlisted > 0 {
                // The list holds the first gaps only.
                o.num("gaps_unlisted", m.gaps_unlisted);
            }
        }
        if self.hash {
            match self.hashers.remove(&s.ordinal) {
                Some(h) => o.str("sha256", &hex(&h.finalize())),
                None => o.null("sha256"),
            };
        }
        if let Some(dir) = self.dump_dir.clone() {
            self.open_files.remove(&s.ordinal);
            self.started.remove(&s.ordinal);
            let scratch = dir.join(format!(".partial.s{}", s.ordinal));
            let path = Self::dump_path(&dir, s, m.index);
            if m.bytes > 0 {
                if let Err(e) = std::fs::rename(&scratch, &path) {
                    self.fail(io::Error::new(e.kind(), format!("{}: {e}", path.display())));
                }
            } else if let Err(e) = File::create(&path) {
                self.fail(io::Error::new(e.kind(), format!("{}: {e}", path.display())));
            }
            o.str("file", &path.to_string_lossy());
        }
        o.finish();
        if self.error.is_none() {
            if let Err(e) = self.out.write_all(line.as_bytes()) {
                self.error = Some(e);
            }
        }
        self.written += 1;
        self.line = line;
    }

    fn session_end(&mut self, s: &SessionInfo, _end: &SessionEnd) {
        self.hashers.remove(&s.ordinal);
        self.open_files.remove(&s.ordinal);
        self.started.remove(&s.ordinal);
    }
}
