//! Component benchmarks of the host's data path, over a synthetic capture built at start-up:
//! 256 TCP sessions (Ethernet II / IPv4 / TCP, handshake, 1 to 3 request/response exchanges
//! with 1448-byte segments and delayed ACKs, FIN both ways), 16 open at a time and interleaved,
//! about 23 MB of pcap. Throughput is in bytes of capture (pcap file, or frames for `decode`).
//!
//! * `source/read_frames`: `CaptureFile` reading every frame of the capture file;
//! * `decode/frames`: `Decoder::decode` over every frame, already in memory;
//! * `tcp/reassemble`: decode + `TcpListener` with an observer that only counts bytes;
//! * `flows/records`, `flows/records_hash`: the whole `netan flows` path (`analyse` over the
//!   capture file into a `FlowsWriter` writing to memory), without and with `--hash`.
//!
//! Run: `cargo bench -p netan-host --bench pipeline` (one: append a filter, e.g. `-- decode`).
//! Whole runs over 1 GiB captures are measured by the scripts under `bench/` instead.

// Benches run over fixed synthetic inputs built here: a failure to build them is a bug of the
// bench itself, and panicking is the right answer.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::hint::black_box;
use std::ops::Range;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use etherparse::PacketBuilder;
use netan::analyse::{analyse, AnalyseOptions};
use netan::decode::{DecodeOptions, Decoder};
use netan::output::flows::{FlowOrder, FlowsWriter};
use netan::source::CaptureFile;
use netan::tcp::{
    Direction, Monologue, SessionEnd, SessionInfo, TcpConfig, TcpListener, TcpObserver,
};
use netan_plugin_api::testing::XorShift as Rng;

const SESSIONS: u32 = 256;
/// Sessions open at once: their packets are interleaved round-robin.
const CONCURRENT: usize = 16;
const MSS: usize = 1448;
const LINKTYPE_ETHERNET: u32 = 1;

/// One side of a connection.
struct Side {
    mac: [u8; 6],
    ip: [u8; 4],
    port: u16,
    /// Next sequence number to send.
    seq: u32,
}

/// Builds the frames of one connection, in order.
struct Conn {
    c: Side,
    s: Side,
    frames: Vec<Vec<u8>>,
}

impl Conn {
    fn packet(&mut self, from_client: bool, syn: bool, fin: bool, payload: &[u8]) {
        let (me, peer) = if from_client {
            (&self.c, &self.s)
        } else {
            (&self.s, &self.c)
        };
        let mut b = PacketBuilder::ethernet2(me.mac, peer.mac)
            .ipv4(me.ip, peer.ip, 64)
            .tcp(me.port, peer.port, me.seq, 502);
        if syn {
            b = b.syn();
        }
        // Everything but the first SYN acknowledges the peer.
        if !(syn && from_client) {
            b = b.ack(peer.seq);
        }
        if fin {
            b = b.fin();
        }
        if !payload.is_empty() {
            b = b.psh();
        }
        let mut frame = Vec::with_capacity(b.size(payload.len()));
        b.write(&mut frame, payload).unwrap();
        self.frames.push(frame);
        let me = if from_client {
            &mut self.c
        } else {
            &mut self.s
        };
        me.seq = me
            .seq
            .wrapping_add(payload.len() as u32)
            .wrapping_add(u32::from(syn) + u32::from(fin));
    }

    /// `len` bytes from one side in MSS-sized segments, the other side acknowledging every
    /// second segment.
    fn send(&mut self, from_client: bool, len: usize, fill: u8) {
        let chunk = vec![fill; MSS];
        let mut left = len;
        let mut n = 0;
        while left > 0 {
            let k = left.min(MSS);
            self.packet(from_client, false, false, &chunk[..k]);
            left -= k;
            n += 1;
            if n % 2 == 0 || left == 0 {
                self.packet(!from_client, false, false, &[]);
            }
        }
    }
}

/// The frames of session `i`: handshake, exchanges, FIN/FIN/ACK.
fn session(i: u32, rng: &mut Rng) -> Vec<Vec<u8>> {
    let [_, _, hi, lo] = i.to_be_bytes();
    let mut conn = Conn {
        c: Side {
            mac: [2, 0, 0, 0, hi, lo],
            ip: [10, 1, hi, lo],
            port: 40_000 + (i % 20_000) as u16,
            seq: rng.next_u64() as u32,
        },
        s: Side {
            mac: [2, 0, 0, 0, 0xff, 1],
            ip: [10, 0, 0, 1],
            port: 80,
            seq: rng.next_u64() as u32,
        },
        frames: Vec::new(),
    };
    conn.packet(true, true, false, &[]);
    conn.packet(false, true, false, &[]);
    conn.packet(true, false, false, &[]);
    for _ in 0..=rng.below(3) {
        let request = 200 + rng.below(2000) as usize;
        // Mixed response sizes: small, medium, large.
        let response = match rng.below(4) {
            0 => 500 + rng.below(2_000),
            1 => 4_000 + rng.below(12_000),
            2 => 20_000 + rng.below(40_000),
            _ => 100_000 + rng.below(100_000),
        } as usize;
        conn.send(true, request, b'q');
        conn.send(false, response, b'r');
    }
    conn.packet(true, false, true, &[]);
    conn.packet(false, false, true, &[]);
    conn.packet(true, false, false, &[]);
    conn.frames
}

/// A classic pcap file (nanosecond magic, little-endian, Ethernet) in memory, and where each
/// frame lies in it.
struct Capture {
    bytes: Vec<u8>,
    frames: Vec<(u64, Range<usize>)>,
}

fn build_capture() -> Capture {
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut bytes = Vec::new();
    bytes.extend_from_slice(&0xa1b2_3c4d_u32.to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&4u16.to_le_bytes());
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&65_535u32.to_le_bytes());
    bytes.extend_from_slice(&LINKTYPE_ETHERNET.to_le_bytes());
    let mut frames = Vec::new();
    let mut ts: u64 = 1_700_000_000_000_000_000;
    let mut write = |frame: &[u8], ts: u64| {
        let len = frame.len() as u32;
        bytes.extend_from_slice(&((ts / 1_000_000_000) as u32).to_le_bytes());
        bytes.extend_from_slice(&((ts % 1_000_000_000) as u32).to_le_bytes());
        bytes.extend_from_slice(&len.to_le_bytes());
        bytes.extend_from_slice(&len.to_le_bytes());
        let start = bytes.len();
        bytes.extend_from_slice(frame);
        frames.push((ts, start..bytes.len()));
    };
    // Round-robin over up to CONCURRENT open sessions; a new one opens when one is done.
    let mut next = 0;
    let mut open: Vec<std::vec::IntoIter<Vec<u8>>> = Vec::new();
    loop {
        while open.len() < CONCURRENT && next < SESSIONS {
            open.push(session(next, &mut rng).into_iter());
            next += 1;
        }
        if open.is_empty() {
            break;
        }
        open.retain_mut(|s| match s.next() {
            Some(frame) => {
                ts += 20_000;
                write(&frame, ts);
                true
            }
            None => false,
        });
    }
    Capture { bytes, frames }
}

/// Counts what the listener delivers, and nothing else.
#[derive(Default)]
struct Count {
    sessions: u64,
    bytes: u64,
}

impl TcpObserver for Count {
    fn session_start(&mut self, _s: &SessionInfo, _ts: u64) {}
    fn data(&mut self, _s: &SessionInfo, _d: Direction, data: &[u8], _ts: u64, _p: u64) {
        self.bytes += data.len() as u64;
    }
    fn gap(&mut self, _s: &SessionInfo, _d: Direction, _len: u64, _ts: u64) {}
    fn monologue_end(&mut self, _s: &SessionInfo, _m: &Monologue) {}
    fn session_end(&mut self, _s: &SessionInfo, _e: &SessionEnd) {
        self.sessions += 1;
    }
}

fn reassemble(cap: &Capture) -> Count {
    let mut decoder = Decoder::new(DecodeOptions::default());
    let mut tcp = TcpListener::new(TcpConfig::default());
    let mut count = Count::default();
    for (i, (ts, range)) in cap.frames.iter().enumerate() {
        if let Some(pkt) = decoder.decode(*ts, LINKTYPE_ETHERNET, &cap.bytes[range.clone()]) {
            tcp.segment(&pkt, i as u64, *ts, &mut count);
        }
    }
    tcp.finish(&mut count);
    count
}

/// `netan flows [--hash] CAPTURE` into memory; returns the output.
fn flows(path: &PathBuf, hash: bool) -> Vec<u8> {
    let options = AnalyseOptions {
        progress: false,
        ..AnalyseOptions::default()
    };
    let mut writer = FlowsWriter::new(Vec::with_capacity(1 << 16), hash, FlowOrder::Start);
    let report = analyse(std::slice::from_ref(path), &options, &mut writer).unwrap();
    assert!(!report.had_errors());
    writer.finish().unwrap()
}

fn benches(c: &mut Criterion) {
    let cap = build_capture();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.pcap");
    std::fs::write(&path, &cap.bytes).unwrap();
    let file_bytes = cap.bytes.len() as u64;
    let frame_bytes: u64 = cap.frames.iter().map(|(_, r)| r.len() as u64).sum();

    // The input is what it claims to be: every session complete, every byte delivered.
    let count = reassemble(&cap);
    assert_eq!(count.sessions, u64::from(SESSIONS));
    let out = flows(&path, true);
    assert_eq!(
        out.iter().filter(|&&b| b == b'\n').count(),
        SESSIONS as usize
    );
    eprintln!(
        "pipeline: synthetic capture of {SESSIONS} sessions, {} frames, {file_bytes} bytes \
         ({} bytes of payload)",
        cap.frames.len(),
        count.bytes
    );

    let mut g = c.benchmark_group("source");
    g.throughput(Throughput::Bytes(file_bytes));
    g.bench_function("read_frames", |b| {
        b.iter(|| {
            let mut f = CaptureFile::open(&path).unwrap();
            let mut n = 0usize;
            while let Some(frame) = f.next_frame().unwrap() {
                n += frame.data.len();
            }
            black_box(n)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Bytes(frame_bytes));
    g.bench_function("frames", |b| {
        b.iter(|| {
            let mut decoder = Decoder::new(DecodeOptions::default());
            let mut payload = 0usize;
            for (ts, range) in &cap.frames {
                if let Some(pkt) = decoder.decode(*ts, LINKTYPE_ETHERNET, &cap.bytes[range.clone()])
                {
                    payload += pkt.payload.len();
                }
            }
            black_box(payload)
        })
    });
    g.finish();

    let mut g = c.benchmark_group("tcp");
    g.throughput(Throughput::Bytes(file_bytes));
    g.bench_function("reassemble", |b| {
        b.iter(|| black_box(reassemble(&cap).bytes))
    });
    g.finish();

    let mut g = c.benchmark_group("flows");
    g.throughput(Throughput::Bytes(file_bytes));
    // `records_hash` takes about 25 ms an iteration: 3 s is too short for 20 samples.
    g.measurement_time(Duration::from_secs(6));
    g.bench_function("records", |b| b.iter(|| black_box(flows(&path, false))));
    g.bench_function("records_hash", |b| b.iter(|| black_box(flows(&path, true))));
    g.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
}

criterion_group! {
    name = pipeline;
    config = config();
    targets = benches
}
criterion_main!(pipeline);
