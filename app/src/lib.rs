//! The video-call app: Leptos views (login, join, call), the server functions they call, and, behind the
//! `ssr` feature, the plain functions those server functions wrap (users, login sessions, throttling,
//! the OpenVidu REST client, token management).
//!
//! [`shell`] is the HTML document around the views. The browser half (`hydrate`) talks to
//! openvidu-browser only through [`openvidu`].

pub mod api;
pub mod model;
pub mod quality;
pub mod shell;
pub mod views;
pub mod wire;

#[cfg(feature = "ssr")]
pub mod backend;

#[cfg(feature = "hydrate")]
pub mod openvidu;

pub use shell::{Assets, shell};
pub use views::App;
