//! Which destinations yt-dlp may reach: public internet addresses over http/https, and whatever
//! the operator opened with `EGRESS_ALLOW_CIDRS` or `ALLOW_PRIVATE_URLS` (DESIGN.md §3 "Egress").
//!
//! The check is made on addresses, never on names: the proxy resolves a name itself, checks every
//! address it got, and connects only to one it checked, so `localhost`, `2130706433`,
//! `[::ffff:127.0.0.1]` and a name that resolves to a private address all end up here as the
//! same `127.0.0.1` or `10.x` they really are.
use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The egress rules of one worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EgressPolicy {
    /// `EGRESS_ALLOW_CIDRS`: networks reachable even though they are not public.
    allow: Vec<IpNet>,
    /// `ALLOW_PRIVATE_URLS=true`: every address is reachable (schemes are still checked).
    allow_private: bool,
}

/// Why a destination was refused; its `Display` is the user-facing reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refusal {
    /// The host as the request named it (a name or an address literal).
    pub(crate) host: String,
    pub(crate) reason: RefusalReason,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RefusalReason {
    /// A scheme other than http/https (`ftp`, `file`, `gopher`, ...).
    Scheme(String),
    /// The name resolved only to addresses that are not public (the first one is named).
    Address(IpAddr),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            RefusalReason::Scheme(scheme) => write!(f, "{scheme}:// URLs are not allowed ({})", self.host),
            RefusalReason::Address(ip) if ip.to_string() == self.host => {
                write!(
                    f,
                    "{} is a private or local address and is not allowed",
                    self.host
                )
            }
            RefusalReason::Address(ip) => {
                write!(
                    f,
                    "{} resolves to {ip}, a private or local address, and is not allowed",
                    self.host
                )
            }
        }
    }
}

impl EgressPolicy {
    pub(crate) fn new(allow: Vec<IpNet>, allow_private: bool) -> EgressPolicy {
        EgressPolicy { allow, allow_private }
    }

    /// Parses `EGRESS_ALLOW_CIDRS`: comma-separated networks (`127.0.0.1/32, 10.0.0.0/8`); a bare
    /// address means just that address.
    pub(crate) fn parse_cidrs(text: &str) -> Result<Vec<IpNet>, String> {
        text.split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                part.parse::<IpNet>()
                    .or_else(|_| part.parse::<IpAddr>().map(IpNet::from))
                    .map(|net| net.trunc())
                    .map_err(|_| part.to_owned())
            })
            .collect()
    }

    /// Whether a connection to `ip` is allowed.
    pub(crate) fn permits(&self, ip: IpAddr) -> bool {
        if self.allow_private {
            return true;
        }
        let canonical = canonical(ip);
        if self
            .allow
            .iter()
            .any(|net| net.contains(&ip) || net.contains(&canonical))
        {
            return true;
        }
        is_public(canonical)
    }

    /// Whether `scheme` may be fetched at all: only http and https, whatever else is configured.
    pub(crate) fn permits_scheme(scheme: &str) -> bool {
        scheme.eq_ignore_ascii_case("http") || scheme.eq_ignore_ascii_case("https")
    }
}

/// The IPv4 address an IPv6 address stands for, where it embeds one (IPv4-mapped `::ffff:a.b.c.d`,
/// the deprecated IPv4-compatible `::a.b.c.d`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`), so that
/// every spelling of a private IPv4 address is judged as that address.
fn canonical(ip: IpAddr) -> IpAddr {
    let IpAddr::V6(v6) = ip else { return ip };
    if let Some(v4) = v6.to_ipv4_mapped() {
        return IpAddr::V4(v4);
    }
    let s = v6.segments();
    let embedded_low = || Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    if s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1) {
        return IpAddr::V4(embedded_low());
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return IpAddr::V4(embedded_low());
    }
    if s[0] == 0x2002 {
        return IpAddr::V4(Ipv4Addr::new(
            (s[1] >> 8) as u8,
            s[1] as u8,
            (s[2] >> 8) as u8,
            s[2] as u8,
        ));
    }
    ip
}

/// A globally routable unicast address: everything but the special-purpose ranges of RFC 6890
/// that lead into the host itself, a private network or nowhere.
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let refused = a == 0 // "this network", 0.0.0.0 included
        || a == 10 // RFC 1918
        || a == 127 // loopback
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 169 && b == 254) // link-local (cloud metadata lives here)
        || (a == 172 && (16..32).contains(&b)) // RFC 1918
        || (a == 192 && b == 168) // RFC 1918
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // TEST-NET-1
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // TEST-NET-2
        || (a == 203 && b == 0 && c == 113) // TEST-NET-3
        || a >= 224; // multicast, reserved, broadcast
    !refused
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let s = ip.segments();
    let refused = ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xfe00) == 0xfc00 // unique-local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local (deprecated) fec0::/10
        || (s[0] & 0xff00) == 0xff00 // multicast
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only 100::/64
        || (s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1) // local-use NAT64 64:ff9b:1::/48
        || s[..6] == [0; 6]; // IPv4-compatible and other ::/96 leftovers
    !refused
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn default_policy_refuses_every_non_public_range_and_spelling() {
        let policy = EgressPolicy::default();
        for refused in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
            "198.18.0.1",
            "192.0.0.8",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "fec0::1",
            "2001:db8::1",
        ] {
            assert!(!policy.permits(ip(refused)), "{refused} must be refused");
        }
        for allowed in [
            "93.184.216.34",
            "1.1.1.1",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(policy.permits(ip(allowed)), "{allowed} must be allowed");
        }
    }

    #[test]
    fn allow_list_opens_exactly_its_networks_in_every_spelling() {
        let policy = EgressPolicy::new(
            EgressPolicy::parse_cidrs("127.0.0.1/32, 10.0.0.0/8").unwrap(),
            false,
        );
        assert!(policy.permits(ip("127.0.0.1")));
        assert!(policy.permits(ip("::ffff:127.0.0.1")));
        assert!(policy.permits(ip("10.200.0.1")));
        assert!(!policy.permits(ip("127.0.0.2")));
        assert!(!policy.permits(ip("::1")));
        assert!(!policy.permits(ip("192.168.0.1")));
        assert!(EgressPolicy::new(vec![], true).permits(ip("127.0.0.1")));
    }

    #[test]
    fn cidr_list_parsing() {
        assert_eq!(EgressPolicy::parse_cidrs("").unwrap(), vec![]);
        assert_eq!(
            EgressPolicy::parse_cidrs("::1").unwrap(),
            vec!["::1/128".parse::<IpNet>().unwrap()]
        );
        assert_eq!(
            EgressPolicy::parse_cidrs("10.1.2.3/8").unwrap(),
            vec!["10.0.0.0/8".parse::<IpNet>().unwrap()]
        );
        assert_eq!(
            EgressPolicy::parse_cidrs("127.0.0.1/32,nonsense").unwrap_err(),
            "nonsense"
        );
    }

    #[test]
    fn only_http_and_https_schemes() {
        assert!(EgressPolicy::permits_scheme("HTTPS"));
        assert!(EgressPolicy::permits_scheme("http"));
        for scheme in ["ftp", "file", "gopher", "data", "rtmp", "ws"] {
            assert!(!EgressPolicy::permits_scheme(scheme));
        }
    }
}
