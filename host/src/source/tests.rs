//! Capture-input tests over files written byte by byte here, so that every variant of the
//! formats (byte orders, resolutions, sections, interfaces, damage) is covered.

use std::io::Write;
use std::path::PathBuf;

use super::*;

/// Classic pcap: `nanos` picks the magic, `big` the byte order.
fn pcap(big: bool, nanos: bool, linktype: u32, records: &[(u32, u32, &[u8], u32)]) -> Vec<u8> {
    let w32 = |v: u32| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let w16 = |v: u16| {
        if big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend_from_slice(&w32(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend_from_slice(&w16(2));
    out.extend_from_slice(&w16(4));
    out.extend_from_slice(&[0; 8]);
    out.extend_from_slice(&w32(65535));
    out.extend_from_slice(&w32(linktype));
    for (sec, frac, data, orig) in records {
        out.extend_from_slice(&w32(*sec));
        out.extend_from_slice(&w32(*frac));
        out.extend_from_slice(&w32(data.len() as u32));
        out.extend_from_slice(&w32(*orig));
        out.extend_from_slice(data);
    }
    out
}

/// pcapng blocks.
struct Ng {
    big: bool,
    out: Vec<u8>,
}

impl Ng {
    fn new(big: bool) -> Ng {
        let mut ng = Ng {
            big,
            out: Vec::new(),
        };
        ng.section();
        ng
    }
    fn w32(&self, v: u32) -> [u8; 4] {
        if self.big {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    }
    fn block(&mut self, kind: u32, body: &[u8]) {
        let mut body = body.to_vec();
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let len = body.len() as u32 + 12;
        let (k, l) = (self.w32(kind), self.w32(len));
        self.out.extend_from_slice(&k);
        self.out.extend_from_slice(&l);
        self.out.extend_from_slice(&body);
        self.out.extend_from_slice(&l);
    }
    fn section(&mut self) {
        let mut body = self.w32(0x1a2b_3c4d).to_vec();
        let v = if self.big { [0, 1, 0, 0] } else { [1, 0, 0, 0] };
        body.extend_from_slice(&v);
        body.extend_from_slice(&[0xff; 8]); // section length: unknown
        self.block(0x0a0d_0d0a, &body);
    }
    fn interface(&mut self, linktype: u16, tsresol: Option<u8>) {
        let lt = if self.big {
            linktype.to_be_bytes()
        } else {
            linktype.to_le_bytes()
        };
        let mut body = lt.to_vec();
        body.extend_from_slice(&[0, 0]);
        body.extend_from_slice(&self.w32(0));
        if let Some(r) = tsresol {
            let code: u16 = 9;
            let len: u16 = 1;
            let (c, l) = if self.big {
                (code.to_be_bytes(), len.to_be_bytes())
            } else {
                (code.to_le_bytes(), len.to_le_bytes())
            };
            body.extend_from_slice(&c);
            body.extend_from_slice(&l);
            body.extend_from_slice(&[r, 0, 0, 0]);
            body.extend_from_slice(&[0, 0, 0, 0]); // opt_endofopt
        }
        self.block(1, &body);
    }
    fn packet(&mut self, iface: u32, units: u64, data: &[u8]) {
        let mut body = self.w32(iface).to_vec();
        body.extend_from_slice(&self.w32((units >> 32) as u32));
        body.extend_from_slice(&self.w32(units as u32));
        body.extend_from_slice(&self.w32(data.len() as u32));
        body.extend_from_slice(&self.w32(data.len() as u32));
        body.extend_from_slice(data);
        self.block(6, &body);
    }
    fn simple(&mut self, data: &[u8]) {
        let mut body = self.w32(data.len() as u32).to_vec();
        body.extend_from_slice(data);
        self.block(3, &body);
    }
}

fn write(dir: &tempfile::TempDir, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

/// What reading a whole file gave: frames (ts, linktype, data), truncation, error.
type ReadAll = (
    Vec<(u64, u32, Vec<u8>)>,
    Option<Truncation>,
    Option<CaptureError>,
);

/// (ts, linktype, data) of every frame, and the truncation if any.
fn read_all(path: &Path) -> ReadAll {
    let mut f = match CaptureFile::open(path) {
        Ok(f) => f,
        Err(e) => return (vec![], None, Some(e)),
    };
    let mut frames = Vec::new();
    loop {
        match f.next_frame() {
            Ok(Some(fr)) => frames.push((fr.ts, fr.linktype, fr.data.to_vec())),
            Ok(None) => return (frames, f.truncation().cloned(), None),
            Err(e) => return (frames, f.truncation().cloned(), Some(e)),
        }
    }
}

#[test]
fn pcap_in_all_four_magics_reads_the_same_frames() {
    let dir = tempfile::tempdir().unwrap();
    for big in [false, true] {
        for nanos in [false, true] {
            let frac = if nanos { 123_456_789 } else { 123_456 };
            let bytes = pcap(big, nanos, 1, &[(10, frac, b"abc", 3), (11, 0, b"de", 60)]);
            let (frames, trunc, err) = read_all(&write(&dir, "x.pcap", &bytes));
            assert!(trunc.is_none() && err.is_none());
            let want_ns = if nanos {
                10_123_456_789
            } else {
                10_123_456_000
            };
            assert_eq!(
                frames,
                vec![
                    (want_ns, 1, b"abc".to_vec()),
                    (11_000_000_000, 1, b"de".to_vec())
                ]
            );
        }
    }
}

#[test]
fn pcap_out_of_range_microseconds_are_carried_and_counted() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = pcap(false, false, 1, &[(1, 1_500_000, b"a", 1)]);
    let p = write(&dir, "t.pcap", &bytes);
    let mut f = CaptureFile::open(&p).unwrap();
    let ts = f.next_frame().unwrap().unwrap().ts;
    assert_eq!(ts, 2_500_000_000);
    assert_eq!(f.counters().invalid_timestamp, 1);
}

/// A pcapng resolution finer than 10^-18 s cannot give a time (it read every time as 0):
/// each such time is counted, and the frame keeps the last good time.
#[test]
fn pcapng_times_that_cannot_be_times_are_counted() {
    let dir = tempfile::tempdir().unwrap();
    let mut ng = Ng::new(false);
    ng.interface(1, Some(6)); // microseconds
    ng.interface(1, Some(39)); // 10^-39 s
    ng.packet(0, 5_000_000, &[1; 20]);
    ng.packet(1, 123, &[2; 20]);
    let p = write(&dir, "tsresol.pcapng", &ng.out);
    let mut f = CaptureFile::open(&p).unwrap();
    assert_eq!(f.next_frame().unwrap().unwrap().ts, 5_000_000_000);
    assert_eq!(f.next_frame().unwrap().unwrap().ts, 5_000_000_000);
    assert_eq!(f.counters().invalid_timestamp, 1);
}

#[test]
fn pcap_cut_inside_a_record_is_a_truncation_not_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = pcap(
        false,
        false,
        1,
        &[(1, 0, b"first", 5), (2, 0, b"second record", 13)],
    );
    let cut = &bytes[..bytes.len() - 4];
    let (frames, trunc, err) = read_all(&write(&dir, "cut.pcap", cut));
    assert!(err.is_none());
    assert_eq!(frames.len(), 1);
    let t = trunc.unwrap();
    assert_eq!((t.offset, t.present, t.expected), (24 + 16 + 5, 25, 29));
}

/// A record that claims more than the snap length (65535 here) and more than is left is a
/// corrupt length in mid-file, not a capture cut while it was written: an error, not a
/// warning that would drop the rest of the file quietly.
#[test]
fn pcap_record_longer_than_the_snap_length_and_the_file_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = pcap(false, false, 1, &[(1, 0, b"ok", 2)]);
    let at = bytes.len() as u64;
    bytes.extend_from_slice(&[0; 8]);
    bytes.extend_from_slice(&200_000u32.to_le_bytes());
    bytes.extend_from_slice(&200_000u32.to_le_bytes());
    bytes.extend(std::iter::repeat_n(7u8, 5000));
    let (frames, trunc, err) = read_all(&write(&dir, "midfile.pcap", &bytes));
    assert_eq!(frames.len(), 1);
    assert!(trunc.is_none());
    match err {
        Some(CaptureError::Corrupt { offset, reason, .. }) => {
            assert_eq!(offset, at);
            assert!(
                reason.contains("more than the snap length 65535"),
                "{reason}"
            );
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn pcap_with_an_absurd_record_length_is_corrupt_at_its_offset() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = pcap(false, false, 1, &[(1, 0, b"ok", 2)]);
    bytes.extend_from_slice(&[0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0]);
    let (frames, _, err) = read_all(&write(&dir, "bad.pcap", &bytes));
    assert_eq!(frames.len(), 1);
    match err {
        Some(CaptureError::Corrupt { offset, .. }) => assert_eq!(offset, 42),
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn non_captures_and_empty_files_are_refused_with_their_name() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        ("readme.pcap", &b"hello world, not a capture"[..]),
        ("empty.pcap", &b""[..]),
    ] {
        let p = write(&dir, name, bytes);
        let e = CaptureFile::open(&p).err().expect("refused");
        let msg = e.to_string();
        assert!(msg.contains(name), "{msg}");
        assert!(matches!(e, CaptureError::NotACapture { .. }));
    }
    let missing = dir.path().join("missing.pcap");
    let e = CaptureFile::open(&missing).err().expect("refused");
    assert!(e.to_string().contains("missing.pcap"));
}

/// Other major versions are refused, as libpcap and Wireshark refuse them: their records may
/// be laid out otherwise.
#[test]
fn other_major_versions_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut bytes = pcap(false, false, 1, &[(1, 0, b"ok", 2)]);
    bytes[4..6].copy_from_slice(&9u16.to_le_bytes());
    let (frames, _, err) = read_all(&write(&dir, "v9.pcap", &bytes));
    assert!(frames.is_empty());
    let err = err.expect("refused").to_string();
    assert!(err.contains("pcap version 9.4"), "{err}");
    let mut ng = Ng::new(false);
    ng.interface(1, None);
    ng.packet(0, 1, &[1; 20]);
    ng.out[12..14].copy_from_slice(&2u16.to_le_bytes());
    let (frames, _, err) = read_all(&write(&dir, "v2.pcapng", &ng.out));
    assert!(frames.is_empty());
    let err = err.expect("refused").to_string();
    assert!(err.contains("section header version 2.0"), "{err}");
}

#[test]
fn pcap_header_only_is_an_empty_capture() {
    let dir = tempfile::tempdir().unwrap();
    let (frames, trunc, err) = read_all(&write(&dir, "h.pcap", &pcap(false, false, 1, &[])));
    assert!(frames.is_empty() && trunc.is_none() && err.is_none());
}

#[test]
fn pcapng_interfaces_keep_their_own_linktype_and_resolution() {
    let dir = tempfile::tempdir().unwrap();
    for big in [false, true] {
        let mut ng = Ng::new(big);
        ng.interface(1, None); // microseconds
        ng.interface(101, Some(9)); // nanoseconds
        ng.interface(113, Some(0x80 | 10)); // 2^-10 s
        ng.packet(0, 5_000_001, b"eth");
        ng.packet(1, 5_000_000_007, b"raw");
        ng.packet(2, 3 * 1024 + 512, b"sll");
        ng.simple(b"spb"); // interface 0, previous timestamp
        let (frames, trunc, err) = read_all(&write(&dir, "x.pcapng", &ng.out));
        assert!(trunc.is_none() && err.is_none(), "{err:?}");
        assert_eq!(
            frames,
            vec![
                (5_000_001_000, 1, b"eth".to_vec()),
                (5_000_000_007, 101, b"raw".to_vec()),
                (3_500_000_000, 113, b"sll".to_vec()),
                (3_500_000_000, 1, b"spb".to_vec()),
            ]
        );
    }
}

/// What Wireshark reads, netan reads: option lists without `opt_endofopt`, options netan does
/// not use (however malformed their values), a non-zero reserved field, a negative
/// `if_tsoffset`, obsolete packet blocks (timestamp: high word, then low word).
#[test]
fn pcapng_blocks_are_read_as_tolerantly_as_wireshark_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    for big in [false, true] {
        let w16 = |v: u16| {
            if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            }
        };
        let mut ng = Ng::new(big);
        // Interface: reserved field 0xffff; if_tzone (4) with a 4-byte value, a comment that
        // is not UTF-8, if_tsoffset (14) of -3600 s, and no opt_endofopt.
        let mut idb = w16(1).to_vec();
        idb.extend_from_slice(&[0xff, 0xff]);
        idb.extend_from_slice(&ng.w32(0));
        for (code, value) in [
            (4u16, vec![1, 2, 3, 4]),
            (1, vec![0xff, 0xfe, 0x41, 0x00]),
            (
                14,
                if big {
                    (-3600i64).to_be_bytes().to_vec()
                } else {
                    (-3600i64).to_le_bytes().to_vec()
                },
            ),
        ] {
            idb.extend_from_slice(&w16(code));
            idb.extend_from_slice(&w16(value.len() as u16));
            idb.extend_from_slice(&value);
        }
        ng.block(1, &idb);
        // An enhanced packet block with a comment and no opt_endofopt.
        let mut epb = ng.w32(0).to_vec();
        let units: u64 = 1_700_000_000_000_000;
        epb.extend_from_slice(&ng.w32((units >> 32) as u32));
        epb.extend_from_slice(&ng.w32(units as u32));
        epb.extend_from_slice(&ng.w32(3));
        epb.extend_from_slice(&ng.w32(3));
        epb.extend_from_slice(b"epb\0");
        epb.extend_from_slice(&w16(1));
        epb.extend_from_slice(&w16(2));
        epb.extend_from_slice(b"hi\0\0");
        ng.block(6, &epb);
        // An obsolete packet block: interface (16 bits), drops (16 bits), then as above.
        let mut opb = w16(0).to_vec();
        opb.extend_from_slice(&w16(0));
        let units = units + 1;
        opb.extend_from_slice(&ng.w32((units >> 32) as u32));
        opb.extend_from_slice(&ng.w32(units as u32));
        opb.extend_from_slice(&ng.w32(3));
        opb.extend_from_slice(&ng.w32(3));
        opb.extend_from_slice(b"opb");
        ng.block(2, &opb);
        let (frames, trunc, err) = read_all(&write(&dir, "t.pcapng", &ng.out));
        assert!(trunc.is_none() && err.is_none(), "{err:?}");
        let t0 = (1_700_000_000 - 3600) * 1_000_000_000;
        assert_eq!(
            frames,
            vec![(t0, 1, b"epb".to_vec()), (t0 + 1_000, 1, b"opb".to_vec())],
            "big-endian: {big}"
        );
    }
}

#[test]
fn pcapng_sections_reset_interfaces_and_may_change_byte_order() {
    let dir = tempfile::tempdir().unwrap();
    let mut a = Ng::new(false);
    a.interface(1, None);
    a.packet(0, 1, b"one");
    let mut b = Ng::new(true);
    b.interface(228, None);
    b.packet(0, 2, b"two");
    b.packet(1, 3, b"no such interface");
    let mut bytes = a.out;
    bytes.extend_from_slice(&b.out);
    let p = write(&dir, "two-sections.pcapng", &bytes);
    let mut f = CaptureFile::open(&p).unwrap();
    let mut got = Vec::new();
    while let Some(fr) = f.next_frame().unwrap() {
        got.push((fr.linktype, fr.data.to_vec()));
    }
    assert_eq!(got, vec![(1, b"one".to_vec()), (228, b"two".to_vec())]);
    assert_eq!(f.counters().unknown_interface, 1);
}

#[test]
fn pcapng_cut_inside_a_block_is_a_truncation() {
    let dir = tempfile::tempdir().unwrap();
    let mut ng = Ng::new(false);
    ng.interface(1, None);
    ng.packet(0, 1, b"complete");
    let keep = ng.out.len();
    ng.packet(0, 2, b"this one is cut");
    let cut = &ng.out[..keep + 20];
    let (frames, trunc, err) = read_all(&write(&dir, "cut.pcapng", cut));
    assert!(err.is_none());
    assert_eq!(frames.len(), 1);
    assert_eq!(trunc.unwrap().offset, keep as u64);
}

#[test]
fn pcapng_with_a_bad_block_length_is_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let mut ng = Ng::new(false);
    ng.interface(1, None);
    let at = ng.out.len();
    ng.out.extend_from_slice(&6u32.to_le_bytes());
    ng.out.extend_from_slice(&13u32.to_le_bytes());
    ng.out.extend_from_slice(&[0; 16]);
    let (_, _, err) = read_all(&write(&dir, "bad.pcapng", &ng.out));
    match err {
        Some(CaptureError::Corrupt { offset, .. }) => assert_eq!(offset, at as u64),
        other => panic!("expected corruption, got {other:?}"),
    }
}

/// A block whose leading length covers the next block (its trailing length says otherwise)
/// is corrupt at its offset: trusting the leading one would swallow a packet in silence.
#[test]
fn pcapng_block_lengths_that_differ_at_the_two_ends_are_corrupt() {
    let dir = tempfile::tempdir().unwrap();
    let mut ng = Ng::new(false);
    ng.interface(1, None);
    ng.packet(0, 1, &[1; 20]);
    let at = ng.out.len();
    ng.packet(0, 2, &[2; 20]);
    let second = ng.out.len() - at;
    ng.packet(0, 3, &[3; 20]);
    let swallowing = (second * 2) as u32;
    ng.out[at + 4..at + 8].copy_from_slice(&swallowing.to_le_bytes());
    let (frames, _, err) = read_all(&write(&dir, "swallow.pcapng", &ng.out));
    assert_eq!(frames.len(), 1, "the first packet only");
    match err {
        Some(CaptureError::Corrupt { offset, reason, .. }) => {
            assert_eq!(offset, at as u64);
            assert!(reason.contains("lengths differ"), "{reason}");
        }
        other => panic!("expected corruption, got {other:?}"),
    }
}

#[test]
fn gzip_compressed_captures_are_read_transparently() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = pcap(false, true, 1, &[(1, 2, b"zipped", 6)]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    let p = write(&dir, "c.pcap.gz", &gz.finish().unwrap());
    let (frames, _, err) = read_all(&p);
    assert!(err.is_none());
    assert_eq!(frames, vec![(1_000_000_002, 1, b"zipped".to_vec())]);
}

/// A gzip capture cut short is a truncated capture: the frames before the cut, a warning
/// (whether the cut falls inside a record or between two), no error. Cut before the capture's
/// first bytes, it is an error that says so (not "the file is empty").
#[test]
fn a_gzip_capture_cut_short_is_read_up_to_the_cut_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let frames: Vec<(u32, u32, &[u8], u32)> =
        (0..40).map(|i| (i, 7, &b"payload bytes"[..], 13)).collect();
    let bytes = pcap(false, false, 1, &frames);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::none());
    gz.write_all(&bytes).unwrap();
    let zipped = gz.finish().unwrap();
    // Without its 8-byte trailer: every record is there, the stream's end is not.
    let (all, trunc, err) = read_all(&write(&dir, "t.pcap.gz", &zipped[..zipped.len() - 4]));
    assert!(err.is_none(), "{err:?}");
    assert_eq!(all.len(), 40);
    let t = trunc.expect("a cut stream is reported");
    assert!(t.stream_cut && t.present == 0, "{t:?}");
    assert!(t.to_string().contains("gzip stream is cut short"), "{t}");
    // Cut in the middle of the records (stored blocks: the bytes come out as they go in).
    let (some, trunc, err) = read_all(&write(&dir, "m.pcap.gz", &zipped[..zipped.len() / 2]));
    assert!(err.is_none(), "{err:?}");
    assert!(!some.is_empty() && some.len() < 40, "{}", some.len());
    assert_eq!(some, all[..some.len()]);
    let t = trunc.expect("a cut stream is reported");
    assert!(t.stream_cut && t.present > 0, "{t:?}");
    // Followed by bytes that are not gzip (zeros): every record is read, then the error
    // says where the readable part ended.
    let mut trailing = zipped.clone();
    trailing.extend_from_slice(&[0; 64]);
    let (every, _, err) = read_all(&write(&dir, "z.pcap.gz", &trailing));
    assert_eq!(every, all);
    let err = err.expect("an error").to_string();
    assert!(
        err.contains(&format!("after byte offset {}", bytes.len())),
        "{err}"
    );
    // Cut inside the gzip header.
    let (none, _, err) = read_all(&write(&dir, "h.pcap.gz", &zipped[..6]));
    assert!(none.is_empty());
    let err = err.expect("an error").to_string();
    assert!(
        err.contains("cut short before the capture's first bytes"),
        "{err}"
    );
}

#[test]
fn the_fcs_bits_of_a_pcap_link_type_field_are_not_part_of_the_link_type() {
    let dir = tempfile::tempdir().unwrap();
    // LT_FCS_DATALINK_EXT: "4 bytes of FCS on every frame" (0x24 << 24), on Ethernet (1).
    let bytes = pcap(false, false, 0x2400_0001, &[(1, 2, b"frame", 5)]);
    let (frames, _, err) = read_all(&write(&dir, "f.pcap", &bytes));
    assert!(err.is_none(), "{err:?}");
    assert_eq!(frames, vec![(1_000_002_000, 1, b"frame".to_vec())]);
}

#[test]
fn directories_expand_to_their_captures_in_name_order() {
    let dir = tempfile::tempdir().unwrap();
    for name in [
        "b.pcap",
        "a.pcapng",
        "c.pcap.gz",
        "notes.txt",
        ".hidden.pcap",
    ] {
        write(&dir, name, b"");
    }
    let list = expand_inputs(&[dir.path().to_path_buf()]).unwrap();
    let names: Vec<String> = list
        .files
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, vec!["a.pcapng", "b.pcap", "c.pcap.gz"]);
    assert_eq!(list.skipped.len(), 2);
}

/// Entries named like captures that are not regular files (a subdirectory, a dangling link)
/// are passed over and listed, not dropped without a trace.
#[cfg(unix)]
#[test]
fn directory_entries_that_are_not_files_are_listed_as_passed_over() {
    let dir = tempfile::tempdir().unwrap();
    write(&dir, "a.pcap", b"");
    std::fs::create_dir(dir.path().join("sub.pcap")).unwrap();
    std::os::unix::fs::symlink(dir.path().join("gone"), dir.path().join("g.pcap")).unwrap();
    let list = expand_inputs(&[dir.path().to_path_buf()]).unwrap();
    assert_eq!(list.files.len(), 1);
    let mut skipped: Vec<String> = list
        .skipped
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    skipped.sort();
    assert_eq!(skipped, vec!["g.pcap", "sub.pcap"]);
}

#[test]
fn random_bytes_after_a_valid_header_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for round in 0..200 {
        let mut bytes = if round % 2 == 0 {
            pcap(round % 4 == 0, false, 1, &[])
        } else {
            Ng::new(false).out
        };
        for _ in 0..(round * 7 % 300) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            bytes.push(state as u8);
        }
        let _ = read_all(&write(&dir, "r", &bytes));
    }
}
