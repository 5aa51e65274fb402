//! `latchkey serve`: load (or, on the first run, create) the data directory, bind,
//! and run the event loop until SIGTERM or SIGINT.

use std::process::ExitCode;

use crate::cli::args::{self, options_help};
use crate::cli::{CliError, env_var};
use crate::keys::Keyring;
use crate::password;
use crate::store::revocation::RevocationStore;
use crate::store::users::{self, UserDb};
use crate::web::app::App;
use crate::web::auth::Keys;
use crate::web::config::{Config, OPTIONS};

/// Length of the first-run admin password, in base64url characters (144 bits).
const FIRST_PASSWORD_LEN: usize = 24;

/// Runs `latchkey serve` with its arguments.
pub fn command(argv: &[String]) -> Result<ExitCode, CliError> {
    let parsed = args::parse(argv, OPTIONS, env_var)?;
    if parsed.help {
        print!(
            "Usage: latchkey serve [options]\n\n{}",
            options_help(OPTIONS)
        );
        return Ok(ExitCode::SUCCESS);
    }
    parsed.expect_positionals(0, "no arguments")?;
    let cfg = Config::from_parsed(&parsed)?;
    let app = prepare(&cfg)?;
    let server = crate::http::Server::bind(cfg.listen, cfg.limits.clone())
        .map_err(|e| CliError::Serve(format!("cannot listen on {}: {e}", cfg.listen)))?;
    let addr = server
        .local_addr()
        .map_err(|e| CliError::Serve(e.to_string()))?;
    eprintln!(
        "latchkey: listening on http://{addr}/ (data dir {})",
        cfg.data_dir.display()
    );
    server
        .handle_signals(true)
        .run(app)
        .map_err(|e| CliError::Serve(format!("server failed: {e}")))?;
    eprintln!("latchkey: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Loads the state `serve` runs on; the first run creates the data dir, the secret,
/// the hash cost and a user `admin` whose random password is printed once.
pub fn prepare(cfg: &Config) -> Result<App, CliError> {
    let (ring, _) = Keyring::load_or_create(&cfg.data_dir)?;
    let policy = crate::cli::cost_policy(&cfg.data_dir)?;
    let users_path = cfg.data_dir.join(users::USERS_FILE);
    let db = match crate::cli::load_users_file(&users_path) {
        Err(CliError::Users(users::UsersError::Missing(_))) => first_user(&users_path, &policy)?,
        other => other?,
    };
    let revoked = RevocationStore::load(&cfg.data_dir)?;
    Ok(App::new(cfg.clone(), Keys::new(&ring), db, revoked, policy))
}

fn first_user(path: &std::path::Path, policy: &password::Policy) -> Result<UserDb, CliError> {
    use base64::Engine;
    let raw: [u8; 18] = crate::random::array().map_err(|e| CliError::Serve(e.to_string()))?;
    let pw = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw);
    debug_assert_eq!(pw.len(), FIRST_PASSWORD_LEN);
    crate::keys::ensure_data_dir(path.parent().unwrap_or(std::path::Path::new(".")))?;
    let mut db = UserDb::new();
    db.add("admin", &password::hash(pw.as_bytes(), policy)?)?;
    db.save(path)?;
    eprintln!("latchkey: first run: created user 'admin' with password: {pw}");
    eprintln!("latchkey: it is shown only this once; change it with: latchkey user passwd admin");
    Ok(db)
}
