//! HS256 tokens: published known-answer vectors, hostile tokens and the `sub` /
//! `identity` rule.

mod attacks;
mod subject;
mod vectors;
