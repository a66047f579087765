//! Destinations: strict parsing of the `address` parameter, the allow-list,
//! and the check of every resolved address (SSRF defence).
//!
//! A request names a destination `HOST:PORT`. It is allowed when **every**
//! address it resolves to is allowed:
//!
//! * an address matched by an IP rule (`--allow 10.1.2.3:5432`,
//!   `--allow 10.0.0.0/8:5432`, `--allow [fd00::/8]:*`) is always allowed —
//!   this is the only way to reach the *special* ranges (unspecified,
//!   link-local including cloud metadata such as `169.254.169.254` and
//!   `fe80::/10`, multicast, broadcast, `0.0.0.0/8`, `240.0.0.0/4`,
//!   `100.100.100.200`, `fd00:ec2::254`, `168.63.129.16`, and NAT64/6to4
//!   addresses in front of any of these or of loopback);
//! * otherwise the destination must match a name rule (`--allow db:5432`),
//!   a regular expression (`--allow-regex`, matched against the whole
//!   `host:port` as requested, host lower-cased, IPv6 in brackets) or
//!   `--allow-any`, and the address must not be special. Loopback and
//!   private (RFC 1918, unique-local) addresses are not special: the
//!   operator who wrote `--allow-any`, or a rule matching the destination,
//!   opted in to them.
//!
//! The proxy connects only to the addresses it checked, so a DNS answer that
//! changes between check and use cannot redirect it (DNS rebinding). A name
//! admitted by a rule may resolve to any address that is not special, so a
//! regex or `--allow-any` that admits names whose DNS someone else controls
//! lets those names point at loopback or private addresses too; use IP or
//! network rules where that matters.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use regex::Regex;

/// The host part of a destination.
///
/// ```
/// use edgepg_proxy::address::{parse_address, Host};
/// assert_eq!(parse_address("DB.Internal:5432").unwrap().host, Host::Name("db.internal".into()));
/// let ip = parse_address("[fd00::1]:5432").unwrap().host;
/// assert_eq!(ip, Host::Ip("fd00::1".parse().unwrap()));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// A DNS name, lower-cased, without a trailing dot.
    Name(String),
    /// An IP address literal.
    Ip(IpAddr),
}

/// A parsed, validated `HOST:PORT`.
///
/// ```
/// use edgepg_proxy::address::{parse_address, Destination, Host};
/// let d = Destination { host: Host::Ip("fd00::1".parse().unwrap()), port: 5432 };
/// assert_eq!(d.to_string(), "[fd00::1]:5432");
/// assert_eq!(parse_address(&d.to_string()), Ok(d));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// Host name or address.
    pub host: Host,
    /// TCP port (never 0).
    pub port: u16,
}

impl fmt::Display for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.host {
            Host::Name(n) => write!(f, "{n}:{}", self.port),
            Host::Ip(IpAddr::V4(ip)) => write!(f, "{ip}:{}", self.port),
            Host::Ip(IpAddr::V6(ip)) => write!(f, "[{ip}]:{}", self.port),
        }
    }
}

/// Why an `address` (or an `--allow` rule) is not acceptable.
///
/// ```
/// use edgepg_proxy::address::parse_address;
/// let err = parse_address("db:05432").unwrap_err();
/// assert_eq!(err.to_string(), r#"invalid port "05432""#);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressError(pub String);

impl fmt::Display for AddressError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AddressError {}

fn err(msg: impl Into<String>) -> AddressError {
    AddressError(msg.into())
}

/// Longest `address` accepted (a 253-character name, `:`, a port, slack).
const MAX_ADDRESS_LEN: usize = 262;

/// Parses a port: 1–5 ASCII digits, no sign, no leading zero, not 0.
fn parse_port(s: &str) -> Result<u16, AddressError> {
    let bad = || err(format!("invalid port {s:?}"));
    if s.is_empty() || s.len() > 5 || !s.bytes().all(|b| b.is_ascii_digit()) || s.starts_with('0') {
        return Err(bad());
    }
    s.parse::<u16>().map_err(|_| bad())
}

/// Parses an IPv6 literal (the text between brackets), refusing zone ids and
/// forms that embed an IPv4 address.
fn parse_ipv6(s: &str) -> Result<Ipv6Addr, AddressError> {
    if s.contains('%') {
        return Err(err("IPv6 zone identifiers are not accepted"));
    }
    if s.contains('.') {
        return Err(err(
            "IPv6 addresses with an embedded IPv4 part are not accepted",
        ));
    }
    let ip: Ipv6Addr = s
        .parse()
        .map_err(|_| err(format!("invalid IPv6 address {s:?}")))?;
    if ip.to_ipv4_mapped().is_some() {
        return Err(err("IPv4-mapped IPv6 addresses are not accepted"));
    }
    Ok(ip)
}

/// Whether `host` would be read as an IPv4 address by a URL parser (its last
/// label is numeric, or a hex number): such hosts must be dotted quads.
fn looks_numeric(host: &str) -> bool {
    let last = host.rsplit('.').next().unwrap_or("");
    !last.is_empty()
        && (last.bytes().all(|b| b.is_ascii_digit())
            || last
                .strip_prefix("0x")
                .or_else(|| last.strip_prefix("0X"))
                .is_some_and(|h| h.bytes().all(|b| b.is_ascii_hexdigit())))
}

/// Validates a DNS name: labels of 1–63 letters, digits, `-` or `_`, not
/// starting or ending with `-`; at most 253 characters; no trailing dot.
fn parse_name(host: &str) -> Result<String, AddressError> {
    if host.is_empty() {
        return Err(err("empty host"));
    }
    if host.len() > 253 {
        return Err(err("host name too long"));
    }
    for label in host.split('.') {
        let ok = !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !ok {
            return Err(err(format!("invalid host name {host:?}")));
        }
    }
    Ok(host.to_ascii_lowercase())
}

/// Parses the host part (IPv6 without brackets is given bracketed by the
/// caller; here it arrives as `[...]`).
fn parse_host(host: &str) -> Result<Host, AddressError> {
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner
            .strip_suffix(']')
            .ok_or_else(|| err("unterminated IPv6 address"))?;
        return Ok(Host::Ip(IpAddr::V6(parse_ipv6(inner)?)));
    }
    if host.contains(':') {
        return Err(err(
            "an IPv6 address must be in brackets, and only one port is allowed",
        ));
    }
    if looks_numeric(host) {
        let ip: Ipv4Addr = host
            .parse()
            .map_err(|_| err(format!("invalid IPv4 address {host:?}")))?;
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    Ok(Host::Name(parse_name(host)?))
}

/// Splits `HOST:PORT` (with `[IPv6]:PORT`), returning the host text and port text.
fn split_host_port(s: &str) -> Result<(&str, &str), AddressError> {
    if s.starts_with('[') {
        let end = s
            .find(']')
            .ok_or_else(|| err("unterminated IPv6 address"))?;
        let (host, rest) = s.split_at(end + 1);
        let port = rest
            .strip_prefix(':')
            .ok_or_else(|| err("missing port after the IPv6 address"))?;
        Ok((host, port))
    } else {
        s.rsplit_once(':')
            .ok_or_else(|| err("missing port: expected HOST:PORT"))
    }
}

/// Parses the `address` query parameter (already percent-decoded) strictly.
///
/// Accepted: `name:port`, `a.b.c.d:port`, `[ipv6]:port`. Refused: userinfo
/// (`user@host`), more than one port, IPv6 without brackets, zone ids,
/// IPv4-mapped IPv6, numeric hosts that are not dotted quads (`0x7f.1`,
/// `2130706433`, `010.0.0.1`), empty labels, trailing dots, whitespace,
/// control characters, port 0 and ports with leading zeros.
///
/// ```
/// use edgepg_proxy::address::{parse_address, Host};
/// let d = parse_address("DB.example:5432").unwrap();
/// assert_eq!(d.host, Host::Name("db.example".into()));
/// assert_eq!(d.to_string(), "db.example:5432");
/// assert!(parse_address("user@db:5432").is_err());
/// assert!(parse_address("db:5432:5433").is_err());
/// assert!(parse_address("::1:5432").is_err());
/// ```
pub fn parse_address(s: &str) -> Result<Destination, AddressError> {
    if s.is_empty() {
        return Err(err("empty address"));
    }
    if s.len() > MAX_ADDRESS_LEN {
        return Err(err("address too long"));
    }
    if let Some(c) = s
        .chars()
        .find(|c| !c.is_ascii_graphic() || matches!(c, '@' | '/' | '\\' | '?' | '#'))
    {
        return Err(err(format!(
            "character {c:?} is not allowed in an address (HOST:PORT only)"
        )));
    }
    let (host, port) = split_host_port(s)?;
    let port = parse_port(port)?;
    let host = parse_host(host)?;
    Ok(Destination { host, port })
}

/// A port pattern in an allow rule: a number or `*`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PortSpec {
    Any,
    Exact(u16),
}

impl PortSpec {
    fn matches(self, port: u16) -> bool {
        match self {
            PortSpec::Any => true,
            PortSpec::Exact(p) => p == port,
        }
    }
}

/// An IP network (address and prefix length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Net {
    addr: IpAddr,
    prefix: u8,
}

impl Net {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// One `--allow` rule.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    Name(String, PortSpec),
    Net(Net, PortSpec),
}

/// The set of allowed destinations.
///
/// ```
/// use edgepg_proxy::address::{parse_address, AllowList};
/// let mut allow = AllowList::new();
/// allow.allow("db.internal:5432").unwrap();
/// let d = parse_address("db.internal:5432").unwrap();
/// assert!(allow.check(&d, &["10.0.0.5".parse().unwrap()]).is_ok());
/// ```
#[derive(Debug, Clone, Default)]
pub struct AllowList {
    rules: Vec<Rule>,
    regexes: Vec<Regex>,
    any: bool,
}

/// The outcome of [`AllowList::check`].
///
/// ```
/// use edgepg_proxy::address::{parse_address, AllowList, Refusal};
/// let mut allow = AllowList::new();
/// allow.allow("db.internal:5432").unwrap();
/// let metadata = "169.254.169.254".parse().unwrap();
/// let d = parse_address("db.internal:5432").unwrap();
/// assert_eq!(allow.check(&d, &[metadata]), Err(Refusal::ForbiddenAddress(metadata)));
/// let other = parse_address("other.internal:5432").unwrap();
/// assert_eq!(allow.check(&other, &[metadata]), Err(Refusal::NotAllowed));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Nothing in the allow-list names this destination.
    NotAllowed,
    /// The destination resolves (also) to this address, which is not allowed.
    ForbiddenAddress(IpAddr),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::NotAllowed => f.write_str("destination not allowed"),
            Refusal::ForbiddenAddress(ip) => {
                write!(f, "destination resolves to a forbidden address ({ip})")
            }
        }
    }
}

/// Maps IPv4-mapped and IPv4-compatible IPv6 addresses to IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                let compat = s.iter().take(6).all(|&x| x == 0) && u128::from(v6) > 1;
                if compat {
                    let [.., a, b, c, d] = v6.octets();
                    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
                } else {
                    ip
                }
            }
        },
        v4 => v4,
    }
}

/// The IPv4 address behind an IPv6 address of a translation or tunnelling
/// prefix: NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`, RFC 6052/8215) and 6to4
/// (`2002::/16`). A NAT64 gateway turns a connection to `64:ff9b::a9fe:a9fe`
/// into one to `169.254.169.254`, so such addresses are judged by their IPv4
/// address as well.
fn translated_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let o = v6.octets();
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..3] == [0x64, 0xff9b, 1] {
        let [.., a, b, c, d] = o;
        return Some(Ipv4Addr::new(a, b, c, d));
    }
    if s[0] == 0x2002 {
        let [_, _, a, b, c, d, ..] = o;
        return Some(Ipv4Addr::new(a, b, c, d));
    }
    None
}

/// Addresses reachable only through an explicit IP rule: cloud metadata,
/// link-local, unspecified, multicast, broadcast and reserved addresses, and
/// NAT64/6to4 addresses in front of any of these or of loopback (a gateway's
/// loopback is not a destination anyone means).
fn is_sensitive(ip: IpAddr) -> bool {
    match canonical(ip) {
        IpAddr::V4(v4) => {
            let [a, ..] = v4.octets();
            v4.is_unspecified()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
                || a == 0
                || a >= 240
                || v4 == Ipv4Addr::new(100, 100, 100, 200)
                // Azure's WireServer (host agent and metadata endpoints).
                || v4 == Ipv4Addr::new(168, 63, 129, 16)
        }
        IpAddr::V6(v6) => {
            let [first, ..] = v6.segments();
            v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xffc0) == 0xfe80
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
                || translated_v4(v6)
                    .is_some_and(|v4| v4.is_loopback() || is_sensitive(IpAddr::V4(v4)))
        }
    }
}

/// Parses a rule's host (name, IP, IP/prefix; IPv6 bracketed).
fn parse_rule_host(host: &str) -> Result<Result<Net, String>, AddressError> {
    let (inner, v6) = match host.strip_prefix('[') {
        Some(rest) => (
            rest.strip_suffix(']')
                .ok_or_else(|| err("unterminated IPv6 address"))?,
            true,
        ),
        None => (host, false),
    };
    let (addr, prefix) = match inner.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (inner, None),
    };
    let ip: Option<IpAddr> = if v6 {
        Some(IpAddr::V6(addr.parse().map_err(|_| {
            err(format!("invalid IPv6 address {addr:?}"))
        })?))
    } else if looks_numeric(addr) {
        Some(IpAddr::V4(addr.parse().map_err(|_| {
            err(format!("invalid IPv4 address {addr:?}"))
        })?))
    } else {
        None
    };
    match (ip, prefix) {
        (Some(ip), prefix) => {
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let prefix = match prefix {
                None => max,
                Some(p) => p
                    .parse::<u8>()
                    .ok()
                    .filter(|&p| p <= max)
                    .ok_or_else(|| err(format!("invalid prefix length {p:?}")))?,
            };
            Ok(Ok(Net {
                addr: canonical(ip),
                prefix,
            }))
        }
        (None, Some(_)) => Err(err(format!(
            "a prefix length needs an IP address: {host:?}"
        ))),
        (None, None) => Ok(Err(parse_name(host)?)),
    }
}

impl AllowList {
    /// An empty allow-list (allows nothing).
    ///
    /// ```
    /// use edgepg_proxy::address::{parse_address, AllowList};
    /// let allow = AllowList::new();
    /// assert!(allow.is_empty());
    /// assert!(!allow.may_allow(&parse_address("db:5432").unwrap()));
    /// ```
    pub fn new() -> Self {
        AllowList::default()
    }

    /// Adds a rule `HOST:PORT`: HOST is a name, an IPv4 address or network
    /// (`10.0.0.0/8`) or a bracketed IPv6 address or network (`[fd00::/8]`);
    /// PORT is a number or `*`.
    ///
    /// ```
    /// use edgepg_proxy::address::{parse_address, AllowList};
    /// let mut allow = AllowList::new();
    /// allow.allow("10.0.0.0/8:5432").unwrap();
    /// allow.allow("db.internal:*").unwrap();
    /// assert!(allow.allow("db:0").is_err());
    /// let d = parse_address("10.1.2.3:5432").unwrap();
    /// assert!(allow.check(&d, &["10.1.2.3".parse().unwrap()]).is_ok());
    /// ```
    pub fn allow(&mut self, rule: &str) -> Result<(), AddressError> {
        let rule = rule.trim();
        let (host, port) = split_host_port(rule)?;
        let port = if port == "*" {
            PortSpec::Any
        } else {
            PortSpec::Exact(parse_port(port)?)
        };
        self.rules.push(match parse_rule_host(host)? {
            Ok(net) => Rule::Net(net, port),
            Err(name) => Rule::Name(name, port),
        });
        Ok(())
    }

    /// Adds a regular expression matched against the whole `host:port`.
    ///
    /// ```
    /// use edgepg_proxy::address::{parse_address, AllowList};
    /// let mut allow = AllowList::new();
    /// allow.allow_regex(r"db-\d+\.internal:5432").unwrap();
    /// assert!(allow.may_allow(&parse_address("db-7.internal:5432").unwrap()));
    /// assert!(!allow.may_allow(&parse_address("db-7.internal:5433").unwrap())); // anchored
    /// assert!(allow.allow_regex("(").is_err());
    /// ```
    pub fn allow_regex(&mut self, re: &str) -> Result<(), AddressError> {
        let anchored = format!("^(?:{re})$");
        let re = regex::RegexBuilder::new(&anchored)
            .size_limit(1 << 20)
            .build()
            .map_err(|e| err(format!("invalid --allow-regex {re:?}: {e}")))?;
        self.regexes.push(re);
        Ok(())
    }

    /// Allows every destination, loopback and private addresses included;
    /// the special ones (cloud metadata, link-local, …) still need an IP rule.
    ///
    /// ```
    /// use edgepg_proxy::address::{parse_address, AllowList};
    /// let mut allow = AllowList::new();
    /// allow.allow_any();
    /// let d = parse_address("db.example.com:5432").unwrap();
    /// assert!(allow.check(&d, &["203.0.113.7".parse().unwrap()]).is_ok());
    /// let local = parse_address("localhost:5432").unwrap();
    /// assert!(allow.check(&local, &["127.0.0.1".parse().unwrap()]).is_ok());
    /// let metadata = parse_address("169.254.169.254:80").unwrap();
    /// assert!(allow.check(&metadata, &["169.254.169.254".parse().unwrap()]).is_err()); // needs --allow
    /// ```
    pub fn allow_any(&mut self) {
        self.any = true;
    }

    /// Whether nothing at all is allowed.
    ///
    /// ```
    /// use edgepg_proxy::address::AllowList;
    /// let mut allow = AllowList::new();
    /// assert!(allow.is_empty());
    /// allow.allow("db:5432").unwrap();
    /// assert!(!allow.is_empty());
    /// ```
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.regexes.is_empty() && !self.any
    }

    fn by_ip(&self, ip: IpAddr, port: u16) -> bool {
        self.rules
            .iter()
            .any(|r| matches!(r, Rule::Net(net, p) if p.matches(port) && net.contains(ip)))
    }

    /// Whether a name rule, a regex or `--allow-any` admits the destination as
    /// requested (before looking at what it resolves to).
    fn by_name(&self, dest: &Destination) -> bool {
        if self.any {
            return true;
        }
        if let Host::Name(name) = &dest.host {
            let named = self
                .rules
                .iter()
                .any(|r| matches!(r, Rule::Name(n, p) if n == name && p.matches(dest.port)));
            if named {
                return true;
            }
        }
        let text = dest.to_string();
        self.regexes.iter().any(|re| re.is_match(&text))
    }

    /// Whether the destination could be allowed before resolving it: false
    /// means it is refused whatever it resolves to (saves a DNS query).
    ///
    /// ```
    /// use edgepg_proxy::address::{parse_address, AllowList};
    /// let mut allow = AllowList::new();
    /// allow.allow("db.internal:5432").unwrap();
    /// assert!(allow.may_allow(&parse_address("db.internal:5432").unwrap()));
    /// assert!(!allow.may_allow(&parse_address("db.internal:22").unwrap()));
    /// ```
    pub fn may_allow(&self, dest: &Destination) -> bool {
        match &dest.host {
            Host::Ip(ip) => self.by_ip(*ip, dest.port) || self.by_name(dest),
            Host::Name(_) => {
                self.by_name(dest)
                    || self
                        .rules
                        .iter()
                        .any(|r| matches!(r, Rule::Net(_, p) if p.matches(dest.port)))
            }
        }
    }

    /// Checks a destination and **every** address it resolved to: each must
    /// be matched by an IP rule, or the destination must be admitted by a
    /// name rule, a regex or `--allow-any` and the address must not be
    /// special (loopback and private addresses are not).
    ///
    /// ```
    /// use edgepg_proxy::address::{parse_address, AllowList, Refusal};
    /// let mut allow = AllowList::new();
    /// allow.allow("db.internal:5432").unwrap();
    /// let d = parse_address("db.internal:5432").unwrap();
    /// let (good, bad) = ("10.0.0.5".parse().unwrap(), "169.254.169.254".parse().unwrap());
    /// assert_eq!(allow.check(&d, &[good]), Ok(()));
    /// assert_eq!(allow.check(&d, &[good, bad]), Err(Refusal::ForbiddenAddress(bad)));
    /// ```
    pub fn check(&self, dest: &Destination, resolved: &[IpAddr]) -> Result<(), Refusal> {
        if resolved.is_empty() {
            return Err(Refusal::NotAllowed);
        }
        let named = self.by_name(dest);
        let any_explicit = resolved.iter().any(|&ip| self.by_ip(ip, dest.port));
        for &ip in resolved {
            let ok = self.by_ip(ip, dest.port) || (named && !is_sensitive(ip));
            if !ok {
                return Err(if !named && !any_explicit {
                    Refusal::NotAllowed
                } else {
                    Refusal::ForbiddenAddress(canonical(ip))
                });
            }
        }
        Ok(())
    }
}

/// Canonical socket addresses to connect to (IPv4-mapped folded to IPv4).
///
/// ```
/// use edgepg_proxy::address::socket_addrs;
/// let ips = ["::ffff:10.0.0.5".parse().unwrap(), "fd00::1".parse().unwrap()];
/// let addrs = socket_addrs(&ips, 5432);
/// assert_eq!(addrs, ["10.0.0.5:5432".parse().unwrap(), "[fd00::1]:5432".parse().unwrap()]);
/// ```
pub fn socket_addrs(ips: &[IpAddr], port: u16) -> Vec<SocketAddr> {
    ips.iter()
        .map(|&ip| SocketAddr::new(canonical(ip), port))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn accepts_plain_forms() {
        let d = parse_address("127.0.0.1:5432").unwrap();
        assert_eq!(d.host, Host::Ip(ip("127.0.0.1")));
        assert_eq!(d.port, 5432);
        let d = parse_address("[::1]:6543").unwrap();
        assert_eq!(d.host, Host::Ip(ip("::1")));
        assert_eq!(d.to_string(), "[::1]:6543");
        let d = parse_address("My-DB_1.example.COM:65535").unwrap();
        assert_eq!(d.to_string(), "my-db_1.example.com:65535");
        assert!(parse_address("localhost:1").is_ok());
    }

    #[test]
    fn refuses_tricks() {
        for bad in [
            "",
            "db",
            "db:",
            ":5432",
            "user@db:5432",
            "user:pw@db:5432",
            "db:5432@evil:5432",
            "db:5432:5433",
            "db:05432",
            "db:0",
            "db:65536",
            "db:+5432",
            "db:-1",
            "db:5432 ",
            " db:5432",
            "d b:5432",
            "db\n:5432",
            "db/x:5432",
            "db?x:5432",
            "db#x:5432",
            "db.:5432",
            "db..x:5432",
            ".db:5432",
            "-db:5432",
            "db-:5432",
            "::1:5432",
            "[::1]",
            "[::1]5432",
            "[::1]:5432:1",
            "[::1:5432",
            "[fe80::1%eth0]:5432",
            "[fe80::1%25eth0]:5432",
            "[::ffff:127.0.0.1]:5432",
            "[::ffff:7f00:1]:5432",
            "[::127.0.0.1]:5432",
            "[1.2.3.4]:5432",
            "[db]:5432",
            "0x7f.0.0.1:5432",
            "0x7f000001:5432",
            "2130706433:5432",
            "127.1:5432",
            "010.0.0.1:5432",
            "127.0.0.1.:5432",
            "256.0.0.1:5432",
            "1.2.3.4.5:5432",
            "x.123:5432",
            "db%2f:5432",
            "d\u{e9}b:5432",
        ] {
            assert!(parse_address(bad).is_err(), "{bad:?} was accepted");
        }
        let long = format!("{}:5432", "a".repeat(300));
        assert!(parse_address(&long).is_err());
        let label = format!("{}.x:5432", "a".repeat(64));
        assert!(parse_address(&label).is_err());
    }

    #[test]
    fn rules_parse() {
        let mut a = AllowList::new();
        for ok in [
            "db:5432",
            "db:*",
            "10.0.0.0/8:5432",
            "[fd00::/8]:*",
            "[::1]:5432",
            "1.2.3.4:1",
        ] {
            a.allow(ok).unwrap();
        }
        for bad in [
            "db",
            "db:x",
            "10.0.0.0/33:1",
            "db/8:1",
            "[::1/129]:1",
            "a@b:1",
        ] {
            assert!(a.allow(bad).is_err(), "{bad:?}");
        }
        assert!(a.allow_regex("(").is_err());
    }

    #[test]
    fn ip_rules_allow_by_address() {
        let mut a = AllowList::new();
        a.allow("127.0.0.1:5432").unwrap();
        let d = parse_address("127.0.0.1:5432").unwrap();
        assert!(a.check(&d, &[ip("127.0.0.1")]).is_ok());
        // A name that resolves only to an allowed address is allowed.
        let d = parse_address("localhost:5432").unwrap();
        assert!(a.may_allow(&d));
        assert!(a.check(&d, &[ip("127.0.0.1")]).is_ok());
        // … but not if it also resolves elsewhere.
        assert_eq!(
            a.check(&d, &[ip("127.0.0.1"), ip("::1")]),
            Err(Refusal::ForbiddenAddress(ip("::1")))
        );
        // Wrong port.
        let d = parse_address("127.0.0.1:5433").unwrap();
        assert!(!a.may_allow(&d));
        assert_eq!(a.check(&d, &[ip("127.0.0.1")]), Err(Refusal::NotAllowed));
        // Mapped forms are folded.
        let d = parse_address("127.0.0.1:5432").unwrap();
        assert!(a.check(&d, &[ip("::ffff:127.0.0.1")]).is_ok());
    }

    #[test]
    fn hostname_resolving_to_forbidden_address_is_refused() {
        let mut a = AllowList::new();
        a.allow("127.0.0.2:5432").unwrap();
        a.allow_regex(r"[a-z.]+:\d+").unwrap();
        let d = parse_address("localhost:5432").unwrap();
        assert_eq!(
            a.check(&d, &[ip("169.254.169.254")]),
            Err(Refusal::ForbiddenAddress(ip("169.254.169.254")))
        );
        // Every address counts: one special address among good ones refuses.
        assert_eq!(
            a.check(&d, &[ip("127.0.0.1"), ip("fe80::1")]),
            Err(Refusal::ForbiddenAddress(ip("fe80::1")))
        );
        assert!(a.check(&d, &[ip("10.1.1.1"), ip("192.168.1.1")]).is_ok());
        assert!(a.check(&d, &[ip("127.0.0.2")]).is_ok());
    }

    #[test]
    fn a_matching_regex_reaches_loopback() {
        // The regex names the address.
        let mut a = AllowList::new();
        a.allow_regex(r"127\.0\.0\.1:5432").unwrap();
        let d = parse_address("127.0.0.1:5432").unwrap();
        assert!(a.may_allow(&d));
        assert_eq!(a.check(&d, &[ip("127.0.0.1")]), Ok(()));
        // … and nothing else: not another port, not a name for it.
        let other = parse_address("127.0.0.1:5433").unwrap();
        assert_eq!(
            a.check(&other, &[ip("127.0.0.1")]),
            Err(Refusal::NotAllowed)
        );
        let name = parse_address("localhost:5432").unwrap();
        assert!(!a.may_allow(&name));
        assert_eq!(a.check(&name, &[ip("127.0.0.1")]), Err(Refusal::NotAllowed));
        // A regex over names: what it admits may resolve to loopback.
        let mut a = AllowList::new();
        a.allow_regex(".*").unwrap();
        assert_eq!(a.check(&name, &[ip("127.0.0.1"), ip("::1")]), Ok(()));
        let d = parse_address("[::1]:5432").unwrap();
        assert_eq!(a.check(&d, &[ip("::1")]), Ok(()));
        // A regex naming a metadata address does not open it.
        let mut a = AllowList::new();
        a.allow_regex(r"169\.254\.169\.254:80").unwrap();
        let d = parse_address("169.254.169.254:80").unwrap();
        assert_eq!(
            a.check(&d, &[ip("169.254.169.254")]),
            Err(Refusal::ForbiddenAddress(ip("169.254.169.254")))
        );
    }

    #[test]
    fn allow_any_reaches_loopback_and_private_addresses() {
        let mut a = AllowList::new();
        a.allow_any();
        for (addr, resolved) in [
            ("127.0.0.1:5432", "127.0.0.1"),
            ("127.0.0.2:5432", "127.0.0.2"),
            ("[::1]:5432", "::1"),
            ("localhost:5432", "127.0.0.1"),
            ("localhost:5432", "::1"),
            ("10.1.2.3:5432", "10.1.2.3"),
            ("172.16.0.9:5432", "172.16.0.9"),
            ("192.168.1.1:5432", "192.168.1.1"),
            ("[fd12::1]:5432", "fd12::1"),
            ("db.internal:5432", "10.0.0.5"),
        ] {
            let d = parse_address(addr).unwrap();
            assert!(a.may_allow(&d), "{addr}");
            assert_eq!(a.check(&d, &[ip(resolved)]), Ok(()), "{addr} → {resolved}");
        }
    }

    #[test]
    fn allow_any_keeps_special_addresses_out() {
        let mut a = AllowList::new();
        a.allow_any();
        for (addr, resolved) in [
            ("169.254.169.254:80", "169.254.169.254"),
            ("metadata.google.internal:80", "169.254.169.254"),
            ("[fe80::1]:5432", "fe80::1"),
            ("[fd00:ec2::254]:80", "fd00:ec2::254"),
            ("0.0.0.0:5432", "0.0.0.0"),
            ("[::]:5432", "::"),
            ("224.0.0.1:5432", "224.0.0.1"),
            ("255.255.255.255:5432", "255.255.255.255"),
            ("100.100.100.200:80", "100.100.100.200"),
            ("x.example:5432", "::ffff:169.254.169.254"),
            // Through a NAT64 gateway or 6to4: the IPv4 address behind counts,
            // and the gateway's loopback is not a destination.
            ("[64:ff9b::a9fe:a9fe]:80", "64:ff9b::a9fe:a9fe"),
            ("[64:ff9b:1::a9fe:a9fe]:80", "64:ff9b:1::a9fe:a9fe"),
            ("[64:ff9b::7f00:1]:5432", "64:ff9b::7f00:1"),
            ("x.example:80", "64:ff9b::a9fe:a9fe"),
            ("x.example:5432", "64:ff9b::7f00:1"),
            ("[2002:a9fe:a9fe::1]:80", "2002:a9fe:a9fe::1"),
            ("x.example:5432", "2002:7f00:1::1"),
            ("168.63.129.16:80", "168.63.129.16"),
        ] {
            let d = parse_address(addr).unwrap();
            assert!(a.check(&d, &[ip(resolved)]).is_err(), "{addr} → {resolved}");
        }
        let d = parse_address("db.example:5432").unwrap();
        assert!(a.check(&d, &[ip("203.0.113.7"), ip("10.0.0.5")]).is_ok());
        // NAT64 and 6to4 of ordinary addresses stay reachable.
        assert!(a
            .check(&d, &[ip("64:ff9b::cb00:7107"), ip("2002:cb00:7107::1")])
            .is_ok());
        // Explicit IP rules open sensitive addresses.
        a.allow("169.254.169.254:80").unwrap();
        let d = parse_address("169.254.169.254:80").unwrap();
        assert!(a.check(&d, &[ip("169.254.169.254")]).is_ok());
    }

    #[test]
    fn name_rules_trust_loopback_but_not_metadata() {
        let mut a = AllowList::new();
        a.allow("localhost:5432").unwrap();
        let d = parse_address("localhost:5432").unwrap();
        assert!(a.check(&d, &[ip("127.0.0.1"), ip("::1")]).is_ok());
        assert!(a.check(&d, &[ip("169.254.169.254")]).is_err());
        let other = parse_address("localhost:5433").unwrap();
        assert!(!a.may_allow(&other));
        assert!(a.check(&other, &[ip("127.0.0.1")]).is_err());
        assert!(a.check(&d, &[]).is_err());
    }

    #[test]
    fn regexes_are_anchored() {
        let mut a = AllowList::new();
        a.allow_regex(r"db\d\.example:5432").unwrap();
        let ok = parse_address("db1.example:5432").unwrap();
        assert!(a.check(&ok, &[ip("10.0.0.1")]).is_ok());
        let bad = parse_address("db1.example.evil:5432").unwrap();
        assert!(a.check(&bad, &[ip("10.0.0.1")]).is_err());
        let bad = parse_address("xdb1.example:5432").unwrap();
        assert!(!a.may_allow(&bad));
    }

    #[test]
    fn random_input_never_panics() {
        let alphabet: Vec<char> = "0123456789abcdefx.:[]%@/-_ \u{0}\u{e9}ffff:::"
            .chars()
            .collect();
        let mut x: u64 = 0x1234_5678_9abc_def1;
        let mut next = move || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let mut allow = AllowList::new();
        allow.allow_any();
        allow.allow("10.0.0.0/8:*").unwrap();
        for _ in 0..20_000 {
            let len = (next() % 24) as usize;
            let s: String = (0..len)
                .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                .collect();
            if let Ok(d) = parse_address(&s) {
                let _ = allow.may_allow(&d);
                let _ = allow.check(&d, &[ip("10.0.0.1"), ip("::1")]);
                assert!(parse_address(&d.to_string()).is_ok(), "{s:?} → {d}");
            }
            let _ = AllowList::new().allow(&s);
        }
    }

    #[test]
    fn networks_match() {
        let mut a = AllowList::new();
        a.allow("10.0.0.0/8:*").unwrap();
        a.allow("[fd00::/8]:5432").unwrap();
        let d = parse_address("db:5432").unwrap();
        assert!(a.check(&d, &[ip("10.200.1.1"), ip("fd12::1")]).is_ok());
        assert!(a.check(&d, &[ip("11.0.0.1")]).is_err());
        let d = parse_address("db:1").unwrap();
        assert!(a.check(&d, &[ip("fd12::1")]).is_err());
        a.allow("0.0.0.0/0:7").unwrap();
        let d = parse_address("db:7").unwrap();
        assert!(a.check(&d, &[ip("1.1.1.1")]).is_ok());
    }
}
