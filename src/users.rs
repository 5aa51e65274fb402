//! TODO: users (being built).
