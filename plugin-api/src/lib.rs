//! The contract between the netan host and analyser plugins.
#![warn(missing_docs)]

use abi_stable::StableAbi;

/// Which way bytes travel in a session.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// From the client (the side that sent the SYN) to the server.
    ClientToServer = 0,
    /// From the server to the client.
    ServerToClient = 1,
}

impl Direction {
    /// The other direction.
    pub fn reverse(self) -> Direction {
        match self {
            Direction::ClientToServer => Direction::ServerToClient,
            Direction::ServerToClient => Direction::ClientToServer,
        }
    }

    /// 0 for client-to-server, 1 for server-to-client: an index into per-direction arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// `c2s` or `s2c`.
    pub fn short_name(self) -> &'static str {
        match self {
            Direction::ClientToServer => "c2s",
            Direction::ServerToClient => "s2c",
        }
    }
}
