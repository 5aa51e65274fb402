//! Sessions and tokens end when they should: logout, lifetimes no longer than
//! revocations are kept, and revocation.

mod credentials;
mod lifetimes;
mod logout;
mod revocation;
