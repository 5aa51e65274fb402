//! The self-signed certificate of `latchkey serve --tls` (issue 17): made on first use
//! in the data directory, reused while it fits, reissued with the same key when it does
//! not.
//!
//! ```text
//! <data-dir>/tls/        0700
//!   key.pem              0600  ECDSA P-256 private key, PEM "PRIVATE KEY" (PKCS#8, RFC 5958)
//!   cert.pem             0600  X.509 v3 certificate (RFC 5280) signed with key.pem
//! ```
//!
//! The key is made once and kept: a client that pinned it keeps working when the
//! certificate is reissued. The certificate is reissued, with that key, when it is not
//! for the key (a start killed between writing the key and the certificate), when it is
//! not valid yet (made while the clock was wrong: a Raspberry Pi has no real-time clock),
//! when it expires within [`RENEW_BEFORE`], or when it lacks a name or address asked
//! for. What a certificate holds is read back from the certificate itself, so no second
//! file can disagree with it.
//!
//! Both files are written whole ([`atomic_file::write`]) under the data directory's lock,
//! key first: concurrent starts all see one matching pair, and a crash leaves at worst a
//! key without its certificate, which the next start completes. A file that is there but
//! is not what latchkey writes is an error and is left as it is, never replaced: the key
//! may be pinned by clients, and latchkey only ever replaces the certificate whole, so an
//! unreadable one was put there by someone else (or the disk is failing).
//!
//! The certificate is hand-written DER (X.690, in [`der`]): it needs a handful of types
//! of a few lines each, where a certificate library would be a dependency for one file.

use std::fmt;
use std::fs;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, DnsName, PrivatePkcs8KeyDer};
use sha2::{Digest, Sha256};

use super::lock::DirLock;
use super::{DataDir, StoreError, atomic_file};

/// Name of the directory of the self-signed certificate inside the data directory.
pub(crate) const TLS_DIR: &str = "tls";
/// Name of the certificate file inside [`TLS_DIR`].
pub(crate) const CERT_FILE: &str = "cert.pem";
/// Name of the private key file inside [`TLS_DIR`].
pub(crate) const KEY_FILE: &str = "key.pem";

const DAY: i64 = 86_400;
/// How far `notBefore` lies before the moment of issue, so a client whose clock is a
/// little behind accepts the certificate too.
const BACKDATE: i64 = DAY;
/// From `notBefore` to `notAfter`: 825 days, the most Apple platforms accept for a TLS
/// server certificate ("Requirements for trusted certificates in iOS 13 and macOS
/// 10.15", Apple HT210176), less the one second that RFC 5280
/// §4.1.2.5 adds by counting both ends of the validity period.
const LIFETIME: i64 = 825 * DAY - 1;
/// A certificate expiring within this is reissued at start-up.
pub(crate) const RENEW_BEFORE: i64 = 30 * DAY;

/// The self-signed certificate and key `serve --tls` uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SelfSigned {
    /// The certificate, PEM.
    pub(crate) cert_path: PathBuf,
    /// Its private key, PEM.
    pub(crate) key_path: PathBuf,
    /// SHA-256 of the certificate ([`fingerprint`]).
    pub(crate) fingerprint: String,
    /// A new certificate was written by this call; why is in `issued`.
    pub(crate) created: bool,
    /// Why a new certificate was written; `None` when the one there was kept.
    pub(crate) issued: Option<Issued>,
}

/// Why a new certificate was written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Issued {
    /// There was no key, so a new key was made (a key is never replaced otherwise).
    NewKey,
    /// There was a key but no certificate.
    Missing,
    /// The certificate was for another key.
    OtherKey,
    /// The certificate's `notBefore` is later than now.
    NotYetValid,
    /// The certificate has expired or expires within [`RENEW_BEFORE`].
    Expiring,
    /// The certificate lacks this name or address.
    Lacks(String),
}

impl fmt::Display for Issued {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Issued::NewKey => f.write_str("no key yet"),
            Issued::Missing => f.write_str("no certificate yet"),
            Issued::OtherKey => f.write_str("the certificate was for another key"),
            Issued::NotYetValid => f.write_str("the certificate was not valid yet"),
            Issued::Expiring => f.write_str("the certificate expires within 30 days"),
            Issued::Lacks(name) => write!(f, "the certificate lacked {name}"),
        }
    }
}

/// Why a PEM file holds no usable certificate or key.
#[derive(Debug)]
#[non_exhaustive]
pub(crate) enum PemError {
    /// No PEM section with this label.
    NoSection(&'static str),
    /// The PEM text is broken.
    Pem(pem::Error),
    /// The "PRIVATE KEY" is not an ECDSA P-256 key.
    NotP256,
    /// The certificate is not X.509 DER that latchkey can read.
    Unreadable,
}

impl fmt::Display for PemError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PemError::NoSection(label) => write!(f, "no PEM {label:?} in it"),
            PemError::Pem(e) => write!(f, "bad PEM: {e}"),
            PemError::NotP256 => f.write_str("not an ECDSA P-256 private key"),
            PemError::Unreadable => f.write_str("not a certificate latchkey can read"),
        }
    }
}

impl std::error::Error for PemError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            PemError::Pem(e) => Some(e),
            PemError::NoSection(_) | PemError::NotP256 | PemError::Unreadable => None,
        }
    }
}

impl DataDir {
    /// The directory of the self-signed certificate and its key.
    pub(crate) fn tls_dir(&self) -> PathBuf {
        self.path().join(TLS_DIR)
    }

    /// The self-signed certificate for `serve --tls`, made or reissued as needed (see
    /// the module documentation), for the host name, `localhost`, 127.0.0.1, ::1, the
    /// addresses in `addrs` (unspecified ones skipped) and the DNS names or IP
    /// addresses in `names`. A name that is neither is refused before anything is
    /// touched ([`StoreError::TlsName`]). The data directory must exist; its lock is
    /// waited for.
    pub(crate) fn self_signed_certificate(
        &self,
        names: &[String],
        addrs: &[IpAddr],
    ) -> Result<SelfSigned, StoreError> {
        self.self_signed_at(names, addrs, host_name().as_deref(), unix_now())
    }

    /// [`DataDir::self_signed_certificate`] with the host name and the time given.
    fn self_signed_at(
        &self,
        names: &[String],
        addrs: &[IpAddr],
        host: Option<&str>,
        now: i64,
    ) -> Result<SelfSigned, StoreError> {
        let wanted = Wanted::new(host, names, addrs)?;
        let held = self.lock()?;
        let dir = self.tls_dir();
        create_private_dir(&dir, self.path())?;
        atomic_file::remove_stale(&dir, &[CERT_FILE, KEY_FILE])
            .map_err(|e| StoreError::Io(dir.clone(), e))?;
        let key_path = dir.join(KEY_FILE);
        let cert_path = dir.join(CERT_FILE);
        let rng = SystemRandom::new();

        let (key, new_pkcs8) = match read_key(&key_path, &rng)? {
            Some(key) => (key, None),
            None => {
                let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
                    .map_err(|_| StoreError::TlsCrypto)?;
                let key =
                    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
                        .map_err(|_| StoreError::TlsCrypto)?;
                (key, Some(pkcs8))
            }
        };
        // With a new key whatever certificate is there is for another one, readable or
        // not: it is replaced without being read.
        let (issued, current) = if new_pkcs8.is_some() {
            (Some(Issued::NewKey), None)
        } else {
            match read_certificate(&cert_path)? {
                None => (Some(Issued::Missing), None),
                Some((der, contents)) => {
                    let why = contents.reissue(key.public_key().as_ref(), &wanted, now);
                    (why, Some(der))
                }
            }
        };
        let der = match (issued.is_some(), current) {
            (false, Some(der)) => der,
            _ => {
                if let Some(pkcs8) = &new_pkcs8 {
                    write(&key_path, &pem("PRIVATE KEY", pkcs8.as_ref()), &held)?;
                }
                let der = issue(&key, &rng, &wanted, now)?;
                write(&cert_path, &pem("CERTIFICATE", &der), &held)?;
                der
            }
        };
        drop(held);
        Ok(SelfSigned {
            cert_path,
            key_path,
            fingerprint: fingerprint(&der),
            created: issued.is_some(),
            issued,
        })
    }
}

/// The SHA-256 fingerprint of a certificate's DER: uppercase hex pairs joined by
/// colons, as `openssl x509 -noout -fingerprint -sha256` prints it.
pub(crate) fn fingerprint(der: &[u8]) -> String {
    let hex: Vec<String> = Sha256::digest(der)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect();
    hex.join(":")
}

/// The DER of the first "CERTIFICATE" in PEM text (RFC 7468); other sections are
/// skipped.
fn first_certificate(text: &[u8]) -> Result<Vec<u8>, PemError> {
    match CertificateDer::from_pem_slice(text) {
        Ok(der) => Ok(der.to_vec()),
        Err(pem::Error::NoItemsFound) => Err(PemError::NoSection("CERTIFICATE")),
        Err(e) => Err(PemError::Pem(e)),
    }
}

/// PEM text (RFC 7468 §2): the base64 in lines of 64 characters, the last shorter.
fn pem(label: &str, der: &[u8]) -> Vec<u8> {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n").into_bytes();
    for line in b64.as_bytes().chunks(64) {
        out.extend_from_slice(line);
        out.push(b'\n');
    }
    out.extend_from_slice(format!("-----END {label}-----\n").as_bytes());
    out
}

/// Replaces a file of [`TLS_DIR`] (mode 0600) under the data directory's lock.
fn write(path: &Path, contents: &[u8], _held: &DirLock) -> Result<(), StoreError> {
    atomic_file::write(path, contents, 0o600).map_err(|e| StoreError::Io(path.to_owned(), e))
}

/// Creates `dir` with mode 0700, owned as the data directory `owner` is (root may be
/// the one starting the service); an existing one is left as it is.
fn create_private_dir(dir: &Path, owner: &Path) -> Result<(), StoreError> {
    let io_error = |e| StoreError::Io(dir.to_owned(), e);
    match fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {
            let handle = fs::File::open(dir).map_err(io_error)?;
            // The umask may have cleared bits of the mode; make it exact.
            handle
                .set_permissions(fs::Permissions::from_mode(0o700))
                .map_err(io_error)?;
            atomic_file::give_to_owner_of(&handle, owner).map_err(io_error)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(io_error(e)),
    }
}

/// The key at `path`; `None` when there is no file. A key group or others may read is
/// refused, as every secret of the data directory is.
fn read_key(path: &Path, rng: &SystemRandom) -> Result<Option<EcdsaKeyPair>, StoreError> {
    let meta = match fs::metadata(path) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::Io(path.to_owned(), e)),
    };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(StoreError::Permissions(path.to_owned(), mode));
    }
    let text = fs::read(path).map_err(|e| StoreError::Io(path.to_owned(), e))?;
    let unusable = |e| StoreError::TlsFile(path.to_owned(), e);
    let der = match PrivatePkcs8KeyDer::from_pem_slice(&text) {
        Ok(der) => der,
        Err(pem::Error::NoItemsFound) => return Err(unusable(PemError::NoSection("PRIVATE KEY"))),
        Err(e) => return Err(unusable(PemError::Pem(e))),
    };
    EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, der.secret_pkcs8_der(), rng)
        .map(Some)
        .map_err(|_| unusable(PemError::NotP256))
}

/// The certificate at `path`, its DER and what latchkey checks in it; `None` when
/// there is no file.
fn read_certificate(path: &Path) -> Result<Option<(Vec<u8>, Contents)>, StoreError> {
    let text = match fs::read(path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(StoreError::Io(path.to_owned(), e)),
    };
    let unusable = |e| StoreError::TlsFile(path.to_owned(), e);
    let der = first_certificate(&text).map_err(unusable)?;
    let contents = Contents::parse(&der).ok_or_else(|| unusable(PemError::Unreadable))?;
    Ok(Some((der, contents)))
}

/// The host name from the kernel (`/proc/sys/kernel/hostname`, else `/etc/hostname`),
/// lowercase, when it is a valid DNS name.
fn host_name() -> Option<String> {
    ["/proc/sys/kernel/hostname", "/etc/hostname"]
        .iter()
        .find_map(|path| dns_name(fs::read_to_string(path).ok()?.trim()))
}

/// `name` lowercase without one trailing dot, when it is a DNS name as a TLS client
/// checks the name it connects to (rustls' `DnsName`: LDH labels of at most 63
/// characters, at most 253 in all, the last not numeric, RFC 1123 §2.1).
pub(crate) fn dns_name(name: &str) -> Option<String> {
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.ends_with('.') || DnsName::try_from(name).is_err() {
        return None;
    }
    Some(name.to_ascii_lowercase())
}

/// Whether `--tls-name NAME` can go in the certificate: an IP address, or a DNS name
/// (see [`dns_name`]).
pub(crate) fn is_certificate_name(name: &str) -> bool {
    name.parse::<IpAddr>().is_ok() || dns_name(name).is_some()
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .min(der::LAST_TIME)
}

/// What a certificate must hold.
#[derive(Debug)]
pub(crate) struct Wanted {
    /// The subject and issuer common name.
    common_name: String,
    /// dNSName entries, lowercase.
    pub(crate) dns: Vec<String>,
    /// iPAddress entries.
    pub(crate) ips: Vec<IpAddr>,
}

impl Wanted {
    pub(crate) fn new(
        host: Option<&str>,
        names: &[String],
        addrs: &[IpAddr],
    ) -> Result<Wanted, StoreError> {
        let mut dns: Vec<String> = Vec::new();
        let mut ips: Vec<IpAddr> = vec![Ipv4Addr::LOCALHOST.into(), Ipv6Addr::LOCALHOST.into()];
        let mut add_dns = |name: String| {
            if !dns.contains(&name) {
                dns.push(name);
            }
        };
        if let Some(host) = host {
            add_dns(host.to_owned());
            // A single-label host name is reached on the LAN as HOST.local through
            // multicast DNS (RFC 6762 §3): Raspberry Pi OS ships Avahi for it.
            if !host.contains('.') && host != "localhost" {
                add_dns(format!("{host}.local"));
            }
        }
        add_dns("localhost".to_owned());
        let mut add_ip = |ip: IpAddr| {
            if !ip.is_unspecified() && !ips.contains(&ip) {
                ips.push(ip);
            }
        };
        for &addr in addrs {
            add_ip(addr);
        }
        for name in names {
            match name.parse::<IpAddr>() {
                Ok(ip) => add_ip(ip),
                Err(_) => add_dns(dns_name(name).ok_or_else(|| StoreError::TlsName(name.clone()))?),
            }
        }
        // RFC 5280 Appendix A.1: ub-common-name is 64 characters.
        let common_name = match host {
            Some(host) if host.len() <= 64 - "latchkey on ".len() => format!("latchkey on {host}"),
            _ => "latchkey".to_owned(),
        };
        Ok(Wanted {
            common_name,
            dns,
            ips,
        })
    }
}

/// What latchkey reads back from a certificate to decide whether it still fits.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Contents {
    pub(crate) not_before: i64,
    pub(crate) not_after: i64,
    /// The subjectPublicKey bits: for P-256 the uncompressed point.
    pub(crate) public_key: Vec<u8>,
    /// The subjectAltName dNSName entries, lowercase.
    pub(crate) dns: Vec<String>,
    /// The subjectAltName iPAddress entries.
    pub(crate) ips: Vec<IpAddr>,
}

impl Contents {
    /// Reads a Certificate (RFC 5280 §4.1) far enough for [`Contents`]; `None` when it
    /// is not DER of that shape.
    pub(crate) fn parse(der: &[u8]) -> Option<Contents> {
        use der::{Reader, tag};
        let mut whole = Reader::new(der);
        let certificate = whole.expect(tag::SEQUENCE)?;
        if !whole.is_empty() {
            return None;
        }
        let mut tbs = Reader::new(Reader::new(certificate).expect(tag::SEQUENCE)?);
        tbs.optional(tag::context(0))?; // version
        tbs.expect(tag::INTEGER)?; // serialNumber
        tbs.expect(tag::SEQUENCE)?; // signature
        tbs.expect(tag::SEQUENCE)?; // issuer
        let mut validity = Reader::new(tbs.expect(tag::SEQUENCE)?);
        let not_before = der::read_time(validity.next()?)?;
        let not_after = der::read_time(validity.next()?)?;
        tbs.expect(tag::SEQUENCE)?; // subject
        let mut spki = Reader::new(tbs.expect(tag::SEQUENCE)?);
        spki.expect(tag::SEQUENCE)?; // algorithm
        // A BIT STRING's first octet counts the unused bits of the last: none in a key.
        let public_key = spki.expect(tag::BIT_STRING)?.strip_prefix(&[0])?.to_vec();
        tbs.optional(0x81)?; // issuerUniqueID
        tbs.optional(0x82)?; // subjectUniqueID
        let mut contents = Contents {
            not_before,
            not_after,
            public_key,
            dns: Vec::new(),
            ips: Vec::new(),
        };
        let Some(extensions) = tbs.optional(tag::context(3))? else {
            return Some(contents);
        };
        let mut extensions = Reader::new(Reader::new(extensions).expect(tag::SEQUENCE)?);
        let san = der::oid_content(&oid::SUBJECT_ALT_NAME);
        while !extensions.is_empty() {
            let mut extension = Reader::new(extensions.expect(tag::SEQUENCE)?);
            let id = extension.expect(tag::OID)?;
            extension.optional(tag::BOOLEAN)?; // critical
            let value = extension.expect(tag::OCTET_STRING)?;
            if id != san.as_slice() {
                continue;
            }
            let mut names = Reader::new(Reader::new(value).expect(tag::SEQUENCE)?);
            while !names.is_empty() {
                match names.next()? {
                    (tag::DNS_NAME, name) => contents
                        .dns
                        .push(std::str::from_utf8(name).ok()?.to_ascii_lowercase()),
                    (tag::IP_ADDRESS, octets) => contents.ips.push(match octets.len() {
                        4 => IpAddr::from(<[u8; 4]>::try_from(octets).ok()?),
                        16 => IpAddr::from(<[u8; 16]>::try_from(octets).ok()?),
                        _ => return None,
                    }),
                    _ => {}
                }
            }
        }
        Some(contents)
    }

    /// Why this certificate must be reissued for `wanted` with the key whose public
    /// point is `public_key`, at `now`; `None` when it fits.
    pub(crate) fn reissue(&self, public_key: &[u8], wanted: &Wanted, now: i64) -> Option<Issued> {
        if self.public_key != public_key {
            return Some(Issued::OtherKey);
        }
        if now < self.not_before {
            return Some(Issued::NotYetValid);
        }
        if self.not_after < now.saturating_add(RENEW_BEFORE) {
            return Some(Issued::Expiring);
        }
        if let Some(name) = wanted.dns.iter().find(|name| !self.dns.contains(name)) {
            return Some(Issued::Lacks(name.clone()));
        }
        if let Some(ip) = wanted.ips.iter().find(|ip| !self.ips.contains(ip)) {
            return Some(Issued::Lacks(ip.to_string()));
        }
        None
    }
}

/// Object identifiers, as arcs.
mod oid {
    /// id-at-commonName (RFC 5280 Appendix A.1).
    pub(super) const COMMON_NAME: [u64; 4] = [2, 5, 4, 3];
    /// id-ecPublicKey (RFC 5480 §2.1.1).
    pub(super) const EC_PUBLIC_KEY: [u64; 6] = [1, 2, 840, 10045, 2, 1];
    /// secp256r1, also prime256v1 (RFC 5480 §2.1.1.1).
    pub(super) const P256: [u64; 7] = [1, 2, 840, 10045, 3, 1, 7];
    /// ecdsa-with-SHA256 (RFC 5758 §3.2).
    pub(super) const ECDSA_WITH_SHA256: [u64; 7] = [1, 2, 840, 10045, 4, 3, 2];
    /// id-ce-subjectKeyIdentifier (RFC 5280 §4.2.1.2).
    pub(super) const SUBJECT_KEY_IDENTIFIER: [u64; 4] = [2, 5, 29, 14];
    /// id-ce-keyUsage (RFC 5280 §4.2.1.3).
    pub(super) const KEY_USAGE: [u64; 4] = [2, 5, 29, 15];
    /// id-ce-subjectAltName (RFC 5280 §4.2.1.6).
    pub(super) const SUBJECT_ALT_NAME: [u64; 4] = [2, 5, 29, 17];
    /// id-ce-basicConstraints (RFC 5280 §4.2.1.9).
    pub(super) const BASIC_CONSTRAINTS: [u64; 4] = [2, 5, 29, 19];
    /// id-ce-extKeyUsage (RFC 5280 §4.2.1.12).
    pub(super) const EXT_KEY_USAGE: [u64; 4] = [2, 5, 29, 37];
    /// id-kp-serverAuth (RFC 5280 §4.2.1.12).
    pub(super) const SERVER_AUTH: [u64; 9] = [1, 3, 6, 1, 5, 5, 7, 3, 1];
}

/// A new self-signed certificate (RFC 5280 §4.1) for `wanted`, valid from a day before
/// `now` for [`LIFETIME`], signed with `key`.
pub(crate) fn issue(
    key: &EcdsaKeyPair,
    rng: &SystemRandom,
    wanted: &Wanted,
    now: i64,
) -> Result<Vec<u8>, StoreError> {
    use der::{sequence, tag, tlv};
    // RFC 5280 §4.1.2.2: a positive integer of at most 20 octets, unique per issuer;
    // random, so two certificates of this name (reissued, or of two devices named
    // alike) never share one. The top bit clear keeps it positive, the next one set
    // keeps it 16 octets.
    let mut serial: [u8; 16] = crate::random::array()?;
    serial[0] = (serial[0] & 0x7f) | 0x40;
    let not_before = now.saturating_sub(BACKDATE);
    let not_after = not_before.saturating_add(LIFETIME);
    let point = key.public_key().as_ref();
    // RFC 7093 §2 method 1: the leftmost 160 bits of the SHA-256 of subjectPublicKey.
    let digest = Sha256::digest(point);
    let key_id = digest.get(..20).unwrap_or(&digest);

    let algorithm = sequence(&[&der::oid(&oid::ECDSA_WITH_SHA256)]);
    let name = sequence(&[&der::set(&[&sequence(&[
        &der::oid(&oid::COMMON_NAME),
        &tlv(tag::UTF8_STRING, wanted.common_name.as_bytes()),
    ])])]);
    let spki = sequence(&[
        &sequence(&[&der::oid(&oid::EC_PUBLIC_KEY), &der::oid(&oid::P256)]),
        &der::bit_string(point),
    ]);
    let mut alt_names: Vec<Vec<u8>> = Vec::new();
    for name in &wanted.dns {
        alt_names.push(tlv(tag::DNS_NAME, name.as_bytes()));
    }
    for ip in &wanted.ips {
        alt_names.push(match ip {
            IpAddr::V4(v4) => tlv(tag::IP_ADDRESS, &v4.octets()),
            IpAddr::V6(v6) => tlv(tag::IP_ADDRESS, &v6.octets()),
        });
    }
    let alt_names: Vec<&[u8]> = alt_names.iter().map(Vec::as_slice).collect();
    let extensions = sequence(&[
        // cA FALSE is the DEFAULT, which DER leaves out (X.690 §11.5): an empty
        // SEQUENCE. Critical, as RFC 5280 §4.2.1.9 recommends, so no client takes the
        // certificate for a CA's.
        &extension(&oid::BASIC_CONSTRAINTS, true, &sequence(&[])),
        // digitalSignature only: the key signs handshakes (TLS 1.3, ECDHE in TLS 1.2).
        // Bit 0 of a named bit list, trailing zero bits left out (X.690 §11.2.2).
        &extension(&oid::KEY_USAGE, true, &tlv(tag::BIT_STRING, &[0x07, 0x80])),
        // Apple platforms refuse a TLS server certificate without serverAuth here
        // (HT210176), and webpki one whose extendedKeyUsage lacks it.
        &extension(
            &oid::EXT_KEY_USAGE,
            false,
            &sequence(&[&der::oid(&oid::SERVER_AUTH)]),
        ),
        // The subject is not empty, so subjectAltName is not critical (RFC 5280
        // §4.2.1.6); browsers match names only here (RFC 6125 §6.4.4).
        &extension(&oid::SUBJECT_ALT_NAME, false, &sequence(&alt_names)),
        // RFC 5280 §4.2.1.2: SHOULD be there. No authorityKeyIdentifier: §4.2.1.1 lets
        // a self-signed certificate leave it out (OpenSSL's -x509_strict agrees).
        &extension(
            &oid::SUBJECT_KEY_IDENTIFIER,
            false,
            &tlv(tag::OCTET_STRING, key_id),
        ),
    ]);
    let tbs = sequence(&[
        &tlv(tag::context(0), &der::integer(&[2])), // v3
        &der::integer(&serial),
        &algorithm,
        &name,
        &sequence(&[&der::time(not_before), &der::time(not_after)]),
        &name,
        &spki,
        &tlv(tag::context(3), &extensions),
    ]);
    // ECDSA-Sig-Value, DER, as RFC 5758 §3.2 wants it in the signatureValue.
    let signature = key.sign(rng, &tbs).map_err(|_| StoreError::TlsCrypto)?;
    Ok(sequence(&[
        &tbs,
        &algorithm,
        &der::bit_string(signature.as_ref()),
    ]))
}

/// An Extension (RFC 5280 §4.1): `critical` is DEFAULT FALSE, so left out when false.
fn extension(id: &[u64], critical: bool, value: &[u8]) -> Vec<u8> {
    let id = der::oid(id);
    let value = der::tlv(der::tag::OCTET_STRING, value);
    if critical {
        der::sequence(&[&id, &der::tlv(der::tag::BOOLEAN, &[0xff]), &value])
    } else {
        der::sequence(&[&id, &value])
    }
}

/// The few DER (X.690) encodings a certificate needs, and a reader for them.
pub(crate) mod der {
    /// Tags, single octets (X.690 §8.1.2).
    pub(super) mod tag {
        pub(in super::super) const BOOLEAN: u8 = 0x01;
        pub(in super::super) const INTEGER: u8 = 0x02;
        pub(in super::super) const BIT_STRING: u8 = 0x03;
        pub(in super::super) const OCTET_STRING: u8 = 0x04;
        pub(in super::super) const OID: u8 = 0x06;
        pub(in super::super) const UTF8_STRING: u8 = 0x0c;
        pub(in super::super) const UTC_TIME: u8 = 0x17;
        pub(in super::super) const GENERALIZED_TIME: u8 = 0x18;
        pub(in super::super) const SEQUENCE: u8 = 0x30;
        pub(in super::super) const SET: u8 = 0x31;
        /// GeneralName dNSName, `[2] IMPLICIT IA5String` (RFC 5280 §4.2.1.6).
        pub(in super::super) const DNS_NAME: u8 = 0x82;
        /// GeneralName iPAddress, `[7] IMPLICIT OCTET STRING`.
        pub(in super::super) const IP_ADDRESS: u8 = 0x87;

        /// A constructed context-specific tag `[n]`, as EXPLICIT tagging makes.
        pub(in super::super) const fn context(n: u8) -> u8 {
            0xa0 | n
        }
    }

    /// The last moment X.509 can express: 9999-12-31T23:59:59Z (RFC 5280 §4.1.2.5).
    pub(crate) const LAST_TIME: i64 = 253_402_300_799;

    /// Appends a length: one octet below 128, else 0x80 plus the count of the
    /// big-endian octets that follow, none of them a leading zero (X.690 §8.1.3, §10.1).
    pub(super) fn push_length(out: &mut Vec<u8>, len: usize) {
        if let Ok(short @ 0..0x80) = u8::try_from(len) {
            out.push(short);
            return;
        }
        let octets = len.to_be_bytes();
        let significant: Vec<u8> = octets.iter().copied().skip_while(|&b| b == 0).collect();
        // At most 8 octets, so the count fits the low seven bits.
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(&significant);
    }

    /// Tag, length, contents.
    pub(crate) fn tlv(tag: u8, contents: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(contents.len() + 10);
        out.push(tag);
        push_length(&mut out, contents.len());
        out.extend_from_slice(contents);
        out
    }

    /// A SEQUENCE of already-encoded elements.
    pub(super) fn sequence(elements: &[&[u8]]) -> Vec<u8> {
        tlv(tag::SEQUENCE, &elements.concat())
    }

    /// A SET of one already-encoded element (more would have to be sorted, X.690 §11.6).
    pub(super) fn set(element: &[&[u8]; 1]) -> Vec<u8> {
        tlv(tag::SET, &element.concat())
    }

    /// A non-negative INTEGER from its big-endian magnitude: two's complement in the
    /// fewest octets (X.690 §8.3.2), so a leading zero octet only before a set high bit.
    pub(super) fn integer(magnitude: &[u8]) -> Vec<u8> {
        let digits: Vec<u8> = magnitude.iter().copied().skip_while(|&b| b == 0).collect();
        let mut contents = Vec::with_capacity(digits.len() + 1);
        if digits.first().is_none_or(|&b| b & 0x80 != 0) {
            contents.push(0);
        }
        contents.extend_from_slice(&digits);
        tlv(tag::INTEGER, &contents)
    }

    /// A BIT STRING of whole octets: no unused bits in the last one.
    pub(super) fn bit_string(octets: &[u8]) -> Vec<u8> {
        let mut contents = Vec::with_capacity(octets.len() + 1);
        contents.push(0);
        contents.extend_from_slice(octets);
        tlv(tag::BIT_STRING, &contents)
    }

    /// The contents of an OBJECT IDENTIFIER (X.690 §8.19): the first two arcs as one
    /// subidentifier `40 * a + b`, each subidentifier in base 128, high bit set on all
    /// but its last octet.
    pub(super) fn oid_content(arcs: &[u64]) -> Vec<u8> {
        let mut out = Vec::new();
        let (first, rest) = match arcs {
            [a, b, rest @ ..] => (40 * a + b, rest),
            [a] => (40 * a, &[][..]),
            [] => return out,
        };
        for &arc in std::iter::once(&first).chain(rest) {
            let mut septets = vec![(arc & 0x7f) as u8];
            let mut left = arc >> 7;
            while left > 0 {
                septets.push((left & 0x7f) as u8 | 0x80);
                left >>= 7;
            }
            out.extend(septets.iter().rev());
        }
        out
    }

    /// An OBJECT IDENTIFIER.
    pub(super) fn oid(arcs: &[u64]) -> Vec<u8> {
        tlv(tag::OID, &oid_content(arcs))
    }

    /// A Time (RFC 5280 §4.1.2.5): UTCTime `YYMMDDHHMMSSZ` for the years 1950 to 2049,
    /// GeneralizedTime `YYYYMMDDHHMMSSZ` before and after; `secs` since the Unix
    /// epoch, clamped to [`LAST_TIME`].
    pub(crate) fn time(secs: i64) -> Vec<u8> {
        let secs = secs.min(LAST_TIME);
        let (year, month, day) = civil_from_days(secs.div_euclid(86_400));
        let of_day = secs.rem_euclid(86_400);
        let rest = format!(
            "{month:02}{day:02}{:02}{:02}{:02}Z",
            of_day / 3600,
            of_day / 60 % 60,
            of_day % 60
        );
        if (1950..2050).contains(&year) {
            tlv(tag::UTC_TIME, format!("{:02}{rest}", year % 100).as_bytes())
        } else {
            tlv(tag::GENERALIZED_TIME, format!("{year:04}{rest}").as_bytes())
        }
    }

    /// Reads back a Time as [`time`] writes it, in seconds since the Unix epoch.
    pub(crate) fn read_time((tag, text): (u8, &[u8])) -> Option<i64> {
        let number = |range: std::ops::Range<usize>| -> Option<i64> {
            let digits = text.get(range)?;
            if !digits.iter().all(u8::is_ascii_digit) {
                return None;
            }
            std::str::from_utf8(digits).ok()?.parse().ok()
        };
        let (year, at) = match (tag, text.len()) {
            (tag::UTC_TIME, 13) => {
                let yy = number(0..2)?;
                (if yy < 50 { 2000 + yy } else { 1900 + yy }, 2)
            }
            (tag::GENERALIZED_TIME, 15) => (number(0..4)?, 4),
            _ => return None,
        };
        let month = number(at..at + 2)?;
        let day = number(at + 2..at + 4)?;
        let hour = number(at + 4..at + 6)?;
        let minute = number(at + 6..at + 8)?;
        let second = number(at + 8..at + 10)?;
        let valid = (1..=12).contains(&month)
            && (1..=31).contains(&day)
            && hour < 24
            && minute < 60
            && second < 60
            && text.get(at + 10) == Some(&b'Z');
        valid.then(|| {
            days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second
        })
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant, "chrono-
    /// Compatible Low-Level Date Algorithms").
    pub(super) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
        let year = if month <= 2 { year - 1 } else { year };
        let era = year.div_euclid(400);
        let year_of_era = year - era * 400;
        let month_from_march = (month + 9) % 12;
        let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
        let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
        era * 146_097 + day_of_era - 719_468
    }

    /// The proleptic Gregorian date of a day since 1970-01-01 (same source).
    pub(super) fn civil_from_days(days: i64) -> (i64, i64, i64) {
        let days = days + 719_468;
        let era = days.div_euclid(146_097);
        let day_of_era = days - era * 146_097;
        let year_of_era =
            (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
        let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
        let month_from_march = (5 * day_of_year + 2) / 153;
        let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
        let month = if month_from_march < 10 {
            month_from_march + 3
        } else {
            month_from_march - 9
        };
        let year = year_of_era + era * 400 + i64::from(month <= 2);
        (year, month, day)
    }

    /// Reads DER elements one after another.
    #[derive(Debug)]
    pub(crate) struct Reader<'a> {
        rest: &'a [u8],
    }

    impl<'a> Reader<'a> {
        pub(crate) fn new(der: &'a [u8]) -> Reader<'a> {
            Reader { rest: der }
        }

        pub(crate) fn is_empty(&self) -> bool {
            self.rest.is_empty()
        }

        /// The next element's tag and contents; `None` when what follows is not DER
        /// this module writes: a multi-octet tag, an indefinite or non-minimal length,
        /// or contents running past the end.
        pub(crate) fn next(&mut self) -> Option<(u8, &'a [u8])> {
            let (&tag, rest) = self.rest.split_first()?;
            if tag & 0x1f == 0x1f {
                return None;
            }
            let (&first, rest) = rest.split_first()?;
            let (len, rest) = if first < 0x80 {
                (usize::from(first), rest)
            } else {
                let count = usize::from(first & 0x7f);
                if count == 0 || count > 4 {
                    return None;
                }
                let (octets, rest) = rest.split_at_checked(count)?;
                if octets.first() == Some(&0) {
                    return None;
                }
                let len = octets
                    .iter()
                    .fold(0usize, |len, &b| (len << 8) | usize::from(b));
                if len < 0x80 {
                    return None;
                }
                (len, rest)
            };
            let (contents, rest) = rest.split_at_checked(len)?;
            self.rest = rest;
            Some((tag, contents))
        }

        /// The contents of the next element, which must have tag `tag`.
        pub(crate) fn expect(&mut self, tag: u8) -> Option<&'a [u8]> {
            let (found, contents) = self.next()?;
            (found == tag).then_some(contents)
        }

        /// The contents of the next element if it has tag `tag`; `Some(None)` when
        /// another element or none follows, `None` when it is malformed.
        pub(crate) fn optional(&mut self, tag: u8) -> Option<Option<&'a [u8]>> {
            if self.rest.first() == Some(&tag) {
                self.next().map(|(_, contents)| Some(contents))
            } else {
                Some(None)
            }
        }
    }
}

#[cfg(test)]
#[path = "certificate_tests.rs"]
mod tests;
