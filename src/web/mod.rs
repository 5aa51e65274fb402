//! TODO: web (being built).
