//! `netan-gen`: writes deterministic benchmark captures for netan.
//!
//! A classic pcap (Ethernet, nanosecond timestamps) is streamed to disk: up to `--concurrency`
//! TCP sessions are open at once and the next packet comes from one of them picked at random,
//! so sessions interleave as on a busy link. Each session has a full handshake, the traffic of
//! its profile (`bulk`, `http`, `smtp`) cut into `--mss` segments with ACKs, a share of data
//! segments reordered or retransmitted, and a FIN exchange. New sessions open while the
//! estimated file size stays below `--size`.
//!
//! Beside the capture it writes `FILE.meta` (`key=value` totals, read by `bench/flows.sh`) and,
//! with `--manifest`, one line per session: `client server bytes_c2s bytes_s2c` (payload
//! bytes, each counted once), to check netan's flow byte counts against.

mod content;
mod frame;
mod profile;
mod rng;
mod session;

use std::fmt::Write as _;
use std::fs;
use std::io::{BufWriter, Write};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use clap::Parser;

use content::Dir;
use frame::{Endpoint, PcapWriter};
use profile::{Context, Profile};
use rng::Rng;
use session::{Knobs, Session, Stats};

/// Writes a deterministic pcap of interleaved TCP sessions for benchmarking netan.
#[derive(Debug, Parser)]
#[command(name = "netan-gen", version, max_term_width = 100)]
struct Cli {
    /// Traffic profile.
    #[arg(long, value_enum, default_value_t = Profile::Bulk)]
    profile: Profile,

    /// Target file size; suffixes K/M/G/T and KiB/MiB/GiB/TiB are powers of 1024, KB/MB/GB/TB
    /// powers of 1000. The file ends within a session's worth of bytes of it (a little above).
    #[arg(long, value_name = "BYTES", value_parser = parse_size, default_value = "1GiB")]
    size: u64,

    /// Sessions in flight at once (at most: the size budget may hold fewer sessions in all).
    #[arg(long, value_name = "N", default_value_t = 4000)]
    concurrency: usize,

    /// Percent of data segments delivered after a later segment of the same direction.
    #[arg(long, value_name = "PCT", default_value_t = 1.0)]
    reorder: f64,

    /// Percent of data segments sent twice (identical payload, the copy a few packets later).
    #[arg(long, value_name = "PCT", default_value_t = 1.0)]
    retransmit: f64,

    /// Payload bytes of a full-size segment (1448 makes 1514-byte frames).
    #[arg(long, value_name = "BYTES", default_value_t = 1448)]
    mss: u16,

    /// PRNG seed: the same seed and options give a byte-identical file.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Smallest main payload of a session [default: bulk 64KiB, http 200, smtp 1KiB]: the bulk
    /// transfer, each HTTP response body, each mail body (log-uniform between min and max).
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    body_min: Option<u64>,

    /// Largest main payload [default: bulk 8MiB, http 2MiB, smtp 4MiB].
    #[arg(long, value_name = "BYTES", value_parser = parse_size)]
    body_max: Option<u64>,

    /// Output capture file (FILE.meta is written beside it).
    #[arg(short, long, value_name = "FILE")]
    output: PathBuf,

    /// Also write one line per session, in order of first packet:
    /// `client server bytes_c2s bytes_s2c`.
    #[arg(long, value_name = "FILE")]
    manifest: Option<PathBuf>,
}

/// Parses `1GiB`, `20MiB`, `512K`, `1.5G`, `1000000`, `10MB`.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("`{s}` is not a size (examples: 1GiB, 20MiB, 512K, 1000000)"))?;
    let mult: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "t" | "tib" => 1 << 40,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        other => return Err(format!("unknown size unit `{other}` in `{s}`")),
    };
    Ok((value * mult as f64).round() as u64)
}

/// Capture time of the first packet: 2024-01-01T00:00:00Z.
const START_NS: u64 = 1_704_067_200_000_000_000;

/// Servers in the pool (172.16.0.1 ...).
const SERVERS: u64 = 256;

/// Client address of session `index`: a bijection of the low 24 bits onto 10.0.0.0/8, so
/// addresses (and so session keys) never repeat within 16 M sessions.
fn client_ip(index: u64) -> Ipv4Addr {
    let mut x = (index ^ 0x5a_5a5a) & 0xff_ffff;
    x = x.wrapping_mul(0x9e_3779) & 0xff_ffff; // odd multiplier: a permutation mod 2^24
    x ^= x >> 12;
    Ipv4Addr::from(0x0a00_0000 | x as u32)
}

/// ISN: random, or one session side in ten just below 2^32 so its sequence numbers wrap.
fn isn(rng: &mut Rng, bytes: u64) -> u32 {
    if rng.below(10) == 0 && bytes > 1 {
        0u32.wrapping_sub(rng.range(1, bytes.min(u64::from(u32::MAX))) as u32)
    } else {
        rng.next_u32()
    }
}

/// Session number `index`, created at capture time `now`, and its estimated size in the file.
fn new_session(
    index: u64,
    profile: Profile,
    body: (u64, u64),
    mss: u64,
    now: u64,
    rng: &mut Rng,
) -> (Session, u64) {
    let cip = client_ip(index);
    let server = rng.below(SERVERS);
    let sip = Ipv4Addr::new(172, 16, (server / 250) as u8, (server % 250 + 1) as u8);
    let ctx = Context {
        index,
        client_ip: cip.to_string(),
        server: server as u32,
        unix_time: now / 1_000_000_000,
        body,
    };
    let script = profile::script(profile, &ctx, rng);
    let sizes = script
        .messages
        .iter()
        .fold([0u64; 2], |[c, s], m| match m.dir {
            Dir::C2s => [c + m.len(), s],
            Dir::S2c => [c, s + m.len()],
        });
    let [c2s, s2c] = sizes;
    let [a, b, c, d] = cip.octets();
    let [_, _, e, f] = sip.octets();
    let client = Endpoint {
        ip: cip,
        port: rng.range(1024, 65535) as u16,
        mac: [0x02, 0x00, a, b, c, d],
        isn: isn(rng, c2s),
        sent: 0,
        fin: false,
        ip_id: rng.next_u32() as u16,
        ttl: 64,
        ts_base: rng.next_u32(),
        last_tsval: 0,
        window: 2048,
    };
    let server = Endpoint {
        ip: sip,
        port: profile.port(),
        mac: [0x02, 0x01, 172, 16, e, f],
        isn: isn(rng, s2c),
        sent: 0,
        fin: false,
        ip_id: rng.next_u32() as u16,
        ttl: 57,
        ts_base: rng.next_u32(),
        last_tsval: 0,
        window: 2048,
    };
    let estimate = session::estimate(&script.messages, mss);
    let content = rng.fork();
    (
        Session::new(client, server, script.messages, script.closer, content),
        estimate,
    )
}

/// A session in the manifest.
#[derive(Debug)]
struct Row {
    client: SocketAddrV4,
    server: SocketAddrV4,
    c2s: u64,
    s2c: u64,
}

/// An open session and its manifest row once it has sent a packet.
#[derive(Debug)]
struct Live {
    session: Session,
    row: Option<usize>,
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    if cli.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if !(0.0..=100.0).contains(&cli.reorder) || !(0.0..=100.0).contains(&cli.retransmit) {
        bail!("--reorder and --retransmit are percentages (0 to 100)");
    }
    if cli.mss == 0 || cli.mss > 65_000 {
        bail!("--mss must be between 1 and 65000");
    }
    let (dmin, dmax) = cli.profile.default_body();
    let body = (cli.body_min.unwrap_or(dmin), cli.body_max.unwrap_or(dmax));
    if body.0 > body.1 {
        bail!("--body-min ({}) is above --body-max ({})", body.0, body.1);
    }
    let knobs = Knobs {
        reorder: cli.reorder,
        retransmit: cli.retransmit,
        mss: usize::from(cli.mss),
    };
    let started = Instant::now();
    let mut rng = Rng::new(cli.seed);
    let mut out = PcapWriter::create(&cli.output)?;
    let mut stats = Stats::default();
    let mut rows: Vec<Row> = Vec::new();
    let mut open: Vec<Live> = Vec::with_capacity(cli.concurrency);
    let mut committed = frame::FILE_HEADER_LEN;
    let mut created = 0u64;
    let mut now = START_NS;
    let (mut peak, mut in_flight_sum) = (0usize, 0u128);

    loop {
        while open.len() < cli.concurrency && committed < cli.size {
            let (session, est) = new_session(
                created,
                cli.profile,
                body,
                u64::from(cli.mss),
                now,
                &mut rng,
            );
            committed += est;
            created += 1;
            open.push(Live { session, row: None });
        }
        if open.is_empty() {
            break;
        }
        let i = rng.below(open.len() as u64) as usize;
        let Some(live) = open.get_mut(i) else {
            break;
        };
        match live.session.next_frame(now, &mut rng, &knobs, &mut stats) {
            Some(f) => {
                if live.row.is_none() {
                    let (client, server) = live.session.addrs();
                    live.row = Some(rows.len());
                    rows.push(Row {
                        client,
                        server,
                        c2s: 0,
                        s2c: 0,
                    });
                }
                out.write(now, &f)?;
                peak = peak.max(open.len());
                in_flight_sum += open.len() as u128;
                now += rng.range(1_000, 20_000);
            }
            None => {
                let done = open.swap_remove(i);
                if let Some(row) = done.row.and_then(|r| rows.get_mut(r)) {
                    row.c2s = done.session.client.sent;
                    row.s2c = done.session.server.sent;
                }
            }
        }
    }
    let (packets, bytes) = (out.packets, out.bytes);
    out.finish()?;
    let secs = started.elapsed().as_secs_f64();
    let mean = if packets > 0 {
        in_flight_sum as f64 / packets as f64
    } else {
        0.0
    };

    if let Some(path) = &cli.manifest {
        let f = fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = BufWriter::new(f);
        writeln!(w, "# client server bytes_c2s bytes_s2c")?;
        for r in &rows {
            writeln!(w, "{} {} {} {}", r.client, r.server, r.c2s, r.s2c)?;
        }
        w.flush()?;
    }

    let pct = |n: u64| {
        if stats.data_segments > 0 {
            100.0 * n as f64 / stats.data_segments as f64
        } else {
            0.0
        }
    };
    let mut meta = String::new();
    let _ = writeln!(meta, "file={}", cli.output.display());
    let _ = writeln!(meta, "profile={}", cli.profile.name());
    let _ = writeln!(meta, "seed={}", cli.seed);
    let _ = writeln!(meta, "size_target={}", cli.size);
    let _ = writeln!(meta, "bytes={bytes}");
    let _ = writeln!(meta, "packets={packets}");
    let _ = writeln!(meta, "sessions={}", rows.len());
    let _ = writeln!(meta, "concurrency={}", cli.concurrency);
    let _ = writeln!(meta, "peak_in_flight={peak}");
    let _ = writeln!(meta, "mean_in_flight={mean:.0}");
    let _ = writeln!(meta, "mss={}", cli.mss);
    let _ = writeln!(meta, "body_min={}", body.0);
    let _ = writeln!(meta, "body_max={}", body.1);
    let _ = writeln!(meta, "payload_c2s={}", stats.payload_c2s);
    let _ = writeln!(meta, "payload_s2c={}", stats.payload_s2c);
    let _ = writeln!(meta, "data_segments={}", stats.data_segments);
    let _ = writeln!(meta, "pure_acks={}", stats.pure_acks);
    let _ = writeln!(meta, "reordered={}", stats.reordered);
    let _ = writeln!(meta, "retransmitted={}", stats.retransmitted);
    let _ = writeln!(meta, "retransmitted_bytes={}", stats.retransmitted_bytes);
    let mut meta_path = cli.output.clone().into_os_string();
    meta_path.push(".meta");
    fs::write(&meta_path, &meta)
        .with_context(|| format!("writing {}", PathBuf::from(&meta_path).display()))?;

    eprintln!(
        "netan-gen: {} ({} profile, seed {}): {bytes} bytes ({:.1} MiB), {packets} packets, \
         {} sessions in {secs:.1} s",
        cli.output.display(),
        cli.profile.name(),
        cli.seed,
        bytes as f64 / f64::from(1u32 << 20),
        rows.len(),
    );
    eprintln!(
        "  in flight: {} requested, peak {peak}, mean {mean:.0}",
        cli.concurrency
    );
    eprintln!(
        "  payload: c2s {} bytes, s2c {} bytes (each byte once)",
        stats.payload_c2s, stats.payload_s2c
    );
    eprintln!(
        "  data segments {}: reordered {} ({:.2}%), retransmitted {} ({:.2}%, {} bytes); \
         pure ACKs {}",
        stats.data_segments,
        stats.reordered,
        pct(stats.reordered),
        stats.retransmitted,
        pct(stats.retransmitted),
        stats.retransmitted_bytes,
        stats.pure_acks
    );
    if (peak as f64) < cli.concurrency as f64 * 0.9 {
        eprintln!(
            "  note: only {peak} sessions were ever in flight (asked {}): the size budget holds \
             {} sessions of this profile; raise --size or lower --body-max for more",
            cli.concurrency,
            rows.len()
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("20MiB"), Ok(20 << 20));
        assert_eq!(parse_size("512K"), Ok(512 << 10));
        assert_eq!(parse_size("1.5G"), Ok(3 << 29));
        assert_eq!(parse_size("10MB"), Ok(10_000_000));
        assert_eq!(parse_size("1234"), Ok(1234));
        assert!(parse_size("12 parsecs").is_err());
        assert!(parse_size("G").is_err());
    }

    #[test]
    fn client_addresses_do_not_repeat() {
        let mut seen = std::collections::HashSet::new();
        for i in 0..200_000 {
            assert!(seen.insert(client_ip(i)));
        }
    }
}
