//! netan: takes packet captures apart by conversation.
//!
//! The data path, one module per step:
//!
//! ```text
//! capture files → source → decode → tcp (built in, always first) → observers (flows, monologues, plugins)
//! ```
//!
//! * [`source`] reads pcap, pcapng and gzip-compressed captures as a stream of frames;
//! * [`decode`] finds the TCP segment in a frame, counting everything it skips;
//! * [`tcp`] reassembles sessions and reports them to a [`tcp::TcpObserver`];
//! * [`analyse`] runs that loop over a list of inputs and reports what it counted;
//! * [`output`] holds the observers behind `netan flows` and `netan monologues`.

pub mod analyse;
pub mod cli;
pub mod commands;
pub mod decode;
pub mod dispatch;
#[doc(hidden)]
pub mod fuzzing;
pub mod interrupt;
pub mod output;
pub mod pipeline;
pub mod plugins;
pub mod sink;
pub mod source;
pub mod summary;
pub mod tcp;
