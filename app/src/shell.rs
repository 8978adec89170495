//! The HTML document around the app: the links to the built files (their names, content-hashed by
//! scripts/build-app.sh, come from the server in [`Assets`]), the hydration script, and, behind `ssr`,
//! the page's Content-Security-Policy.

use crate::views::App;
use leptos::prelude::*;
use leptos_meta::MetaTags;

/// The URL paths of the stylesheet and of the openvidu-browser bundle. The WASM and its JS loader
/// are named by [`LeptosOptions::output_name`] (Leptos's `HydrationScripts` links them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assets {
    pub css: String,
    pub openvidu_js: String,
}

impl Default for Assets {
    /// The names cargo-leptos writes (no hashes).
    fn default() -> Assets {
        Assets {
            css: "/pkg/app.css".into(),
            openvidu_js: "/js/openvidu-browser.min.js".into(),
        }
    }
}

/// The HTML document around the app. The openvidu-browser bundle loads before the (deferred) WASM.
pub fn shell(options: LeptosOptions, assets: Assets) -> impl IntoView {
    #[cfg(feature = "ssr")]
    content_security_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="stylesheet" href=assets.css/>
                <link rel="icon" href="data:,"/>
                <script src=assets.openvidu_js></script>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// Sets this response's Content-Security-Policy, with a fresh nonce for Leptos's inline script.
#[cfg(feature = "ssr")]
fn content_security_policy() {
    use crate::backend::{ConnectSources, content_security_policy};
    leptos::nonce::provide_nonce();
    let (Some(nonce), Some(res)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) else {
        return;
    };
    let connect = use_context::<ConnectSources>().unwrap_or_default();
    if let Ok(value) = http::HeaderValue::from_str(&content_security_policy(&nonce, &connect)) {
        res.insert_header(http::header::CONTENT_SECURITY_POLICY, value);
    }
}
