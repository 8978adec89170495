//! Refuses cross-site requests to state-changing endpoints (every non-GET/HEAD/OPTIONS request under
//! `/api`). Browsers send `Sec-Fetch-Site`; older ones at least `Origin`. A request with neither comes
//! from a non-browser client, which holds no victim's cookie, and passes.

use crate::api::AppError;
use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode, header};

/// Whether the request may proceed, from its method and headers.
pub fn allowed(method: &Method, headers: &http::HeaderMap) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return true;
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        return matches!(site.to_str(), Ok("same-origin") | Ok("none"));
    }
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => {
            let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
            let origin = origin
                .to_str()
                .ok()
                .and_then(|o| o.split_once("://").map(|(_, rest)| rest));
            matches!((origin, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(h))
        }
    }
}

/// axum middleware; it only looks at paths under `/api/` (not `/openvidu/api`, which takes no cookie).
pub async fn refuse_cross_site(req: Request, next: Next) -> Response {
    if !req.uri().path().starts_with("/api/") || allowed(req.method(), req.headers()) {
        return next.run(req).await;
    }
    tracing::warn!(path = %req.uri().path(), "refused a cross-site request");
    let body = serde_json::to_string(&AppError::CrossSite).unwrap_or_default();
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn decisions() {
        let post = Method::POST;
        assert!(allowed(
            &Method::GET,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
        assert!(allowed(&post, &headers(&[])));
        assert!(allowed(
            &post,
            &headers(&[("sec-fetch-site", "same-origin")])
        ));
        assert!(!allowed(
            &post,
            &headers(&[("sec-fetch-site", "same-site")])
        ));
        assert!(!allowed(
            &post,
            &headers(&[("sec-fetch-site", "cross-site")])
        ));
        assert!(allowed(
            &post,
            &headers(&[
                ("origin", "http://127.0.0.1:5000"),
                ("host", "127.0.0.1:5000")
            ])
        ));
        assert!(!allowed(
            &post,
            &headers(&[
                ("origin", "http://evil.example"),
                ("host", "127.0.0.1:5000")
            ])
        ));
        assert!(!allowed(
            &post,
            &headers(&[("origin", "null"), ("host", "127.0.0.1:5000")])
        ));
        // Sec-Fetch-Site wins over a matching Origin.
        assert!(!allowed(
            &post,
            &headers(&[
                ("sec-fetch-site", "cross-site"),
                ("origin", "http://127.0.0.1:5000"),
                ("host", "127.0.0.1:5000")
            ])
        ));
    }
}
