//! The proxy: request heads, destinations and the allow-list (with a
//! fuzzer-chosen DNS answer), and the tunnel's frame handling.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use arbitrary::{Arbitrary, Unstructured};
use edgepg_proxy::address::{parse_address, AllowList, Destination, Host};
use edgepg_proxy::fuzzing::{self, Handshake};
use tokio_tungstenite::tungstenite::error::{CapacityError, Error as WsError};
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocket, WebSocketConfig};
use tokio_tungstenite::tungstenite::Message;

/// The allow-lists the handshake target runs against (built once: compiling
/// the regular expression costs more than a run).
fn allow_list(preset: u8) -> (&'static AllowList, Preset) {
    static LISTS: std::sync::OnceLock<Vec<(AllowList, Preset)>> = std::sync::OnceLock::new();
    let lists = LISTS.get_or_init(|| (0..4).map(build_allow_list).collect());
    let (list, preset) = &lists[preset as usize % 4];
    (list, *preset)
}

fn build_allow_list(preset: u8) -> (AllowList, Preset) {
    let mut a = AllowList::new();
    let preset = match preset % 4 {
        0 => {
            a.allow_any();
            Preset::Any
        }
        1 => {
            a.allow("db.internal:5432").unwrap();
            a.allow_regex(r"[a-z0-9.-]+\.example:[0-9]+").unwrap();
            Preset::NameAndRegex
        }
        2 => {
            a.allow("10.0.0.0/8:5432").unwrap();
            a.allow("[fd00::/8]:*").unwrap();
            a.allow("localhost:5432").unwrap();
            Preset::Nets
        }
        _ => {
            a.allow_any();
            a.allow("127.0.0.1:5432").unwrap();
            a.allow("169.254.169.254:80").unwrap();
            Preset::AnyPlusExplicit
        }
    };
    (a, preset)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Preset {
    Any,
    NameAndRegex,
    Nets,
    AnyPlusExplicit,
}

/// The IPv4 address an IPv6 address stands for or routes to, if any:
/// IPv4-mapped, IPv4-compatible, NAT64 (64:ff9b::/96, 64:ff9b:1::/48), 6to4.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    let last = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    if s[..6].iter().all(|&x| x == 0) && u128::from(ip) > 1 {
        return Some(last);
    }
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..3] == [0x64, 0xff9b, 1] {
        return Some(last);
    }
    if s[0] == 0x2002 {
        return Some(Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    None
}

/// Independent statement of the addresses only an explicit IP rule may reach.
fn forbidden_v4(v4: Ipv4Addr) -> bool {
    let [a, b, ..] = v4.octets();
    a == 0
        || a >= 224
        || (a == 169 && b == 254)
        || v4 == Ipv4Addr::new(100, 100, 100, 200)
        || v4 == Ipv4Addr::new(168, 63, 129, 16)
}

fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_unspecified()
                || s[0] & 0xff00 == 0xff00
                || s[0] & 0xffc0 == 0xfe80
                || v6 == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)
                || embedded_v4(v6).is_some_and(forbidden_v4)
        }
    }
}

/// A NAT64 or 6to4 address in front of loopback (the gateway's own, not the
/// proxy's): special, like metadata. Plain loopback (IPv4-mapped and
/// -compatible forms included) is not: `--allow-any`, a matching regex and
/// a name rule reach it.
fn translated_loopback(ip: IpAddr) -> bool {
    let IpAddr::V6(v6) = ip else {
        return false;
    };
    let s = v6.segments();
    let translated =
        s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || s[..3] == [0x64, 0xff9b, 1] || s[0] == 0x2002;
    translated && embedded_v4(v6).is_some_and(|v4| v4.is_loopback())
}

/// Whether an explicit IP rule of the preset allows `ip:port` (IPv4-mapped
/// and -compatible forms count as their IPv4 address, as in the proxy).
fn explicit(preset: Preset, ip: IpAddr, port: u16) -> bool {
    let v4 = match ip {
        IpAddr::V4(v4) => Some(v4),
        IpAddr::V6(v6) => v6.to_ipv4_mapped().or_else(|| {
            let s = v6.segments();
            (s[..6].iter().all(|&x| x == 0) && u128::from(v6) > 1)
                .then(|| embedded_v4(v6))
                .flatten()
        }),
    };
    match preset {
        Preset::Any | Preset::NameAndRegex => false,
        Preset::Nets => {
            v4.is_some_and(|v| v.octets()[0] == 10 && port == 5432)
                || matches!(ip, IpAddr::V6(v6) if v4.is_none() && v6.segments()[0] & 0xff00 == 0xfd00)
        }
        Preset::AnyPlusExplicit => {
            (v4 == Some(Ipv4Addr::LOCALHOST) && port == 5432)
                || (v4 == Some(Ipv4Addr::new(169, 254, 169, 254)) && port == 80)
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Request {
    method: u8,
    path: u8,
    address: String,
    encode_address: bool,
    second_address: Option<String>,
    upgrade: bool,
    connection: bool,
    version: u8,
    key: u8,
    origin: Option<String>,
    extra: Vec<(String, String)>,
}

impl Request {
    fn render(&self) -> Vec<u8> {
        let method = ["GET", "POST", "get", "CONNECT"][self.method as usize % 4];
        let path = ["/v1", "/v2", "/healthz", "/", "/v3", "/v1/"][self.path as usize % 6];
        let enc = |s: &str| -> String {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b".-_~:[]".contains(&b) {
                        (b as char).to_string()
                    } else {
                        format!("%{b:02X}")
                    }
                })
                .collect()
        };
        let mut target = format!("{path}?address=");
        target.push_str(&if self.encode_address {
            enc(&self.address)
        } else {
            self.address.clone()
        });
        if let Some(second) = &self.second_address {
            target.push_str("&address=");
            target.push_str(&enc(second));
        }
        let mut head = format!("{method} {target} HTTP/1.1\r\nHost: proxy\r\n");
        if self.upgrade {
            head.push_str("Upgrade: websocket\r\n");
        }
        if self.connection {
            head.push_str("Connection: keep-alive, Upgrade\r\n");
        }
        match self.version % 3 {
            0 => head.push_str("Sec-WebSocket-Version: 13\r\n"),
            1 => head.push_str("Sec-WebSocket-Version: 8\r\n"),
            _ => {}
        }
        match self.key % 3 {
            0 => head.push_str("Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"),
            1 => head.push_str("Sec-WebSocket-Key: short\r\n"),
            _ => {}
        }
        if let Some(o) = &self.origin {
            head.push_str(&format!("Origin: {o}\r\n"));
        }
        for (k, v) in &self.extra {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        head.into_bytes()
    }
}

#[derive(Arbitrary, Debug)]
struct HandshakeInput {
    preset: u8,
    origins: bool,
    structured: Option<Request>,
    /// The DNS answer for a name.
    resolved: Vec<IpSeed>,
    raw: Vec<u8>,
}

/// An address, biased towards the interesting ones.
#[derive(Arbitrary, Debug)]
enum IpSeed {
    V4([u8; 4]),
    V6([u16; 8]),
    Mapped([u8; 4]),
    Nat64([u8; 4]),
    SixToFour([u8; 4]),
    Metadata,
    MetadataV6,
    Loopback,
    LoopbackV6,
}

impl IpSeed {
    fn ip(&self) -> IpAddr {
        let six = |hi: [u16; 2], v4: [u8; 4]| {
            let [a, b, c, d] = v4;
            IpAddr::V6(Ipv6Addr::new(
                hi[0],
                hi[1],
                0,
                0,
                0,
                0,
                u16::from_be_bytes([a, b]),
                u16::from_be_bytes([c, d]),
            ))
        };
        match self {
            IpSeed::V4(o) => IpAddr::V4(Ipv4Addr::from(*o)),
            IpSeed::V6(s) => IpAddr::V6(Ipv6Addr::new(
                s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
            )),
            IpSeed::Mapped(o) => IpAddr::V6(Ipv4Addr::from(*o).to_ipv6_mapped()),
            IpSeed::Nat64(o) => six([0x64, 0xff9b], *o),
            IpSeed::SixToFour([a, b, c, d]) => IpAddr::V6(Ipv6Addr::new(
                0x2002,
                u16::from_be_bytes([*a, *b]),
                u16::from_be_bytes([*c, *d]),
                0,
                0,
                0,
                0,
                1,
            )),
            IpSeed::Metadata => IpAddr::V4(Ipv4Addr::new(169, 254, 169, 254)),
            IpSeed::MetadataV6 => IpAddr::V6(Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)),
            IpSeed::Loopback => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpSeed::LoopbackV6 => IpAddr::V6(Ipv6Addr::LOCALHOST),
        }
    }
}

/// DNS answers tried for a name in a raw request.
const ANSWERS: [&[IpSeed]; 8] = [
    &[IpSeed::V4([10, 1, 2, 3])],
    &[IpSeed::Metadata],
    &[IpSeed::V4([10, 1, 2, 3]), IpSeed::Metadata],
    &[IpSeed::Loopback],
    &[IpSeed::LoopbackV6],
    &[IpSeed::MetadataV6],
    &[IpSeed::Nat64([169, 254, 169, 254])],
    &[IpSeed::SixToFour([127, 0, 0, 1])],
];

/// Runs the handshake target. Input starting with an uppercase letter is a
/// raw request head (checked against every allow-list and DNS answer), so
/// seeds and regressions are readable; anything else is a structured request.
pub fn proxy_handshake(data: &[u8]) {
    // The address parser and the rule parser alone, on the raw text. (Regular
    // expressions come from the operator, not from clients: not fuzzed here.)
    if let Ok(text) = std::str::from_utf8(data) {
        address_round_trip(text);
        let _ = AllowList::new().allow(text);
    }
    if data.first().is_some_and(u8::is_ascii_uppercase) {
        let answers: Vec<Vec<IpAddr>> = ANSWERS
            .iter()
            .map(|a| a.iter().map(IpSeed::ip).collect())
            .collect();
        for preset in 0..4 {
            handshake(data, preset, false, &answers);
            handshake(data, preset, true, &answers);
        }
        return;
    }
    let mut u = Unstructured::new(data);
    let Ok(input) = HandshakeInput::arbitrary(&mut u) else {
        return;
    };
    let request = match &input.structured {
        Some(r) => r.render(),
        None => input.raw.clone(),
    };
    let ips: Vec<IpAddr> = input.resolved.iter().map(IpSeed::ip).collect();
    handshake(&request, input.preset, input.origins, &[ips]);
}

/// One request against one allow-list, a name resolving to each of `answers`.
fn handshake(request: &[u8], preset: u8, origins: bool, answers: &[Vec<IpAddr>]) {
    let (allow, preset) = allow_list(preset);
    let origins: Vec<String> = if origins {
        vec!["https://app.example".into()]
    } else {
        Vec::new()
    };
    match fuzzing::handshake(request, allow, &origins) {
        Handshake::Upgrade(dest) => {
            assert!(request.starts_with(b"GET "), "upgraded a non-GET request");
            address_round_trip(&dest.to_string());
            for resolved in answers {
                check_resolution(allow, preset, &dest, resolved);
            }
        }
        Handshake::Refused { status, reason } => {
            assert!(
                matches!(status, 400 | 403 | 405 | 426),
                "status {status} ({reason})"
            );
        }
        Handshake::Incomplete
        | Handshake::TooLarge
        | Handshake::Malformed
        | Handshake::Health
        | Handshake::NotFound => {}
    }
}

/// The allow-list's per-address check (what the server does after resolving):
/// nothing forbidden gets through unless an IP rule names it.
fn check_resolution(allow: &AllowList, preset: Preset, dest: &Destination, resolved: &[IpAddr]) {
    let ips: Vec<IpAddr> = match dest.host {
        Host::Ip(ip) => vec![ip],
        Host::Name(_) => resolved.to_vec(),
    };
    if allow.check(dest, &ips).is_err() {
        return;
    }
    assert!(!ips.is_empty());
    for &ip in &ips {
        let by_rule = explicit(preset, ip, dest.port);
        assert!(
            by_rule || !forbidden(ip),
            "{dest} → {ip}: a forbidden address was allowed ({preset:?})"
        );
        assert!(
            by_rule || !translated_loopback(ip),
            "{dest} → {ip}: loopback behind NAT64/6to4 allowed ({preset:?})"
        );
    }
}

/// A parsed address prints as text that parses back to the same destination.
fn address_round_trip(text: &str) {
    if let Ok(d) = parse_address(text) {
        let shown = d.to_string();
        assert!(shown.len() <= text.len() + 2, "{text:?} → {shown:?}");
        assert_eq!(
            parse_address(&shown).as_ref(),
            Ok(&d),
            "{text:?} → {shown:?}"
        );
        assert_ne!(d.port, 0);
        assert!(!shown.contains(['@', '/', '?', '#', '%', ' ', '\\']));
    }
}

/// A client frame as the fuzzer describes it.
#[derive(Arbitrary, Debug)]
struct Frame {
    fin: bool,
    rsv: u8,
    opcode: u8,
    masked: bool,
    mask: [u8; 4],
    payload: Vec<u8>,
    /// Claim a different length than the payload has.
    lie: Option<u16>,
}

impl Frame {
    fn render(&self, out: &mut Vec<u8>) {
        let opcode = match self.opcode % 8 {
            0 => 0x0,
            1 => 0x1,
            2..=4 => 0x2,
            5 => 0x8,
            6 => 0x9,
            _ => 0xa,
        };
        out.push(u8::from(self.fin) << 7 | (self.rsv & 0x7) << 4 | opcode);
        let len = self.lie.map_or(self.payload.len(), usize::from);
        let mask_bit = u8::from(self.masked) << 7;
        if len < 126 {
            out.push(mask_bit | len as u8);
        } else if len <= 0xffff {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        } else {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(len as u64).to_be_bytes());
        }
        if self.masked {
            out.extend_from_slice(&self.mask);
            out.extend(
                self.payload
                    .iter()
                    .enumerate()
                    .map(|(i, b)| b ^ self.mask[i % 4]),
            );
        } else {
            out.extend_from_slice(&self.payload);
        }
    }
}

#[derive(Arbitrary, Debug)]
struct FramesInput {
    max_frame: u8,
    frames: Vec<Frame>,
    tail: Vec<u8>,
}

/// Reads from a byte slice, swallows writes.
struct Pipe<'a> {
    input: &'a [u8],
    written: usize,
}

impl Read for Pipe<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.input.read(buf)
    }
}

impl Write for Pipe<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a reference decoder makes of the client's bytes: the binary payloads
/// up to where the tunnel must stop, and why it stops.
fn reference(bytes: &[u8], max_frame: usize) -> (Vec<u8>, &'static str) {
    let config = WebSocketConfig::default()
        .max_frame_size(Some(max_frame))
        .max_message_size(Some(max_frame));
    let pipe = Pipe {
        input: bytes,
        written: 0,
    };
    let mut ws = WebSocket::from_raw_socket(pipe, Role::Server, Some(config));
    let mut forwarded = Vec::new();
    loop {
        match ws.read() {
            Ok(Message::Binary(b)) => forwarded.extend_from_slice(&b),
            Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_)) => {}
            Ok(Message::Text(_)) => return (forwarded, "text_frame"),
            Ok(Message::Close(_)) => return (forwarded, "client_closed"),
            Err(WsError::Capacity(CapacityError::MessageTooLong { .. })) => {
                return (forwarded, "frame_too_large")
            }
            Err(WsError::ConnectionClosed | WsError::AlreadyClosed) => {
                return (forwarded, "client_closed")
            }
            Err(_) => return (forwarded, "client_error"),
        }
    }
}

/// Runs the frames target. When the first byte has its top bit set, the
/// rest is the raw client stream (readable regressions); otherwise the input
/// describes frames.
pub fn proxy_frames(data: &[u8]) {
    let (max_frame, bytes) = match data.split_first() {
        Some((&first, rest)) if first & 0x80 != 0 => (first, rest.to_vec()),
        _ => {
            let mut u = Unstructured::new(data);
            let Ok(input) = FramesInput::arbitrary(&mut u) else {
                return;
            };
            let mut b = Vec::new();
            for f in &input.frames {
                f.render(&mut b);
            }
            b.extend_from_slice(&input.tail);
            (input.max_frame, b)
        }
    };
    let max_frame = [1024, 4096, 65536][max_frame as usize % 3];
    let out = fuzzing::frames(&bytes, max_frame).expect("a runtime");
    let (expected, end) = reference(&bytes, max_frame);
    assert_eq!(
        out.forwarded.len(),
        expected.len(),
        "forwarded {} bytes, the frames carried {} (end {} vs {end})",
        out.forwarded.len(),
        expected.len(),
        out.end
    );
    assert!(out.forwarded == expected, "forwarded bytes differ");
    assert_eq!(out.end, end, "the tunnel ended differently");
}
