//! What HTTPS changes for the app: plain HTTP on `--redirect-http` is sent to HTTPS,
//! `--hsts` answers carry `Strict-Transport-Security`, and certificate files given with
//! `--tls-cert`/`--tls-key` are watched and swapped in when renewed.

use crate::http::{Request, Response};
use crate::web::config::HSTS;
use crate::web::respond;

/// The app's view of HTTPS.
#[derive(Debug)]
pub(crate) struct Https {
    /// The port HTTPS is served on, for redirects.
    pub(crate) port: u16,
    /// Whether HTTPS answers carry `Strict-Transport-Security`.
    pub(crate) hsts: bool,
    #[cfg(feature = "tls")]
    pub(crate) watch: Option<CertificateFiles>,
}

impl Https {
    /// Adds `Strict-Transport-Security` to an answer over TLS when `--hsts` asks for it
    /// (RFC 6797 §7.2: never over plain HTTP, where it would be ignored).
    pub(crate) fn finish(&self, tls: bool, resp: Response) -> Response {
        if self.hsts && tls {
            resp.header("Strict-Transport-Security", HSTS)
        } else {
            resp
        }
    }

    /// The answer to a plain-HTTP request: a permanent redirect to the same target over
    /// HTTPS (308 keeps the method, RFC 9110 §15.4.9). The host comes from `Host`,
    /// which must be a plain host name or address (RFC 3986 §3.2.2): anything else gets
    /// a 400 rather than a `Location` the client made up.
    pub(crate) fn redirect(&self, req: &Request<'_>) -> Response {
        let Some(host) = req.header_str("host").and_then(request_host) else {
            return respond::text(400, "400 Bad Request\n\nno valid Host header\n");
        };
        // Origin-form only; an absolute-form or asterisk target goes to the root.
        let target = Some(req.target())
            .filter(|t| t.starts_with('/') && !t.starts_with("//"))
            .unwrap_or("/");
        let target = ascii_target(target);
        let location = if self.port == 443 {
            format!("https://{host}{target}")
        } else {
            format!("https://{host}:{}{target}", self.port)
        };
        respond::redirect(308, &location)
    }
}

/// `target` with every octet that is not visible ASCII percent-encoded (RFC 3986
/// §2.1): a URI is ASCII (RFC 3986 §2), but the request parser hands on the octets
/// 0x80 to 0xFF a client sent raw (UTF-8 in a path), which a `Location` must not carry.
fn ascii_target(target: &str) -> String {
    let mut out = String::with_capacity(target.len());
    for b in target.bytes() {
        if b.is_ascii_graphic() {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The host part of a `Host` value (port dropped): a DNS name (letters, digits, `-`,
/// `.`) or an IP literal in brackets. `None` for anything else.
pub(crate) fn request_host(value: &str) -> Option<&str> {
    let value = value.trim_matches([' ', '\t']);
    let host = if value.starts_with('[') {
        let end = value.find(']')?;
        let (literal, rest) = value.split_at(end + 1);
        let inner = literal.get(1..literal.len() - 1)?;
        if inner.parse::<std::net::Ipv6Addr>().is_err() {
            return None;
        }
        port_ok(rest)?;
        literal
    } else {
        let (host, rest) = value.split_at(value.find(':').unwrap_or(value.len()));
        port_ok(rest)?;
        host
    };
    // RFC 1123 §2.1 labels: letters, digits and inner hyphens, 1 to 63 of them (an
    // IPv4 address is such a name too).
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    // One trailing dot is a fully qualified name as typed (RFC 1034 §3.1); without it a
    // name is at most 253 octets (RFC 1035 §2.3.4: 255 on the wire).
    let labels = host.strip_suffix('.').unwrap_or(host);
    let name_ok = host.starts_with('[') || (labels.len() <= 253 && labels.split('.').all(label_ok));
    name_ok.then_some(host)
}

/// `Some` for nothing or `:` and up to five digits.
fn port_ok(rest: &str) -> Option<()> {
    match rest.strip_prefix(':') {
        None if rest.is_empty() => Some(()),
        Some(port) if port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) => Some(()),
        _ => None,
    }
}

#[cfg(feature = "tls")]
pub(crate) use files::CertificateFiles;

#[cfg(feature = "tls")]
mod files {
    use std::io::Read;
    use std::path::{Path, PathBuf};
    use std::sync::Arc;
    use std::time::SystemTime;

    use crate::http::tls::{Certificate, Identity};

    /// What identifies a version of a file without reading it.
    /// Modification time and length, and the inode and its change time: a renewal
    /// moved into place with the old one's size and mtime (`cp -p`, `install -p`, or a
    /// file system with whole-second or two-second times) is another inode, or at
    /// least a new ctime, which no tool sets back.
    type Stamp = Option<(SystemTime, u64, u64, i64, i64)>;

    pub(super) fn stamp(path: &Path) -> Stamp {
        use std::os::unix::fs::MetadataExt;
        let meta = std::fs::metadata(path).ok()?;
        Some((
            meta.modified().ok()?,
            meta.len(),
            meta.ino(),
            meta.ctime(),
            meta.ctime_nsec(),
        ))
    }

    /// A certificate and key given as files, swapped in within a tick of a change: new
    /// handshakes present the new one, connections keep theirs. A pair that does not
    /// load (a renewal half-written, a key for another certificate) is reported once
    /// and the previous one stays until the files change again.
    #[derive(Debug)]
    pub(crate) struct CertificateFiles {
        cert: PathBuf,
        key: PathBuf,
        seen: (Stamp, Stamp),
        presented: Arc<Certificate>,
    }

    impl CertificateFiles {
        /// Watches `cert` and `key`, which `presented` was loaded from.
        pub(crate) fn new(cert: PathBuf, key: PathBuf, presented: Arc<Certificate>) -> Self {
            let seen = (stamp(&cert), stamp(&key));
            CertificateFiles {
                cert,
                key,
                seen,
                presented,
            }
        }

        /// Reloads if either file changed: `Some` with a line to log when it did.
        pub(crate) fn check(&mut self) -> Option<String> {
            let now = (stamp(&self.cert), stamp(&self.key));
            if now == self.seen {
                return None;
            }
            self.seen = now;
            match load(&self.cert, &self.key) {
                Ok(identity) => {
                    let fingerprint = crate::store::certificate::fingerprint(identity.leaf());
                    self.presented.replace(identity);
                    Some(format!(
                        "TLS certificate {} reloaded, SHA-256 fingerprint {fingerprint}",
                        self.cert.display()
                    ))
                }
                Err(e) => Some(format!(
                    "TLS certificate {} not reloaded ({e}); still presenting the previous one",
                    self.cert.display()
                )),
            }
        }
    }

    /// Largest certificate or key file read: a chain of a few certificates with RSA
    /// 4096 keys is some 10 KiB of PEM. The files are read on the event loop, at start
    /// and on every change, so a file that grew by mistake must not stall or exhaust it.
    pub(crate) const MAX_PEM_FILE_BYTES: u64 = 1024 * 1024;

    /// Reads and checks a certificate chain and its key from PEM files.
    pub(crate) fn load(cert: &Path, key: &Path) -> Result<Identity, LoadError> {
        let chain = read_pem_file(cert)?;
        let key_pem = read_pem_file(key)?;
        Identity::from_pem(&chain, &key_pem).map_err(LoadError::Pem)
    }

    /// The bytes of a regular file of at most [`MAX_PEM_FILE_BYTES`]. Anything else (a
    /// FIFO, whose open blocks until a writer comes, would hang the loop for good; a
    /// device such as /dev/zero never ends) is refused before it is opened, and checked
    /// again on the open handle, which is what is read.
    fn read_pem_file(path: &Path) -> Result<Vec<u8>, LoadError> {
        let read_error = |e| LoadError::Read(path.to_owned(), e);
        if !std::fs::metadata(path).map_err(read_error)?.is_file() {
            return Err(LoadError::NotAFile(path.to_owned()));
        }
        let file = std::fs::File::open(path).map_err(read_error)?;
        let meta = file.metadata().map_err(read_error)?;
        if !meta.is_file() {
            return Err(LoadError::NotAFile(path.to_owned()));
        }
        if meta.len() > MAX_PEM_FILE_BYTES {
            return Err(LoadError::TooLarge(path.to_owned()));
        }
        let mut bytes = Vec::new();
        file.take(MAX_PEM_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(read_error)?;
        if bytes.len() as u64 > MAX_PEM_FILE_BYTES {
            return Err(LoadError::TooLarge(path.to_owned()));
        }
        Ok(bytes)
    }

    /// Why a certificate could not be loaded.
    #[derive(Debug)]
    pub(crate) enum LoadError {
        Read(PathBuf, std::io::Error),
        /// A FIFO, a device or a directory, not a file.
        NotAFile(PathBuf),
        /// Larger than [`MAX_PEM_FILE_BYTES`].
        TooLarge(PathBuf),
        Pem(crate::http::tls::TlsError),
    }

    impl std::fmt::Display for LoadError {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            match self {
                LoadError::Read(path, e) => write!(f, "cannot read {}: {e}", path.display()),
                LoadError::NotAFile(path) => write!(f, "{} is not a regular file", path.display()),
                LoadError::TooLarge(path) => write!(
                    f,
                    "{} is larger than {} bytes",
                    path.display(),
                    MAX_PEM_FILE_BYTES
                ),
                LoadError::Pem(e) => write!(f, "{e}"),
            }
        }
    }

    impl std::error::Error for LoadError {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            match self {
                LoadError::Read(_, e) => Some(e),
                LoadError::NotAFile(_) | LoadError::TooLarge(_) => None,
                LoadError::Pem(e) => Some(e),
            }
        }
    }
}

#[cfg(feature = "tls")]
pub(crate) use files::{LoadError, load};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redirect_host_is_a_name_or_an_address_and_nothing_else() {
        assert_eq!(request_host("router.lan"), Some("router.lan"));
        assert_eq!(request_host("router.lan:8080"), Some("router.lan"));
        assert_eq!(request_host("router.lan.:8080"), Some("router.lan."));
        assert_eq!(request_host("192.168.1.1:80"), Some("192.168.1.1"));
        assert_eq!(request_host("[fe80::1]:80"), Some("[fe80::1]"));
        assert_eq!(request_host("[::1]"), Some("[::1]"));
        let longest = [&"a".repeat(63)[..]; 4].join(".")[..253].to_owned();
        assert_eq!(request_host(&longest), Some(&longest[..]));
        let fqdn = format!("{longest}.");
        assert_eq!(request_host(&fqdn), Some(&fqdn[..]));
        assert_eq!(request_host(&format!("{longest}a")), None, "254 octets");
        for bad in [
            "",
            ":80",
            "evil.example/x",
            "a@b",
            "a b",
            "[nope]",
            "[::1]x",
            "host:80x",
            "host:123456",
            "a\\b",
            "%65vil",
            "-",
            "....",
            "a..b",
            "-a.lan",
            "a-.lan",
        ] {
            assert_eq!(request_host(bad), None, "{bad:?}");
        }
    }

    #[cfg(feature = "tls")]
    mod files {
        use super::super::{LoadError, files::MAX_PEM_FILE_BYTES, load};
        use std::path::{Path, PathBuf};
        use std::sync::mpsc;
        use std::time::Duration;

        fn temp_dir(tag: &str) -> PathBuf {
            let dir =
                std::env::temp_dir().join(format!("latchkey-web-tls-{tag}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            dir
        }

        /// `load` on another thread: a regression that blocks fails the test instead
        /// of hanging it.
        fn load_within_seconds(cert: &Path, key: &Path) -> Result<(), LoadError> {
            let (cert, key) = (cert.to_owned(), key.to_owned());
            let (done, result) = mpsc::channel();
            std::thread::spawn(move || {
                let _ = done.send(load(&cert, &key).map(|_| ()));
            });
            result
                .recv_timeout(Duration::from_secs(5))
                .expect("load blocked")
        }

        #[test]
        fn a_fifo_or_a_device_is_refused_without_opening_it() {
            let dir = temp_dir("fifo");
            let fifo = dir.join("key.pem");
            let made = std::process::Command::new("mkfifo").arg(&fifo).status();
            assert!(made.unwrap().success(), "mkfifo");
            let cert = dir.join("cert.pem");
            std::fs::write(&cert, "x").unwrap();
            let result = load_within_seconds(&cert, &fifo);
            assert!(matches!(result, Err(LoadError::NotAFile(ref p)) if *p == fifo));
            let zero = Path::new("/dev/zero");
            let result = load_within_seconds(zero, zero);
            assert!(matches!(result, Err(LoadError::NotAFile(_))));
            let _ = std::fs::remove_dir_all(&dir);
        }

        #[test]
        fn a_file_larger_than_the_limit_is_refused_unread() {
            let dir = temp_dir("large");
            let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
            let limit = usize::try_from(MAX_PEM_FILE_BYTES).unwrap();
            std::fs::write(&cert, vec![b'A'; limit + 1]).unwrap();
            std::fs::write(&key, "x").unwrap();
            let result = load_within_seconds(&cert, &key);
            assert!(matches!(result, Err(LoadError::TooLarge(ref p)) if *p == cert));
            // At the limit it is read, and judged by what it holds.
            std::fs::write(&cert, vec![b'A'; limit]).unwrap();
            let result = load_within_seconds(&cert, &key);
            assert!(matches!(result, Err(LoadError::Pem(_))), "{result:?}");
            let _ = std::fs::remove_dir_all(&dir);
        }

        #[test]
        fn a_replacement_with_the_same_size_and_mtime_is_seen() {
            let dir = temp_dir("stamp");
            let cert = dir.join("cert.pem");
            std::fs::write(&cert, "one").unwrap();
            let before = super::super::files::stamp(&cert);
            let mtime = std::fs::metadata(&cert).unwrap().modified().unwrap();
            // A renewal of the same length, its mtime set to the old one's, renamed in.
            let new = dir.join("cert.new");
            std::fs::write(&new, "two").unwrap();
            let file = std::fs::File::options().write(true).open(&new).unwrap();
            file.set_modified(mtime).unwrap();
            drop(file);
            std::fs::rename(&new, &cert).unwrap();
            assert_eq!(std::fs::metadata(&cert).unwrap().modified().unwrap(), mtime);
            assert_ne!(super::super::files::stamp(&cert), before);
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}
