//! TODO: ratelimit (being built).
