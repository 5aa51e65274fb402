//! The data directory: every file latchkey keeps, and how it is written.

pub mod atomic_file;
pub mod revocation;
pub mod users;
