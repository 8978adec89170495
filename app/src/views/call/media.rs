//! The browser side of a call: gets a token, drives [`crate::openvidu::Call`], and writes what happens
//! into [`CallState`]. One call per page at a time, held here (JS objects cannot live in signals).

use super::{CallState, LOCAL, Status, Tile};
use crate::api::{AppError, get_token, remove_user};
use crate::openvidu::{Call, CallEvent, StreamView};
use leptos::prelude::*;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use web_sys::HtmlVideoElement;

struct Active {
    generation: u64,
    call: Rc<Call>,
    call_name: String,
    connection_id: Option<String>,
    views: HashMap<String, StreamView>,
    on_pagehide: Option<Closure<dyn FnMut(JsValue)>>,
}

thread_local! {
    static ACTIVE: RefCell<Option<Active>> = const { RefCell::new(None) };
    static GENERATION: RefCell<u64> = const { RefCell::new(0) };
}

fn with_active<R>(generation: u64, f: impl FnOnce(&mut Active) -> R) -> Option<R> {
    ACTIVE.with(|a| {
        a.borrow_mut()
            .as_mut()
            .filter(|a| a.generation == generation)
            .map(f)
    })
}

/// Shows the stream of tile `id` in `video`.
pub fn attach(id: &str, video: &HtmlVideoElement) {
    ACTIVE.with(|a| {
        if let Some(view) = a.borrow().as_ref().and_then(|a| a.views.get(id)) {
            view.attach(video);
        }
    });
}

fn human(error: &AppError) -> String {
    error.to_string()
}

/// Joins `call` as `nickname`: token, connect, then camera and microphone if the role allows.
pub fn start(user: String, call_name: String, nickname: String, state: CallState) {
    let generation = GENERATION.with(|g| {
        *g.borrow_mut() += 1;
        *g.borrow()
    });
    leptos::task::spawn_local(async move {
        state.status.set(Status::GettingToken);
        let ticket = match get_token(call_name.clone()).await {
            Ok(t) => t,
            Err(e) => {
                state.logged_out.set(matches!(e, AppError::NotLoggedIn));
                state.error.set(Some(human(&e)));
                state.status.set(Status::Ended);
                return;
            }
        };
        if GENERATION.with(|g| *g.borrow()) != generation {
            // Left before the token came: give it back.
            let _ = remove_user(ticket.call, ticket.connection_id).await;
            return;
        }
        state.role.set(Some(ticket.role));
        let call = match Call::new(move |event| on_event(generation, state, event)) {
            Ok(c) => Rc::new(c),
            Err(e) => {
                state.error.set(Some(format!(
                    "The video library could not start ({}). Reload the page.",
                    e.message
                )));
                state.status.set(Status::Ended);
                return;
            }
        };
        let on_pagehide = pagehide_handler(
            call.clone(),
            ticket.call.clone(),
            ticket.connection_id.clone(),
        );
        ACTIVE.with(|a| {
            *a.borrow_mut() = Some(Active {
                generation,
                call: call.clone(),
                call_name: ticket.call.clone(),
                connection_id: Some(ticket.connection_id.clone()),
                views: HashMap::new(),
                on_pagehide: Some(on_pagehide),
            })
        });

        state.status.set(Status::Connecting);
        if let Err(e) = call.connect(&ticket.token, &nickname).await {
            state.error.set(Some(format!(
                "Could not connect to the media server: {}. Leave and try again.",
                e.message
            )));
            state.status.set(Status::Ended);
            return;
        }
        if ticket.role.can_publish() {
            state.status.set(Status::StartingCamera);
            match call.publish_camera().await {
                Ok(view) => {
                    let inserted = with_active(generation, |a| {
                        a.views.insert(LOCAL.to_owned(), view);
                    });
                    if inserted.is_some() {
                        state.tiles.update(|t| {
                            t.insert(0, Tile { id: LOCAL.into(), nickname: nickname.clone(), user: user.clone(), local: true })
                        });
                        if state.main.get_untracked().is_none() {
                            state.main.set(Some(LOCAL.into()));
                        }
                    }
                }
                Err(e) if e.is_device_problem() => state.error.set(Some(
                    "Your camera or microphone could not be used (access denied or no device). You can still see and \
                     hear the others; allow access and join again to send yours."
                        .into(),
                )),
                Err(e) => state.error.set(Some(format!("Publishing your camera failed: {}.", e.message))),
            }
        }
        if state.status.get_untracked() != Status::Ended {
            state.status.set(Status::Live);
        }
    });
}

fn on_event(generation: u64, state: CallState, event: CallEvent) {
    match event {
        CallEvent::StreamCreated(stream) => {
            let Some(call) = with_active(generation, |a| a.call.clone()) else {
                return;
            };
            let view = call.subscribe(&stream);
            with_active(generation, |a| {
                a.views.insert(stream.stream_id.clone(), view);
            });
            let tile = Tile {
                id: stream.stream_id.clone(),
                nickname: stream.nickname,
                user: stream.user,
                local: false,
            };
            state.tiles.update(|t| {
                t.retain(|x| x.id != tile.id);
                t.push(tile)
            });
            if state.main.get_untracked().is_none_or(|m| m == LOCAL) {
                state.main.set(Some(stream.stream_id));
            }
        }
        CallEvent::StreamDestroyed { stream_id } => {
            with_active(generation, |a| a.views.remove(&stream_id));
            state.tiles.update(|t| t.retain(|x| x.id != stream_id));
            if state.main.get_untracked().as_deref() == Some(stream_id.as_str()) {
                let next = state.tiles.with_untracked(|t| {
                    t.iter()
                        .find(|x| !x.local)
                        .or_else(|| t.first())
                        .map(|x| x.id.clone())
                });
                state.main.set(next);
            }
        }
        CallEvent::Disconnected { reason } => {
            if reason == "disconnect" || with_active(generation, |_| ()).is_none() {
                return;
            }
            let message = match reason.as_str() {
                "networkDisconnect" => {
                    "You were disconnected: the network connection was lost. Leave and join again."
                }
                "forceDisconnectByServer" | "forceDisconnectByUser" => {
                    "You were removed from the call."
                }
                "sessionClosedByServer" | "openviduServerStopped" => {
                    "The call was ended by the server."
                }
                _ => "You were disconnected from the call. Leave and join again.",
            };
            state.error.set(Some(message.into()));
            state.tiles.set(Vec::new());
            state.main.set(None);
            state.status.set(Status::Ended);
        }
        CallEvent::Reconnecting => state.status.set(Status::Reconnecting),
        CallEvent::Reconnected => state.status.set(Status::Live),
    }
}

/// Closing the tab: leave the call and tell the server, with a request that outlives the page.
fn pagehide_handler(
    call: Rc<Call>,
    call_name: String,
    connection_id: String,
) -> Closure<dyn FnMut(JsValue)> {
    let closure = Closure::<dyn FnMut(JsValue)>::new(move |_| {
        call.disconnect();
        let body =
            serde_json::json!({ "call": call_name, "connection_id": connection_id }).to_string();
        let init = web_sys::RequestInit::new();
        init.set_method("POST");
        // keepalive: the request outlives the page (web-sys only has the setter as an unstable API).
        let _ = js_sys::Reflect::set(&init, &JsValue::from_str("keepalive"), &JsValue::TRUE);
        init.set_credentials(web_sys::RequestCredentials::SameOrigin);
        init.set_body(&JsValue::from_str(&body));
        let headers = web_sys::Headers::new().expect("Headers");
        let _ = headers.set("Content-Type", "application/json");
        init.set_headers(&headers);
        if let Some(window) = web_sys::window() {
            let _ = window.fetch_with_str_and_init("/api/remove-user", &init);
        }
    });
    if let Some(window) = web_sys::window() {
        let _ =
            window.add_event_listener_with_callback("pagehide", closure.as_ref().unchecked_ref());
    }
    closure
}

fn take_active() -> Option<Active> {
    GENERATION.with(|g| *g.borrow_mut() += 1);
    let active = ACTIVE.with(|a| a.borrow_mut().take())?;
    if let (Some(window), Some(handler)) = (web_sys::window(), &active.on_pagehide) {
        let _ = window
            .remove_event_listener_with_callback("pagehide", handler.as_ref().unchecked_ref());
    }
    active.call.disconnect();
    Some(active)
}

/// Leaves the call and waits until the server has removed the connection.
pub async fn leave() {
    if let Some(Active {
        call_name,
        connection_id: Some(cid),
        ..
    }) = take_active()
    {
        let _ = remove_user(call_name, cid).await;
    }
}

/// Leaves without waiting (the screen is going away).
pub fn leave_in_background() {
    if let Some(Active {
        call_name,
        connection_id: Some(cid),
        ..
    }) = take_active()
    {
        leptos::task::spawn_local(async move {
            let _ = remove_user(call_name, cid).await;
        });
    }
}
