//! TODO: jwt (being built).
