//! Finding and loading plugin libraries: the search path, `abi_stable`'s version and layout
//! checks, and one clear error per file that is not a usable netan plugin.
//!
//! Each library is loaded with `lib_header_from_path` followed by [`check_root_module`]'s version
//! and layout checks, never `RootModule::load_from_file`: the latter caches one module per
//! interface type and would hand back the first library for every later path.
//! Libraries are never unloaded.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use abi_stable::abi_stability::abi_checking::{
    check_layout_compatibility_with_globals, CheckingGlobals,
};
use abi_stable::library::{lib_header_from_path, LibHeader, LibraryError, RootModule};
use abi_stable::sabi_types::VersionNumber;
use abi_stable::StableAbi;
use netan_plugin_api::{PluginInfo, PluginMod_Ref};

/// Why a file could not be used as a plugin.
#[derive(Debug, Clone, thiserror::Error)]
pub enum LoadError {
    /// No such file.
    #[error("{path}: no such plugin library")]
    Missing {
        /// The path tried.
        path: PathBuf,
    },
    /// The file is not a loadable library, or not a netan plugin.
    #[error("{path}: not a netan plugin: {reason}")]
    NotAPlugin {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// A netan plugin built against an incompatible plugin API.
    #[error("{path}: incompatible plugin: {reason}")]
    Incompatible {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// No plugin of that name in the search path.
    #[error("no plugin named `{name}` in {searched}")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The directories searched, for the message.
        searched: String,
    },
}

/// A loaded plugin library.
#[derive(Clone)]
pub struct LoadedPlugin {
    /// The library file.
    pub path: PathBuf,
    /// Its root module.
    pub module: PluginMod_Ref,
    /// Its metadata.
    pub info: PluginInfo,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("path", &self.path)
            .field("info", &self.info)
            .finish()
    }
}

/// File name of the library of plugin `name` on this platform (`http` → `libnetan_http.so`).
pub fn library_file_name(name: &str) -> String {
    let stem = format!("netan_{}", name.replace('-', "_"));
    format!(
        "{}{stem}{}",
        std::env::consts::DLL_PREFIX,
        std::env::consts::DLL_SUFFIX
    )
}

/// Whether a file name looks like a netan plugin library.
fn is_plugin_file_name(name: &str) -> bool {
    name.starts_with(&format!("{}netan_", std::env::consts::DLL_PREFIX))
        && name.ends_with(std::env::consts::DLL_SUFFIX)
}

/// Why `dir` cannot be searched for plugins, if it cannot: a directory named on the command
/// line, in a pipeline or in `$NETAN_PLUGIN_PATH` that is not there would otherwise be
/// skipped in silence (and a plugin of the same name found elsewhere used instead).
pub fn not_a_directory(dir: &Path) -> Option<String> {
    if dir.as_os_str().is_empty() {
        return Some("an empty path".to_string());
    }
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => None,
        Ok(_) => Some("not a directory".to_string()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some("no such directory".to_string()),
        Err(e) => Some(format!("cannot be read ({e})")),
    }
}

/// Loads one library (once per process: later calls for the same file return the same result).
pub fn load(path: &Path) -> Result<LoadedPlugin, LoadError> {
    static LOADED: Mutex<Option<HashMap<PathBuf, Result<LoadedPlugin, LoadError>>>> =
        Mutex::new(None);
    if path.is_dir() {
        return Err(LoadError::NotAPlugin {
            path: path.to_path_buf(),
            reason:
                "it is a directory (`path` names a library file; put directories in [plugins] dirs)"
                    .to_string(),
        });
    }
    if !path.is_file() {
        return Err(LoadError::Missing {
            path: path.to_path_buf(),
        });
    }
    // Absolute whatever happens: a bare file name would make the loader search the system's
    // library path.
    let canonical = path
        .canonicalize()
        .or_else(|_| std::path::absolute(path))
        .unwrap_or_else(|_| path.to_path_buf());
    let mut guard = LOADED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let cache = guard.get_or_insert_with(HashMap::new);
    if let Some(result) = cache.get(&canonical) {
        return result.clone();
    }
    let result = load_uncached(path, &canonical);
    cache.insert(canonical, result.clone());
    result
}

/// Loads `canonical` (the file's absolute path: a bare file name would make the dynamic loader
/// search the system's library path), naming it `path` in messages.
fn load_uncached(path: &Path, canonical: &Path) -> Result<LoadedPlugin, LoadError> {
    let not_a_plugin = |reason: String| LoadError::NotAPlugin {
        path: path.to_path_buf(),
        reason,
    };
    let incompatible = |reason: String| LoadError::Incompatible {
        path: path.to_path_buf(),
        reason,
    };
    let header = lib_header_from_path(canonical).map_err(|e| match e {
        LibraryError::OpenError { err, .. } => {
            not_a_plugin(format!("cannot be loaded as a library ({err})"))
        }
        LibraryError::GetSymbolError { .. } => not_a_plugin(
            "it exports no abi_stable root module (is it built with export_plugin!?)".to_string(),
        ),
        other => not_a_plugin(first_lines(&other.to_string())),
    })?;
    let module = check_root_module(header).map_err(incompatible)?;
    let info = (module.info())();
    Ok(LoadedPlugin {
        path: path.to_path_buf(),
        module,
        info,
    })
}

/// Checks that the library's root module can be used as this netan's [`PluginMod_Ref`], and
/// returns it.
///
/// abi_stable's own check (`init_root_module`) only accepts libraries whose prefix types have
/// at least the loader's fields: plugins built against the same or a newer API. A plugin built
/// against an older API of the same line is checked the other way round: its types must be a
/// prefix of ours (every API version only appends to the prefix types, and
/// `netan_plugin_api::history` holds each released version against the current one). Both
/// sides then use only what both have: the host reads fields beyond the plugin's through
/// abi_stable's accessors, which consult the plugin's own field count; methods added to
/// `Analyser`/`Host` have default bodies, used when the other side's vtable lacks them.
fn check_root_module(header: &LibHeader) -> Result<PluginMod_Ref, String> {
    let ours = VersionNumber::new(<PluginMod_Ref as RootModule>::VERSION_STRINGS)
        .map_err(|e| format!("this netan's API version does not parse: {e}"))?;
    let theirs = VersionNumber::new(header.version_strings())
        .map_err(|e| format!("its netan-plugin-api version does not parse ({e})"))?;
    // Semver lines: 0.y.* share y, x.*.* (x >= 1) share x.
    if !ours.is_loosely_compatible(theirs) {
        let ours_line = if ours.major == 0 {
            format!("{}.{}.x", ours.major, ours.minor)
        } else {
            format!("{}.x", ours.major)
        };
        return Err(format!(
            "built against netan-plugin-api {theirs}, this netan loads plugins built against {ours_line} (rebuild the plugin against this netan's plugin-api)"
        ));
    }
    let Some(layout) = header.layout() else {
        return Err(
            "it carries no type layout to check (exported with unsafe_no_layout_constant)"
                .to_string(),
        );
    };
    // Within the line, a plugin this netan is not "compatible" with in abi_stable's sense is
    // one built against an older API.
    if ours.is_compatible(theirs) {
        // The same or a newer API: abi_stable's own check, against its process-wide view.
        return header.check_layout::<PluginMod_Ref>().map_err(|e| {
            format!(
                "its types do not match this netan's plugin API {ours} (abi_stable layout check, plugin built against {theirs}; \"expected\" is this netan's): {}",
                first_lines(&e.to_string())
            )
        });
    }
    // An older API, checked the other way round with checking state of its own: abi_stable's
    // process-wide state merges every prefix type it has seen into one widest view and holds
    // later libraries against it in the forward direction only, so an older plugin checked
    // there would make every current plugin loaded after it fail. The older plugin's types
    // are not shared with other libraries (the host creates every `Host` object; analysers
    // stay with their own library), so a check of the pair alone is the whole check.
    let own = <PluginMod_Ref as StableAbi>::LAYOUT;
    check_layout_compatibility_with_globals(layout, own, &CheckingGlobals::new()).map_err(|e| {
        format!(
            "its types do not match this netan's plugin API {ours} (abi_stable layout check, plugin built against {theirs}; \"expected\" is the plugin's): {}",
            first_lines(&e.to_string())
        )
    })?;
    // SAFETY: the plugin's layout was just checked to be a prefix of ours (see above).
    #[allow(unsafe_code)]
    let module = unsafe { header.unchecked_layout::<PluginMod_Ref>() };
    module.map_err(|e| {
        format!(
            "its root module failed to initialise: {}",
            first_lines(&e.to_string())
        )
    })
}

/// The first few lines of a long error (abi_stable's layout reports run to pages).
fn first_lines(text: &str) -> String {
    let all: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    // abi_stable's layout errors open with the compared layouts; what differs is on the line
    // that starts with "Error" (e.g. "Error:too many fields", then "Expected: 3", "Found: 2").
    let from = all.iter().position(|l| l.starts_with("Error")).unwrap_or(0);
    let lines: Vec<&str> = all.iter().skip(from).take(6).copied().collect();
    let mut s = lines.join(" / ");
    if all.len() > from + lines.len() {
        s.push_str(" / ...");
    }
    s
}

/// Where plugins are looked for, in order.
#[derive(Debug, Clone, Default)]
pub struct SearchPath {
    /// Directories, first match wins.
    pub dirs: Vec<PathBuf>,
}

impl SearchPath {
    /// The standard search path: `--plugin-dir` options, then directories from the pipeline
    /// file, then `$NETAN_PLUGIN_PATH` (colon-separated), then the directory of the running
    /// `netan` binary (so `cargo build --workspace` then `target/release/netan` finds the
    /// bundled plugins).
    pub fn standard(cli_dirs: &[PathBuf], pipeline_dirs: &[PathBuf]) -> SearchPath {
        let mut dirs: Vec<PathBuf> = cli_dirs.iter().chain(pipeline_dirs).cloned().collect();
        if let Some(env) = std::env::var_os("NETAN_PLUGIN_PATH") {
            dirs.extend(std::env::split_paths(&env).filter(|p| !p.as_os_str().is_empty()));
        }
        if let Some(dir) = std::env::current_exe()
            .ok()
            .and_then(|exe| exe.parent().map(Path::to_path_buf))
        {
            dirs.push(dir);
        }
        let mut seen = Vec::new();
        dirs.retain(|d| {
            let key = d.canonicalize().unwrap_or_else(|_| d.clone());
            let fresh = !seen.contains(&key);
            seen.push(key);
            fresh
        });
        SearchPath { dirs }
    }

    /// The directories, for messages.
    pub fn describe(&self) -> String {
        if self.dirs.is_empty() {
            return "an empty search path".to_string();
        }
        let list: Vec<String> = self.dirs.iter().map(|d| d.display().to_string()).collect();
        list.join(", ")
    }

    /// Finds plugin `name`: a library file named after it in the first directory that has
    /// one, whose metadata carries that name.
    pub fn find(&self, name: &str) -> Result<LoadedPlugin, LoadError> {
        let file = library_file_name(name);
        for dir in &self.dirs {
            let path = dir.join(&file);
            if path.is_file() {
                let plugin = load(&path)?;
                if plugin.info.name.as_str() != name {
                    return Err(LoadError::NotAPlugin {
                        path,
                        reason: format!(
                            "its metadata names it `{}`, not `{name}`",
                            plugin.info.name
                        ),
                    });
                }
                return Ok(plugin);
            }
        }
        Err(LoadError::Unknown {
            name: name.to_string(),
            searched: self.describe(),
        })
    }

    /// Every plugin library in the search path (by file name; the first directory wins for a
    /// name), loaded, with the errors of files that failed.
    pub fn discover(&self) -> Vec<Result<LoadedPlugin, LoadError>> {
        let mut out = Vec::new();
        let mut names = Vec::new();
        for dir in &self.dirs {
            let Ok(entries) = std::fs::read_dir(dir) else {
                continue;
            };
            let mut files: Vec<PathBuf> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .is_some_and(|n| is_plugin_file_name(&n.to_string_lossy()))
                })
                .collect();
            files.sort();
            for path in files {
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                if names.contains(&name) {
                    continue;
                }
                // Found by name only if the file's name is the one its metadata gives: one
                // that is not would be listed yet refused by `name = ...` and `-l`.
                let loaded = load(&path).and_then(|plugin| {
                    if library_file_name(plugin.info.name.as_str()) == name {
                        Ok(plugin)
                    } else {
                        Err(LoadError::NotAPlugin {
                            path: path.clone(),
                            reason: format!(
                                "its metadata names it `{}`, whose library would be {}: netan cannot find it by name (load it with `path`, or rename it)",
                                plugin.info.name,
                                library_file_name(plugin.info.name.as_str())
                            ),
                        })
                    }
                });
                names.push(name);
                out.push(loaded);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_names_follow_the_platform_convention() {
        let name = library_file_name("http-perf");
        assert!(name.contains("netan_http_perf"));
        assert!(is_plugin_file_name(&name));
        assert!(!is_plugin_file_name("libfoo.so"));
    }

    #[test]
    fn missing_files_and_non_libraries_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join(library_file_name("nothing"));
        assert!(matches!(load(&missing), Err(LoadError::Missing { .. })));
        let text = dir.path().join(library_file_name("text"));
        std::fs::write(&text, "not a library").unwrap();
        let err = load(&text).unwrap_err();
        assert!(matches!(err, LoadError::NotAPlugin { .. }), "{err}");
        assert!(err.to_string().contains(&text.display().to_string()));
    }

    #[test]
    fn an_unknown_name_lists_the_directories_searched() {
        let dir = tempfile::tempdir().unwrap();
        let search = SearchPath {
            dirs: vec![dir.path().to_path_buf()],
        };
        let err = search.find("nope").unwrap_err();
        assert!(err.to_string().contains("no plugin named `nope`"));
        assert!(err.to_string().contains(&dir.path().display().to_string()));
    }
}
