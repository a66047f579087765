//! Small helpers shared by the harness modules.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{SystemTime, UNIX_EPOCH};

/// True when the process runs with effective uid 0.
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// `n` random bytes as lowercase hex (from /dev/urandom, with a time/pid fallback).
pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    let ok = fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    if !ok {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let mut x = nanos ^ (u128::from(std::process::id()) << 64) ^ 0x9e37_79b9_7f4a_7c15;
        for b in &mut bytes {
            // xorshift
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *b = x as u8;
        }
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Removes every `PG*` variable (libpq settings) from a command's environment.
pub(crate) fn clear_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(&key);
        }
    }
}

/// Renders a command's stdout and stderr for an error message.
pub(crate) fn describe_output(out: &Output) -> String {
    let mut s = format!("exit status: {}", out.status);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !stdout.trim().is_empty() {
        s.push_str("\nstdout:\n");
        s.push_str(stdout.trim_end());
    }
    if !stderr.trim().is_empty() {
        s.push_str("\nstderr:\n");
        s.push_str(stderr.trim_end());
    }
    s
}

/// The last `lines` lines of a text file (empty if it cannot be read).
pub(crate) fn tail(path: &Path, lines: usize) -> String {
    let text = fs::read(path)
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn pct_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes (invalid escapes are kept verbatim).
pub(crate) fn pct_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            let hex = |b: u8| (b as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The parts of a `postgres://` / `postgresql://` URL the harness needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UrlParts {
    pub(crate) user: String,
    pub(crate) password: Option<String>,
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) db: String,
}

/// Parses a PostgreSQL URL leniently; missing parts get libpq's defaults
/// (user `postgres`, host `localhost`, port 5432, database = user).
pub(crate) fn parse_url(url: &str) -> Result<UrlParts, String> {
    let rest = url
        .strip_prefix("postgresql://")
        .or_else(|| url.strip_prefix("postgres://"))
        .ok_or_else(|| format!("not a postgres:// or postgresql:// URL: {url:?}"))?;
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let (userinfo, hostport) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    let (user, password) = match userinfo {
        Some(ui) => match ui.find(':') {
            Some(i) => (pct_decode(&ui[..i]), Some(pct_decode(&ui[i + 1..]))),
            None => (pct_decode(ui), None),
        },
        None => (String::new(), None),
    };
    let user = if user.is_empty() {
        "postgres".to_string()
    } else {
        user
    };
    // Only the first host of a multi-host URL is used.
    let hostport = hostport.split(',').next().unwrap_or("");
    let (host, port) = if let Some(stripped) = hostport.strip_prefix('[') {
        let end = stripped
            .find(']')
            .ok_or_else(|| format!("unterminated IPv6 address in {url:?}"))?;
        let host = &stripped[..end];
        let port = stripped[end + 1..].strip_prefix(':').unwrap_or("");
        (host.to_string(), port)
    } else {
        match hostport.rfind(':') {
            Some(i) => (hostport[..i].to_string(), &hostport[i + 1..]),
            None => (hostport.to_string(), ""),
        }
    };
    let host = if host.is_empty() {
        "localhost".to_string()
    } else {
        pct_decode(&host)
    };
    let port = if port.is_empty() {
        5432
    } else {
        port.parse()
            .map_err(|_| format!("invalid port {port:?} in {url:?}"))?
    };
    let db = if path.is_empty() {
        user.clone()
    } else {
        pct_decode(path)
    };
    Ok(UrlParts {
        user,
        password,
        host,
        port,
        db,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let p =
            parse_url("postgresql://u%40x:p%2Fw@db.example:6543/my%20db?sslmode=require").unwrap();
        assert_eq!(p.user, "u@x");
        assert_eq!(p.password.as_deref(), Some("p/w"));
        assert_eq!(p.host, "db.example");
        assert_eq!(p.port, 6543);
        assert_eq!(p.db, "my db");

        let p = parse_url("postgres://[::1]:5000").unwrap();
        assert_eq!((p.host.as_str(), p.port), ("::1", 5000));
        assert_eq!((p.user.as_str(), p.db.as_str()), ("postgres", "postgres"));

        let p = parse_url("postgres://alice@h/").unwrap();
        assert_eq!(
            (p.host.as_str(), p.port, p.db.as_str()),
            ("h", 5432, "alice")
        );
        assert!(p.password.is_none());

        assert!(parse_url("mysql://x").is_err());
        assert!(parse_url("postgres://h:notaport/db").is_err());
    }

    #[test]
    fn percent_round_trip() {
        let s = "a b:c@d/é%";
        assert_eq!(pct_decode(&pct_encode(s)), s);
        assert_eq!(pct_decode("100%"), "100%");
        assert_eq!(pct_decode("%zz"), "%zz");
    }

    #[test]
    fn random_hex_is_random() {
        let a = random_hex(12);
        assert_eq!(a.len(), 24);
        assert_ne!(a, random_hex(12));
    }
}
