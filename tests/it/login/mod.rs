//! Logging in: the form walk, lockout against brute force (also by concurrency), the
//! password hash off the event loop, `user passwd` racing a login, and failed logins
//! taking as long whatever the user's stored hash.

mod concurrent_guesses;
mod form;
mod lockout;
mod passwd_race;
mod slow_hash;
mod timing;
