//! TODO: http (being built).
