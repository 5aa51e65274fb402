//! The client side of TLS for the harness: which certificates a test trusts and which
//! name it asks for ([`Tls`]), the handshake on a plain socket, and certificate
//! fingerprints written as latchkey and `openssl x509 -fingerprint -sha256` print them.
//! [`Conn`](super::Conn) runs over it, so every request helper works over HTTPS too.
//! Without the `tls` feature [`Tls`] has no values and every connection is plain.

#[cfg(feature = "tls")]
pub(crate) use with_tls::*;

/// A TLS client setup; it has no values in a build without the `tls` feature.
#[cfg(not(feature = "tls"))]
#[derive(Clone, Debug)]
pub(crate) enum Tls {}

/// `AA:BB:…` of SHA-256 over `der`: uppercase hex, colon-separated, as latchkey's
/// start-up line and `openssl x509 -noout -fingerprint -sha256` write it.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

#[cfg(feature = "tls")]
mod with_tls {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};
    use rustls::{ClientConfig, ClientConnection, RootCertStore};
    use std::fmt;
    use std::io;
    use std::net::{IpAddr, TcpStream};
    use std::path::Path;
    use std::sync::Arc;

    /// What a TLS client needs to reach latchkey: the certificates it trusts as roots
    /// (a self-signed certificate is its own root) and the name it asks for (SNI, and
    /// what the certificate must name).
    #[derive(Clone)]
    pub(crate) struct Tls {
        pub config: Arc<ClientConfig>,
        pub name: ServerName<'static>,
    }

    impl fmt::Debug for Tls {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.debug_struct("Tls").field("name", &self.name).finish()
        }
    }

    /// Every certificate in the PEM files `paths`.
    pub(crate) fn pem_certificates(paths: &[&Path]) -> Vec<CertificateDer<'static>> {
        paths
            .iter()
            .flat_map(|path| {
                CertificateDer::pem_file_iter(path)
                    .unwrap_or_else(|err| panic!("reading {}: {err}", path.display()))
                    .map(|cert| cert.expect("a PEM certificate"))
                    .collect::<Vec<_>>()
            })
            .collect()
    }

    impl Tls {
        /// Trusts the certificates in `cert_pems` and asks for `name` (a DNS name or an
        /// IP address), offering ALPN `http/1.1` as browsers do.
        pub(crate) fn trusting(cert_pems: &[&Path], name: &str) -> Tls {
            let mut roots = RootCertStore::empty();
            for cert in pem_certificates(cert_pems) {
                roots.add(cert).expect("a certificate usable as a root");
            }
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let mut config = ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports TLS 1.2 and 1.3")
                .with_root_certificates(roots)
                .with_no_client_auth();
            config.alpn_protocols = vec![b"http/1.1".to_vec()];
            Tls::with_config(config, name)
        }

        /// A client set up by the test itself (other versions, other ALPN).
        pub(crate) fn with_config(config: ClientConfig, name: &str) -> Tls {
            let name = match name.parse::<IpAddr>() {
                Ok(ip) => ServerName::IpAddress(ip.into()),
                Err(_) => ServerName::try_from(name.to_owned()).expect("a DNS name"),
            };
            Tls {
                config: Arc::new(config),
                name,
            }
        }

        /// Runs the handshake on `stream` to its end; the error is the one the client
        /// saw (a certificate it does not trust, an alert, the server closing).
        pub(crate) fn handshake(&self, stream: &mut TcpStream) -> io::Result<ClientConnection> {
            let mut conn = ClientConnection::new(Arc::clone(&self.config), self.name.clone())
                .map_err(io::Error::other)?;
            while conn.is_handshaking() {
                let (read, written) = conn.complete_io(stream)?;
                if read == 0 && written == 0 && conn.is_handshaking() {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
            }
            Ok(conn)
        }
    }
}
