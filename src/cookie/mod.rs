//! TODO: cookie (being built).
