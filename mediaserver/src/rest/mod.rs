//! The REST API at `/openvidu/api`, as openvidu-node-client uses it (OPENVIDU-PROTOCOL.md C).
//!
//! This edge checks the `OPENVIDUAPP:<secret>` Basic credentials, parses and validates bodies (400
//! with a message on anything malformed) and turns the hub's answers into HTTP responses shaped like
//! the reference server's. State lives in the hub.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post};
use base64::Engine;
use serde::Deserialize;
use serde_json::{Map, Value, json};

use crate::hub::model::{ForcedVideoCodec, MediaMode, RecordingMode, Role, SessionProperties};
use crate::hub::{ConnectionProps, RestError, RestRequest, RestStatus, SessionProps};
use crate::{AppState, ids};

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/sessions", post(create_session).get(list_sessions))
        .route("/sessions/{id}", get(get_session).delete(close_session))
        .route(
            "/sessions/{id}/connection",
            post(create_connection).get(list_connections),
        )
        .route(
            "/sessions/{id}/connection/{cid}",
            get(get_connection).delete(delete_connection),
        )
        .route("/sessions/{id}/stream/{stream}", delete(force_unpublish))
        .route("/tokens", post(create_token))
        .route("/signal", post(signal))
        .route("/config", get(config))
        .route("/config/{key}", get(config_value))
        .route("/recordings", any(recording_disabled))
        .route("/recordings/{*rest}", any(recording_disabled))
        .route("/broadcast/{*rest}", any(recording_disabled))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            require_secret,
        ));
    Router::new()
        .route("/openvidu/api/config/openvidu-publicurl", get(public_url))
        .nest("/openvidu/api", api)
        .with_state(state)
}

/// An error response in the reference server's shape.
struct ApiError {
    error: RestError,
    path: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.error.status.http();
        let body = json!({
            "timestamp": ids::now_millis(), "status": status.as_u16(),
            "error": status.canonical_reason().unwrap_or(""), "message": self.error.message, "path": self.path,
        });
        (status, axum::Json(body)).into_response()
    }
}

type ApiResult = Result<Response, ApiError>;

fn err(status: RestStatus, message: impl Into<String>, path: &str) -> ApiError {
    ApiError {
        error: RestError::new(status, message),
        path: path.to_owned(),
    }
}

/// A malformed request: 400 with what is wrong.
fn bad_request(message: impl Into<String>, path: &str) -> ApiError {
    err(RestStatus::BadRequest, message, path)
}

async fn require_secret(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if authorized(request.headers(), state.secret.expose()) {
        next.run(request).await
    } else {
        let mut response = err(
            RestStatus::Unauthorized,
            "Unauthorized",
            &full_path(&request),
        )
        .into_response();
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            "Basic realm=\"OpenVidu\"".parse().expect("static"),
        );
        response
    }
}

fn authorized(headers: &HeaderMap, secret: &str) -> bool {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let Some(encoded) = value.strip_prefix("Basic ") else {
        return false;
    };
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim()) else {
        return false;
    };
    let expected = format!("OPENVIDUAPP:{secret}");
    constant_time_eq(&decoded, expected.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Runs a hub request; `ok` says which status a success gets (200 with the JSON, or 204).
async fn run(state: &AppState, request: RestRequest, ok: StatusCode, path: &str) -> ApiResult {
    match state.hub.rest(request).await {
        Ok(v) if ok == StatusCode::OK && !v.is_null() => Ok((ok, axum::Json(v)).into_response()),
        Ok(_) => Ok(ok.into_response()),
        Err(error) => Err(ApiError {
            error,
            path: path.to_owned(),
        }),
    }
}

/// The body as a JSON object; an empty body (the node client sends none on some calls) is `{}`.
fn body_object(body: &Bytes, path: &str) -> Result<Map<String, Value>, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(bad_request("The body must be a JSON object", path)),
        Err(e) => Err(bad_request(
            format!("The body is not valid JSON: {e}"),
            path,
        )),
    }
}

/// A field that may be absent or null (meaning "default"), else must have the right type.
fn opt_str(m: &Map<String, Value>, key: &str, path: &str) -> Result<Option<String>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad_request(
            format!("Parameter '{key}' must be a string"),
            path,
        )),
    }
}

fn opt_bool(m: &Map<String, Value>, key: &str, path: &str) -> Result<Option<bool>, ApiError> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(bad_request(
            format!("Parameter '{key}' must be a boolean"),
            path,
        )),
    }
}

/// One of an enum's OpenVidu names, or absent.
fn opt_enum<T: Copy>(
    m: &Map<String, Value>,
    key: &str,
    all: &[T],
    name: impl Fn(T) -> &'static str,
    path: &str,
) -> Result<Option<T>, ApiError> {
    let Some(text) = opt_str(m, key, path)? else {
        return Ok(None);
    };
    match all.iter().copied().find(|v| name(*v) == text) {
        Some(v) => Ok(Some(v)),
        None => {
            let names: Vec<&str> = all.iter().map(|v| name(*v)).collect();
            Err(bad_request(
                format!("Parameter '{key}' must be one of {}", names.join(", ")),
                path,
            ))
        }
    }
}

fn default_recording_properties() -> Value {
    json!({ "name": "", "hasAudio": true, "hasVideo": true, "outputMode": "COMPOSED",
            "recordingLayout": "BEST_FIT", "resolution": "1280x720", "frameRate": 25, "shmSize": 536870912 })
}

async fn create_session(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let path = "/openvidu/api/sessions";
    let m = body_object(&body, path)?;
    let custom = opt_str(&m, "customSessionId", path)?.unwrap_or_default();
    if !custom.is_empty() && !ids::is_valid_custom_session_id(&custom) {
        return Err(bad_request(
            "Parameter 'customSessionId' must match [a-zA-Z0-9_-]+ (at most 200 characters)",
            path,
        ));
    }
    let recording = match m.get("defaultRecordingProperties") {
        None | Some(Value::Null) => default_recording_properties(),
        Some(Value::Object(o)) => {
            let mut base = default_recording_properties();
            for (k, v) in o {
                base[k] = v.clone();
            }
            base
        }
        Some(_) => {
            return Err(bad_request(
                "Parameter 'defaultRecordingProperties' must be an object",
                path,
            ));
        }
    };
    let properties = SessionProperties {
        media_mode: opt_enum(&m, "mediaMode", MediaMode::ALL, MediaMode::as_str, path)?
            .unwrap_or(MediaMode::Routed),
        recording_mode: opt_enum(
            &m,
            "recordingMode",
            RecordingMode::ALL,
            RecordingMode::as_str,
            path,
        )?
        .unwrap_or(RecordingMode::Manual),
        custom_session_id: custom,
        forced_video_codec: opt_enum(
            &m,
            "forcedVideoCodec",
            ForcedVideoCodec::ALL,
            ForcedVideoCodec::as_str,
            path,
        )?
        .unwrap_or(ForcedVideoCodec::MediaServerPreferred),
        allow_transcoding: opt_bool(&m, "allowTranscoding", path)?.unwrap_or(false),
        default_recording_properties: recording,
    };
    run(
        &state,
        RestRequest::CreateSession(SessionProps { properties }),
        StatusCode::OK,
        path,
    )
    .await
}

#[derive(Deserialize)]
struct PendingQuery {
    #[serde(default, rename = "pendingConnections")]
    pending_connections: Option<String>,
}

impl PendingQuery {
    fn pending(&self, default: bool) -> bool {
        match self.pending_connections.as_deref() {
            Some(v) => v.eq_ignore_ascii_case("true"),
            None => default,
        }
    }
}

async fn list_sessions(State(state): State<AppState>, Query(q): Query<PendingQuery>) -> ApiResult {
    run(
        &state,
        RestRequest::ListSessions {
            pending: q.pending(false),
        },
        StatusCode::OK,
        "/openvidu/api/sessions",
    )
    .await
}

async fn get_session(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PendingQuery>,
) -> ApiResult {
    let path = format!("/openvidu/api/sessions/{id}");
    run(
        &state,
        RestRequest::GetSession {
            id,
            pending: q.pending(false),
        },
        StatusCode::OK,
        &path,
    )
    .await
}

async fn close_session(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult {
    let path = format!("/openvidu/api/sessions/{id}");
    run(
        &state,
        RestRequest::CloseSession { id },
        StatusCode::NO_CONTENT,
        &path,
    )
    .await
}

fn connection_props(m: &Map<String, Value>, path: &str) -> Result<ConnectionProps, ApiError> {
    match opt_str(m, "type", path)?.as_deref() {
        None | Some("WEBRTC") => {}
        Some("IPCAM") => {
            return Err(bad_request(
                "IPCAM connections are not supported by this media server",
                path,
            ));
        }
        Some(_) => return Err(bad_request("Parameter 'type' must be WEBRTC", path)),
    }
    let role = match opt_str(m, "role", path)? {
        None => Role::Publisher,
        Some(r) => Role::parse(&r).ok_or_else(|| {
            bad_request(
                "Parameter 'role' must be SUBSCRIBER, PUBLISHER or MODERATOR",
                path,
            )
        })?,
    };
    let kurento_options = match m.get("kurentoOptions") {
        None | Some(Value::Null) => Value::Null,
        Some(v @ Value::Object(_)) => v.clone(),
        Some(_) => {
            return Err(bad_request(
                "Parameter 'kurentoOptions' must be an object",
                path,
            ));
        }
    };
    let custom_ice_servers = match m.get("customIceServers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|s| ice_server(s, path))
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(bad_request(
                "Parameter 'customIceServers' must be an array",
                path,
            ));
        }
    };
    Ok(ConnectionProps {
        custom_ice_servers,
        role,
        data: opt_str(m, "data", path)?.unwrap_or_default(),
        record: opt_bool(m, "record", path)?.unwrap_or(true),
        kurento_options,
    })
}

/// One entry of `customIceServers`: `url` with a stun/stuns/turn/turns scheme; TURN needs
/// `username` and `credential` (or `staticAuthSecret`), STUN must have neither.
fn ice_server(v: &Value, path: &str) -> Result<Value, ApiError> {
    let bad = |why: &str| bad_request(format!("Invalid customIceServers entry: {why}"), path);
    let Value::Object(o) = v else {
        return Err(bad("not an object"));
    };
    let url = o
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("'url' is mandatory"))?;
    let scheme = url.split_once(':').map(|(s, _)| s).unwrap_or("");
    let username = o.get("username").and_then(Value::as_str);
    let credential = o.get("credential").and_then(Value::as_str);
    let static_secret = o.get("staticAuthSecret").and_then(Value::as_str);
    match scheme {
        "stun" | "stuns" if username.is_some() || credential.is_some() => {
            Err(bad("STUN servers take no credentials"))
        }
        "stun" | "stuns" => Ok(json!({ "url": url })),
        "turn" | "turns"
            if static_secret.is_none() && (username.is_none() || credential.is_none()) =>
        {
            Err(bad("TURN servers need 'username' and 'credential'"))
        }
        "turn" | "turns" => {
            Ok(json!({ "url": url, "username": username, "credential": credential }))
        }
        _ => Err(bad("'url' must start with stun:, stuns:, turn: or turns:")),
    }
}

async fn create_connection(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult {
    let path = format!("/openvidu/api/sessions/{id}/connection");
    let props = connection_props(&body_object(&body, &path)?, &path)?;
    run(
        &state,
        RestRequest::CreateConnection { session: id, props },
        StatusCode::OK,
        &path,
    )
    .await
}

async fn list_connections(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<PendingQuery>,
) -> ApiResult {
    let path = format!("/openvidu/api/sessions/{id}/connection");
    run(
        &state,
        RestRequest::ListConnections {
            session: id,
            pending: q.pending(true),
        },
        StatusCode::OK,
        &path,
    )
    .await
}

async fn get_connection(
    State(state): State<AppState>,
    Path((id, cid)): Path<(String, String)>,
) -> ApiResult {
    let path = format!("/openvidu/api/sessions/{id}/connection/{cid}");
    run(
        &state,
        RestRequest::GetConnection {
            session: id,
            connection: cid,
        },
        StatusCode::OK,
        &path,
    )
    .await
}

async fn delete_connection(
    State(state): State<AppState>,
    Path((id, cid)): Path<(String, String)>,
) -> ApiResult {
    let path = format!("/openvidu/api/sessions/{id}/connection/{cid}");
    run(
        &state,
        RestRequest::DeleteConnection {
            session: id,
            connection: cid,
        },
        StatusCode::NO_CONTENT,
        &path,
    )
    .await
}

async fn force_unpublish(
    State(state): State<AppState>,
    Path((id, stream)): Path<(String, String)>,
) -> ApiResult {
    let path = format!("/openvidu/api/sessions/{id}/stream/{stream}");
    run(
        &state,
        RestRequest::ForceUnpublish {
            session: id,
            stream,
        },
        StatusCode::NO_CONTENT,
        &path,
    )
    .await
}

async fn create_token(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let path = "/openvidu/api/tokens";
    let m = body_object(&body, path)?;
    let session = opt_str(&m, "session", path)?
        .ok_or_else(|| bad_request("Parameter 'session' is mandatory", path))?;
    let props = connection_props(&m, path)?;
    run(
        &state,
        RestRequest::CreateToken { session, props },
        StatusCode::OK,
        path,
    )
    .await
}

async fn signal(State(state): State<AppState>, body: Bytes) -> ApiResult {
    let path = "/openvidu/api/signal";
    let m = body_object(&body, path)?;
    let session = opt_str(&m, "session", path)?
        .ok_or_else(|| bad_request("Parameter 'session' is mandatory", path))?;
    let to = match m.get("to") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| {
                bad_request("Parameter 'to' must be an array of connection ids", path)
            })?,
        Some(_) => {
            return Err(bad_request(
                "Parameter 'to' must be an array of connection ids",
                path,
            ));
        }
    };
    let kind = opt_str(&m, "type", path)?;
    let data = opt_str(&m, "data", path)?;
    crate::signaling::protocol::check_signal(&to, kind.as_deref(), data.as_deref())
        .map_err(|e| bad_request(e, path))?;
    run(
        &state,
        RestRequest::Signal {
            session,
            to,
            kind,
            data,
        },
        StatusCode::OK,
        path,
    )
    .await
}

async fn config(State(state): State<AppState>) -> Response {
    axum::Json(json!({
        "VERSION": crate::OPENVIDU_VERSION,
        "DOMAIN_OR_PUBLIC_IP": state.public_url.host(),
        "HTTPS_PORT": state.public_url.port(),
        "OPENVIDU_PUBLICURL": state.public_url_text,
        "OPENVIDU_CDR": false,
        "OPENVIDU_STREAMS_VIDEO_MAX_RECV_BANDWIDTH": 1000,
        "OPENVIDU_STREAMS_VIDEO_MIN_RECV_BANDWIDTH": 300,
        "OPENVIDU_STREAMS_VIDEO_MAX_SEND_BANDWIDTH": 1000,
        "OPENVIDU_STREAMS_VIDEO_MIN_SEND_BANDWIDTH": 300,
        "OPENVIDU_STREAMS_FORCED_VIDEO_CODEC": "MEDIA_SERVER_PREFERRED",
        "OPENVIDU_STREAMS_ALLOW_TRANSCODING": false,
        "OPENVIDU_WEBRTC_SIMULCAST": false,
        "OPENVIDU_SESSIONS_GARBAGE_INTERVAL": 1,
        "OPENVIDU_SESSIONS_GARBAGE_THRESHOLD": state.unused_session_timeout_secs,
        "OPENVIDU_RECORDING": false,
        "OPENVIDU_WEBHOOK": false,
    }))
    .into_response()
}

async fn config_value(State(state): State<AppState>, Path(key): Path<String>) -> Response {
    match key.as_str() {
        "openvidu-version" => crate::OPENVIDU_VERSION.into_response(),
        "openvidu-publicurl" => state.public_url_text.clone().into_response(),
        "openvidu-recording" => "false".into_response(),
        "openvidu-cdr" => "false".into_response(),
        _ => err(
            RestStatus::NotFound,
            "No such configuration value",
            &format!("/openvidu/api/config/{key}"),
        )
        .into_response(),
    }
}

async fn public_url(State(state): State<AppState>) -> Response {
    state.public_url_text.clone().into_response()
}

/// The path as the client sent it (a nested router sees only the rest).
fn full_path(request: &Request) -> String {
    request
        .extensions()
        .get::<axum::extract::OriginalUri>()
        .map(|u| u.0.path().to_owned())
        .unwrap_or_else(|| request.uri().path().to_owned())
}

async fn recording_disabled(request: Request) -> Response {
    err(
        RestStatus::NotImplemented,
        "Recording and broadcasting are disabled in this media server",
        &full_path(&request),
    )
    .into_response()
}

async fn not_found(request: Request) -> Response {
    err(
        RestStatus::NotFound,
        "No such endpoint",
        &full_path(&request),
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_credentials_must_match_exactly() {
        let mut h = HeaderMap::new();
        assert!(!authorized(&h, "s3cret"));
        let good = base64::engine::general_purpose::STANDARD.encode("OPENVIDUAPP:s3cret");
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {good}").parse().unwrap(),
        );
        assert!(authorized(&h, "s3cret"));
        assert!(!authorized(&h, "s3cre"));
        let bad = base64::engine::general_purpose::STANDARD.encode("OTHER:s3cret");
        h.insert(
            header::AUTHORIZATION,
            format!("Basic {bad}").parse().unwrap(),
        );
        assert!(!authorized(&h, "s3cret"));
    }
}
