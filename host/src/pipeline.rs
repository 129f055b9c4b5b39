//! Pipeline files (TOML) → a validated [`Pipeline`]: TCP listener settings, the ordered
//! analysers with their traffic filters and configuration, output settings.
//!
//! Every mistake is reported as `file:line:column: message`: unknown keys, wrong types, unknown
//! plugins and event names, and any attempt to move or remove the built-in TCP listener, which
//! always runs first. `docs/pipeline.md` documents every key; `examples/pipelines/` has an
//! annotated example. The command line's `-l NAME[,key=value...]` entries are merged over the
//! file (see [`LoadSpec`]).

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use toml::Spanned;

use crate::decode::DecodeOptions;
use crate::plugins::{LoadedPlugin, SearchPath};
use crate::tcp::TcpConfig;

/// Plugin entries a pipeline can hold (the dispatcher keeps a session's entries in a 128-bit set).
pub const MAX_ENTRIES: usize = 128;
/// The pipeline used when none is given: every bundled plugin found, with its default ports.
pub const DEFAULT_PIPELINE: &str = include_str!("default-pipeline.toml");

/// Bundled plugins, in the order the default pipeline runs them.
pub const BUNDLED: &[&str] = &["http", "http-perf", "smtp", "portcount"];

/// `[tcp] max_monologue_buffer` when the pipeline does not set it: 64 MiB of capture held for
/// pending monologue parts. The budget sets how often parts go out early: with N sessions in
/// flight each holds about budget / N before its part is cut: 16 KiB with the benchmark
/// capture's 4000 (4 KiB with the earlier default of 16 MiB: three times the parts, each a
/// call into every plugin that takes monologues). For a capture file the windows are mappings whose pages take memory
/// only once a plugin reads them (page-cache pages); for gzip and pipes it is memory the held
/// bytes are copied into (docs/performance.md, "Memory").
pub const DEFAULT_MAX_MONOLOGUE_BUFFER: usize = 64 << 20;

/// A problem in a pipeline, located.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineError {
    /// `file:line:column`, or a description of where (a command-line option).
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PipelineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

/// Several problems at once (all are reported, not just the first).
#[derive(Debug, Clone)]
pub struct PipelineErrors(pub Vec<PipelineError>);

impl fmt::Display for PipelineErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lines: Vec<String> = self.0.iter().map(|e| e.to_string()).collect();
        write!(f, "{}", lines.join("\n"))
    }
}

impl std::error::Error for PipelineErrors {}

/// What to do when an analyser fails (returns an error or panics).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OnError {
    /// Stop feeding that analyser, keep the others going, exit non-zero at the end.
    #[default]
    Continue,
    /// Stop the whole run at once (non-zero exit).
    Stop,
}

// ----------------------------------------------------------------------------------------
// The file as written

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    input: InputSection,
    #[serde(default)]
    tcp: TcpSection,
    #[serde(default)]
    plugins: PluginsSection,
    #[serde(default)]
    plugin: Vec<EntrySection>,
    #[serde(default)]
    output: OutputSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct InputSection {
    tunnels: Option<bool>,
    /// Only sessions with one of these ports on either side are analysed.
    ports: Option<Spanned<Vec<u16>>>,
    /// Only sessions with an address in one of these networks on either side.
    addresses: Option<Spanned<Vec<Spanned<String>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TcpSection {
    max_session_size: Option<u64>,
    max_buffered_per_session: Option<usize>,
    max_buffered: Option<usize>,
    max_sessions: Option<Spanned<usize>>,
    idle_timeout: Option<Spanned<f64>>,
    close_linger: Option<Spanned<f64>>,
    overlap_segments: Option<usize>,
    monologue_part_size: Option<Spanned<usize>>,
    max_monologue_buffer: Option<usize>,
    verbosity: Option<Spanned<u8>>,
    /// Refused with a reason: the listener cannot be turned off.
    enabled: Option<Spanned<toml::Value>>,
    /// Refused with a reason.
    disabled: Option<Spanned<toml::Value>>,
    /// Refused with a reason: the listener is always first.
    position: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct PluginsSection {
    #[serde(default)]
    dirs: Vec<Spanned<PathBuf>>,
    on_error: Option<OnError>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EntrySection {
    name: Option<Spanned<String>>,
    path: Option<Spanned<PathBuf>>,
    label: Option<String>,
    ports: Option<Vec<u16>>,
    addresses: Option<Vec<Spanned<String>>>,
    any: Option<bool>,
    events: Option<Vec<Spanned<String>>>,
    config: Option<Spanned<toml::Table>>,
    /// Refused with a reason: only the TCP listener runs first.
    position: Option<Spanned<toml::Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct OutputSection {
    dir: Option<Spanned<PathBuf>>,
    extract_dir: Option<Spanned<PathBuf>>,
    extract_max_total: Option<u64>,
}

// ----------------------------------------------------------------------------------------
// The validated pipeline

/// Which sessions an analyser sees.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Ports, on either side (empty: any port).
    pub ports: Vec<u16>,
    /// Networks (address, prefix length), on either side (empty: any address).
    pub networks: Vec<(IpAddr, u8)>,
}

impl Filter {
    /// From the command line's lists (`25+587`, `10.0.0.0/8+192.168.1.1`; commas work too).
    pub fn parse(ports: Option<&str>, addresses: Option<&str>) -> Result<Filter, String> {
        let ports = ports.map(parse_ports).transpose()?.unwrap_or_default();
        let networks = match addresses {
            Some(text) => {
                let networks = list_items(text)?
                    .into_iter()
                    .map(parse_network)
                    .collect::<Result<Vec<_>, _>>()?;
                if networks.is_empty() {
                    return Err("no address given".to_string());
                }
                networks
            }
            None => Vec::new(),
        };
        Ok(Filter { ports, networks })
    }

    /// Whether it lets every session through.
    pub fn is_any(&self) -> bool {
        self.ports.is_empty() && self.networks.is_empty()
    }

    /// Whether a session between these endpoints passes.
    pub fn matches(&self, a: (IpAddr, u16), b: (IpAddr, u16)) -> bool {
        let port_ok =
            self.ports.is_empty() || self.ports.contains(&a.1) || self.ports.contains(&b.1);
        let net_ok = self.networks.is_empty()
            || self
                .networks
                .iter()
                .any(|(net, len)| in_network(a.0, *net, *len) || in_network(b.0, *net, *len));
        port_ok && net_ok
    }

    /// `any`, or the ports and networks, for display.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.ports.is_empty() {
            let ports: Vec<String> = self.ports.iter().map(u16::to_string).collect();
            parts.push(format!("ports {}", ports.join(",")));
        }
        if !self.networks.is_empty() {
            let nets: Vec<String> = self
                .networks
                .iter()
                .map(|(n, l)| format!("{n}/{l}"))
                .collect();
            parts.push(format!("addresses {}", nets.join(",")));
        }
        if parts.is_empty() {
            "any traffic".to_string()
        } else {
            parts.join(" and ")
        }
    }
}

fn in_network(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u32::MAX << (32 - u32::from(len.min(32)))
            };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - u32::from(len.min(128)))
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        _ => false,
    }
}

/// One analyser of the pipeline.
#[derive(Debug, Clone)]
pub struct Entry {
    /// Name used in output and messages (the plugin name unless `label` says otherwise).
    pub label: String,
    /// The plugin library.
    pub plugin: LoadedPlugin,
    /// Which sessions it sees.
    pub filter: Filter,
    /// The events it receives (those it consumes, or the subset the pipeline names).
    pub events: Vec<String>,
    /// Its configuration as TOML text.
    pub config: String,
    /// Where its configuration keys are, to locate the plugin's complaints.
    pub config_origin: ConfigOrigin,
    /// Where the entry is declared (`file:line:column`, or the command-line option).
    pub location: String,
}

/// Where an entry's configuration came from.
#[derive(Debug, Clone, Default)]
pub struct ConfigOrigin {
    /// The pipeline file's name and text, and the byte range of the entry's config table (if
    /// it has one).
    pub file: Option<(String, std::sync::Arc<String>, std::ops::Range<usize>)>,
    /// Or the command-line options, in the order given, each with the keys it sets (merged
    /// over the file's table and over each other: a key is the last option's that sets it).
    pub options: Vec<(String, Vec<String>)>,
}

impl Entry {
    /// Where to point a message about configuration key `key` of this entry (empty: about its
    /// configuration as a whole): the key in its config table or option, or the entry itself
    /// when it has neither.
    pub fn locate(&self, key: &str) -> String {
        self.config_origin
            .locate(key)
            .unwrap_or_else(|| self.location.clone())
    }
}

impl ConfigOrigin {
    /// The location of configuration key `key` (the start of its line), for messages; `None`
    /// when the configuration came from neither a table nor an option.
    pub fn locate(&self, key: &str) -> Option<String> {
        let top = key.split('.').next().unwrap_or(key);
        let setter = self
            .options
            .iter()
            .rev()
            .find(|(_, keys)| keys.iter().any(|k| k == top));
        // A key no option sets (or the configuration as a whole) is the file's, if there is
        // one, else the last option's.
        let option = setter.or_else(|| {
            (self.file.is_none() || key.is_empty())
                .then(|| self.options.last())
                .flatten()
        });
        if let Some((option, _)) = option {
            return Some(format!("command line `-l {option}`"));
        }
        let (name, text, span) = self.file.as_ref()?;
        let start = span.start;
        // The table's own text: an inline table is its span; a `[plugin.config]` section
        // runs to the next table header.
        let end = if text.get(start..).is_some_and(|t| t.starts_with('{')) {
            span.end
        } else {
            text.get(start..)
                .and_then(|t| t.find("\n["))
                .map_or(text.len(), |i| start + i + 1)
        };
        let region = text.get(start..end).unwrap_or("");
        let at = find_key(region, key)
            .map(|i| start + i)
            .or_else(|| Self::locate_nested(text, start, end, key))
            .unwrap_or(start);
        let (line, col) = line_col(text, at);
        Some(format!("{name}:{line}:{col}"))
    }

    /// Where dotted key `key` (`extra.deep`) of the table at `start..end` is when it is not
    /// written out dotted: in a sub-table section after the table (`[plugin.config.extra]`
    /// then `deep = ...`; the section itself for `extra`), or in an inline table (`extra =
    /// { deep = ... }`).
    fn locate_nested(text: &str, start: usize, end: usize, key: &str) -> Option<usize> {
        let (parent, last) = match key.rsplit_once('.') {
            Some((p, l)) => (Some(p), l),
            None => (None, key),
        };
        // A sub-table section: a header ending in `.PARENT` (or `.KEY` for the table itself)
        // after the table's own text, before the next array entry (`[[plugin]]`).
        let wanted = format!(".{}", parent.unwrap_or(key));
        let section = table_headers(text)
            .skip_while(|h| h.at < end)
            .take_while(|h| !h.array)
            .find(|h| h.name.ends_with(&wanted));
        if let Some(h) = section {
            if parent.is_none() {
                return Some(h.at);
            }
            let body = text.get(h.body..)?;
            let body_end = body.find("\n[").map_or(body.len(), |i| i + 1);
            return find_key(body.get(..body_end)?, last)
                .map(|i| h.body + i)
                .or(Some(h.at));
        }
        // An inline table: the last segment after its parent's key in the table's text.
        let region = text.get(start..end)?;
        let top = key.split('.').next().unwrap_or(key);
        let parent_at = find_key(region, top)?;
        find_key(region.get(parent_at..)?, last)
            .map(|i| start + parent_at + i)
            .or(Some(start + parent_at))
    }
}

/// A table header line of a pipeline's text: `[name]`, or `[[name]]` (`array`).
struct TableHeader<'a> {
    /// Offset of its first `[`.
    at: usize,
    /// Offset of the line after it (the table's body).
    body: usize,
    name: &'a str,
    array: bool,
}

/// The table headers of `text`, in order.
fn table_headers(text: &str) -> impl Iterator<Item = TableHeader<'_>> {
    let mut offset = 0;
    text.split_inclusive('\n').filter_map(move |line| {
        let at = offset + (line.len() - line.trim_start().len());
        offset += line.len();
        let trimmed = line.trim();
        let (inner, array) = match trimmed.strip_prefix("[[") {
            Some(rest) => (rest.strip_suffix("]]")?, true),
            None => (trimmed.strip_prefix('[')?.strip_suffix(']')?, false),
        };
        Some(TableHeader {
            at,
            body: offset,
            name: inner.trim(),
            array,
        })
    })
}

/// Where the `n`th (from 0) `[[plugin]]` header of a pipeline's text is: entries written as
/// tables (an inline array of entries has none).
fn nth_entry_header(text: &str, n: usize) -> Option<usize> {
    table_headers(text)
        .filter(|h| h.array && h.name == "plugin")
        .nth(n)
        .map(|h| h.at)
}

/// Whether `line` (the text before a point on a line) holds a `#` outside a string: the
/// point is in a comment.
fn starts_comment(line: &str) -> bool {
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for c in line.chars() {
        match quote {
            Some(q) => {
                if escaped {
                    escaped = false;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                } else if c == q {
                    quote = None;
                }
            }
            None if c == '"' || c == '\'' => quote = Some(c),
            None if c == '#' => return true,
            None => {}
        }
    }
    false
}

/// Where key `key` is assigned in `region` (a table's text: `key = ...` on a line of its own
/// or inside `{ ... }`, bare or quoted).
fn find_key(region: &str, key: &str) -> Option<usize> {
    if key.is_empty() {
        return None;
    }
    let bytes = region.as_bytes();
    let mut from = 0;
    while let Some(i) = region
        .get(from..)
        .and_then(|r| r.find(key))
        .map(|i| from + i)
    {
        from = i + key.len();
        // Not in a comment (`# max_head = ...` above the real key): a `#` before it on its
        // line, outside a string.
        let line = region.get(..i).map_or("", |r| {
            r.rfind('\n').map_or(r, |n| r.get(n + 1..).unwrap_or(""))
        });
        if starts_comment(line) {
            continue;
        }
        let quoted = i > 0 && bytes.get(i - 1) == Some(&b'"');
        let before = if quoted { i - 1 } else { i };
        let starts = before == 0
            || bytes
                .get(before - 1)
                .is_some_and(|b| b.is_ascii_whitespace() || *b == b'{' || *b == b',');
        let mut after = from;
        if quoted {
            if bytes.get(after) != Some(&b'"') {
                continue;
            }
            after += 1;
        }
        while bytes.get(after).is_some_and(|b| *b == b' ' || *b == b'\t') {
            after += 1;
        }
        if starts && bytes.get(after) == Some(&b'=') {
            return Some(before);
        }
    }
    None
}

/// The validated pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    /// Where it came from (a file name, or "the embedded default pipeline").
    pub source: String,
    /// TCP listener settings.
    pub tcp: TcpConfig,
    /// Decoder settings.
    pub decode: DecodeOptions,
    /// The sessions analysed at all (`[input]` `ports`, `addresses`): the others' packets are
    /// skipped before reassembly, and counted.
    pub select: Filter,
    /// Monologue bytes delivered to plugins per part at most.
    pub monologue_part_size: usize,
    /// Capture held for pending monologue parts over all sessions before parts are sent
    /// early ([`DEFAULT_MAX_MONOLOGUE_BUFFER`] unless set).
    pub max_monologue_buffer: usize,
    /// The original's verbosity bitmask: 0x02 per monologue, 0x04 per session (on stderr).
    pub verbosity: u8,
    /// Analysers, in order (the TCP listener, always first, is implicit).
    pub entries: Vec<Entry>,
    /// Write one file per record kind here instead of stdout.
    pub output_dir: Option<PathBuf>,
    /// Where plugins' extracted content (bodies, e-mails) goes; extraction is off without it.
    pub extract_dir: Option<PathBuf>,
    /// Bytes the extracted files may take together.
    pub extract_max_total: u64,
    /// What a failing analyser does to the run.
    pub on_error: OnError,
    /// Plugin directories named by the file.
    pub plugin_dirs: Vec<PathBuf>,
}

/// 1-based line and column of byte `offset`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset.min(text.len())).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    // A byte-order mark is not a column an editor shows.
    let col = before
        .rsplit('\n')
        .next()
        .map_or(0, |l| l.trim_start_matches('\u{feff}').chars().count())
        + 1;
    (line, col)
}

/// A `-l NAME[,key=value...]` command-line entry.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadSpec {
    /// The text as given.
    pub text: String,
    /// Plugin name.
    pub name: String,
    /// `ports=25+587`.
    pub ports: Option<Vec<u16>>,
    /// `addresses=10.0.0.0/8+192.168.1.1`.
    pub addresses: Option<Vec<String>>,
    /// Other keys: configuration values (TOML syntax; bare words are strings).
    pub config: toml::Table,
}

impl LoadSpec {
    /// Parses `NAME[,key=value...]`, as the original's `HTTP,v=1` (a bare key means `true`).
    pub fn parse(text: &str) -> Result<LoadSpec, PipelineError> {
        let err = |message: String| PipelineError {
            location: format!("command line `-l {text}`"),
            message,
        };
        let mut parts = text.split(',');
        let name = parts.next().unwrap_or("").trim().to_lowercase();
        if name.is_empty() {
            return Err(err(
                "a plugin name is needed before the first comma".to_string()
            ));
        }
        let mut spec = LoadSpec {
            text: text.to_string(),
            name,
            ports: None,
            addresses: None,
            config: toml::Table::new(),
        };
        for part in parts {
            let bare = part.trim();
            // `ports=80,8080`: the comma ends the list; what follows is not a key.
            if !part.contains('=') && (bare.parse::<u16>().is_ok() || parse_network(bare).is_ok()) {
                return Err(err(format!(
                    "`{bare}` is not a key: -l splits at every comma, so its lists are joined with `+` (ports=80+8080, addresses=10.0.0.0/8+192.168.1.1); a TOML array needs a pipeline file"
                )));
            }
            let (key, value) = match part.split_once('=') {
                Some((k, v)) => (k.trim(), v.trim()),
                None => (part.trim(), "true"),
            };
            match key {
                "" => return Err(err("empty key".to_string())),
                "ports" => spec.ports = Some(parse_ports(value).map_err(err)?),
                "addresses" => {
                    let addresses: Vec<String> = list_items(value)
                        .map_err(err)?
                        .into_iter()
                        .map(str::to_string)
                        .collect();
                    if addresses.is_empty() {
                        return Err(err("no address given".to_string()));
                    }
                    spec.addresses = Some(addresses);
                }
                _ => {
                    let parsed = toml::from_str::<toml::Table>(&format!("v = {value}"))
                        .ok()
                        .and_then(|mut t| t.remove("v"))
                        .unwrap_or_else(|| toml::Value::String(value.to_string()));
                    spec.config.insert(key.to_string(), parsed);
                }
            }
        }
        Ok(spec)
    }
}

/// Inputs to [`Pipeline::load`].
#[derive(Debug, Clone, Default)]
pub struct PipelineSource {
    /// The pipeline file, if any.
    pub file: Option<PathBuf>,
    /// `-l` entries.
    pub specs: Vec<LoadSpec>,
    /// `--plugin-dir` directories.
    pub plugin_dirs: Vec<PathBuf>,
}

/// An entry before its plugin is loaded.
struct Draft {
    name: String,
    name_at: String,
    path: Option<PathBuf>,
    label: Option<String>,
    ports: Option<Vec<u16>>,
    addresses: Vec<(String, String)>,
    any: bool,
    events: Vec<(String, String)>,
    config: toml::Table,
    origin: ConfigOrigin,
    /// From the embedded default: skipped, not an error, when the plugin is not found.
    optional: bool,
}

impl Draft {
    /// Its label: the one given, else its plugin's name.
    fn label(&self) -> &str {
        self.label.as_deref().unwrap_or(&self.name)
    }
}

/// The entry an `-l` merges into: the one labelled as the option names it, else the one entry
/// of that plugin; `None` for a plugin not listed (the option adds an entry). An error when it
/// cannot tell: several entries of the plugin, or a label that is another plugin's name.
fn merge_target(drafts: &[Draft], spec: &LoadSpec) -> Result<Option<usize>, String> {
    // (`-l` names are lower-cased, as the original's were: labels compare so too.)
    let by_label = drafts
        .iter()
        .position(|d| d.label().to_lowercase() == spec.name);
    let of_plugin: Vec<usize> = (0..drafts.len())
        .filter(|&i| drafts.get(i).is_some_and(|d| d.name == spec.name))
        .collect();
    match (by_label, of_plugin.as_slice()) {
        (Some(i), others)
            if !others.is_empty() && drafts.get(i).is_some_and(|d| d.name != spec.name) =>
        {
            Err(format!(
                "`{}` is the label of one entry and the plugin of another: give the entry a label of its own",
                spec.name
            ))
        }
        (Some(i), _) => Ok(Some(i)),
        (None, [i]) => Ok(Some(*i)),
        (None, []) => Ok(None),
        (None, several) => {
            let labels: Vec<&str> = several
                .iter()
                .filter_map(|&i| drafts.get(i))
                .map(Draft::label)
                .collect();
            Err(format!(
                "the pipeline has {} entries of plugin `{}` ({}): name the one to change by its label (`-l LABEL,...`)",
                several.len(),
                spec.name,
                labels.join(", ")
            ))
        }
    }
}

impl Pipeline {
    /// Reads, merges and validates a pipeline; loads its plugins from the search path.
    pub fn load(source: &PipelineSource) -> Result<Pipeline, PipelineErrors> {
        let (name, text, embedded) = match &source.file {
            Some(path) => {
                let text = std::fs::read_to_string(path).map_err(|e| {
                    PipelineErrors(vec![PipelineError {
                        location: path.display().to_string(),
                        message: e.to_string(),
                    }])
                })?;
                (path.display().to_string(), text, false)
            }
            None if source.specs.is_empty() => (
                "the embedded default pipeline".to_string(),
                DEFAULT_PIPELINE.to_string(),
                true,
            ),
            None => ("the command line".to_string(), String::new(), false),
        };
        // Relative paths in a pipeline file are relative to the file, not to wherever netan
        // is run from.
        let base = source
            .file
            .as_ref()
            .and_then(|p| p.parent())
            .map(Path::to_path_buf);
        Self::from_text_in(&name, &text, embedded, base.as_deref(), source)
    }

    /// Like [`Pipeline::load`], from text already read (relative paths taken as they are).
    pub fn from_text(
        name: &str,
        text: &str,
        embedded: bool,
        source: &PipelineSource,
    ) -> Result<Pipeline, PipelineErrors> {
        Self::from_text_in(name, text, embedded, None, source)
    }

    /// Like [`Pipeline::from_text`], with relative paths of the text taken from `base`.
    fn from_text_in(
        name: &str,
        text: &str,
        embedded: bool,
        base: Option<&Path>,
        source: &PipelineSource,
    ) -> Result<Pipeline, PipelineErrors> {
        let in_base = |p: &Path| match base {
            Some(b) if p.is_relative() && !b.as_os_str().is_empty() => b.join(p),
            _ => p.to_path_buf(),
        };
        let mut errors = Vec::new();
        let text_arc = std::sync::Arc::new(text.to_string());
        let at = |offset: usize| {
            let (l, c) = line_col(text, offset);
            format!("{name}:{l}:{c}")
        };
        let file: File = toml::from_str(text).map_err(|e| {
            let location = e.span().map_or_else(|| name.to_string(), |s| at(s.start));
            PipelineErrors(vec![PipelineError {
                location,
                message: e.message().trim().to_string(),
            }])
        })?;

        // The TCP listener is built in and always first.
        for (value, what) in [
            (&file.tcp.enabled, "enabled"),
            (&file.tcp.disabled, "disabled"),
        ] {
            if let Some(v) = value {
                errors.push(PipelineError {
                    location: at(v.span().start),
                    message: format!(
                        "`{what}`: the TCP listener cannot be removed — it is built in, and every analyser starts at the byte stream it produces"
                    ),
                });
            }
        }
        if let Some(v) = &file.tcp.position {
            errors.push(PipelineError {
                location: at(v.span().start),
                message:
                    "`position`: the TCP listener always runs first; its place cannot be changed"
                        .to_string(),
            });
        }

        let mut tcp = TcpConfig::default();
        let t = &file.tcp;
        if let Some(v) = t.verbosity.as_ref().filter(|v| *v.get_ref() > 7) {
            errors.push(PipelineError {
                location: at(v.span().start),
                message: format!(
                    "`verbosity` is a bitmask of 2 (monologues) and 4 (sessions): 0 to 7, not {}",
                    v.get_ref()
                ),
            });
        }
        if let Some(v) = t.max_session_size {
            tcp.max_session_size = v;
        }
        if let Some(v) = t.max_buffered_per_session {
            tcp.max_buffered_per_session = v;
        }
        if let Some(v) = t.max_buffered {
            tcp.max_buffered_total = v;
        }
        if let Some(v) = &t.max_sessions {
            if *v.get_ref() == 0 {
                errors.push(PipelineError {
                    location: at(v.span().start),
                    message: "`max_sessions` must be at least 1".to_string(),
                });
            }
            tcp.max_sessions = (*v.get_ref()).max(1);
        }
        if let Some(v) = t.overlap_segments {
            tcp.overlap_segments = v;
        }
        for (value, target, key) in [
            (&t.idle_timeout, &mut tcp.idle_timeout_ns, "idle_timeout"),
            (&t.close_linger, &mut tcp.close_linger_ns, "close_linger"),
        ] {
            if let Some(v) = value {
                let secs = *v.get_ref();
                if secs.is_finite() && secs >= 0.0 {
                    *target = (secs * 1e9) as u64;
                } else {
                    errors.push(PipelineError {
                        location: at(v.span().start),
                        message: format!("`{key}` must be a number of seconds ≥ 0"),
                    });
                }
            }
        }
        let mut part_size = 1 << 20;
        if let Some(v) = &t.monologue_part_size {
            if *v.get_ref() == 0 || *v.get_ref() > u32::MAX as usize {
                errors.push(PipelineError {
                    location: at(v.span().start),
                    message: format!(
                        "`monologue_part_size` must be from 1 to {} (a part's bytes are counted in 32 bits)",
                        u32::MAX
                    ),
                });
            } else {
                part_size = *v.get_ref();
            }
        }
        let decode = DecodeOptions {
            tunnels: file.input.tunnels.unwrap_or(true),
            ..DecodeOptions::default()
        };
        // An empty list would silently mean "every session".
        if let Some(v) = file.input.ports.as_ref().filter(|p| p.get_ref().is_empty()) {
            errors.push(PipelineError {
                location: at(v.span().start),
                message: "`ports = []` names no port: leave `ports` out to analyse every session"
                    .to_string(),
            });
        }
        if let Some(v) = file
            .input
            .addresses
            .as_ref()
            .filter(|a| a.get_ref().is_empty())
        {
            errors.push(PipelineError {
                location: at(v.span().start),
                message: "`addresses = []` names no address: leave `addresses` out to analyse every session".to_string(),
            });
        }
        let select = Filter {
            ports: file
                .input
                .ports
                .as_ref()
                .map(|p| p.get_ref().clone())
                .unwrap_or_default(),
            networks: parse_networks(
                file.input
                    .addresses
                    .iter()
                    .flat_map(|list| list.get_ref().iter())
                    .map(|a| (a.get_ref().as_str(), at(a.span().start))),
                &mut errors,
            ),
        };

        // Entries as written.
        let mut drafts = Vec::new();
        for (n, entry) in file.plugin.iter().enumerate() {
            if let Some(v) = &entry.position {
                errors.push(PipelineError {
                    location: at(v.span().start),
                    message: "`position`: only the built-in TCP listener runs first; plugins run after it, in the order they are listed".to_string(),
                });
            }
            let (plugin_name, name_at) = match (&entry.name, &entry.path) {
                (Some(n), _) => (n.get_ref().clone(), at(n.span().start)),
                // Named after what the library says it is, so that `-l NAME` merges into it
                // (loading is cached: the library is opened once).
                (None, Some(p)) => (
                    crate::plugins::load(&in_base(p.get_ref()))
                        .map(|plugin| plugin.info.name.to_string())
                        .unwrap_or_default(),
                    at(p.span().start),
                ),
                (None, None) => {
                    errors.push(PipelineError {
                        location: nth_entry_header(text, n).map_or_else(|| name.to_string(), at),
                        message: "a [[plugin]] entry needs `name` or `path`".to_string(),
                    });
                    continue;
                }
            };
            // An empty list would silently mean "every session" or "every event".
            if entry.ports.as_ref().is_some_and(|p| p.is_empty()) {
                errors.push(PipelineError {
                    location: name_at.clone(),
                    message: "`ports = []` names no port: leave `ports` out for the plugin's default ports, or set `any = true` for every session".to_string(),
                });
            }
            if entry.addresses.as_ref().is_some_and(|a| a.is_empty()) {
                errors.push(PipelineError {
                    location: name_at.clone(),
                    message: "`addresses = []` names no address: leave `addresses` out for sessions of any address".to_string(),
                });
            }
            if entry.any == Some(true) && entry.ports.is_some() {
                errors.push(PipelineError {
                    location: name_at.clone(),
                    message: "`any = true` and `ports` contradict each other: `any` takes every session, `ports` only some; keep one".to_string(),
                });
            }
            if let (Some(n), Some(p)) = (&entry.name, &entry.path) {
                // Both given: they must name the same plugin (else one of them is a mistake
                // that would be silently ignored).
                if let Ok(plugin) = crate::plugins::load(&in_base(p.get_ref())) {
                    if plugin.info.name.as_str() != n.get_ref() {
                        errors.push(PipelineError {
                            location: name_at.clone(),
                            message: format!(
                                "`name = \"{}\"` but the library at `path` ({}) is plugin `{}`: give only one of them, or the library's own name",
                                n.get_ref(),
                                in_base(p.get_ref()).display(),
                                plugin.info.name
                            ),
                        });
                    }
                }
            }
            if entry.events.as_ref().is_some_and(|e| e.is_empty()) {
                errors.push(PipelineError {
                    location: name_at.clone(),
                    message: "`events = []` names no event: leave `events` out for every event the plugin consumes".to_string(),
                });
            }
            if plugin_name.eq_ignore_ascii_case("tcp") {
                errors.push(PipelineError {
                    location: name_at.clone(),
                    message: "the TCP listener is not a pipeline entry: it is built in and always runs first, before every plugin (configure it in [tcp])".to_string(),
                });
                continue;
            }
            let config_span = entry.config.as_ref().map(|c| c.span());
            drafts.push(Draft {
                name: plugin_name,
                name_at,
                path: entry.path.as_ref().map(|p| in_base(p.get_ref())),
                label: entry.label.clone(),
                ports: entry.ports.clone(),
                addresses: entry
                    .addresses
                    .iter()
                    .flatten()
                    .map(|a| (a.get_ref().clone(), at(a.span().start)))
                    .collect(),
                any: entry.any.unwrap_or(false),
                events: entry
                    .events
                    .iter()
                    .flatten()
                    .map(|e| (e.get_ref().clone(), at(e.span().start)))
                    .collect(),
                config: entry
                    .config
                    .as_ref()
                    .map(|c| c.get_ref().clone())
                    .unwrap_or_default(),
                origin: ConfigOrigin {
                    file: config_span.map(|span| (name.to_string(), text_arc.clone(), span)),
                    options: Vec::new(),
                },
                optional: embedded,
            });
        }

        // Command-line entries, merged over the file's.
        for spec in &source.specs {
            if spec.name == "tcp" {
                errors.push(PipelineError {
                    location: format!("command line `-l {}`", spec.text),
                    message: "the TCP listener is built in and always runs first: it is not loaded with -l (use the reassembly options instead)".to_string(),
                });
                continue;
            }
            let option = (spec.text.clone(), spec.config.keys().cloned().collect());
            let location = format!("command line `-l {}`", spec.text);
            let target = match merge_target(&drafts, spec) {
                Ok(target) => target,
                Err(message) => {
                    errors.push(PipelineError {
                        location: location.clone(),
                        message,
                    });
                    continue;
                }
            };
            match target.and_then(|i| drafts.get_mut(i)) {
                Some(d) => {
                    if spec.ports.is_some() {
                        d.ports = spec.ports.clone();
                    }
                    if let Some(a) = &spec.addresses {
                        d.addresses = a.iter().map(|x| (x.clone(), location.clone())).collect();
                    }
                    for (k, v) in &spec.config {
                        d.config.insert(k.clone(), v.clone());
                    }
                    if !spec.config.is_empty() {
                        // The file's table stays where the keys no option sets are.
                        d.origin.options.push(option);
                    }
                    d.optional = false;
                }
                None => drafts.push(Draft {
                    name: spec.name.clone(),
                    name_at: location.clone(),
                    path: None,
                    label: None,
                    ports: spec.ports.clone(),
                    addresses: spec
                        .addresses
                        .iter()
                        .flatten()
                        .map(|x| (x.clone(), location.clone()))
                        .collect(),
                    any: false,
                    events: Vec::new(),
                    config: spec.config.clone(),
                    origin: ConfigOrigin {
                        file: None,
                        options: vec![option],
                    },
                    optional: false,
                }),
            }
        }

        // Load the plugins.
        let mut file_dirs: Vec<PathBuf> = Vec::new();
        for d in &file.plugins.dirs {
            let dir = in_base(d.get_ref());
            if let Some(problem) = crate::plugins::not_a_directory(&dir) {
                errors.push(PipelineError {
                    location: at(d.span().start),
                    message: format!("plugin directory `{}`: {problem}", d.get_ref().display()),
                });
            }
            file_dirs.push(dir);
        }
        let search = SearchPath::standard(&source.plugin_dirs, &file_dirs);
        let mut entries: Vec<Entry> = Vec::new();
        for d in drafts {
            let loaded = match &d.path {
                Some(path) => crate::plugins::load(path),
                None => search.find(&d.name),
            };
            let plugin = match loaded {
                Ok(p) => p,
                // A bundled plugin of the default pipeline that is not there is left out; one
                // that is there but cannot be loaded is an error, not a silent omission.
                Err(crate::plugins::LoadError::Unknown { .. }) if d.optional => continue,
                Err(e) => {
                    errors.push(PipelineError {
                        location: d.name_at.clone(),
                        message: e.to_string(),
                    });
                    continue;
                }
            };
            let networks = parse_networks(
                d.addresses
                    .iter()
                    .map(|(text, at)| (text.as_str(), at.clone())),
                &mut errors,
            );
            let ports = match (&d.ports, d.any) {
                (Some(p), _) => p.clone(),
                (None, true) => Vec::new(),
                // Without `ports`, the plugin's own (addresses narrow them further).
                (None, false) => plugin.info.default_ports.iter().copied().collect(),
            };
            let consumes: Vec<String> =
                plugin.info.consumes.iter().map(|c| c.to_string()).collect();
            let events = if d.events.is_empty() {
                consumes.clone()
            } else {
                let mut chosen = Vec::new();
                for (event, location) in &d.events {
                    if consumes.contains(event) {
                        chosen.push(event.clone());
                    } else {
                        errors.push(PipelineError {
                            location: location.clone(),
                            message: format!(
                                "unknown event `{event}` for plugin `{}`: it consumes {}",
                                plugin.info.name,
                                if consumes.is_empty() {
                                    "no events".to_string()
                                } else {
                                    consumes.join(", ")
                                }
                            ),
                        });
                    }
                }
                chosen
            };
            if d.label.as_deref().is_some_and(|l| l.trim().is_empty()) {
                errors.push(PipelineError {
                    location: d.name_at.clone(),
                    message: "`label` is empty: records and messages need a name".to_string(),
                });
            }
            let label = d
                .label
                .clone()
                .unwrap_or_else(|| plugin.info.name.to_string());
            let config = if d.config.is_empty() {
                String::new()
            } else {
                toml::to_string(&d.config).unwrap_or_default()
            };
            entries.push(Entry {
                label,
                plugin,
                filter: Filter { ports, networks },
                events,
                config,
                config_origin: d.origin,
                location: d.name_at.clone(),
            });
        }

        // Every event a plugin consumes must be one that exists: a TCP event, or one emitted by
        // an entry of this pipeline.
        let mut known: Vec<String> = netan_plugin_api::events::TCP
            .iter()
            .map(|s| s.to_string())
            .collect();
        for e in &entries {
            known.extend(e.plugin.info.emits.iter().map(|s| s.to_string()));
        }
        if embedded {
            // The default pipeline drops what it cannot feed instead of failing.
            entries.retain(|e| e.events.iter().all(|ev| known.contains(ev)));
        }
        if let Some(e) = entries.get(MAX_ENTRIES) {
            errors.push(PipelineError {
                location: e.location.clone(),
                message: format!(
                    "a pipeline holds at most {MAX_ENTRIES} plugin entries; this is entry {}",
                    MAX_ENTRIES + 1
                ),
            });
        }
        for e in &entries {
            for event in &e.events {
                if !known.contains(event) {
                    errors.push(PipelineError {
                        location: e.location.clone(),
                        message: format!(
                            "plugin `{}` consumes `{event}`, which no plugin of this pipeline emits (add the plugin that emits it)",
                            e.label
                        ),
                    });
                }
            }
        }
        let mut labels: Vec<&str> = Vec::new();
        for e in &entries {
            if labels.contains(&e.label.as_str()) {
                errors.push(PipelineError {
                    location: e.location.clone(),
                    message: format!(
                        "two entries are labelled `{}`: give one a distinct `label`",
                        e.label
                    ),
                });
            }
            labels.push(&e.label);
        }
        // The same event twice in `events` is a slip (it is delivered once).
        for e in &entries {
            for (i, event) in e.events.iter().enumerate() {
                if e.events.iter().take(i).filter(|x| *x == event).count() == 1 {
                    errors.push(PipelineError {
                        location: e.location.clone(),
                        message: format!("`events` lists `{event}` more than once"),
                    });
                }
            }
        }
        // Output directories are made when the run starts; one that names a file cannot be.
        for (dir, key) in [
            (&file.output.dir, "dir"),
            (&file.output.extract_dir, "extract_dir"),
        ] {
            if let Some(d) = dir {
                let path = in_base(d.get_ref());
                if path.exists() && !path.is_dir() {
                    errors.push(PipelineError {
                        location: at(d.span().start),
                        message: format!(
                            "[output] `{key}`: {} exists and is not a directory",
                            path.display()
                        ),
                    });
                }
            }
        }

        if !errors.is_empty() {
            return Err(PipelineErrors(errors));
        }
        Ok(Pipeline {
            source: name.to_string(),
            tcp,
            decode,
            select,
            monologue_part_size: part_size,
            max_monologue_buffer: t
                .max_monologue_buffer
                .unwrap_or(DEFAULT_MAX_MONOLOGUE_BUFFER),
            verbosity: t.verbosity.as_ref().map_or(0, |v| *v.get_ref()),
            entries,
            output_dir: file.output.dir.as_ref().map(|d| in_base(d.get_ref())),
            extract_dir: file
                .output
                .extract_dir
                .as_ref()
                .map(|d| in_base(d.get_ref())),
            extract_max_total: file
                .output
                .extract_max_total
                .unwrap_or(crate::sink::artifacts::DEFAULT_MAX_TOTAL),
            on_error: file.plugins.on_error.unwrap_or_default(),
            plugin_dirs: file_dirs,
        })
    }

    /// The resolved pipeline, for `netan check`.
    pub fn describe(&self) -> String {
        let mut s = format!("pipeline from {}\n", self.source);
        s.push_str(&format!(
            "  input: sessions on {}; VXLAN tunnels {}\n",
            self.select.describe(),
            if self.decode.tunnels {
                "opened"
            } else {
                "not opened"
            }
        ));
        let t = &self.tcp;
        s.push_str(&format!(
            "  0. tcp (built in, always first): max_session_size={} max_buffered_per_session={} max_buffered={} max_sessions={} idle_timeout={}s close_linger={}s overlap_segments={} monologue_part_size={} max_monologue_buffer={}\n",
            t.max_session_size,
            t.max_buffered_per_session,
            t.max_buffered_total,
            t.max_sessions,
            t.idle_timeout_ns as f64 / 1e9,
            t.close_linger_ns as f64 / 1e9,
            t.overlap_segments,
            self.monologue_part_size,
            self.max_monologue_buffer,
        ));
        for (i, e) in self.entries.iter().enumerate() {
            s.push_str(&format!(
                "  {}. {} = plugin `{}` {} ({})\n     on {}; events: {}\n",
                i + 1,
                e.label,
                e.plugin.info.name,
                e.plugin.info.version,
                e.plugin.path.display(),
                e.filter.describe(),
                if e.events.is_empty() {
                    "none".to_string()
                } else {
                    e.events.join(", ")
                }
            ));
            if !e.config.is_empty() {
                for line in e.config.lines() {
                    s.push_str(&format!("     config: {line}\n"));
                }
            }
        }
        s.push_str(&format!(
            "  output: {}; on plugin error: {}\n",
            self.output_dir
                .as_ref()
                .map_or("JSON Lines on stdout".to_string(), |d| format!(
                    "one file per record kind in {}",
                    d.display()
                )),
            match self.on_error {
                OnError::Continue => "continue without that plugin, exit 1",
                OnError::Stop => "stop the run",
            }
        ));
        s
    }
}

/// The networks of `(text, location)` pairs; each that does not parse is an error at its
/// location.
fn parse_networks<'a>(
    texts: impl Iterator<Item = (&'a str, String)>,
    errors: &mut Vec<PipelineError>,
) -> Vec<(IpAddr, u8)> {
    texts
        .filter_map(|(text, location)| {
            parse_network(text)
                .map_err(|message| errors.push(PipelineError { location, message }))
                .ok()
        })
        .collect()
}

/// `25+587` (or with commas): ports of a traffic filter on the command line.
fn parse_ports(text: &str) -> Result<Vec<u16>, String> {
    let ports = list_items(text)?
        .into_iter()
        .map(|p| p.parse::<u16>().map_err(|e| format!("port `{p}`: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if ports.is_empty() {
        return Err("no port given".to_string());
    }
    Ok(ports)
}

/// The items of a command-line list: `a+b`, `a,b`, spaces around them left out. None for
/// a blank text (the caller says what is missing); an error for an empty item (`80+`,
/// `80,,25`), which is a typo, not a list.
fn list_items(text: &str) -> Result<Vec<&str>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let items: Vec<&str> = text.split(['+', ',']).map(str::trim).collect();
    if items.iter().any(|x| x.is_empty()) {
        return Err(format!(
            "`{text}` has an empty item (a `+` or `,` with nothing on one side)"
        ));
    }
    Ok(items)
}

/// `10.0.0.0/8`, `192.168.1.1`, `2001:db8::/32`.
fn parse_network(text: &str) -> Result<(IpAddr, u8), String> {
    if text
        .split('/')
        .any(|p| p.trim().contains(char::is_whitespace))
    {
        return Err(format!(
            "address `{text}`: addresses are separated by `+` or `,`, not spaces"
        ));
    }
    let (addr, len) = match text.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (text, None),
    };
    let ip: IpAddr = addr
        .trim()
        .parse()
        .map_err(|e| format!("address `{text}`: {e}"))?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    let len = match len {
        Some(l) => l
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|l| *l <= max)
            .ok_or_else(|| format!("address `{text}`: bad prefix length"))?,
        None => max,
    };
    // An IPv4-mapped IPv6 network (`::ffff:10.0.0.0/104`) is the IPv4 network: captures
    // carry IPv4 sessions as IPv4, so the mapped form would match nothing.
    if let IpAddr::V6(v6) = ip {
        if let Some(v4) = v6.to_ipv4_mapped().filter(|_| len >= 96) {
            return Ok((IpAddr::V4(v4), len - 96));
        }
    }
    Ok((ip, len))
}

#[cfg(test)]
mod tests;
