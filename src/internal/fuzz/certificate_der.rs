//! Fuzz invariants for the certificate reader of `store::certificate` (the DER reader
//! and `Contents::parse`, which reads `DATA/tls/cert.pem` back at every start).
//!
//! Any bytes: no panic. Every element the reader accepts re-encodes (`der::tlv`) to
//! exactly the bytes it was read from, since it takes only minimal DER lengths; its
//! `expect` and `optional` agree with `next`; a Time it reads lies within X.509's
//! range and is written back (`der::time`) as a Time that reads as the same moment.
//!
//! Round trip, when the input is text of the form `NOW\nHOST\nNAME\n...` (NOW seconds
//! since the epoch, 0 to 9999-12-31T23:59:59Z; HOST as the kernel's host name, empty or
//! invalid for none; each NAME a `--tls-name`, or `@ADDR` a listen address): the
//! certificate `issue` writes for that parses back to exactly its names, addresses,
//! key and validity (a day before NOW, for 825 days less a second, clamped to 9999),
//! and a start at NOW keeps it unless it ends within the renewal margin.

use std::net::IpAddr;
use std::sync::OnceLock;

use ring::rand::SystemRandom;
use ring::signature::{ECDSA_P256_SHA256_ASN1_SIGNING, EcdsaKeyPair, KeyPair};

use crate::store::certificate::der::{self, Reader};
use crate::store::certificate::{Contents, Issued, RENEW_BEFORE, Wanted, dns_name, issue};

/// Nesting depth the walk follows; a certificate is six deep.
const MAX_DEPTH: usize = 16;
/// Names one round trip takes at most (issuing is the slow part).
const MAX_NAMES: usize = 64;

/// Checks the invariants for one input.
pub fn check(data: &[u8]) {
    walk(data, 0);
    let _ = Contents::parse(data);
    round_trip(data);
}

/// Reads `data` as a run of elements, descending into constructed ones.
fn walk(data: &[u8], depth: usize) {
    let mut rest = data;
    while !rest.is_empty() {
        let mut reader = Reader::new(rest);
        let Some((tag, contents)) = reader.next() else {
            return;
        };
        let element = der::tlv(tag, contents);
        assert!(
            rest.starts_with(&element),
            "tag {tag:#04x} with {} octets of contents is not re-encoded as read",
            contents.len()
        );
        assert_eq!(Reader::new(rest).expect(tag), Some(contents));
        assert_eq!(Reader::new(rest).expect(tag ^ 0x01), None);
        assert_eq!(Reader::new(rest).optional(tag), Some(Some(contents)));
        assert_eq!(Reader::new(rest).optional(tag ^ 0x01), Some(None));
        rest = rest.get(element.len()..).unwrap_or_default();
        assert_eq!(reader.is_empty(), rest.is_empty());

        if let Some(secs) = der::read_time((tag, contents)) {
            assert!(secs <= der::LAST_TIME, "a time after 9999: {contents:?}");
            let written = der::time(secs);
            let reread = Reader::new(&written).next().and_then(der::read_time);
            assert_eq!(reread, Some(secs), "{contents:?} does not write back");
        }
        if tag & 0x20 != 0 && depth < MAX_DEPTH {
            walk(contents, depth + 1);
        }
    }
}

/// The one key every round trip signs with: making a P-256 key per input would slow
/// the fuzzer down for nothing the key changes.
fn key() -> &'static EcdsaKeyPair {
    static KEY: OnceLock<EcdsaKeyPair> = OnceLock::new();
    KEY.get_or_init(|| {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .expect("a P-256 key");
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref(), &rng)
            .expect("the P-256 key just made")
    })
}

fn round_trip(data: &[u8]) {
    const DAY: i64 = 86_400;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.split('\n');
    let Some(now) = lines.next().and_then(|line| line.parse::<i64>().ok()) else {
        return;
    };
    if !(0..=der::LAST_TIME).contains(&now) {
        return;
    }
    let host = lines.next().and_then(dns_name);
    let mut names = Vec::new();
    let mut addrs = Vec::new();
    for line in lines.take(MAX_NAMES) {
        match line.strip_prefix('@') {
            Some(addr) => match addr.parse::<IpAddr>() {
                Ok(addr) => addrs.push(addr),
                Err(_) => return,
            },
            None => names.push(line.to_owned()),
        }
    }
    let Ok(wanted) = Wanted::new(host.as_deref(), &names, &addrs) else {
        return;
    };
    let key = key();
    let der = issue(key, &SystemRandom::new(), &wanted, now).expect("a certificate");
    let contents = Contents::parse(&der).expect("an issued certificate reads back");
    assert_eq!(contents.dns, wanted.dns, "names");
    assert_eq!(contents.ips, wanted.ips, "addresses");
    assert_eq!(contents.public_key, key.public_key().as_ref(), "key");
    // RFC 5280 §4.1.2.5: both ends count, so 825 days are 825 * DAY - 1 seconds.
    let not_before = now - DAY;
    let not_after = not_before + 825 * DAY - 1;
    assert_eq!(
        (contents.not_before, contents.not_after),
        (
            not_before.min(der::LAST_TIME),
            not_after.min(der::LAST_TIME)
        ),
        "validity for {now}"
    );
    let expected = (contents.not_after < now + RENEW_BEFORE).then_some(Issued::Expiring);
    assert_eq!(
        contents.reissue(key.public_key().as_ref(), &wanted, now),
        expected,
        "a certificate just issued is not kept"
    );
}
