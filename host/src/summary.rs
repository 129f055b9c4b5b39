//! The end-of-run summary printed on stderr: what was read, what was skipped and why, which
//! limits bit, how long it took.

use std::fmt::Write as _;

use crate::analyse::RunReport;
use crate::decode::Skip;
use crate::tcp::EndReason;

/// The run's counters as one JSON object (`--stats FILE`): what [`summary`] says, in full,
/// by name, with zeros (a script reads the same keys from every run).
pub fn stats_json(report: &RunReport) -> serde_json::Value {
    use serde_json::{json, Map, Value};
    let files: Vec<Value> = report
        .files
        .iter()
        .map(|f| {
            json!({
                "path": f.path.to_string_lossy(),
                "frames": f.frames,
                "bytes": f.bytes,
                "truncated": f.truncated,
                "error": f.error.as_ref().map(|e| e.to_string()),
                "invalid_timestamps": f.counters.invalid_timestamp,
                "unknown_interface": f.counters.unknown_interface,
                "caplen_over_len": f.counters.caplen_over_len,
            })
        })
        .collect();
    let d = &report.decode;
    let not_used: Map<String, Value> = Skip::ALL
        .iter()
        .map(|r| (r.name().to_string(), Value::from(d.skipped(*r))))
        .collect();
    let linktypes: Map<String, Value> = d
        .unsupported_linktypes
        .iter()
        .map(|(lt, n)| (lt.to_string(), Value::from(*n)))
        .collect();
    let f = &report.defrag;
    let t = &report.tcp;
    let ended: Map<String, Value> = EndReason::ALL
        .iter()
        .map(|r| {
            let n = t.ended.get(*r as usize).copied().unwrap_or(0);
            (r.name().to_string(), Value::from(n))
        })
        .collect();
    let st = &t.streams;
    json!({
        "netan_version": env!("CARGO_PKG_VERSION"),
        "elapsed_s": report.elapsed.as_secs_f64(),
        "frames": report.frames(),
        "bytes": report.bytes(),
        "files": files,
        "skipped_files": report
            .skipped_files
            .iter()
            .map(|p| p.to_string_lossy())
            .collect::<Vec<_>>(),
        "interrupted": report.interrupted.as_ref().map(|i| json!({
            "signal": crate::interrupt::name(i.signal),
            "path": i.path.to_string_lossy(),
            "offset": i.offset,
            "frames": i.frames,
        })),
        "selection": {
            "ports": report.select.ports,
            "addresses": report
                .select
                .networks
                .iter()
                .map(|(ip, len)| format!("{ip}/{len}"))
                .collect::<Vec<_>>(),
            "segments_skipped": report.not_selected,
        },
        "decode": {
            "tcp_segments": d.tcp,
            "not_used": not_used,
            "unsupported_linktypes": linktypes,
            "truncated_segments": d.truncated_segments,
            "truncated_bytes": d.truncated_bytes,
            "overstated_segments": d.overstated_segments,
            "overstated_bytes": d.overstated_bytes,
            "tunnelled": d.tunnelled,
        },
        "ip_fragments": {
            "fragments": f.fragments,
            "reassembled": f.reassembled,
            "timed_out": f.timed_out,
            "evicted": f.evicted,
            "invalid": f.invalid,
            "incomplete_at_end": report.incomplete_datagrams,
        },
        "tcp": {
            "sessions": t.sessions,
            "midstream": t.midstream,
            "peak_sessions": t.peak_sessions,
            "ended": ended,
            "late_packets": t.late_packets,
            "rst_ignored": t.rst_ignored,
            "fin_ignored": t.fin_ignored,
            "peak_buffered_bytes": t.peak_buffered,
            "limits": {
                "max_session_size_sessions": t.limit_session_size,
                "max_buffered_per_session_gaps": t.limit_session_buffer,
                "max_buffered_gaps": t.limit_total_buffer,
                "max_sessions_evicted": t.limit_sessions,
                "max_sessions_closed_forgotten": t.limit_closed,
            },
            "payload": {
                "bytes": st.bytes,
                "gaps": st.gaps,
                "gap_bytes": st.gap_bytes,
                "retransmitted_bytes": st.retransmitted,
                "conflicting_overlaps": st.conflicts,
                "keepalives": st.keepalives,
                "beyond_fin_bytes": st.beyond_fin,
                "before_start_bytes": st.before_start,
                "capped_bytes": st.capped,
                "reordered_bytes": st.reordered,
            },
        },
    })
}

/// Human-readable byte count.
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit + 1 < UNITS.len() {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS.get(unit).unwrap_or(&"?"))
    }
}

/// The summary text, several lines, each starting with `netan: `.
pub fn summary(report: &RunReport) -> String {
    let mut s = String::new();
    let secs = report.elapsed.as_secs_f64().max(1e-9);
    let bytes = report.bytes();
    let frames = report.frames();
    let files = report.files.len();
    let _ = writeln!(
        s,
        "netan: {frames} packets, {} in {files} file{}; {} TCP sessions; {:.3} s ({}/s, {:.0} packets/s)",
        human_bytes(bytes),
        if files == 1 { "" } else { "s" },
        report.tcp.sessions,
        secs,
        human_bytes((bytes as f64 / secs) as u64),
        frames as f64 / secs,
    );
    let d = &report.decode;
    let skipped: Vec<String> = Skip::ALL
        .iter()
        .filter(|r| d.skipped(**r) > 0)
        .map(|r| format!("{} {}", r.name(), d.skipped(*r)))
        .collect();
    let _ = writeln!(
        s,
        "netan: decoded {} TCP segments; not used: {}",
        d.tcp,
        if skipped.is_empty() {
            "none".to_string()
        } else {
            skipped.join(", ")
        }
    );
    if !report.select.is_any() {
        let _ = writeln!(
            s,
            "netan: selected sessions on {}: {} TCP segments outside skipped",
            report.select.describe(),
            report.not_selected
        );
    }
    for (lt, n) in &d.unsupported_linktypes {
        let _ = writeln!(s, "netan: {n} frames of unsupported link type {lt}");
    }
    if d.truncated_segments > 0 {
        let _ = writeln!(
            s,
            "netan: {} segments cut by the snap length ({} payload bytes not captured)",
            d.truncated_segments, d.truncated_bytes
        );
    }
    if d.overstated_segments > 0 {
        let _ = writeln!(
            s,
            "netan: {} segments of complete frames whose IP length claims {} bytes more than the frame holds: taken as the frame's",
            d.overstated_segments, d.overstated_bytes
        );
    }
    let f = &report.defrag;
    if f.fragments > 0 {
        let _ = writeln!(
            s,
            "netan: IP fragments {}: {} datagrams reassembled, {} timed out, {} evicted, {} invalid, {} incomplete at end",
            f.fragments, f.reassembled, f.timed_out, f.evicted, f.invalid, report.incomplete_datagrams
        );
    }
    if d.tunnelled > 0 {
        let _ = writeln!(
            s,
            "netan: {} frames decoded from VXLAN tunnels",
            d.tunnelled
        );
    }
    let t = &report.tcp;
    let ended: Vec<String> = EndReason::ALL
        .iter()
        .filter_map(|r| {
            t.ended
                .get(*r as usize)
                .filter(|n| **n > 0)
                .map(|n| format!("{} {n}", r.name()))
        })
        .collect();
    let st = &t.streams;
    let _ = writeln!(
        s,
        "netan: sessions {} ({} midstream, peak {} open), ended: {}; payload {}; gaps {} ({} bytes); \
         retransmitted {} bytes; conflicting overlaps {}; late packets {}",
        t.sessions,
        t.midstream,
        t.peak_sessions,
        if ended.is_empty() { "none".to_string() } else { ended.join(", ") },
        human_bytes(st.bytes),
        st.gaps,
        st.gap_bytes,
        st.retransmitted,
        st.conflicts,
        t.late_packets,
    );
    let mut limits = Vec::new();
    if t.limit_session_size > 0 {
        limits.push(format!(
            "max_session_size cut {} sessions ({} bytes dropped)",
            t.limit_session_size, st.capped
        ));
    }
    if t.limit_session_buffer > 0 {
        limits.push(format!(
            "max_buffered_per_session forced {} gaps",
            t.limit_session_buffer
        ));
    }
    if t.limit_total_buffer > 0 {
        limits.push(format!("max_buffered forced {} gaps", t.limit_total_buffer));
    }
    if t.limit_sessions > 0 {
        limits.push(format!(
            "max_sessions evicted {} sessions",
            t.limit_sessions
        ));
    }
    if t.limit_closed > 0 {
        limits.push(format!(
            "max_sessions forgot {} closed pairs before their close_linger",
            t.limit_closed
        ));
    }
    let _ = writeln!(
        s,
        "netan: limits hit: {}; peak out-of-order buffer {}",
        if limits.is_empty() {
            "none".to_string()
        } else {
            limits.join(", ")
        },
        human_bytes(t.peak_buffered)
    );
    let mut odd = Vec::new();
    if t.rst_ignored > 0 {
        odd.push(format!(
            "{} RSTs ignored (no ACK of the SYN, or outside the stream)",
            t.rst_ignored
        ));
    }
    if t.fin_ignored > 0 {
        odd.push(format!(
            "{} FINs ignored (outside the stream)",
            t.fin_ignored
        ));
    }
    if st.keepalives > 0 {
        odd.push(format!("{} keep-alives", st.keepalives));
    }
    if st.beyond_fin > 0 {
        odd.push(format!("{} bytes after a FIN ignored", st.beyond_fin));
    }
    if st.before_start > 0 {
        odd.push(format!(
            "{} bytes before the stream start ignored",
            st.before_start
        ));
    }
    for file in &report.files {
        let c = file.counters;
        if c.invalid_timestamp > 0 {
            odd.push(format!(
                "{}: {} invalid timestamps",
                crate::source::input_name(&file.path),
                c.invalid_timestamp
            ));
        }
        if c.unknown_interface > 0 {
            odd.push(format!(
                "{}: {} packets of undescribed interfaces skipped",
                crate::source::input_name(&file.path),
                c.unknown_interface
            ));
        }
        if c.caplen_over_len > 0 {
            odd.push(format!(
                "{}: {} records longer than their wire length",
                crate::source::input_name(&file.path),
                c.caplen_over_len
            ));
        }
    }
    if !odd.is_empty() {
        let _ = writeln!(s, "netan: also: {}", odd.join("; "));
    }
    if !report.skipped_files.is_empty() {
        let _ = writeln!(
            s,
            "netan: {} entries of input directories passed over (not named like captures, or not regular files: subdirectories, dangling links, pipes; listed under skipped_files in --stats)",
            report.skipped_files.len()
        );
    }
    s
}
