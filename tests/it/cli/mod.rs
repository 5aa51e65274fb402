//! The command line: every command, and bad input answered with one line on stderr
//! and the documented exit status.

mod commands;
mod input;
