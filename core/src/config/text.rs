//! The text forms of a [`Config`]: `postgres[ql]://` URLs and libpq's
//! `key=value` connection strings, and how their parts are shown in errors
//! (never a password).

use std::path::PathBuf;

use percent_encoding::percent_decode_str;

use super::{Config, Host};
use crate::error::{Error, Result};

/// Input text for an error message: quoted when it is a plain token (a port,
/// an sslmode, a keyword), otherwise only described. Text that is not a plain
/// token may carry a password — a typo such as `port=5432password=secret` or
/// `postgresql//user:secret@host/db` turns it into a "value" or a "keyword" —
/// and error messages end up in logs.
pub(super) fn shown(s: &str) -> String {
    let plain = s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+' | ','));
    if plain {
        format!("\"{s}\"")
    } else {
        format!("(not shown: {} characters)", s.chars().count())
    }
}

/// A URL scheme (RFC 3986): a letter, then letters, digits, `+`, `-` or `.`.
/// Anything else before `://` is a key=value string whose value holds `://`,
/// and must not be echoed in an error (it may hold the password).
pub(super) fn is_scheme(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

pub(super) fn parse_port(s: &str) -> Result<u16> {
    match s.trim().parse::<u16>() {
        Ok(p) if p > 0 => Ok(p),
        _ => Err(Error::interface(format!(
            "invalid port {}: expected a number from 1 to 65535",
            shown(s)
        ))),
    }
}

fn decode(part: &str, what: &str) -> Result<String> {
    percent_decode_str(part)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| {
            Error::interface(format!(
                "invalid {what} in URL: percent-encoding is not UTF-8"
            ))
        })
}

pub(super) fn parse_url(s: &str) -> Result<Config> {
    let rest = s.split_once("://").map(|(_, r)| r).unwrap_or("");
    let (rest, fragment) = rest.split_once('#').unwrap_or((rest, ""));
    let _ = fragment;
    let (rest, query) = rest.split_once('?').unwrap_or((rest, ""));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let mut config = Config::new();
    let hostlist = match authority.rfind('@') {
        Some(i) => {
            let userinfo = &authority[..i];
            let (user, password) = match userinfo.split_once(':') {
                Some((u, p)) => (u, Some(p)),
                None => (userinfo, None),
            };
            if !user.is_empty() {
                config.user = Some(decode(user, "user name")?);
            }
            if let Some(p) = password {
                config.password = Some(decode(p, "password")?);
            }
            &authority[i + 1..]
        }
        None => authority,
    };
    if !hostlist.is_empty() {
        let mut hosts = Vec::new();
        let mut ports = Vec::new();
        for entry in hostlist.split(',') {
            let (host, port) = split_host_port(entry)?;
            if !host.is_empty() {
                let host = decode(host, "host")?;
                hosts.push(if host.starts_with('/') {
                    Host::Unix(PathBuf::from(host))
                } else {
                    Host::Tcp(host)
                });
            } else {
                hosts.push(Host::Tcp("localhost".to_string()));
            }
            ports.push(match port {
                Some(p) => parse_port(p)?,
                None => 5432,
            });
        }
        if ports.iter().all(|p| *p == 5432) {
            ports.clear();
        }
        config.hosts = hosts;
        config.ports = ports;
    }
    if !path.is_empty() {
        config.dbname = Some(decode(path, "database name")?);
    }
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').ok_or_else(|| {
            Error::interface(format!(
                "invalid URL query parameter {}: expected key=value",
                shown(pair)
            ))
        })?;
        let key = decode(key, "query parameter")?;
        let value = decode(&value.replace('+', " "), "query parameter")?;
        config.set(&key, &value)?;
    }
    config.validate()
}

fn split_host_port(entry: &str) -> Result<(&str, Option<&str>)> {
    if let Some(stripped) = entry.strip_prefix('[') {
        let end = stripped.find(']').ok_or_else(|| {
            Error::interface(format!(
                "invalid host {}: unclosed '[' in IPv6 address",
                shown(entry)
            ))
        })?;
        let host = &stripped[..end];
        let after = &stripped[end + 1..];
        return match after.strip_prefix(':') {
            Some(port) => Ok((host, Some(port))),
            None if after.is_empty() => Ok((host, None)),
            None => Err(Error::interface(format!(
                "invalid host {}: unexpected text after ']'",
                shown(entry)
            ))),
        };
    }
    match entry.split_once(':') {
        Some((host, port)) => {
            if port.contains(':') {
                return Err(Error::interface(format!(
                    "invalid host {}: IPv6 addresses must be written in brackets",
                    shown(entry)
                )));
            }
            Ok((host, Some(port)))
        }
        None => Ok((entry, None)),
    }
}

pub(super) fn parse_dsn(s: &str) -> Result<Config> {
    let mut config = Config::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c.is_whitespace() {
                break;
            }
            key.push(c);
            chars.next();
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        if chars.next() != Some('=') {
            return Err(Error::interface(format!(
                "invalid connection string: missing \"=\" after {}",
                shown(&key)
            )));
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some(c) => value.push(c),
                        None => break,
                    },
                    Some('\'') => break,
                    Some(c) => value.push(c),
                    None => {
                        return Err(Error::interface(format!(
                            "invalid connection string: unterminated quoted value for {}",
                            shown(&key)
                        )))
                    }
                }
            }
        } else {
            while let Some(&c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                chars.next();
                if c == '\\' {
                    if let Some(n) = chars.next() {
                        value.push(n);
                    }
                } else {
                    value.push(c);
                }
            }
        }
        if key.is_empty() {
            return Err(Error::interface(
                "invalid connection string: empty keyword before \"=\"",
            ));
        }
        config.set(&key, &value)?;
    }
    config.validate()
}
