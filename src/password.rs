//! TODO: password (being built).
