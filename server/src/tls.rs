//! TLS (`tmap serve --tls-cert FILE --tls-key FILE`): a certificate chain and its private
//! key, read from PEM files once, before the server listens ([`Tls::from_pem_files`]).
//!
//! rustls with the ring provider, TLS 1.2 and 1.3 (rustls's safe defaults), no client
//! certificates; the only application protocol offered by ALPN is `http/1.1` (the server
//! speaks HTTP/1.1 only). The accept loop (limits.rs) runs the handshake of each connection
//! within the header-read timeout and inside the connection's slot of the connection limit.
//!
//! Every failure to load names the file: unreadable, holding no certificate or no private
//! key, or a key that is not the certificate's (its public key differs from the first
//! certificate's).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::crypto::ring;
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// A loaded TLS certificate chain and key: with it in [`crate::Config::tls`] the server
/// speaks HTTPS only (a plain HTTP request on its port is closed unanswered).
#[derive(Clone)]
pub struct Tls {
    /// The rustls server configuration, shared by every connection.
    config: Arc<ServerConfig>,
    /// The files it was read from (for `Debug`).
    cert: PathBuf,
    key: PathBuf,
}

impl std::fmt::Debug for Tls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tls")
            .field("cert", &self.cert)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl Tls {
    /// Reads the certificate chain from `cert` (PEM: one or more `CERTIFICATE` blocks, the
    /// server's own first, then its issuers) and the private key from `key` (PEM: PKCS#8,
    /// PKCS#1 or SEC1; the first key in the file), and checks that the key is the first
    /// certificate's. The error names the file at fault.
    pub fn from_pem_files(cert: &Path, key: &Path) -> std::io::Result<Tls> {
        use std::io::{Error, ErrorKind};

        let cert_pem = read(cert, "certificate")?;
        let chain = CertificateDer::pem_slice_iter(&cert_pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| {
                Error::new(
                    ErrorKind::InvalidData,
                    format!(
                        "the certificate file {} is not valid PEM: {e}",
                        cert.display()
                    ),
                )
            })?;
        if chain.is_empty() {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "the certificate file {} holds no certificate (no PEM `CERTIFICATE` block)",
                    cert.display()
                ),
            ));
        }

        let key_pem = read(key, "private key")?;
        let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| {
            let what = match e {
                rustls_pki_types::pem::Error::NoItemsFound => {
                    "holds no private key (no PEM `PRIVATE KEY`, `RSA PRIVATE KEY` or `EC PRIVATE KEY` block)".to_string()
                }
                e => format!("is not valid PEM: {e}"),
            };
            Error::new(
                ErrorKind::InvalidData,
                format!("the private key file {} {what}", key.display()),
            )
        })?;

        let mut config = ServerConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()
            .map_err(|e| Error::other(format!("TLS: {e}")))?
            .with_no_client_auth()
            .with_single_cert(chain, private)
            .map_err(|e| {
                let message = match e {
                    rustls::Error::InconsistentKeys(_) => format!(
                        "the private key in {} does not match the certificate in {}",
                        key.display(),
                        cert.display()
                    ),
                    e => format!(
                        "cannot use the private key in {} with the certificate in {}: {e}",
                        key.display(),
                        cert.display()
                    ),
                };
                Error::new(ErrorKind::InvalidData, message)
            })?;
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Tls {
            config: Arc::new(config),
            cert: cert.to_path_buf(),
            key: key.to_path_buf(),
        })
    }

    /// The acceptor that runs the server side of each connection's handshake.
    pub(crate) fn acceptor(&self) -> tokio_rustls::TlsAcceptor {
        tokio_rustls::TlsAcceptor::from(self.config.clone())
    }
}

/// The ring provider, named rather than the process default: `ServerConfig::builder` panics
/// when no default is installed and two providers are compiled in, which a dependency added
/// later could bring about. (rustls 0.23.48 deprecates ring's provider for lacking the
/// post-quantum key exchange; it is kept for its build — aws-lc-rs needs cmake.)
#[allow(deprecated)]
fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(ring::default_provider())
}

/// The bytes of `path`, or an error that names it as the `what` file.
fn read(path: &Path, what: &str) -> std::io::Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("cannot read the {what} file {}: {e}", path.display()),
        )
    })
}
