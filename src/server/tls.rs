//! TLS on the event loop (Redis's tls.c), with rustls.
//!
//! Two pieces:
//!
//! - [`configure`] turns the `tls-*` parameters into a `rustls::ServerConfig` (tlsConfigure):
//!   the certificate chain and key, the CA certificates client certificates are checked
//!   against (`tls-auth-clients` yes: required, optional: checked when presented, no: not
//!   asked for), the protocol versions and TLS 1.3 suites, server cipher preference and the
//!   session cache. Failures are logged with Redis's lines and leave the caller's context as
//!   it was, so CONFIG SET can refuse a bad certificate and keep serving with the old one.
//! - [`TlsStream`] is a client's socket when it came in on `tls-port`: a mio `TcpStream` and
//!   a `rustls::ServerConnection`, driven by the same READABLE/WRITABLE events as a plain
//!   socket. rustls does no I/O of its own (`read_tls` / `write_tls` work on any
//!   `Read`/`Write`), which is what a non-blocking single-threaded loop needs: a read event
//!   feeds it ciphertext and takes out plaintext for the query buffer, a write hands it the
//!   reply and sends the records it makes. The handshake runs inside those same calls; while
//!   rustls holds records the socket would not take, the client stays registered WRITABLE.
//!
//! ```text
//!   socket ──read_tls──► ServerConnection ──reader()──► qbuf        (read_into)
//!   out.buf ──writer()──► ServerConnection ──write_tls──► socket    (Write, flush_records)
//! ```
//!
//! Stored but not applied (rustls has no equivalent): `tls-ciphers` (OpenSSL's TLS 1.2 cipher
//! strings), `tls-dh-params-file` (no finite-field DHE), `tls-key-file-pass` (encrypted
//! keys), `tls-session-cache-timeout`; `TLSv1` and `TLSv1.1` in `tls-protocols` are accepted
//! and ignored, as rustls only speaks 1.2 and 1.3.

use crate::config::Config;
use crate::log_warning;
use mio::net::TcpStream;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{NoServerSessionStorage, ServerSessionMemoryCache, WebPkiClientVerifier};
use rustls::{RootCertStore, ServerConfig, ServerConnection};
use std::io::{self, Read, Write};
use std::sync::Arc;

/// A TLS server context, shared by every TLS connection accepted while it is current.
pub type TlsContext = Arc<ServerConfig>;

/// `tls-auth-clients` values (TLS_CLIENT_AUTH_*).
const AUTH_NO: i64 = 0;
const AUTH_YES: i64 = 1;
const AUTH_OPTIONAL: i64 = 2;

/// The parameters whose change rebuilds the context (config.c's applyTlsCfg), and
/// `tls-auth-clients`, which OpenSSL reads per connection but rustls keeps in the context's
/// client verifier (so here, unlike Redis, `yes` without a CA file is refused at once).
pub const CONTEXT_PARAMS: &[&str] = &[
    "tls-auth-clients",
    "tls-cert-file",
    "tls-key-file",
    "tls-key-file-pass",
    "tls-client-cert-file",
    "tls-client-key-file",
    "tls-client-key-file-pass",
    "tls-dh-params-file",
    "tls-ca-cert-file",
    "tls-ca-cert-dir",
    "tls-protocols",
    "tls-ciphers",
    "tls-ciphersuites",
    "tls-prefer-server-ciphers",
    "tls-session-caching",
    "tls-session-cache-size",
    "tls-session-cache-timeout",
];

fn param(cfg: &Config, name: &str) -> Option<String> {
    cfg.other_str(name)
        .filter(|v| !v.is_empty())
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

/// The protocol versions `tls-protocols` names (parseProtocolsConfig); an unset value means
/// TLS 1.2 and 1.3. None (after logging Redis's warning) for an unknown name.
fn protocols(spec: Option<&str>) -> Option<Vec<&'static rustls::SupportedProtocolVersion>> {
    let Some(spec) = spec else {
        return Some(vec![&rustls::version::TLS12, &rustls::version::TLS13]);
    };
    let mut out = Vec::new();
    for tok in spec.split(' ').filter(|t| !t.is_empty()) {
        match tok.to_ascii_lowercase().as_str() {
            // Accepted, but rustls does not implement them.
            "tlsv1" | "tlsv1.1" => {}
            "tlsv1.2" => out.push(&rustls::version::TLS12),
            "tlsv1.3" => out.push(&rustls::version::TLS13),
            _ => {
                log_warning!("Invalid tls-protocols specified. Use a combination of 'TLSv1', 'TLSv1.1', 'TLSv1.2' and 'TLSv1.3'.");
                return None;
            }
        }
    }
    Some(out)
}

/// Builds the server context from the configuration (tlsConfigure). None on failure, the
/// reason logged.
pub fn configure(cfg: &Config) -> Option<TlsContext> {
    build(cfg, false).ok()
}

/// The server context of the cluster bus with `tls-cluster`: as `configure`, but a peer
/// must always present a certificate our CAs signed, whatever `tls-auth-clients` says
/// (clusterAcceptHandler accepts bus links with TLS_CLIENT_AUTH_YES).
pub fn configure_bus(cfg: &Config) -> Option<TlsContext> {
    build(cfg, true).ok()
}

fn build(cfg: &Config, require_client_cert: bool) -> Result<TlsContext, ()> {
    let Some(cert_file) = param(cfg, "tls-cert-file") else {
        log_warning!("No tls-cert-file configured!");
        return Err(());
    };
    let Some(key_file) = param(cfg, "tls-key-file") else {
        log_warning!("No tls-key-file configured!");
        return Err(());
    };
    let auth = if require_client_cert {
        AUTH_YES
    } else {
        cfg.other_int("tls-auth-clients")
    };
    let ca_file = param(cfg, "tls-ca-cert-file");
    let ca_dir = param(cfg, "tls-ca-cert-dir");
    if (auth != AUTH_NO
        || cfg.other_int("tls-cluster") != 0
        || cfg.other_int("tls-replication") != 0)
        && ca_file.is_none()
        && ca_dir.is_none()
    {
        log_warning!("Either tls-ca-cert-file or tls-ca-cert-dir must be specified when tls-cluster, tls-replication or tls-auth-clients are enabled!");
        return Err(());
    }
    let versions = protocols(param(cfg, "tls-protocols").as_deref()).ok_or(())?;

    // ring, not aws-lc-rs: aws-lc-rs builds with cmake, which the build machines lack. (rustls
    // 0.23.48 deprecates ring's provider only for its missing post-quantum key exchange.)
    #[allow(deprecated)]
    let mut provider = rustls::crypto::ring::default_provider();
    if let Some(suites) = param(cfg, "tls-ciphersuites") {
        // OpenSSL's TLS 1.3 names (TLS_AES_128_GCM_SHA256:...) against rustls's
        // (TLS13_AES_128_GCM_SHA256); TLS 1.2 suites are left alone.
        let wanted: Vec<String> = suites
            .split(':')
            .filter_map(|s| s.strip_prefix("TLS_"))
            .map(|s| format!("TLS13_{s}"))
            .collect();
        provider.cipher_suites.retain(|s| {
            s.version() != &rustls::version::TLS13 || wanted.contains(&format!("{:?}", s.suite()))
        });
        if !provider
            .cipher_suites
            .iter()
            .any(|s| s.version() == &rustls::version::TLS13)
        {
            log_warning!("Failed to configure ciphersuites: {}", suites);
            return Err(());
        }
    }
    let provider = Arc::new(provider);

    let certs: Vec<CertificateDer<'static>> = match CertificateDer::pem_file_iter(&cert_file)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
    {
        Ok(c) if !c.is_empty() => c,
        Ok(_) => {
            log_warning!("Failed to load certificate: {cert_file}: no certificate found");
            return Err(());
        }
        Err(e) => {
            log_warning!("Failed to load certificate: {cert_file}: {e}");
            return Err(());
        }
    };
    let key = match PrivateKeyDer::from_pem_file(&key_file) {
        Ok(k) => k,
        Err(e) => {
            log_warning!("Failed to load private key: {key_file}: {e}");
            return Err(());
        }
    };

    let verifier = if auth == AUTH_NO {
        WebPkiClientVerifier::no_client_auth()
    } else {
        let roots = load_roots(ca_file.as_deref(), ca_dir.as_deref()).map_err(|e| {
            log_warning!("Failed to configure CA certificate(s) file/directory: {e}");
        })?;
        let b = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone());
        let b = if auth == AUTH_OPTIONAL {
            b.allow_unauthenticated()
        } else {
            b
        };
        b.build().map_err(|e| {
            log_warning!("Failed to configure CA certificate(s) file/directory: {e}");
        })?
    };
    let builder = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| log_warning!("Failed to configure TLS protocols: {e}"))?;
    let mut sc = builder
        .with_client_cert_verifier(verifier)
        .with_single_cert(certs, key)
        .map_err(|e| log_warning!("Failed to load private key: {key_file}: {e}"))?;
    sc.ignore_client_order = cfg.other_int("tls-prefer-server-ciphers") != 0;
    sc.session_storage = if cfg.other_int("tls-session-caching") != 0 {
        let size = cfg.other_int("tls-session-cache-size").max(1) as usize;
        ServerSessionMemoryCache::new(size)
    } else {
        Arc::new(NoServerSessionStorage {})
    };
    Ok(Arc::new(sc))
}

/// The trust anchors for client certificates: every certificate in the CA file, and in each
/// file of the CA directory.
fn load_roots(file: Option<&str>, dir: Option<&str>) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    let mut add_file = |path: &std::path::Path, strict: bool| -> Result<(), String> {
        let it =
            CertificateDer::pem_file_iter(path).map_err(|e| format!("{}: {e}", path.display()));
        for cert in it? {
            match cert {
                Ok(c) => roots
                    .add(c)
                    .map_err(|e| format!("{}: {e}", path.display()))?,
                Err(e) if strict => return Err(format!("{}: {e}", path.display())),
                Err(_) => {}
            }
        }
        Ok(())
    };
    if let Some(f) = file {
        add_file(std::path::Path::new(f), true)?;
    }
    if let Some(d) = dir {
        let entries = std::fs::read_dir(d).map_err(|e| format!("{d}: {e}"))?;
        for e in entries.flatten() {
            if e.path().is_file() {
                let _ = add_file(&e.path(), false);
            }
        }
    }
    if roots.is_empty() {
        return Err("no CA certificate found".into());
    }
    Ok(roots)
}

/// A TLS client context: what a replica's link to its master (tls-replication) uses.
pub type TlsClientContext = Arc<rustls::ClientConfig>;

/// Checks the server's certificate chain against our CA certificates, but not the name in
/// it: Redis (OpenSSL with SSL_VERIFY_PEER and no host name set) checks only the chain, and
/// replicas reach their masters by whatever address they were given.
#[derive(Debug)]
struct NameBlindVerifier(Arc<rustls::client::WebPkiServerVerifier>);

impl rustls::client::danger::ServerCertVerifier for NameBlindVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
        {
            Err(rustls::Error::InvalidCertificate(e))
                if format!("{e:?}").starts_with("NotValidForName") =>
            {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            r => r,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

/// Builds the client context (Redis's client SSL_CTX): the server's chain checked against
/// `tls-ca-cert-file`/`-dir`, and our certificate `tls-client-cert-file`/`-key-file`, or the
/// server's own `tls-cert-file`/`-key-file` when no client pair is set. None on failure, the
/// reason logged.
pub fn configure_client(cfg: &Config) -> Option<TlsClientContext> {
    let roots = match load_roots(
        param(cfg, "tls-ca-cert-file").as_deref(),
        param(cfg, "tls-ca-cert-dir").as_deref(),
    ) {
        Ok(r) => r,
        Err(e) => {
            log_warning!("Failed to configure CA certificate(s) file/directory: {e}");
            return None;
        }
    };
    let versions = protocols(param(cfg, "tls-protocols").as_deref())?;
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| log_warning!("Failed to configure CA certificate(s) file/directory: {e}"))
    .ok()?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&versions)
        .map_err(|e| log_warning!("Failed to configure TLS protocols: {e}"))
        .ok()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(NameBlindVerifier(webpki)));
    let (cert_file, key_file) = match param(cfg, "tls-client-cert-file") {
        Some(c) => (Some(c), param(cfg, "tls-client-key-file")),
        None => (param(cfg, "tls-cert-file"), param(cfg, "tls-key-file")),
    };
    let cc = match (cert_file, key_file) {
        (Some(cert_file), Some(key_file)) => {
            let certs = CertificateDer::pem_file_iter(&cert_file)
                .and_then(|it| it.collect::<Result<Vec<_>, _>>())
                .map_err(|e| log_warning!("Failed to load certificate: {cert_file}: {e}"))
                .ok()?;
            let key = PrivateKeyDer::from_pem_file(&key_file)
                .map_err(|e| log_warning!("Failed to load private key: {key_file}: {e}"))
                .ok()?;
            builder
                .with_client_auth_cert(certs, key)
                .map_err(|e| log_warning!("Failed to load private key: {key_file}: {e}"))
                .ok()?
        }
        _ => builder.with_no_client_auth(),
    };
    Some(Arc::new(cc))
}

/// How a read left the connection.
pub enum ReadEnd {
    /// Still open.
    Open,
    /// The peer closed.
    Eof,
    /// A TLS or socket error: close the client. The message is for the log; the flag says
    /// whether the handshake was still going on (Redis logs those as failed accepts).
    Failed(String, bool),
}

/// A TLS connection on a non-blocking socket: one we accepted, or one we opened (a replica's
/// link to its master with `tls-replication`).
pub struct TlsStream {
    /// The socket (registered with the poller).
    pub tcp: TcpStream,
    conn: rustls::Connection,
}

impl TlsStream {
    /// Wraps an accepted socket; the handshake starts with the first read.
    pub fn new(tcp: TcpStream, ctx: &TlsContext) -> io::Result<TlsStream> {
        let conn = ServerConnection::new(ctx.clone()).map_err(io::Error::other)?;
        Ok(TlsStream {
            tcp,
            conn: conn.into(),
        })
    }

    /// Wraps a socket we are connecting; the ClientHello goes out with the first write.
    pub fn new_client(tcp: TcpStream, ctx: &TlsClientContext, host: &str) -> io::Result<TlsStream> {
        // The name is required by rustls but not checked (see `NameBlindVerifier`).
        let name = rustls::pki_types::ServerName::try_from(host.to_string()).unwrap_or_else(|_| {
            rustls::pki_types::ServerName::try_from("redis").expect("a valid name")
        });
        let conn = rustls::ClientConnection::new(ctx.clone(), name).map_err(io::Error::other)?;
        Ok(TlsStream {
            tcp,
            conn: conn.into(),
        })
    }

    /// Reads every record the socket has (edge-triggered: until it would block or ends),
    /// answers the handshake, and appends the decrypted bytes to `buf`. Returns how many
    /// bytes were appended and how the connection stands.
    pub fn read_into(&mut self, buf: &mut Vec<u8>) -> (usize, ReadEnd) {
        let mut total = 0;
        let end = loop {
            let (more, end) = match self.conn.read_tls(&mut self.tcp) {
                Ok(0) => (false, ReadEnd::Eof),
                Ok(_) => (true, ReadEnd::Open),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => (false, ReadEnd::Open),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => (
                    false,
                    ReadEnd::Failed(e.to_string(), self.conn.is_handshaking()),
                ),
            };
            match self.conn.process_new_packets() {
                Ok(state) => {
                    let n = state.plaintext_bytes_to_read();
                    if n > 0 {
                        let at = buf.len();
                        buf.resize(at + n, 0);
                        // rustls holds exactly n bytes: this cannot come up short.
                        let got = self.conn.reader().read(&mut buf[at..]).unwrap_or(0);
                        buf.truncate(at + got);
                        total += got;
                    }
                    if state.peer_has_closed() && !more {
                        break ReadEnd::Eof;
                    }
                }
                Err(e) => {
                    // rustls queued an alert for the peer: send it if the socket takes it.
                    let _ = self.flush_records();
                    break ReadEnd::Failed(e.to_string(), self.conn.is_handshaking());
                }
            }
            if !more {
                break end;
            }
        };
        // Handshake messages (or a key update) to answer with.
        if matches!(end, ReadEnd::Open) {
            if let Err(e) = self.flush_records() {
                return (
                    total,
                    ReadEnd::Failed(e.to_string(), self.conn.is_handshaking()),
                );
            }
        }
        (total, end)
    }

    /// Sends the records rustls holds until the socket would block. Ok(true) when some
    /// remain (the caller keeps the client registered WRITABLE).
    pub fn flush_records(&mut self) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut self.tcp) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(false)
    }

    /// True while records wait for the socket.
    pub fn has_backlog(&self) -> bool {
        self.conn.wants_write()
    }
}

impl Write for TlsStream {
    /// Encrypts what rustls's buffer takes of `buf` and sends what the socket takes; before
    /// the handshake ends the plaintext waits inside rustls. WouldBlock when nothing was taken.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.flush_records()?;
        let n = self.conn.writer().write(buf)?;
        self.flush_records()?;
        if n == 0 && !buf.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flush_records().map(|_| ())
    }
}
