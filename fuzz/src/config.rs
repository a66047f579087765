//! `Config::parse` (URLs and DSNs) and `Config::from_vars`.

use arbitrary::{Arbitrary, Unstructured};
use edgepg_core::{Config, ErrorKind};

/// A URL or DSN built from parts, with a known password.
#[derive(Arbitrary, Debug)]
struct Parts {
    long_scheme: bool,
    dsn: bool,
    user: Option<String>,
    with_password: bool,
    password_seed: u32,
    hosts: Vec<String>,
    db: Option<String>,
    encode_db: bool,
    params: Vec<(String, String)>,
}

/// Percent-encodes everything but unreserved characters.
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Quotes a DSN value.
fn dsn_quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl Parts {
    fn password(&self) -> String {
        format!("Pw{:08x}Zq", self.password_seed)
    }

    fn render(&self) -> String {
        let password = self.password();
        if self.dsn {
            let mut out = Vec::new();
            if let Some(u) = &self.user {
                out.push(format!("user={}", dsn_quote(u)));
            }
            if self.with_password {
                out.push(format!("password={password}"));
            }
            if !self.hosts.is_empty() {
                out.push(format!("host={}", self.hosts.join(",")));
            }
            if let Some(db) = &self.db {
                out.push(format!("dbname={}", dsn_quote(db)));
            }
            for (k, v) in &self.params {
                out.push(format!("{k}={v}"));
            }
            return out.join(" ");
        }
        let mut url = String::from(if self.long_scheme {
            "postgresql://"
        } else {
            "postgres://"
        });
        if self.user.is_some() || self.with_password {
            url.push_str(&pct(self.user.as_deref().unwrap_or("")));
            if self.with_password {
                url.push(':');
                url.push_str(&password);
            }
            url.push('@');
        }
        url.push_str(&self.hosts.join(","));
        if let Some(db) = &self.db {
            url.push('/');
            url.push_str(&if self.encode_db { pct(db) } else { db.clone() });
        }
        if !self.params.is_empty() {
            url.push('?');
            let q: Vec<String> = self
                .params
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect();
            url.push_str(&q.join("&"));
        }
        url
    }

    /// Whether the password text also appears in a part other than the password.
    fn password_elsewhere(&self) -> bool {
        let p = self.password();
        self.user.iter().any(|u| u.contains(&p))
            || self.hosts.iter().any(|h| h.contains(&p))
            || self.db.iter().any(|d| d.contains(&p))
            || self
                .params
                .iter()
                .any(|(k, v)| k.contains(&p) || v.contains(&p))
    }
}

/// Runs the configuration target.
pub fn config(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        check(text, known_password(text).as_deref());
        // The same text from the environment (sprockets' PGSQL_NAME, libpq's PG*).
        let from_url = Config::from_vars(Some("fuzz"), |k| {
            (k == "PGSQL_FUZZ").then(|| text.to_string())
        });
        if let Err(e) = from_url {
            assert_eq!(e.kind(), ErrorKind::Interface, "{e:?}");
        }
        let (host, port) = text.split_once(' ').unwrap_or((text, ""));
        let from_libpq = Config::from_vars(None, |k| match k {
            "PGHOST" => Some(host.to_string()),
            "PGPORT" if !port.is_empty() => Some(port.to_string()),
            "PGSSLMODE" if port.is_empty() => Some(host.to_string()),
            _ => None,
        });
        match from_libpq {
            Ok(c) => drop(c.targets()),
            Err(e) => assert_eq!(e.kind(), ErrorKind::Interface, "{e:?}"),
        }
    }
    let mut u = Unstructured::new(data);
    if let Ok(parts) = Parts::arbitrary(&mut u) {
        let text = parts.render();
        let known = (!parts.password_elsewhere()).then(|| parts.password());
        let parsed = check(&text, known.as_deref());
        // The user and password (percent-encoded) read back exactly, unless
        // raw parts change the structure or set them again.
        if let (Some(c), Some(pw)) = (parsed, &known) {
            if !parts.dsn && !parts.restructures() {
                if parts.with_password {
                    assert_eq!(c.get_password(), Some(pw.as_str()), "{text:?}");
                }
                if let Some(user) = parts.user.as_deref().filter(|u| !u.is_empty()) {
                    assert_eq!(c.get_user(), Some(user), "{text:?}");
                }
            }
        }
    }
}

impl Parts {
    /// Whether the raw parts hold URL syntax or keywords that could move or override
    /// the user and password.
    fn restructures(&self) -> bool {
        let raw_db = if self.encode_db {
            None
        } else {
            self.db.as_deref()
        };
        self.hosts
            .iter()
            .map(String::as_str)
            .chain(raw_db)
            .chain(
                self.params
                    .iter()
                    .flat_map(|(k, v)| [k.as_str(), v.as_str()]),
            )
            .any(|s| {
                s.contains(['@', '/', '?', '#', '&', '%'])
                    || s.contains("password")
                    || s.contains("user")
            })
    }
}

/// A password written in `text` (after `password=`, or in a URL's
/// userinfo) that occurs nowhere else in it, if it is long enough to be
/// recognisable.
fn known_password(text: &str) -> Option<String> {
    let trimmed = text.trim();
    let url = trimmed.starts_with("postgresql://") || trimmed.starts_with("postgres://");
    let after_key = text.split("password=").nth(1).map(|rest| {
        if url {
            // A query parameter: up to the next `&` or `#`.
            rest.split(['&', '#']).next().unwrap_or("").to_string()
        } else {
            dsn_value(rest)
        }
    });
    let in_userinfo = url
        .then(|| {
            let rest = trimmed.split_once("://")?.1;
            let authority = rest.split(['/', '?', '#']).next()?;
            let userinfo = &authority[..authority.rfind('@')?];
            Some(userinfo.split_once(':')?.1.to_string())
        })
        .flatten();
    after_key
        .into_iter()
        .chain(in_userinfo)
        .find(|p| p.len() >= 6 && text.matches(p.as_str()).count() == 1)
}

/// A key=value value as the DSN parser reads it: whitespace skipped, then a
/// quoted string (backslash escapes) or a run up to whitespace.
fn dsn_value(rest: &str) -> String {
    let rest = rest.trim_start();
    let mut out = String::new();
    let mut chars = rest.chars();
    if rest.starts_with('\'') {
        chars.next();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.extend(chars.next()),
                '\'' => break,
                c => out.push(c),
            }
        }
    } else {
        while let Some(c) = chars.next() {
            match c {
                c if c.is_whitespace() => break,
                '\\' => out.extend(chars.next()),
                c => out.push(c),
            }
        }
    }
    out
}

/// Parses `text`; `password` is a password known to be in it (and nowhere
/// else), which no message may show.
fn check(text: &str, password: Option<&str>) -> Option<Config> {
    match Config::parse(text) {
        Ok(c) => {
            let targets = c.targets();
            assert!(!targets.is_empty(), "{text:?}: no target");
            for t in &targets {
                let _ = t.to_string();
            }
            let shown = format!("{c} {c:?}");
            if let Some(p) = c.get_password().filter(|p| p.len() >= 3) {
                // Where the password equals some other visible part, seeing it is fine.
                let mut without = c.clone();
                without.password("");
                let rest = format!("{without} {without:?}");
                if !rest.contains(p) {
                    assert!(
                        !shown.contains(p),
                        "{text:?}: the password shows in {shown:?}"
                    );
                }
            }
            Some(c)
        }
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::Interface, "{text:?}: {e:?}");
            let msg = e.to_string();
            assert!(
                msg.len() > "interface error: ".len(),
                "{text:?}: empty message"
            );
            if let Some(p) = password {
                assert!(
                    !msg.contains(p) && !format!("{e:?}").contains(p),
                    "{text:?}: the error shows the password: {msg}"
                );
            }
            None
        }
    }
}
