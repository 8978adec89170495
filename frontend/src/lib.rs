//! The WASM entry: mounts the app in the page the server rendered. Nothing else lives here.
//!
//! It mounts (Leptos `csr`) rather than hydrates: the server renders the first screen only ("Loading…";
//! the browser chooses what to show once it knows who is logged in), so hydration would buy nothing, and
//! its code is about a quarter of the release WASM (on 65f23db: 444,521 bytes gzipped hydrating, 332,927 mounting;
//! BENCHMARKS.md, Page weight). The export keeps the name `hydrate`: Leptos's `HydrationScripts` calls that.

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // The server's rendering of the same first screen, replaced without a visible change.
    if let Some(body) = leptos::prelude::document().body() {
        body.set_inner_html("");
    }
    leptos::mount::mount_to_body(app::App);
}
