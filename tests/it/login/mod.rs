//! Logging in: the form walk, lockout against brute force (also by concurrency), the
//! password hash off the event loop, and `user passwd` racing a login.

mod concurrent_guesses;
mod form;
mod lockout;
mod passwd_race;
mod slow_hash;
