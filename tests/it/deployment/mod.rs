//! The shipped deployment recipes against real programs: nginx `auth_request`, Caddy
//! `forward_auth`, Chromium on the login page, the fail2ban filter, the systemd unit and
//! the OpenWrt procd script.

mod browser;
mod caddy;
mod fail2ban;
mod nginx;
mod packaging;
