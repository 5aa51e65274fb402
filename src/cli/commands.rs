//! The commands: option tables, help texts and what each one does.

use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::args::{self, Opt, Parsed, UsageError};
use super::password_input::read_new_password;
use super::{CliError, announce_calibration, data_dir, env_var};
use crate::jwt::{self, TokenType, Validation};
use crate::keys::{KEEP_ON_ROTATE, KeySet, Purpose};
use crate::password::{self, Policy};
use crate::store::lock::DirLock;
use crate::store::{DataDir, users};

const DATA_DIR: Opt = Opt::value(
    "data-dir",
    "DIR",
    "data directory (default ./latchkey-data)",
)
.env("LATCHKEY_DATA_DIR");
const PASSWORD_STDIN: Opt = Opt::flag(
    "password-stdin",
    "read the password as one line of stdin instead of asking",
);

/// Options of the group commands that take a separate value.
const VALUE_OPTIONS: &[&str] = &["--data-dir", "--ttl", "--at", "--secret-file", "--keep"];

/// Longest lifetime of anything revocable, used to forget a revocation whose
/// expiry is not known (a bare token id).
const FORGET_UNKNOWN_AFTER: u64 = crate::web::config::MAX_CREDENTIAL_TTL;

const TOP_HELP: &str = "\
latchkey: a tiny login and token service that guards a device's admin page

Usage: latchkey <command> [options]

Commands:
  serve                      run the HTTP service (first run creates the data dir and an admin user)
  user add NAME              add a user (asks for the password twice, or --password-stdin)
  user passwd NAME           change a user's password, ending their sessions and tokens
  user del NAME              delete a user, ending their sessions and tokens
  user list                  list the users
  hash                       read a password and print its PBKDF2 hash
  calibrate                  measure this machine and store the password hash cost
  token issue USER           print a signed access token for USER
  token verify TOKEN         print a token's claims as JSON, or why it is refused
  token revoke JTI           revoke one token by its id
  session revoke-all USER    end every session and token of USER
  key rotate [--keep N]      make a new signing key; the N-1 newest older keys keep verifying
  key drop KID               retire an older key: what it signed stops verifying
  key list                   list the key ids, the signing key first

Every command takes --data-dir DIR (env LATCHKEY_DATA_DIR, default ./latchkey-data)
and --help.
";

pub(super) fn dispatch(argv: &[String]) -> Result<ExitCode, CliError> {
    // `--data-dir DIR` may also come before the command, as in `latchkey --data-dir d user list`.
    let mut argv = argv.to_vec();
    let mut moved = Vec::new();
    while argv
        .first()
        .is_some_and(|a| a == "--data-dir" || a.starts_with("--data-dir="))
    {
        let opt = argv.remove(0);
        let takes_next = opt == "--data-dir" && !argv.is_empty();
        moved.push(opt);
        if takes_next {
            moved.push(argv.remove(0));
        }
    }
    argv.extend(moved);
    let argv = argv.as_slice();
    let Some(first) = argv.first() else {
        print!("{TOP_HELP}");
        return Err(UsageError::MissingCommand.into());
    };
    let rest = &argv[1..];
    match first.as_str() {
        "-h" | "--help" | "help" => {
            print!("{TOP_HELP}");
            Ok(ExitCode::SUCCESS)
        }
        "-V" | "--version" => {
            println!("latchkey {}", env!("CARGO_PKG_VERSION"));
            Ok(ExitCode::SUCCESS)
        }
        "serve" => super::serve::command(rest),
        "hash" => hash(rest),
        "calibrate" => calibrate(rest),
        "user" | "token" | "session" | "key" => group(first, rest),
        other => Err(UsageError::UnknownCommand(other.to_owned()).into()),
    }
}

fn group(group: &str, argv: &[String]) -> Result<ExitCode, CliError> {
    // The subcommand is the first word that is neither an option nor an option's value.
    let mut sub = None;
    let mut i = 0;
    while i < argv.len() {
        let a = &argv[i];
        if VALUE_OPTIONS.contains(&a.as_str()) {
            i += 2;
            continue;
        }
        if !a.starts_with('-') {
            sub = Some(i);
            break;
        }
        i += 1;
    }
    let Some(i) = sub else {
        if argv.iter().any(|a| a == "--help" || a == "-h") {
            print!("{TOP_HELP}");
            return Ok(ExitCode::SUCCESS);
        }
        return Err(UsageError::MissingCommand.into());
    };
    let mut rest = argv.to_vec();
    let name = rest.remove(i);
    match (group, name.as_str()) {
        ("user", "add") => user_add(&rest),
        ("user", "passwd") => user_passwd(&rest),
        ("user", "del") => user_del(&rest),
        ("user", "list") => user_list(&rest),
        ("token", "issue") => token_issue(&rest),
        ("token", "verify") => token_verify(&rest),
        ("token", "revoke") => token_revoke(&rest),
        ("session", "revoke-all") => session_revoke_all(&rest),
        ("key", "rotate") => key_rotate(&rest),
        ("key", "drop") => key_drop(&rest),
        ("key", "list") => key_list(&rest),
        _ => Err(UsageError::UnknownCommand(format!("{group} {name}")).into()),
    }
}

/// Parses `argv` for a command; `None` means help was printed.
fn parse(argv: &[String], usage: &str, opts: &[Opt]) -> Result<Option<Parsed>, CliError> {
    let parsed = args::parse(argv, opts, env_var)?;
    if parsed.help {
        print!("Usage: {usage}\n\n{}", args::options_help(opts));
        return Ok(None);
    }
    Ok(Some(parsed))
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// The data dir's hash cost for new passwords, announced when it was measured just now.
fn hash_policy(dir: &DataDir) -> Result<Policy, CliError> {
    let (policy, calibration) = dir.hash_policy()?;
    if let Some(cal) = &calibration {
        announce_calibration(cal);
    }
    Ok(policy)
}

fn user_add(argv: &[String]) -> Result<ExitCode, CliError> {
    let Some(p) = parse(
        argv,
        "latchkey user add NAME [--password-stdin]",
        &[DATA_DIR, PASSWORD_STDIN],
    )?
    else {
        return Ok(ExitCode::SUCCESS);
    };
    p.expect_positionals(1, "NAME")?;
    let name = &p.positionals[0];
    users::validate_username(name)?;
    let dir = data_dir(&p);
    // Said before asking for a password; checked again under the lock.
    if dir.users_or_empty()?.get(name).is_some() {
        return Err(users::UsersError::Exists(name.clone()).into());
    }
    let pw = read_new_password(p.has("password-stdin"))?;
    let policy = hash_policy(&dir)?;
    let hash = password::hash(pw.as_bytes(), &policy)?;
    dir.create()?;
    let held = dir.lock()?;
    let mut db = dir.users_or_empty()?;
    db.add(name, &hash)?;
    dir.save_users(&held, &db)?;
    drop(held);
    eprintln!("latchkey: added user {name}");
    Ok(ExitCode::SUCCESS)
}

fn user_passwd(argv: &[String]) -> Result<ExitCode, CliError> {
    let Some(p) = parse(
        argv,
        "latchkey user passwd NAME [--password-stdin]",
        &[DATA_DIR, PASSWORD_STDIN],
    )?
    else {
        return Ok(ExitCode::SUCCESS);
    };
    p.expect_positionals(1, "NAME")?;
    let name = &p.positionals[0];
    let dir = data_dir(&p);
    if dir.users()?.get(name).is_none() {
        return Err(users::UsersError::NotFound(name.clone()).into());
    }
    let pw = read_new_password(p.has("password-stdin"))?;
    let policy = hash_policy(&dir)?;
    let hash = password::hash(pw.as_bytes(), &policy)?;
    let held = dir.lock()?;
    let mut db = dir.users()?;
    db.set_password(name, &hash)?;
    // The new hash and epoch first: between the two writes the old password and the
    // sessions it made are already refused; the cutoff then ends its tokens, which
    // carry no epoch.
    dir.save_users(&held, &db)?;
    revoke_all_of(&dir, &held, name)?;
    drop(held);
    eprintln!("latchkey: changed the password of {name}; their sessions and tokens are ended");
    Ok(ExitCode::SUCCESS)
}

fn user_del(argv: &[String]) -> Result<ExitCode, CliError> {
    let Some(p) = parse(argv, "latchkey user del NAME", &[DATA_DIR])? else {
        return Ok(ExitCode::SUCCESS);
    };
    p.expect_positionals(1, "NAME")?;
    let name = &p.positionals[0];
    let dir = data_dir(&p);
    let held = dir.lock()?;
    let mut db = dir.users()?;
    db.remove(name)?;
    // The cutoff first: a user re-created under the same name must not inherit live
    // sessions, and between the two writes the user's sessions are already refused.
    revoke_all_of(&dir, &held, name)?;
    dir.save_users(&held, &db)?;
    drop(held);
    eprintln!("latchkey: deleted user {name}");
    Ok(ExitCode::SUCCESS)
}

fn user_list(argv: &[String]) -> Result<ExitCode, CliError> {
    let Some(p) = parse(argv, "latchkey user list", &[DATA_DIR])? else {
        return Ok(ExitCode::SUCCESS);
    };
    p.expect_positionals(0, "no arguments")?;
    let db = data_dir(&p).users_or_empty()?;
    for user in db.iter() {
        println!("{}", user.name);
    }
    Ok(ExitCode::SUCCESS)
}

fn hash(argv: &[String]) -> Result<ExitCode, CliError> {
    const ITER: Opt = Opt::value(
        "iterations",
        "N",
        "PBKDF2 iterations (default: the data dir's calibrated cost)",
    );
    let Some(p) = parse(
        argv,
        "latchkey hash [--password-stdin] [--iterations N]",
        &[DATA_DIR, PASSWORD_STDIN, ITER],
    )?
    else {
        return Ok(ExitCode::SUCCESS);
    };
    p.expect_positionals(0, "no arguments")?;
    let policy = match p.get("iterations") {
        Some(n) => Policy::new(n.parse().map_err(|_| UsageError::BadValue {
            option: "--iterations".into(),
            expected: "a whole number",
        })?)?,
        None => hash_policy(&data_dir(&p))?,
    };
    let pw = read_new_password(p.has("password-stdin"))?;
    println!("{}", password::hash(pw.as_bytes(), &policy)?);
    Ok(ExitCode::SUCCESS)
}

fn calibrate(argv: &[String]) -> Result<ExitCode, CliError> {
    const TARGET: Opt = Opt::value(
        "target",
        "DURATION",
        "time one hash should take (default 250ms)",
    );
    let Some(p) = parse(
        argv,
        "latchkey calibrate [--target 250ms]",
        &[DATA_DIR, TARGET],
    )?
    else {
        return Ok(ExitCode::SUCCESS);
    };
    p.expect_positionals(0, "no arguments")?;
    let target = match p.get("target") {
        None => password::DEFAULT_TARGET,
        Some(t) => parse_millis(t).ok_or(UsageError::BadValue {
            option: "--target".into(),
            expected: "a duration such as 250ms or 1s",
        })?,
    };
    let (_, cal) = data_dir(&p).calibrate(target)?;
    announce_calibration(&cal);
    Ok(ExitCode::SUCCESS)
}

fn parse_millis(s: &str) -> Option<Duration> {
    match s.strip_suffix("ms") {
        Some(ms) => ms.parse().ok().map(Duration::from_millis),
        None => args::parse_duration(s).map(Duration::from_secs),
    }
}

fn token_issue(argv: &[String]) -> Result<ExitCode, CliError> {
    const TTL: Opt = Opt::value(
        "ttl",
        "DURATION",
        "lifetime, e.g. 300s, 15m, 12h (default 15m)",
    );
    const REFRESH: Opt = Opt::flag(
        "refresh",
        "issue a refresh token instead of an access token",
    );
    let Some(p) = parse(
        argv,
        "latchkey token issue USER [--ttl 15m] [--refresh]",
        &[DATA_DIR, TTL, REFRESH],
    )?
    else {
        return Ok(ExitCode::SUCCESS);
    };
    p.expect_positionals(1, "USER")?;
    let user = &p.positionals[0];
    let ttl = match p.get("ttl") {
        None => 900,
        // Revocations are forgotten after MAX_CREDENTIAL_TTL: no token may outlive them.
        Some(t) => args::parse_duration(t)
            .filter(|&s| s > 0 && s <= crate::web::config::MAX_CREDENTIAL_TTL)
            .ok_or(UsageError::BadValue {
                option: "--ttl".into(),
                expected: "a duration from 1s to 31d, such as 15m",
            })?,
    };
    let dir = data_dir(&p);
    let db = dir.users()?;
    let Some(record) = db.get(user) else {
        return Err(users::UsersError::NotFound(user.clone()).into());
    };
    let ring = dir.keyring()?;
    let kind = if p.has("refresh") {
        TokenType::Refresh
    } else {
        TokenType::Access
    };
    let claims = crate::web::auth::new_claims(&record.name, now(), ttl, kind)?;
    println!(
        "{}",
        jwt::sign(&claims, ring.key_set(Purpose::ApiToken).current())
    );
    Ok(ExitCode::SUCCESS)
}

fn token_verify(argv: &[String]) -> Result<ExitCode, CliError> {
    const AT: Opt = Opt::value(
        "at",
        "UNIX_SECONDS",
        "verify as if the clock said this time",
    );
    const SECRET: Opt = Opt::value(
        "secret-file",
        "FILE",
        "verify with this raw shared secret instead of the keyring",
    );
    let Some(p) = parse(
        argv,
        "latchkey token verify TOKEN [--at UNIX_SECONDS] [--secret-file FILE]",
        &[DATA_DIR, AT, SECRET],
    )?
    else {
        return Ok(ExitCode::SUCCESS);
    };
    p.expect_positionals(1, "TOKEN")?;
    let at = match p.get("at") {
        None => now(),
        Some(t) => t.parse().map_err(|_| UsageError::BadValue {
            option: "--at".into(),
            expected: "unix seconds",
        })?,
    };
    let dir = data_dir(&p);
    let keys = match p.get("secret-file") {
        Some(file) => {
            let secret = std::fs::read(file).map_err(|e| CliError::Io(file.to_owned(), e))?;
            KeySet::shared_secret(&secret)?
        }
        None => dir.keyring()?.key_set(Purpose::ApiToken),
    };
    let claims = jwt::verify(&p.positionals[0], &keys, &Validation::default(), at)?;
    // As the service judges it: a revocation ends a token before its expiry. No
    // revocations file means nothing is revoked.
    let revoked = dir.revocations()?;
    if let Some(jti) = claims
        .jti
        .as_deref()
        .filter(|j| revoked.is_token_revoked(j))
    {
        return Err(CliError::Revoked(format!("token {jti} was revoked")));
    }
    if let Some(user) = claims.sub.as_deref()
        && revoked.is_revoked_by_cutoff(user, claims.iat.unwrap_or(0))
    {
        let cutoff = revoked.user_cutoff(user).unwrap_or_default();
        return Err(CliError::Revoked(format!(
            "every token of {user} issued up to {cutoff} was ended \
             (session revoke-all, user passwd or user del)"
        )));
    }
    println!("{}", claims.to_json());
    Ok(ExitCode::SUCCESS)
}

fn token_revoke(argv: &[String]) -> Result<ExitCode, CliError> {
    let Some(p) = parse(argv, "latchkey token revoke JTI", &[DATA_DIR])? else {
        return Ok(ExitCode::SUCCESS);
    };
    p.expect_positionals(1, "JTI")?;
    let dir = data_dir(&p);
    let held = dir.lock()?;
    let mut store = dir.revocations()?;
    let now = now();
    store.revoke_token(&held, &p.positionals[0], now + FORGET_UNKNOWN_AFTER, now)?;
    drop(held);
    eprintln!("latchkey: revoked token {}", p.positionals[0]);
    Ok(ExitCode::SUCCESS)
}

/// Ends every session and token of `user` issued up to now, under the lock `held`.
fn revoke_all_of(dir: &DataDir, held: &DirLock, user: &str) -> Result<(), CliError> {
    let mut store = dir.revocations()?;
    let now = now();
    store.revoke_user_before(held, user, now, FORGET_UNKNOWN_AFTER, now)?;
    Ok(())
}

fn session_revoke_all(argv: &[String]) -> Result<ExitCode, CliError> {
    let Some(p) = parse(argv, "latchkey session revoke-all USER", &[DATA_DIR])? else {
        return Ok(ExitCode::SUCCESS);
    };
    p.expect_positionals(1, "USER")?;
    let user = &p.positionals[0];
    users::validate_username(user)?;
    let dir = data_dir(&p);
    let held = dir.lock()?;
    revoke_all_of(&dir, &held, user)?;
    drop(held);
    eprintln!("latchkey: ended every session and token of {user}");
    Ok(ExitCode::SUCCESS)
}

fn key_rotate(argv: &[String]) -> Result<ExitCode, CliError> {
    const KEEP: Opt = Opt::value(
        "keep",
        "N",
        "keys to keep in all, the new one included; older ones stop verifying (default 3)",
    );
    let Some(p) = parse(argv, "latchkey key rotate [--keep N]", &[DATA_DIR, KEEP])? else {
        return Ok(ExitCode::SUCCESS);
    };
    p.expect_positionals(0, "no arguments")?;
    let keep = match p.get("keep") {
        None => KEEP_ON_ROTATE,
        Some(n) => n
            .parse()
            .ok()
            .filter(|&n| n > 0)
            .ok_or(UsageError::BadValue {
                option: "--keep".into(),
                expected: "a positive whole number",
            })?,
    };
    let kid = data_dir(&p).rotate_key(keep)?;
    if keep == 1 {
        eprintln!("latchkey: new signing key {kid}; what older keys signed no longer verifies");
    } else {
        eprintln!(
            "latchkey: new signing key {kid}; keep the older ones until their sessions have expired"
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn key_drop(argv: &[String]) -> Result<ExitCode, CliError> {
    let Some(p) = parse(argv, "latchkey key drop KID", &[DATA_DIR])? else {
        return Ok(ExitCode::SUCCESS);
    };
    p.expect_positionals(1, "KID")?;
    let kid = &p.positionals[0];
    data_dir(&p).drop_key(kid)?;
    eprintln!("latchkey: dropped key {kid}; what it signed no longer verifies");
    Ok(ExitCode::SUCCESS)
}

fn key_list(argv: &[String]) -> Result<ExitCode, CliError> {
    let Some(p) = parse(argv, "latchkey key list", &[DATA_DIR])? else {
        return Ok(ExitCode::SUCCESS);
    };
    p.expect_positionals(0, "no arguments")?;
    let ring = data_dir(&p).keyring()?;
    for (i, kid) in ring.kids().enumerate() {
        if i == 0 {
            println!("{kid} (signs)");
        } else {
            println!("{kid}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
