//! `http`: HTTP/1.0 and 1.1 transactions. Requests are paired with responses (keep-alive,
//! pipelining, 100-continue, CONNECT and upgrades), bodies delimited by Content-Length, chunked
//! coding or the end of the connection, optionally decoded (gzip/deflate) and extracted;
//! every transaction becomes an `http` record and an `http_transaction` event (for
//! `http-perf`). Anything wrong (gaps, truncation, not HTTP, parse errors) is a flag on the
//! record, never a stop.
//!
//! * [`parser`] is plain Rust with no ABI types: an incremental parser per TCP session;
//! * [`socks`] follows a SOCKS4/4a/5 handshake at a session's start, to the HTTP it tunnels;
//! * [`analyser`] is the glue to the plugin API.

// A plugin library has its own allocator. This one allocates per transaction (header
// strings, records); mimalloc halved the time the system allocator took in HTTP-heavy runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod analyser;
pub mod parser;
pub mod socks;

netan_plugin_api::export_plugin!(analyser::Http);
