//! The command line: every command, and bad input answered with one line on stderr
//! and the documented exit status.

mod commands;
mod data_dir;
mod input;
mod mistakes;
mod ownership;
mod serve_flags;
mod weak_passwords;
