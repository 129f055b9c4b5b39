//! Link layers: peel whatever sits in front of the IP header, for every link type netan reads.
//!
//! The result is the network-layer protocol and the bytes where it starts. Encapsulations
//! inside Ethernet (802.1Q and QinQ VLAN tags, MPLS label stacks, PPPoE sessions) are walked
//! here as well; tunnels that sit on top of IP (VXLAN) are handled by the decoder itself.

/// LINKTYPE_* values (see <https://www.tcpdump.org/linktypes.html>).
pub(crate) mod linktype {
    pub(crate) const NULL: u32 = 0;
    pub(crate) const ETHERNET: u32 = 1;
    pub(crate) const RAW_OPENBSD: u32 = 12;
    pub(crate) const RAW_BSDOS: u32 = 14;
    pub(crate) const RAW: u32 = 101;
    pub(crate) const LOOP: u32 = 108;
    pub(crate) const LINUX_SLL: u32 = 113;
    pub(crate) const ARCNET_LINUX: u32 = 129;
    pub(crate) const IPV4: u32 = 228;
    pub(crate) const IPV6: u32 = 229;
    pub(crate) const NFLOG: u32 = 239;
    pub(crate) const LINUX_SLL2: u32 = 276;
}

const ETHERTYPE_IPV4: u16 = 0x0800;
const ETHERTYPE_IPV6: u16 = 0x86dd;
const ETHERTYPE_VLAN: u16 = 0x8100;
const ETHERTYPE_QINQ: u16 = 0x88a8;
const ETHERTYPE_QINQ_OLD: u16 = 0x9100;
const ETHERTYPE_MPLS: u16 = 0x8847;
const ETHERTYPE_MPLS_MULTICAST: u16 = 0x8848;
const ETHERTYPE_PPPOE_SESSION: u16 = 0x8864;
/// Encapsulations deeper than this are refused (a crafted frame could nest forever); real
/// networks stack two VLAN tags (QinQ) or a few MPLS labels.
const MAX_DEPTH: usize = 8;

/// The network layer found inside a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Network<'a> {
    /// An IP packet (version still to be read from its first byte).
    Ip(&'a [u8]),
    /// Something that is not IP (ARP, LLDP, ...), or an unknown encapsulation.
    Other,
}

/// Why no network layer could be found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkError {
    /// netan does not know this link type.
    Unsupported,
    /// The frame is shorter than its link-layer header.
    Truncated,
    /// Encapsulations nested deeper than [`MAX_DEPTH`] (a crafted frame).
    TooDeep,
}

/// Reads past the link-layer header of a frame of the given link type.
pub(crate) fn network(linktype: u32, frame: &[u8]) -> Result<Network<'_>, LinkError> {
    use linktype::*;
    match linktype {
        ETHERNET => ethernet(frame, 0),
        RAW | RAW_OPENBSD | RAW_BSDOS | IPV4 | IPV6 => Ok(Network::Ip(frame)),
        NULL => {
            // Address family in the byte order of the machine that captured: try both.
            let family: [u8; 4] = array(frame, 0).ok_or(LinkError::Truncated)?;
            let le = u32::from_le_bytes(family);
            let be = u32::from_be_bytes(family);
            let rest = frame.get(4..).unwrap_or(&[]);
            Ok(if is_ip_family(le) || is_ip_family(be) {
                Network::Ip(rest)
            } else {
                Network::Other
            })
        }
        LOOP => {
            let family: [u8; 4] = array(frame, 0).ok_or(LinkError::Truncated)?;
            let be = u32::from_be_bytes(family);
            let rest = frame.get(4..).unwrap_or(&[]);
            Ok(if is_ip_family(be) {
                Network::Ip(rest)
            } else {
                Network::Other
            })
        }
        LINUX_SLL => {
            let proto = be16(frame, 14).ok_or(LinkError::Truncated)?;
            ethertype(proto, frame.get(16..).unwrap_or(&[]), 0)
        }
        LINUX_SLL2 => {
            let proto = be16(frame, 0).ok_or(LinkError::Truncated)?;
            if frame.len() < 20 {
                return Err(LinkError::Truncated);
            }
            ethertype(proto, frame.get(20..).unwrap_or(&[]), 0)
        }
        NFLOG => nflog(frame),
        ARCNET_LINUX => arcnet(frame),
        _ => Err(LinkError::Unsupported),
    }
}

/// BSD address families for IPv4 and the IPv6 values of the various BSDs and macOS.
fn is_ip_family(af: u32) -> bool {
    matches!(af, 2 | 24 | 28 | 30)
}

/// `N` bytes at `at`, if the slice holds them.
pub(crate) fn array<const N: usize>(bytes: &[u8], at: usize) -> Option<[u8; N]> {
    bytes.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// A big-endian 16-bit field at `at`.
pub(crate) fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    array(bytes, at).map(u16::from_be_bytes)
}

/// A big-endian 32-bit field at `at`.
pub(crate) fn be32(bytes: &[u8], at: usize) -> Option<u32> {
    array(bytes, at).map(u32::from_be_bytes)
}

/// An Ethernet II frame (or an 802.3 frame, which never carries IP here).
pub(crate) fn ethernet(frame: &[u8], depth: usize) -> Result<Network<'_>, LinkError> {
    let kind = be16(frame, 12).ok_or(LinkError::Truncated)?;
    ethertype(kind, frame.get(14..).unwrap_or(&[]), depth)
}

fn ethertype(kind: u16, payload: &[u8], depth: usize) -> Result<Network<'_>, LinkError> {
    if depth > MAX_DEPTH {
        return Err(LinkError::TooDeep);
    }
    match kind {
        ETHERTYPE_IPV4 | ETHERTYPE_IPV6 => Ok(Network::Ip(payload)),
        ETHERTYPE_VLAN | ETHERTYPE_QINQ | ETHERTYPE_QINQ_OLD => {
            let inner = be16(payload, 2).ok_or(LinkError::Truncated)?;
            ethertype(inner, payload.get(4..).unwrap_or(&[]), depth + 1)
        }
        ETHERTYPE_MPLS | ETHERTYPE_MPLS_MULTICAST => mpls(payload, depth + 1),
        ETHERTYPE_PPPOE_SESSION => {
            // 6-byte PPPoE header, then the 2-byte PPP protocol.
            let ppp = be16(payload, 6).ok_or(LinkError::Truncated)?;
            let rest = payload.get(8..).unwrap_or(&[]);
            Ok(match ppp {
                0x0021 | 0x0057 => Network::Ip(rest),
                _ => Network::Other,
            })
        }
        _ => Ok(Network::Other),
    }
}

/// An MPLS label stack. What follows the bottom label is not typed on the wire: IP is
/// recognised by its version nibble; a first nibble of 0 is a pseudowire control word followed
/// by an Ethernet frame.
fn mpls(mut payload: &[u8], depth: usize) -> Result<Network<'_>, LinkError> {
    loop {
        let label: [u8; 4] = array(payload, 0).ok_or(LinkError::Truncated)?;
        let bottom = label[2] & 0x01 != 0;
        payload = payload.get(4..).unwrap_or(&[]);
        if bottom {
            break;
        }
    }
    match payload.first().map(|b| b >> 4) {
        Some(4) | Some(6) => Ok(Network::Ip(payload)),
        Some(0) => ethernet(payload.get(4..).unwrap_or(&[]), depth + 1),
        Some(_) => Ok(Network::Other),
        None => Err(LinkError::Truncated),
    }
}

/// Linux NFLOG: a 4-byte header, then type-length-value attributes in host byte order
/// (little-endian on every capture seen in practice); attribute 9 holds the packet.
fn nflog(frame: &[u8]) -> Result<Network<'_>, LinkError> {
    const NFULA_PAYLOAD: u16 = 9;
    let mut at = 4;
    if frame.len() < at {
        return Err(LinkError::Truncated);
    }
    while let Some([l0, l1, k0, k1]) = array::<4>(frame, at) {
        let len = usize::from(u16::from_le_bytes([l0, l1]));
        let kind = u16::from_le_bytes([k0, k1]) & 0x7fff;
        if len < 4 {
            return Ok(Network::Other);
        }
        if kind == NFULA_PAYLOAD {
            let end = (at + len).min(frame.len());
            return Ok(Network::Ip(frame.get(at + 4..end).unwrap_or(&[])));
        }
        at += (len + 3) & !3;
    }
    Ok(Network::Other)
}

/// Linux ARCnet: source, destination, a 2-byte offset and the protocol id. RFC 1201 IP (0xd4)
/// adds a split flag and a sequence number (4 more bytes for an exception packet); RFC 1051 IP
/// (0xf0) adds nothing.
fn arcnet(frame: &[u8]) -> Result<Network<'_>, LinkError> {
    let proto = *frame.get(4).ok_or(LinkError::Truncated)?;
    match proto {
        0xd4 => {
            let split = *frame.get(5).ok_or(LinkError::Truncated)?;
            let start = if split == 0xff { 12 } else { 8 };
            frame
                .get(start..)
                .map(Network::Ip)
                .ok_or(LinkError::Truncated)
        }
        0xf0 => frame.get(5..).map(Network::Ip).ok_or(LinkError::Truncated),
        _ => Ok(Network::Other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eth(kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&kind.to_be_bytes());
        f.extend_from_slice(payload);
        f
    }

    #[test]
    fn ethernet_ipv4_is_found_after_the_header() {
        let f = eth(0x0800, &[0x45, 1, 2]);
        assert_eq!(
            network(linktype::ETHERNET, &f),
            Ok(Network::Ip(&[0x45, 1, 2][..]))
        );
    }

    #[test]
    fn qinq_and_vlan_tags_are_peeled() {
        let mut inner = vec![0, 5, 0x81, 0x00, 0, 6, 0x08, 0x00];
        inner.extend_from_slice(&[0x45, 9]);
        let f = eth(0x88a8, &inner);
        assert_eq!(
            network(linktype::ETHERNET, &f),
            Ok(Network::Ip(&[0x45, 9][..]))
        );
    }

    #[test]
    fn vlan_tags_are_followed_to_a_depth_and_deeper_stacks_are_invalid() {
        // `tags` 802.1Q tags, then IPv4.
        let stacked = |tags: usize| {
            let mut inner = Vec::new();
            for i in 0..tags {
                let next: u16 = if i + 1 == tags { 0x0800 } else { 0x8100 };
                inner.extend_from_slice(&[0, 1]);
                inner.extend_from_slice(&next.to_be_bytes());
            }
            inner.extend_from_slice(&[0x45, 9]);
            eth(0x8100, &inner)
        };
        for tags in [1, 2, MAX_DEPTH] {
            let f = stacked(tags);
            assert_eq!(
                network(linktype::ETHERNET, &f),
                Ok(Network::Ip(&[0x45, 9][..])),
                "{tags} tags"
            );
        }
        for tags in [MAX_DEPTH + 1, 21] {
            assert_eq!(
                network(linktype::ETHERNET, &stacked(tags)),
                Err(LinkError::TooDeep),
                "{tags} tags"
            );
        }
    }

    #[test]
    fn mpls_stack_then_ip_by_version_nibble() {
        // two labels, the second with bottom-of-stack set
        let f = eth(0x8847, &[0, 0, 0x10, 64, 0, 0, 0x21, 64, 0x60, 1]);
        assert_eq!(
            network(linktype::ETHERNET, &f),
            Ok(Network::Ip(&[0x60, 1][..]))
        );
    }

    #[test]
    fn arp_is_not_ip() {
        let f = eth(0x0806, &[0; 28]);
        assert_eq!(network(linktype::ETHERNET, &f), Ok(Network::Other));
    }

    #[test]
    fn short_frames_are_truncated_not_panics() {
        for lt in [0, 1, 108, 113, 129, 239, 276] {
            for len in 0..4 {
                let _ = network(lt, &vec![0x81; len]);
            }
        }
        assert_eq!(
            network(linktype::ETHERNET, &[0; 10]),
            Err(LinkError::Truncated)
        );
        assert_eq!(
            network(linktype::ETHERNET, &eth(0x8100, &[0])),
            Err(LinkError::Truncated)
        );
    }

    #[test]
    fn null_loopback_accepts_either_byte_order_and_macos_ipv6() {
        assert_eq!(
            network(linktype::NULL, &[2, 0, 0, 0, 0x45]),
            Ok(Network::Ip(&[0x45][..]))
        );
        assert_eq!(
            network(linktype::NULL, &[0, 0, 0, 30, 0x60]),
            Ok(Network::Ip(&[0x60][..]))
        );
        assert_eq!(
            network(linktype::NULL, &[7, 0, 0, 0, 0x60]),
            Ok(Network::Other)
        );
    }

    #[test]
    fn sll2_reads_protocol_from_the_first_field() {
        let mut f = vec![0x08, 0x00];
        f.extend_from_slice(&[0; 18]);
        f.push(0x45);
        assert_eq!(
            network(linktype::LINUX_SLL2, &f),
            Ok(Network::Ip(&[0x45][..]))
        );
    }

    #[test]
    fn nflog_finds_the_payload_attribute() {
        let mut f = vec![2, 0, 0, 0x2a];
        f.extend_from_slice(&[8, 0, 1, 0, 0, 0, 0, 0]); // attribute 1, 4 bytes
        f.extend_from_slice(&[6, 0, 9, 0, 0x45, 7, 0, 0]); // payload, 2 bytes + padding
        assert_eq!(
            network(linktype::NFLOG, &f),
            Ok(Network::Ip(&[0x45, 7][..]))
        );
    }

    #[test]
    fn unknown_linktype_is_unsupported() {
        assert_eq!(network(160, &[0; 64]), Err(LinkError::Unsupported));
    }
}
