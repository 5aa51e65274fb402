//! The web layer: routing, authentication and handlers, over pure building
//! blocks that do no I/O (HTML pages, form and URL decoding, redirect-target
//! validation, client-IP resolution behind trusted proxies).

pub(crate) mod client_ip;
pub(crate) mod form;
pub(crate) mod html;
pub(crate) mod pages;
pub(crate) mod redirect;
pub(crate) mod url;

mod api;
pub(crate) mod app;
pub(crate) mod auth;
mod browser;
pub(crate) mod config;
pub(crate) mod errors;
mod forward_auth;
pub(crate) mod log;
mod login;
pub(crate) mod proxy;
pub(crate) mod respond;
pub(crate) mod serve;
pub(crate) mod static_files;
pub(crate) mod tls;
