//! The built site's files (pkg/, js/ under the site root): which names the page links, and how they
//! are served. scripts/build-app.sh names each file after a hash of its content and lists the names in
//! `assets.json` at the site root; those files are cached for a year (`immutable`), since a change makes
//! a new name. Everything else (the pages, unhashed files, the manifest itself) is revalidated on every
//! use (`no-cache`). Static files are compressed (gzip or brotli, as the browser accepts); pages and
//! server-function answers are not, as they carry tokens and nonces (BREACH).
//!
//! Without a manifest (cargo-leptos, whose own run sets `LEPTOS_OUTPUT_NAME`, or no build at all) the
//! fixed names cargo-leptos writes are linked and nothing is cached long.

use anyhow::{Context, bail};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

/// The manifest's file name, at the site root.
pub const MANIFEST: &str = "assets.json";

/// `Cache-Control` of a content-hashed file.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// `Cache-Control` of everything else: keep if you like, but ask every time.
pub const NO_CACHE: &str = "no-cache";

/// The names the page links and the URL paths that may be cached for good.
#[derive(Debug, Clone)]
pub struct SiteAssets {
    /// The WASM and its JS loader: `pkg/<output_name>.js` and `pkg/<output_name>_bg.wasm`.
    pub output_name: String,
    /// The stylesheet and the openvidu-browser bundle.
    pub links: app::Assets,
    /// URL paths (`/pkg/app.<hash>.js`) served as immutable.
    pub hashed: Arc<HashSet<String>>,
}

impl SiteAssets {
    /// The fixed names of a cargo-leptos build.
    pub fn unhashed() -> SiteAssets {
        SiteAssets {
            output_name: "app".into(),
            links: app::Assets::default(),
            hashed: Arc::default(),
        }
    }

    /// Reads `assets.json` under `site_root` and checks that every file it names is there. No
    /// manifest: [`SiteAssets::unhashed`].
    pub fn load(site_root: &Path) -> anyhow::Result<SiteAssets> {
        let path = site_root.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::debug!("no {}: linking unhashed file names", path.display());
                return Ok(SiteAssets::unhashed());
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
        };
        let manifest: serde_json::Value = serde_json::from_str(&text)
            .with_context(|| format!("{} is not JSON", path.display()))?;
        let field = |name: &str| -> anyhow::Result<String> {
            match manifest.get(name).and_then(|v| v.as_str()) {
                Some(v) if !v.is_empty() && !v.contains("..") && !v.starts_with('/') => {
                    Ok(v.into())
                }
                _ => bail!("{}: no valid \"{name}\"", path.display()),
            }
        };
        let output_name = field("output_name")?;
        if output_name.contains('/') {
            bail!("{}: output_name must be a file name", path.display());
        }
        let css = field("css")?;
        let openvidu = field("openvidu")?;
        // Leptos links `<name>_bg.wasm` when its crate was built outside cargo-leptos (as
        // scripts/build-app.sh builds it), `<name>.wasm` under it: ask the same question it asks.
        let wasm_suffix = if option_env!("LEPTOS_OUTPUT_NAME").is_some() {
            ""
        } else {
            "_bg"
        };
        let files = [
            format!("pkg/{output_name}.js"),
            format!("pkg/{output_name}{wasm_suffix}.wasm"),
            css.clone(),
            openvidu.clone(),
        ];
        for file in &files {
            if !site_root.join(file).is_file() {
                bail!(
                    "{} names {file}, which is not in {} (run scripts/build-app.sh)",
                    path.display(),
                    site_root.display()
                );
            }
        }
        Ok(SiteAssets {
            output_name,
            links: app::Assets {
                css: format!("/{css}"),
                openvidu_js: format!("/{openvidu}"),
            },
            hashed: Arc::new(files.iter().map(|f| format!("/{f}")).collect()),
        })
    }
}

/// Sets `Cache-Control`: [`IMMUTABLE`] on a successful answer for a content-hashed path, else
/// [`NO_CACHE`] unless the handler chose already.
pub async fn cache_control(
    State(hashed): State<Arc<HashSet<String>>>,
    req: Request,
    next: Next,
) -> Response {
    let immutable = hashed.contains(req.uri().path());
    let mut res = next.run(req).await;
    let found = res.status().is_success() || res.status() == StatusCode::NOT_MODIFIED;
    let headers = res.headers_mut();
    if immutable && found {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    } else if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_CACHE));
    }
    res
}
