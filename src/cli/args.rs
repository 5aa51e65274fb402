//! A small command-line parser: options may come before or after positional
//! arguments, `--name value` and `--name=value` are the same, `--` ends options, and
//! every option can fall back to a `LATCHKEY_*` environment variable.

use std::fmt;

/// One option a command accepts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Opt {
    /// The long name without dashes, e.g. `data-dir`.
    pub name: &'static str,
    /// Whether it takes a value (`--ttl 15m`) or is a switch (`--password-stdin`).
    pub takes_value: bool,
    /// Whether it may be given more than once (values accumulate).
    pub repeatable: bool,
    /// The environment variable read when the option is absent.
    pub env: Option<&'static str>,
    /// Placeholder for the value in help, e.g. `DIR`.
    pub value_name: &'static str,
    /// One line of help.
    pub help: &'static str,
}

impl Opt {
    /// An option taking a value.
    pub(crate) const fn value(
        name: &'static str,
        value_name: &'static str,
        help: &'static str,
    ) -> Opt {
        Opt {
            name,
            takes_value: true,
            repeatable: false,
            env: None,
            value_name,
            help,
        }
    }

    /// A switch without a value.
    pub(crate) const fn flag(name: &'static str, help: &'static str) -> Opt {
        Opt {
            name,
            takes_value: false,
            repeatable: false,
            env: None,
            value_name: "",
            help,
        }
    }

    /// The same option, also read from environment variable `env`.
    pub(crate) const fn env(mut self, env: &'static str) -> Opt {
        self.env = Some(env);
        self
    }

    /// The same option, allowed several times.
    pub(crate) const fn repeatable(mut self) -> Opt {
        self.repeatable = true;
        self
    }
}

/// A command-line usage mistake; printed as one line, exit status 2.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub(crate) enum UsageError {
    /// An option the command does not know.
    UnknownOption(String),
    /// An option that needs a value came last.
    MissingValue(String),
    /// A switch was given a value (`--flag=x`).
    UnexpectedValue(String),
    /// A non-repeatable option was given twice.
    Repeated(String),
    /// The wrong number of positional arguments.
    Positionals { expected: &'static str, got: usize },
    /// A value that does not parse, with what was expected.
    BadValue {
        option: String,
        expected: &'static str,
    },
    /// An unknown subcommand.
    UnknownCommand(String),
    /// No subcommand given where one is needed.
    MissingCommand,
    /// An argument or a `LATCHKEY_*` variable's value is not UTF-8 (holds which).
    NotUtf8(String),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::UnknownOption(o) => write!(f, "unknown option --{o}"),
            UsageError::MissingValue(o) => write!(f, "option --{o} needs a value"),
            UsageError::UnexpectedValue(o) => write!(f, "option --{o} takes no value"),
            UsageError::Repeated(o) => write!(f, "option --{o} given twice"),
            UsageError::Positionals { expected, got } => {
                write!(f, "expected {expected}, got {got} argument(s)")
            }
            UsageError::BadValue { option, expected } => {
                write!(f, "bad value for {option}: expected {expected}")
            }
            UsageError::UnknownCommand(c) => write!(f, "unknown command '{c}'"),
            UsageError::MissingCommand => f.write_str("missing command"),
            UsageError::NotUtf8(what) => write!(f, "{what} is not valid UTF-8"),
        }
    }
}

impl std::error::Error for UsageError {}

/// Parsed arguments of one command.
#[derive(Debug, Default)]
pub(crate) struct Parsed {
    /// Positional arguments in order.
    pub positionals: Vec<String>,
    values: Vec<(&'static str, String)>,
    /// Whether `--help` or `-h` was given.
    pub help: bool,
}

impl Parsed {
    /// The last value of option `name`, if given.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .rev()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable option, in order.
    pub(crate) fn all(&self, name: &str) -> Vec<&str> {
        self.values
            .iter()
            .filter(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Whether switch `name` was given.
    pub(crate) fn has(&self, name: &str) -> bool {
        self.values.iter().any(|(n, _)| *n == name)
    }

    /// Exactly `n` positionals, or a usage error naming `expected`.
    pub(crate) fn expect_positionals(
        &self,
        n: usize,
        expected: &'static str,
    ) -> Result<(), UsageError> {
        if self.positionals.len() == n {
            Ok(())
        } else {
            Err(UsageError::Positionals {
                expected,
                got: self.positionals.len(),
            })
        }
    }
}

/// Parses `args` against `opts`, filling absent options from the environment via `env`.
pub(crate) fn parse(
    args: &[String],
    opts: &[Opt],
    env: impl Fn(&str) -> Option<String>,
) -> Result<Parsed, UsageError> {
    let mut parsed = Parsed::default();
    let mut iter = args.iter();
    let mut only_positionals = false;
    while let Some(arg) = iter.next() {
        if only_positionals || arg == "-" || !arg.starts_with('-') {
            parsed.positionals.push(arg.clone());
            continue;
        }
        if arg == "--" {
            only_positionals = true;
            continue;
        }
        if arg == "-h" || arg == "--help" {
            parsed.help = true;
            continue;
        }
        let Some(body) = arg.strip_prefix("--") else {
            return Err(UsageError::UnknownOption(
                arg.trim_start_matches('-').to_owned(),
            ));
        };
        let (name, inline) = match body.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (body, None),
        };
        let opt = opts
            .iter()
            .find(|o| o.name == name)
            .ok_or_else(|| UsageError::UnknownOption(name.to_owned()))?;
        if !opt.repeatable && parsed.has(opt.name) {
            return Err(UsageError::Repeated(opt.name.to_owned()));
        }
        let value = match (opt.takes_value, inline) {
            (true, Some(v)) => v.to_owned(),
            (true, None) => iter
                .next()
                .cloned()
                .ok_or_else(|| UsageError::MissingValue(opt.name.to_owned()))?,
            (false, Some(_)) => return Err(UsageError::UnexpectedValue(opt.name.to_owned())),
            (false, None) => String::new(),
        };
        parsed.values.push((opt.name, value));
    }
    for opt in opts {
        if parsed.has(opt.name) {
            continue;
        }
        if let Some(var) = opt.env
            && let Some(v) = env(var).filter(|v| !v.is_empty())
        {
            if opt.takes_value && opt.repeatable {
                for part in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    parsed.values.push((opt.name, part.to_owned()));
                }
            } else if opt.takes_value {
                parsed.values.push((opt.name, v));
            } else if !matches!(v.as_str(), "0" | "false" | "no") {
                parsed.values.push((opt.name, String::new()));
            }
        }
    }
    Ok(parsed)
}

/// Renders the options table of a command's `--help`.
pub(crate) fn options_help(opts: &[Opt]) -> String {
    let mut out = String::from("Options:\n");
    let left: Vec<String> = opts
        .iter()
        .map(|o| {
            if o.takes_value {
                format!("--{} {}", o.name, o.value_name)
            } else {
                format!("--{}", o.name)
            }
        })
        .collect();
    let width = left.iter().map(String::len).max().unwrap_or(0).max(10);
    for (o, l) in opts.iter().zip(&left) {
        out.push_str(&format!("  {l:width$}  {}", o.help));
        if let Some(env) = o.env {
            out.push_str(&format!(" [env {env}]"));
        }
        out.push('\n');
    }
    out.push_str(&format!("  {:width$}  show this help\n", "--help"));
    out
}

/// Parses a duration such as `90`, `90s`, `15m`, `12h` or `30d` into seconds.
pub(crate) fn parse_duration(s: &str) -> Option<u64> {
    let (digits, unit) = match s.find(|c: char| !c.is_ascii_digit()) {
        Some(i) => s.split_at(i),
        None => (s, "s"),
    };
    if digits.is_empty() {
        return None;
    }
    let n: u64 = digits.parse().ok()?;
    let mult = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    const OPTS: &[Opt] = &[
        Opt::value("data-dir", "DIR", "data directory").env("LATCHKEY_DATA_DIR"),
        Opt::value("allowed-host", "HOST", "host")
            .env("LATCHKEY_ALLOWED_HOST")
            .repeatable(),
        Opt::flag("password-stdin", "read the password from stdin"),
    ];

    #[test]
    fn options_before_and_after_positionals() {
        let p = parse(
            &strings(&["--data-dir", "/d", "bob", "--password-stdin"]),
            OPTS,
            |_| None,
        )
        .unwrap();
        assert_eq!(p.positionals, ["bob"]);
        assert_eq!(p.get("data-dir"), Some("/d"));
        assert!(p.has("password-stdin"));
    }

    #[test]
    fn environment_fills_absent_options_only() {
        let env = |v: &str| match v {
            "LATCHKEY_DATA_DIR" => Some("/env".to_owned()),
            "LATCHKEY_ALLOWED_HOST" => Some("a.example, b.example".to_owned()),
            _ => None,
        };
        let p = parse(&strings(&[]), OPTS, env).unwrap();
        assert_eq!(p.get("data-dir"), Some("/env"));
        assert_eq!(p.all("allowed-host"), ["a.example", "b.example"]);
        let p = parse(&strings(&["--data-dir=/flag"]), OPTS, env).unwrap();
        assert_eq!(p.get("data-dir"), Some("/flag"));
    }

    #[test]
    fn usage_mistakes_are_named() {
        let err = |a: &[&str]| parse(&strings(a), OPTS, |_| None).unwrap_err();
        assert_eq!(err(&["--nope"]), UsageError::UnknownOption("nope".into()));
        assert_eq!(
            err(&["--data-dir"]),
            UsageError::MissingValue("data-dir".into())
        );
        assert_eq!(
            err(&["--password-stdin=1"]),
            UsageError::UnexpectedValue("password-stdin".into())
        );
        assert_eq!(
            err(&["--data-dir=a", "--data-dir=b"]),
            UsageError::Repeated("data-dir".into())
        );
        assert_eq!(err(&["-x"]), UsageError::UnknownOption("x".into()));
    }

    #[test]
    fn double_dash_ends_options() {
        let p = parse(&strings(&["--", "--data-dir"]), OPTS, |_| None).unwrap();
        assert_eq!(p.positionals, ["--data-dir"]);
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("300"), Some(300));
        assert_eq!(parse_duration("12h"), Some(43_200));
        assert_eq!(parse_duration("m"), None);
        assert_eq!(parse_duration("5w"), None);
        assert_eq!(parse_duration("99999999999999999999d"), None);
    }
}

#[cfg(test)]
mod examples {
    #[test]
    fn parse_example() {
        use crate::cli::args::{Opt, parse};
        let opts = [
            Opt::value("ttl", "DURATION", "lifetime"),
            Opt::flag("quiet", "say less"),
        ];
        let args = ["alice", "--ttl=15m", "--quiet"].map(String::from);
        let p = parse(&args, &opts, |_| None).unwrap();
        assert_eq!(p.positionals, ["alice"]);
        assert_eq!(p.get("ttl"), Some("15m"));
        assert!(p.has("quiet"));
    }

    #[test]
    fn parse_duration_example() {
        assert_eq!(crate::cli::args::parse_duration("15m"), Some(900));
        assert_eq!(crate::cli::args::parse_duration("30d"), Some(2_592_000));
        assert_eq!(crate::cli::args::parse_duration("-1s"), None);
    }
}
