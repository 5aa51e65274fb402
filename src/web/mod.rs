//! The web layer: routing, authentication and handlers, over pure building
//! blocks that do no I/O (HTML pages, form and URL decoding, redirect-target
//! validation, client-IP resolution behind trusted proxies).

pub mod client_ip;
pub mod form;
pub mod html;
pub mod pages;
pub mod redirect;
pub mod url;

pub mod app;
pub mod auth;
pub mod config;
pub mod errors;
pub mod log;
pub mod proxy;
pub mod respond;
pub mod serve;
pub mod static_files;
