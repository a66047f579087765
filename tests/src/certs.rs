//! Test certificates made with the `openssl` command-line tool.
//!
//! A self-signed CA signs the server certificate, whose only subject
//! alternative name is `DNS:localhost` (so `verify-full` against host
//! `127.0.0.1` fails on the name while `localhost` passes). A second,
//! unrelated CA ("wrong CA") signs nothing. Keys are ECDSA P-256, which is
//! instant to generate and accepted by rustls and OpenSSL alike.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::util::{describe_output, random_hex};

/// Paths of the generated PEM files.
#[derive(Debug, Clone)]
pub struct Certs {
    /// The CA that signed [`Certs::server_cert`].
    pub ca_cert: PathBuf,
    /// A CA that signed nothing here.
    pub wrong_ca_cert: PathBuf,
    /// The server certificate, for `DNS:localhost` only.
    pub server_cert: PathBuf,
    /// Its key (ECDSA P-256, PKCS#8).
    pub server_key: PathBuf,
}

const OPENSSL_CNF: &str = "\
[req]
distinguished_name = dn
[dn]
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
";

fn openssl(dir: &Path, args: &[&str]) -> Result<(), String> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .env("OPENSSL_CONF", dir.join("openssl.cnf"))
        .output()
        .map_err(|e| format!("cannot run `openssl` (is it installed?): {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`openssl {}` failed: {}",
            args.join(" "),
            describe_output(&out)
        ))
    }
}

fn serial() -> String {
    // A positive serial of at most 16 bytes.
    format!("0x1{}", random_hex(14))
}

/// Generates the CA, the server certificate and the wrong CA into `dir`.
///
/// ```no_run
/// let certs = edgepg_tests::generate_certs(&std::env::temp_dir().join("certs")).unwrap();
/// assert!(certs.server_cert.is_file());
/// ```
pub fn generate(dir: &Path) -> Result<Certs, String> {
    fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
    fs::write(dir.join("openssl.cnf"), OPENSSL_CNF)
        .map_err(|e| format!("write openssl.cnf: {e}"))?;
    let genkey = |name: &str| {
        openssl(
            dir,
            &[
                "genpkey",
                "-algorithm",
                "EC",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-out",
                name,
            ],
        )
    };
    let self_signed = |key: &str, cn: &str, out: &str| {
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-new",
                "-config",
                "openssl.cnf",
                "-extensions",
                "v3_ca",
                "-key",
                key,
                "-sha256",
                "-days",
                "3650",
                "-subj",
                cn,
                "-set_serial",
                &serial(),
                "-out",
                out,
            ],
        )
    };

    genkey("ca.key")?;
    self_signed("ca.key", "/CN=edgepg test CA", "ca.pem")?;
    genkey("wrong-ca.key")?;
    self_signed("wrong-ca.key", "/CN=edgepg unrelated CA", "wrong-ca.pem")?;

    genkey("server.key")?;
    openssl(
        dir,
        &[
            "req",
            "-new",
            "-config",
            "openssl.cnf",
            "-key",
            "server.key",
            "-subj",
            "/CN=edgepg test server",
            "-out",
            "server.csr",
        ],
    )?;
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-set_serial",
            &serial(),
            "-days",
            "3650",
            "-sha256",
            "-extfile",
            "openssl.cnf",
            "-extensions",
            "v3_server",
            "-out",
            "server.crt",
        ],
    )?;
    Ok(Certs {
        ca_cert: dir.join("ca.pem"),
        wrong_ca_cert: dir.join("wrong-ca.pem"),
        server_cert: dir.join("server.crt"),
        server_key: dir.join("server.key"),
    })
}
