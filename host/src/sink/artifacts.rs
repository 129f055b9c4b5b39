//! Extracted content (HTTP bodies, e-mails) written as files on behalf of plugins, which never
//! write files themselves: the host picks the directory, one subdirectory per pipeline entry,
//! and turns whatever name a plugin proposes (taken from network data) into a safe, unique
//! file name.

use std::path::PathBuf;

/// The extraction directory.
#[derive(Debug)]
pub struct Artifacts {
    dir: PathBuf,
    counter: u64,
    /// Bytes all files together may take (`[output] extract_max_total`).
    max_total: u64,
    /// What was written, refused and lost so far.
    pub counts: Extracted,
}

/// What extraction did over a run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Extracted {
    /// Files written.
    pub files: u64,
    /// Bytes written.
    pub bytes: u64,
    /// Files refused because they would have gone over `max_total`.
    pub refused: u64,
    /// Files that could not be written (a full disk, an I/O error): none is left cut short.
    pub failed: u64,
}

/// Default of `[output] extract_max_total`: 4 GiB.
pub const DEFAULT_MAX_TOTAL: u64 = 4 << 30;

/// Longest file name kept from a proposed name.
const MAX_NAME: usize = 80;

/// `name` reduced to `[A-Za-z0-9._-]`, without leading dots, at most [`MAX_NAME`] characters.
/// A name cut to fit keeps its extension (up to 8 characters after the last dot), so that
/// `...long subject.eml` stays an `.eml` file.
pub fn safe_name(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    while s.starts_with('.') {
        s.remove(0);
    }
    if s.len() > MAX_NAME {
        // Only ASCII is left: byte positions are character positions.
        let ext = s
            .rfind('.')
            .filter(|&dot| dot > 0 && s.len() - dot <= 9)
            .and_then(|dot| s.get(dot..))
            .map_or(String::new(), str::to_string);
        s.truncate(MAX_NAME - ext.len());
        s.push_str(&ext);
    }
    if s.is_empty() {
        s.push_str("unnamed");
    }
    s
}

/// The directory of entry `label`'s files: the label itself when it is a safe name, else
/// its safe form and a digest of the label (FNV-1a), so that labels that differ only in
/// what is not safe (`a/b`, `a_b`; `веб`, `пчт`) keep apart.
pub fn entry_dir_name(label: &str) -> String {
    let safe = safe_name(label);
    if safe == label {
        return safe;
    }
    let hash = label.bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    format!("{safe}-{hash:08x}")
}

impl Artifacts {
    /// Extraction into `dir` (created when the first file is written).
    pub fn new(dir: PathBuf, max_total: u64) -> Artifacts {
        Artifacts {
            dir,
            counter: 0,
            max_total,
            counts: Extracted::default(),
        }
    }

    /// Writes `data` for entry `label` and session `session`; returns the path.
    pub fn save(
        &mut self,
        label: &str,
        session: Option<u64>,
        name: &str,
        data: &[u8],
    ) -> Result<PathBuf, String> {
        if self.counts.bytes.saturating_add(data.len() as u64) > self.max_total {
            self.counts.refused += 1;
            return Err(format!(
                "extraction limit reached: {} bytes written, extract_max_total is {}",
                self.counts.bytes, self.max_total
            ));
        }
        let sub = self.dir.join(entry_dir_name(label));
        if let Err(e) = std::fs::create_dir_all(&sub) {
            self.counts.failed += 1;
            return Err(format!("{}: {e}", sub.display()));
        }
        self.counter += 1;
        let session = session.map_or("x".to_string(), |s| s.to_string());
        let path = sub.join(format!("s{session}-{}-{}", self.counter, safe_name(name)));
        if let Err(e) = std::fs::write(&path, data) {
            // A file cut short (a full disk) would pass for a real extraction.
            let _ = std::fs::remove_file(&path);
            self.counts.failed += 1;
            return Err(format!("{}: {e}", path.display()));
        }
        self.counts.files += 1;
        self.counts.bytes += data.len() as u64;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_from_the_network_cannot_escape_the_directory() {
        assert_eq!(safe_name("../../etc/passwd"), "_.._etc_passwd");
        assert_eq!(safe_name("..."), "unnamed");
        assert_eq!(safe_name("report (final).pdf"), "report__final_.pdf");
        assert_eq!(safe_name(&"x".repeat(500)).len(), MAX_NAME);
        // Cut to fit, a name keeps its extension.
        let long = format!("1-{}.eml", "A very long subject ".repeat(10));
        let cut = safe_name(&long);
        assert_eq!(cut.len(), MAX_NAME);
        assert!(
            cut.ends_with(".eml") && cut.starts_with("1-A_very_long"),
            "{cut}"
        );
        // A "extension" longer than 8 characters is just part of the name.
        let cut = safe_name(&format!("{}.notanextension", "y".repeat(100)));
        assert_eq!(cut, "y".repeat(MAX_NAME));
        let dir = tempfile::tempdir().unwrap();
        let mut a = Artifacts::new(dir.path().join("out"), DEFAULT_MAX_TOTAL);
        let p = a.save("http", Some(3), "/index.html", b"hi").unwrap();
        assert!(p.starts_with(dir.path().join("out/http")));
        assert_eq!(p.file_name().unwrap(), "s3-1-_index.html");
        let q = a.save("http", Some(3), "/index.html", b"again").unwrap();
        assert_ne!(p, q);
        assert_eq!((a.counts.files, a.counts.bytes), (2, 7));
    }

    #[test]
    fn files_beyond_the_total_limit_are_refused_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = Artifacts::new(dir.path().to_path_buf(), 10);
        assert!(a.save("smtp", Some(1), "a.eml", b"123456").is_ok());
        let err = a.save("smtp", Some(1), "b.eml", b"123456").unwrap_err();
        assert!(err.contains("extraction limit"), "{err}");
        assert!(a.save("smtp", Some(2), "c.eml", b"1234").is_ok());
        assert_eq!(
            (a.counts.files, a.counts.bytes, a.counts.refused),
            (2, 10, 1)
        );
    }
}
