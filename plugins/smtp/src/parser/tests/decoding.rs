//! Tests of the incremental transfer decoders: fed in pieces cut anywhere, with line breaks and
//! whitespace at odd places, they give what decoding the whole body at once gives.

use mail_parser::decoders::quoted_printable::quoted_printable_decode;

use super::streaming::base64_encode;
use super::*;
use crate::parser::content::hex;
use crate::parser::decode::BodyDigest;

/// xorshift64.
struct Rng(u64);

impl Rng {
    fn below(&mut self, bound: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % bound as u64) as usize
    }
}

/// Decodes `body` fed in random pieces.
fn digest_in_pieces(encoding: &[u8], body: &[u8], rng: &mut Rng) -> (u64, String) {
    let mut digest = BodyDigest::new(encoding);
    let mut rest = body;
    while !rest.is_empty() {
        let cut = (rng.below(9) + 1).min(rest.len());
        let cut = if rng.below(4) == 0 {
            rest.len().min(cut * 50)
        } else {
            cut
        };
        digest.feed(&rest[..cut]);
        rest = &rest[cut..];
    }
    let (size, sha) = digest.finish();
    (size, hex(&sha))
}

#[test]
fn quoted_printable_matches_mail_parser_at_any_split() {
    const PIECES: &[&[u8]] = &[
        b"a",
        b"Zq",
        b"=3D",
        b"=c3=A9",
        b"=\r\n",
        b"=\n",
        b"= \t\r\n",
        b" ",
        b"\t",
        b"\x0c",
        b"\r\n",
        b"\n",
        b"\r",
        b"=",
        b"=4",
        b"=G1",
        b"==",
        b"=\r",
        b"-- ",
        b"=0a",
    ];
    let mut rng = Rng(0x00dd_ba11_cafe_f00d);
    let mut failures = 0;
    for round in 0..3000 {
        let mut body = Vec::new();
        for _ in 0..rng.below(40) {
            // Mostly well formed: the malformed escapes come rarely.
            let piece = PIECES[rng.below(PIECES.len())];
            if matches!(piece, b"=" | b"=4" | b"=G1" | b"==" | b"=\r") && rng.below(8) != 0 {
                continue;
            }
            body.extend_from_slice(piece);
        }
        if round % 10 == 0 {
            // A whitespace run longer than what is held inline.
            let at = rng.below(body.len() + 1);
            let run = vec![b' '; 60 + rng.below(200)];
            body.splice(at..at, run);
        }
        let expected = match quoted_printable_decode(&body) {
            Some(decoded) => (decoded.len() as u64, sha256_hex(&decoded)),
            None => {
                failures += 1;
                (body.len() as u64, sha256_hex(&body))
            }
        };
        for _ in 0..3 {
            let got = digest_in_pieces(b"quoted-printable", &body, &mut rng);
            assert_eq!(got, expected, "{:?}", String::from_utf8_lossy(&body));
        }
    }
    // Both outcomes were exercised.
    assert!(failures > 50 && failures < 2900, "{failures}");
}

#[test]
fn base64_with_line_breaks_at_odd_places_matches_the_data() {
    let mut rng = Rng(0x5eed_0fba_5e64);
    for len in 0..400 {
        let data: Vec<u8> = (0..len).map(|_| rng.below(256) as u8).collect();
        let mut encoded = Vec::new();
        for &byte in &base64_encode(&data, b"\r\n") {
            if byte == b'\r' || byte == b'\n' {
                continue;
            }
            encoded.push(byte);
            match rng.below(12) {
                0 => encoded.extend_from_slice(b"\r\n"),
                1 => encoded.push(b'\n'),
                2 => encoded.push(b' '),
                3 => encoded.extend_from_slice(b"\r\n\t"),
                _ => {}
            }
        }
        let expected = (data.len() as u64, sha256_hex(&data));
        for _ in 0..3 {
            assert_eq!(
                digest_in_pieces(b"base64", &encoded, &mut rng),
                expected,
                "length {len}"
            );
        }
    }
}

#[test]
fn base64_with_junk_and_early_padding_does_not_depend_on_pieces() {
    const ALPHABET: &[u8] =
        b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=\r\n -*";
    let mut rng = Rng(0x0bad_5eed_1234);
    for _ in 0..2000 {
        let len = rng.below(120);
        let body: Vec<u8> = (0..len)
            .map(|_| {
                let index = rng.below(ALPHABET.len() * 4) % ALPHABET.len();
                // `=` only now and then, so that most bodies run long.
                if ALPHABET[index] == b'=' && rng.below(6) != 0 {
                    b'Q'
                } else {
                    ALPHABET[index]
                }
            })
            .collect();
        let whole = {
            let mut digest = BodyDigest::new(b"BASE64");
            digest.feed(&body);
            let (size, sha) = digest.finish();
            (size, hex(&sha))
        };
        assert_eq!(digest_in_pieces(b"Base64", &body, &mut rng), whole);
    }
}

#[test]
fn unknown_encodings_are_hashed_as_they_are() {
    let mut rng = Rng(7);
    let body = b"=3D plain\r\n bytes \r\n";
    for encoding in [&b"7bit"[..], b"8bit", b"binary", b"x-uuencode", b""] {
        assert_eq!(
            digest_in_pieces(encoding, body, &mut rng),
            (body.len() as u64, sha256_hex(body))
        );
    }
}
