//! Which IP addresses a fetch may connect to.
//!
//! A URL taken from the network must never make us reach our own machine or the private
//! network we run in (cloud metadata endpoints, databases, admin ports): only globally
//! routable addresses are allowed, plus loopback where a development setting says so.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of place an address is, for the fetcher's purposes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressClass {
    /// A globally routable address: always allowed.
    Public,
    /// 127.0.0.0/8 or ::1: allowed only under the development setting.
    Loopback,
    /// Private, link-local, CGNAT, multicast, unspecified, broadcast, reserved or
    /// documentation ranges, and IPv6 forms embedding one of them: never allowed.
    Forbidden,
}

/// Classifies `ip`.
pub fn classify(ip: IpAddr) -> AddressClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => classify_v6(v6),
    }
}

/// Whether a fetch may connect to `ip` when loopback is (or is not) allowed.
pub fn is_allowed(ip: IpAddr, allow_loopback: bool) -> bool {
    match classify(ip) {
        AddressClass::Public => true,
        AddressClass::Loopback => allow_loopback,
        AddressClass::Forbidden => false,
    }
}

fn in_v4(ip: Ipv4Addr, network: [u8; 4], prefix: u32) -> bool {
    let mask = if prefix == 0 {
        0
    } else {
        u32::MAX << (32 - prefix)
    };
    (u32::from(ip) & mask) == (u32::from(Ipv4Addr::from(network)) & mask)
}

fn classify_v4(ip: Ipv4Addr) -> AddressClass {
    if ip.is_loopback() {
        return AddressClass::Loopback;
    }
    const FORBIDDEN: &[([u8; 4], u32)] = &[
        ([0, 0, 0, 0], 8),       // "this network", including the unspecified address
        ([10, 0, 0, 0], 8),      // private
        ([100, 64, 0, 0], 10),   // carrier-grade NAT
        ([169, 254, 0, 0], 16),  // link-local (cloud metadata lives here)
        ([172, 16, 0, 0], 12),   // private
        ([192, 0, 0, 0], 24),    // IETF protocol assignments
        ([192, 0, 2, 0], 24),    // documentation
        ([192, 88, 99, 0], 24),  // 6to4 relay anycast (deprecated)
        ([192, 168, 0, 0], 16),  // private
        ([198, 18, 0, 0], 15),   // benchmarking
        ([198, 51, 100, 0], 24), // documentation
        ([203, 0, 113, 0], 24),  // documentation
        ([224, 0, 0, 0], 4),     // multicast
        ([240, 0, 0, 0], 4),     // reserved, including the broadcast address
    ];
    if FORBIDDEN
        .iter()
        .any(|(network, prefix)| in_v4(ip, *network, *prefix))
    {
        AddressClass::Forbidden
    } else {
        AddressClass::Public
    }
}

/// The IPv4 address an IPv6 address carries, when it is one of the forms that reach an IPv4
/// host: mapped (`::ffff:a.b.c.d`), compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`)
/// or 6to4 (`2002:aabb:ccdd::`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        [0, 0, 0, 0, 0, 0, _, _] => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        [0x2002, hi, lo, ..] => Some(Ipv4Addr::new(
            (hi >> 8) as u8,
            hi as u8,
            (lo >> 8) as u8,
            lo as u8,
        )),
        _ => None,
    }
}

fn classify_v6(ip: Ipv6Addr) -> AddressClass {
    if ip == Ipv6Addr::LOCALHOST {
        return AddressClass::Loopback;
    }
    if ip.is_unspecified() {
        return AddressClass::Forbidden;
    }
    if let Some(v4) = embedded_v4(ip) {
        // The development setting is about 127.0.0.1 and ::1; an IPv6 disguise of a
        // loopback address is never what a developer meant, so it stays forbidden.
        return match classify_v4(v4) {
            AddressClass::Public => AddressClass::Public,
            AddressClass::Loopback | AddressClass::Forbidden => AddressClass::Forbidden,
        };
    }
    let first = ip.segments()[0];
    let forbidden = (first & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (first & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (first & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || (first & 0xff00) == 0xff00 // multicast ff00::/8
        || (first == 0x2001 && ip.segments()[1] == 0x0db8) // documentation 2001:db8::/32
        || (first == 0x0100 && ip.segments()[1..4] == [0, 0, 0]); // discard-only 100::/64
    if forbidden {
        AddressClass::Forbidden
    } else {
        AddressClass::Public
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn class(s: &str) -> AddressClass {
        classify(s.parse().unwrap())
    }

    #[test]
    fn public_addresses_are_allowed() {
        for ip in [
            "1.1.1.1",
            "93.184.216.34",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "2606:4700:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::1.1.1.1",
        ] {
            assert_eq!(class(ip), AddressClass::Public, "{ip}");
        }
    }

    #[test]
    fn loopback_is_its_own_class() {
        for ip in ["127.0.0.1", "127.255.0.9", "::1"] {
            assert_eq!(class(ip), AddressClass::Loopback, "{ip}");
            assert!(!is_allowed(ip.parse().unwrap(), false));
            assert!(is_allowed(ip.parse().unwrap(), true));
        }
    }

    #[test]
    fn private_and_reserved_ranges_are_forbidden_even_with_loopback_allowed() {
        for ip in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "192.0.2.1",
            "198.18.0.1",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "::",
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd12:3456::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "2002:c0a8:0101::1",
            "2002:7f00:0001::1",
        ] {
            assert_eq!(class(ip), AddressClass::Forbidden, "{ip}");
            assert!(!is_allowed(ip.parse().unwrap(), true), "{ip}");
        }
    }
}
