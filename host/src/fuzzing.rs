//! Entry points for the fuzz targets under `fuzz/` (cargo-fuzz, outside the workspace): each
//! takes arbitrary bytes and drives one stage the way real input would. Not part of the API.

use crate::decode::{DecodeOptions, Decoder, TcpFlags, TcpPacket};
use crate::tcp::{
    Direction, Monologue, SessionEnd, SessionInfo, TcpConfig, TcpListener, TcpObserver,
};

/// An observer that checks the listener's contract while it runs: one start before anything
/// else of a session, one end last.
#[derive(Default)]
struct Checker {
    open: std::collections::HashSet<u64>,
    bytes: u64,
}

impl TcpObserver for Checker {
    fn session_start(&mut self, s: &SessionInfo, _ts: u64) {
        assert!(
            self.open.insert(s.ordinal),
            "two starts for session {}",
            s.ordinal
        );
    }
    fn data(&mut self, s: &SessionInfo, _d: Direction, data: &[u8], _ts: u64, _p: u64) {
        assert!(self.open.contains(&s.ordinal), "data before start");
        self.bytes += data.len() as u64;
    }
    fn gap(&mut self, s: &SessionInfo, _d: Direction, len: u64, _ts: u64) {
        assert!(self.open.contains(&s.ordinal), "gap before start");
        assert!(len > 0, "empty gap");
    }
    fn monologue_end(&mut self, s: &SessionInfo, _m: &Monologue) {
        assert!(self.open.contains(&s.ordinal), "monologue before start");
    }
    fn session_end(&mut self, s: &SessionInfo, _e: &SessionEnd) {
        assert!(self.open.remove(&s.ordinal), "end without start");
    }
}

/// Reads `data` as a capture file (pcap, pcapng or gzip) and decodes every frame. For an
/// uncompressed file, each frame's bytes must be the file's bytes at its `data_offset` (where
/// the plugin dispatcher finds them again in a window): a panic otherwise.
pub fn capture(data: &[u8]) {
    // One file per call: tests call this from parallel threads of one process.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("netan-fuzz-{}-{n}.cap", std::process::id()));
    if std::fs::write(&path, data).is_err() {
        return;
    }
    // Removed however the call ends under the tests, a failed check included (it unwinds
    // there; under cargo fuzz a failed check aborts the process, and the file is left next to
    // the crash libFuzzer saves).
    struct Remove<'a>(&'a std::path::Path);
    impl Drop for Remove<'_> {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(self.0);
        }
    }
    let _remove = Remove(&path);
    if let Ok(mut f) = crate::source::CaptureFile::open(&path) {
        let compressed = f.compressed();
        let mut decoder = Decoder::new(DecodeOptions::default());
        while let Ok(Some(frame)) = f.next_frame() {
            if !compressed {
                let at = usize::try_from(frame.data_offset).unwrap_or(usize::MAX);
                let there = at
                    .checked_add(frame.data.len())
                    .and_then(|end| data.get(at..end));
                assert!(
                    there == Some(frame.data),
                    "frame at {} is not the file's bytes at its data offset {at}",
                    frame.offset
                );
            }
            let _ = decoder.decode(frame.ts, frame.linktype, frame.data);
        }
    }
}

/// Decodes `data[1..]` as a frame of the link type chosen by `data[0]`.
pub fn decode(data: &[u8]) {
    const LINKTYPES: [u32; 11] = [0, 1, 12, 14, 101, 108, 113, 129, 228, 229, 276];
    let Some((&pick, frame)) = data.split_first() else {
        return;
    };
    let linktype = LINKTYPES
        .get(usize::from(pick) % LINKTYPES.len())
        .copied()
        .unwrap_or(1);
    let mut decoder = Decoder::new(DecodeOptions::default());
    let _ = decoder.decode(0, linktype, frame);
    // Fragments: the same bytes again complete or conflict with what was held.
    let _ = decoder.decode(1, linktype, frame);
}

/// Feeds a sequence of TCP segments described by `data` to the listener (tiny limits, so that
/// every limit path runs) and checks the event contract.
///
/// Each segment: 1 byte flags and direction, 2 bytes sequence delta, 2 bytes ack delta, 1 byte
/// payload length (0..=31), 1 byte time step, then the payload.
pub fn reassemble(data: &[u8]) {
    let config = TcpConfig {
        max_session_size: 4096,
        max_buffered_per_session: 512,
        max_buffered_total: 1024,
        max_sessions: 3,
        idle_timeout_ns: 50,
        close_linger_ns: 10,
        overlap_segments: 4,
    };
    let mut tcp = TcpListener::new(config);
    let mut obs = Checker::default();
    let a = crate::decode::Endpoint {
        ip: [10, 0, 0, 1].into(),
        port: 40000,
    };
    let b = crate::decode::Endpoint {
        ip: [10, 0, 0, 2].into(),
        port: 80,
    };
    let mut seq = [u32::MAX - 20, 7_000];
    let mut ts = 0u64;
    let mut rest = data;
    let mut frame = 0;
    while let Some((head, tail)) = rest.split_first_chunk::<7>() {
        let [flags, s0, s1, a0, a1, len, dt] = *head;
        let len = usize::from(len % 32).min(tail.len());
        let (payload, after) = tail.split_at(len);
        rest = after;
        let from_client = flags & 0x80 == 0;
        let (src, dst, d) = if from_client { (a, b, 0) } else { (b, a, 1) };
        let other = 1 - d;
        let step = u16::from_le_bytes([s0, s1]) as i16;
        let ack_step = u16::from_le_bytes([a0, a1]) as i16;
        let (Some(&s), Some(&o)) = (seq.get(d), seq.get(other)) else {
            return;
        };
        let this_seq = s.wrapping_add(step as i32 as u32);
        let ack = o.wrapping_add(ack_step as i32 as u32);
        if let Some(x) = seq.get_mut(d) {
            *x = this_seq.wrapping_add(payload.len() as u32);
        }
        ts += u64::from(dt);
        let pkt = TcpPacket {
            src,
            dst,
            seq: this_seq,
            ack,
            flags: TcpFlags(flags & 0x3f),
            window: 1000,
            payload,
            missing: u32::from(flags & 0x40 != 0) * 3,
        };
        tcp.segment(&pkt, frame, ts, &mut obs);
        frame += 1;
    }
    tcp.finish(&mut obs);
    assert!(obs.open.is_empty(), "sessions left open after finish");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fuzz_entry_points_survive_random_input() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for round in 0..3000 {
            let len = (next() % 400) as usize;
            let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            reassemble(&data);
            decode(&data);
            if round % 50 == 0 {
                capture(&data);
            }
        }
    }

    /// Every file under `fuzz/corpus/<target>/` (the seeds, and any input a fuzzer found
    /// worth keeping, crashers included once fixed), through its entry point.
    fn replay(target: &str, run: fn(&[u8])) -> usize {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../fuzz/corpus")
            .join(target);
        netan_plugin_api::testing::replay_corpus(&dir, run)
    }

    #[test]
    fn the_fuzz_corpus_replays_cleanly() {
        assert!(replay("capture", capture) >= 10);
        assert!(replay("decode", decode) >= 10);
        assert!(replay("reassemble", reassemble) >= 4);
    }
}
