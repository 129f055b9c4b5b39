//! `smtp`: SMTP sessions, envelopes and messages, the way Zeek's smtp.log and Suricata's eve
//! smtp events report them: commands paired with replies (multi-line replies, PIPELINING),
//! HELO/EHLO, MAIL FROM, every RCPT TO with its reply code, DATA (dot-unstuffed) and BDAT,
//! RSET, several messages per session, the headers that matter, attachments (name, type, size,
//! SHA-256), STARTTLS (the encrypted rest is not parsed), AUTH (mechanism only: credentials
//! never appear in any output), and flags for anything wrong.
//!
//! * [`parser`] is plain Rust with no ABI types: an incremental parser per TCP session;
//! * [`analyser`] is the glue to the plugin API.

// A plugin library has its own allocator. This one allocates per transaction (header
// strings, records); mimalloc halved the time the system allocator took in HTTP-heavy runs.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod analyser;
pub mod parser;

netan_plugin_api::export_plugin!(analyser::Smtp);
