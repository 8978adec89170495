//! The few browser facilities the views use besides the DOM: this browser's localStorage (choices kept
//! for next time), this tab's sessionStorage (the call it is in, for a reload), the clipboard, the page's
//! origin. On the server there is no browser: reads find nothing and writes do nothing.

/// A value kept in this browser's localStorage (none when storage is refused).
pub fn local(key: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .and_then(|s| s.get_item(key).ok().flatten())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = key;
        None
    }
}

pub fn set_local(key: &str, value: &str) {
    #[cfg(feature = "hydrate")]
    if let Some(s) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = s.set_item(key, value);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (key, value);
}

/// A value kept in this tab's sessionStorage: it survives a reload, not the tab.
pub fn session(key: &str) -> Option<String> {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.session_storage().ok().flatten())
            .and_then(|s| s.get_item(key).ok().flatten())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = key;
        None
    }
}

/// Sets (`Some`) or removes (`None`) a sessionStorage value.
pub fn set_session(key: &str, value: Option<&str>) {
    #[cfg(feature = "hydrate")]
    if let Some(s) = web_sys::window().and_then(|w| w.session_storage().ok().flatten()) {
        let _ = match value {
            Some(v) => s.set_item(key, v),
            None => s.remove_item(key),
        };
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (key, value);
}

/// `https://host:port` of this page.
pub fn origin() -> String {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.location().origin().ok())
            .unwrap_or_default()
    }
    #[cfg(not(feature = "hydrate"))]
    String::new()
}

/// Puts `text` on the clipboard; false when the browser refuses (no permission, no clipboard API).
pub async fn copy_text(text: String) -> bool {
    #[cfg(feature = "hydrate")]
    {
        use wasm_bindgen::{JsCast, JsValue};
        let Some(window) = web_sys::window() else {
            return false;
        };
        let clipboard = js_sys::Reflect::get(&window.navigator(), &JsValue::from_str("clipboard"))
            .unwrap_or(JsValue::UNDEFINED);
        let Some(write) = js_sys::Reflect::get(&clipboard, &JsValue::from_str("writeText"))
            .ok()
            .and_then(|f| f.dyn_into::<js_sys::Function>().ok())
        else {
            return false;
        };
        let Some(promise) = write
            .call1(&clipboard, &JsValue::from_str(&text))
            .ok()
            .and_then(|p| p.dyn_into::<js_sys::Promise>().ok())
        else {
            return false;
        };
        wasm_bindgen_futures::JsFuture::from(promise).await.is_ok()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = text;
        false
    }
}
