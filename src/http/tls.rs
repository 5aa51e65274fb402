//! TLS termination settings: the rustls configuration every TLS listener shares and
//! the certificate it presents, which can be replaced while the server runs (a renewed
//! certificate reaches new handshakes; connections keep the one they started with).
//!
//! Protocol choices (RFC 8996 retires TLS 1.0 and 1.1; RFC 9325 §4 for the rest):
//! TLS 1.3 and 1.2 only, ring's default suites (AEAD only, ECDHE only), ALPN
//! `http/1.1` only, since this server speaks nothing else (a client offering only `h2`
//! is refused with `no_application_protocol`, RFC 7301 §3.2).

use std::fmt;
use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// Why a certificate and key could not be used.
#[derive(Debug)]
#[non_exhaustive]
pub enum TlsError {
    /// The certificate file holds no PEM `CERTIFICATE`.
    NoCertificate,
    /// The key file holds no PEM private key (PKCS#8, PKCS#1 RSA or SEC1 EC).
    NoKey,
    /// The key is not one rustls can sign with, or does not match the certificate.
    Key(rustls::Error),
    /// The protocol versions are not available (a provider without their suites).
    Config(rustls::Error),
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::NoCertificate => f.write_str("no PEM certificate in the file"),
            TlsError::NoKey => f.write_str("no PEM private key in the file"),
            TlsError::Key(e) => write!(f, "unusable key: {e}"),
            TlsError::Config(e) => write!(f, "tls configuration refused: {e}"),
        }
    }
}

impl std::error::Error for TlsError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TlsError::Key(e) | TlsError::Config(e) => Some(e),
            _ => None,
        }
    }
}

/// A certificate chain with its private key, checked to belong together.
pub struct Identity {
    key: Arc<CertifiedKey>,
}

impl fmt::Debug for Identity {
    /// Never shows the key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("certificates", &self.key.cert.len())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Parses PEM files' contents: the chain (leaf first) and the private key.
    pub fn from_pem(chain: &[u8], key: &[u8]) -> Result<Identity, TlsError> {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(chain)
            .filter_map(Result::ok)
            .collect();
        if certs.is_empty() {
            return Err(TlsError::NoCertificate);
        }
        let key = PrivateKeyDer::from_pem_slice(key).map_err(|_| TlsError::NoKey)?;
        // `from_der` also compares the key's public half with the leaf's.
        let key = CertifiedKey::from_der(certs, key, &provider()).map_err(TlsError::Key)?;
        Ok(Identity { key: Arc::new(key) })
    }

    /// The leaf certificate, DER.
    pub fn leaf(&self) -> &[u8] {
        self.key.cert.first().map_or(&[], |cert| cert.as_ref())
    }
}

/// The certificate the server presents, replaceable while it runs.
#[derive(Debug)]
pub struct Certificate {
    current: RwLock<Arc<CertifiedKey>>,
}

impl Certificate {
    /// Presents `identity` until [`Certificate::replace`].
    pub fn new(identity: Identity) -> Arc<Certificate> {
        Arc::new(Certificate {
            current: RwLock::new(identity.key),
        })
    }

    /// Presents `identity` from the next handshake on.
    pub fn replace(&self, identity: Identity) {
        // A poisoned lock only means a panic elsewhere mid-swap of one pointer.
        let mut current = self.current.write().unwrap_or_else(|e| e.into_inner());
        *current = identity.key;
    }

    /// The server configuration presenting this certificate.
    pub fn server_config(self: &Arc<Certificate>) -> Result<Arc<rustls::ServerConfig>, TlsError> {
        let versions = [&rustls::version::TLS13, &rustls::version::TLS12];
        let builder = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_protocol_versions(&versions);
        let mut config = builder
            .map_err(TlsError::Config)?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(self) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

impl ResolvesServerCert for Certificate {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        Some(Arc::clone(&current))
    }
}

fn provider() -> CryptoProvider {
    rustls::crypto::ring::default_provider()
}
