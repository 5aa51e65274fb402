//! TODO: revocation (being built).
