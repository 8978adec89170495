//! The WASM entry: mounts the app in the page the server rendered. Nothing else lives here.
//!
//! It mounts (Leptos `csr`) rather than hydrates: the server renders the first screen only ("Loading…";
//! the browser chooses what to show once it knows who is logged in), so hydration would buy nothing, and
//! its code is about a quarter of the release WASM (on 65f23db: 444,521 bytes gzipped hydrating, 332,927 mounting;
//! BENCHMARKS.md, Page weight). The export keeps the name `hydrate`: Leptos's `HydrationScripts` calls that.

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    // A panic's message goes to the console (console_error_panic_hook adds a stack trace, which names
    // nothing in a release build whose function names are stripped, for 0.3 KB gzipped more).
    std::panic::set_hook(Box::new(|info| {
        leptos::web_sys::console::error_1(&info.to_string().into())
    }));
    // The server's rendering of the same first screen, replaced without a visible change.
    if let Some(body) = leptos::prelude::document().body() {
        body.set_inner_html("");
    }
    leptos::mount::mount_to_body(app::App);
}
