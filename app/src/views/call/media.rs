//! The browser side of a call: gets a token, drives [`crate::openvidu::Call`], and writes what happens
//! into [`CallState`] ([`events`]). One call per page at a time, held here (JS objects cannot live in
//! signals). The control bar's actions (microphone, camera, chat, moderation) come through here too.

mod events;

use super::{CallState, LOCAL, LOCAL_SCREEN, Status, Tile};
use crate::api::{AppError, get_token, remove_user};
use crate::openvidu::{Call, Publisher, ScreenShare, Source, StreamView};
use crate::views::device_select::{Devices, Kind};
use crate::views::join::devices;
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
    publisher: Option<Rc<Publisher>>,
    /// The connection id of our screen share (known before it connects, from its token) and the share.
    screen_connection: Option<String>,
    screen: Option<ScreenShare>,
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

fn current<R>(f: impl FnOnce(&Active) -> R) -> Option<R> {
    ACTIVE.with(|a| a.borrow().as_ref().map(f))
}

/// Shows the stream of tile `id` in `video`.
pub fn attach(id: &str, video: &HtmlVideoElement) {
    ACTIVE.with(|a| {
        if let Some(view) = a.borrow().as_ref().and_then(|a| a.views.get(id)) {
            view.attach(video);
        }
    });
}

/// The counters of the video that tile `id` receives (none for one's own, or before it flows).
pub async fn received_video(id: &str) -> Option<crate::openvidu::Received> {
    let view = current(|a| a.views.get(id).cloned()).flatten()?;
    view.received_video().await
}

fn human(error: &AppError) -> String {
    error.to_string()
}

/// Whether asking again later may succeed (the server was unreachable or busy).
fn retryable(error: &AppError) -> bool {
    matches!(
        error,
        AppError::Transport(_)
            | AppError::MediaServerUnavailable
            | AppError::MediaServerFull
            | AppError::TooManyRequests { .. }
            | AppError::Internal
    )
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
                if retryable(&e) {
                    state.rejoin.set(Some("Try again"));
                }
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
        let call = match Call::new(move |event| events::on_event(generation, state, event)) {
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
                publisher: None,
                screen_connection: None,
                screen: None,
                on_pagehide: Some(on_pagehide),
            })
        });

        state.status.set(Status::Connecting);
        if let Err(e) = call.connect(&ticket.token, &nickname).await {
            state.rejoin.set(Some("Try again"));
            state.error.set(Some(format!(
                "Could not connect to the media server ({}).",
                e.message
            )));
            state.status.set(Status::Ended);
            return;
        }
        if ticket.role.can_publish() {
            state.status.set(Status::StartingCamera);
            publish(
                generation,
                state,
                &call,
                &ticket.connection_id,
                &nickname,
                &user,
            )
            .await;
        }
        if state.status.get_untracked() != Status::Ended {
            state.status.set(Status::Live);
        }
    });
}

/// Publishes camera and microphone and adds one's own tile.
async fn publish(
    generation: u64,
    state: CallState,
    call: &Call,
    connection_id: &str,
    nickname: &str,
    user: &str,
) {
    let (mic, camera) = (state.mic.get_untracked(), state.camera.get_untracked());
    let start = state.devices;
    if start.without_mic && start.without_camera {
        state.notice.set(Some(
            "You joined without camera and microphone: the others neither see nor hear you.".into(),
        ));
        return;
    }
    // The lobby's choice, so that a rejoin uses the same devices too.
    let (chosen_camera, chosen_mic) = (Kind::Camera.chosen(), Kind::Microphone.chosen());
    let source = |without: bool, chosen: Option<String>| match (without, chosen) {
        (true, _) => Source::Off,
        (false, Some(id)) => Source::Device(id),
        (false, None) => Source::Default,
    };
    let sources = (
        source(start.without_mic, chosen_mic),
        source(start.without_camera, chosen_camera),
    );
    match call.publish_camera(mic, camera, sources).await {
        Ok(publisher) => {
            if !camera {
                // Joined with the camera off: let go of the device until it is turned on, as a camera
                // turned off in the call is.
                publisher.stop_sent(true);
            }
            let view = publisher.view();
            let inserted = with_active(generation, |a| {
                a.views.insert(LOCAL.to_owned(), view);
                a.publisher = Some(Rc::new(publisher));
            });
            if inserted.is_some() {
                state.publishing.set(true);
                state.tiles.update(|t| {
                    t.insert(
                        0,
                        Tile {
                            id: LOCAL.into(),
                            connection_id: connection_id.to_owned(),
                            nickname: nickname.to_owned(),
                            user: user.to_owned(),
                            local: true,
                            screen: false,
                            audio: RwSignal::new(mic),
                            video: RwSignal::new(camera),
                        },
                    )
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

fn local_tile(state: CallState) -> Option<Tile> {
    state
        .tiles
        .with_untracked(|tiles| tiles.iter().find(|t| t.local).cloned())
}

/// Turns one's own microphone on or off (the others see the muted icon).
pub fn set_mic(state: CallState, on: bool) {
    if let Some(publisher) = current(|a| a.publisher.clone()).flatten() {
        publisher.set_audio(on);
        state.mic.set(on);
        if let Some(t) = local_tile(state) {
            t.audio.set(on);
        }
    }
}

/// Turns one's own camera on or off (the others see a placeholder with one's initials).
pub fn set_camera(state: CallState, on: bool) {
    let Some(publisher) = current(|a| a.publisher.clone()).flatten() else {
        return;
    };
    leptos::task::spawn_local(async move {
        let result = if on {
            match open_camera().await {
                Some(track) => publisher.camera_on(track).await.map_err(|e| e.message),
                None => Err(CANNOT_OPEN.into()),
            }
        } else {
            publisher.camera_off().await.map_err(|e| e.message)
        };
        match result {
            Ok(()) => {
                state.camera.set(on);
                if let Some(t) = local_tile(state) {
                    t.video.set(on);
                }
            }
            Err(why) => state.notice.set(Some(format!(
                "The camera could not be turned {}: {why}.",
                if on { "on" } else { "off" }
            ))),
        }
    });
}

/// Why a device could not be used, in words.
const CANNOT_OPEN: &str = "it could not be opened (in use by another program, or gone)";

/// Opens the camera chosen last (the lobby's or the Devices panel's), else the browser's default one.
async fn open_camera() -> Option<web_sys::MediaStreamTrack> {
    if let Some(id) = Kind::Camera.chosen()
        && let Ok(track) = devices::open_track(true, &id).await
    {
        return Some(track);
    }
    devices::open_track(true, "").await.ok()
}

/// Sends the camera or microphone `id` instead of the one sent now, or plays the others on the speaker
/// `id`; once in use it is `chosen` and remembered for the next call. Failures are said in words,
/// `chosen` stays what is in use, and the call goes on.
pub fn switch_device(state: CallState, kind: Kind, id: String, chosen: RwSignal<Option<String>>) {
    let keep = move |id: String| {
        kind.remember(&id);
        chosen.set(Some(id));
    };
    if kind == Kind::Speaker {
        play_on(&id);
        keep(id);
        return;
    }
    let Some(publisher) = current(|a| a.publisher.clone()).flatten() else {
        return;
    };
    let video = kind == Kind::Camera;
    if video && !state.camera.get_untracked() {
        // The camera is off and its device let go: this one is opened when it is turned on.
        keep(id);
        return;
    }
    leptos::task::spawn_local(async move {
        let mut opened = devices::open_track(video, &id).await;
        if opened.is_err() && video {
            // Many phones open one camera at a time: let go of the one sent now and try again (the
            // others see a moment of black).
            publisher.stop_sent(video);
            opened = devices::open_track(video, &id).await;
        }
        let result = match opened {
            Ok(track) => publisher.replace(track).await.map_err(|e| e.message),
            Err(_) => Err(CANNOT_OPEN.into()),
        };
        let what = if video { "camera" } else { "microphone" };
        let about_switching = |m: &String| m.contains(" could not be switched: ");
        match result {
            Ok(()) => {
                keep(id);
                if state
                    .notice
                    .get_untracked()
                    .is_some_and(|m| about_switching(&m))
                {
                    state.notice.set(None);
                }
            }
            Err(why) => {
                // Shows the device in use again.
                chosen.update(|_| {});
                state
                    .notice
                    .set(Some(format!("The {what} could not be switched: {why}.")));
            }
        }
    });
}

/// Plays every remote tile's sound on the speaker `id`.
fn play_on(id: &str) {
    let Some(list) = document()
        .query_selector_all(".tile:not(.local) video")
        .ok()
    else {
        return;
    };
    for i in 0..list.length() {
        if let Some(video) = list
            .get(i)
            .and_then(|n| n.dyn_into::<HtmlVideoElement>().ok())
        {
            super::super::join::set_speaker(&video, id);
        }
    }
}

/// The browser's devices, for the call's settings.
pub async fn device_list() -> Devices {
    devices::list().await
}

pub use crate::openvidu::can_share_screen;
pub use devices::can_choose_speaker;

/// Starts or stops sharing the screen.
pub fn toggle_screen(state: CallState) {
    if state.sharing.get_untracked() {
        stop_screen(state);
        return;
    }
    let Some((generation, call, call_name)) =
        current(|a| (a.generation, a.call.clone(), a.call_name.clone()))
    else {
        return;
    };
    let Some(me) = local_tile(state) else {
        return;
    };
    state.sharing.set(true);
    leptos::task::spawn_local(async move {
        let ticket = match get_token(call_name.clone()).await {
            Ok(t) => t,
            Err(e) => {
                state.sharing.set(false);
                state
                    .notice
                    .set(Some(format!("Screen sharing could not start: {e}")));
                return;
            }
        };
        let cid = ticket.connection_id.clone();
        if with_active(generation, |a| a.screen_connection = Some(cid.clone())).is_none() {
            let _ = remove_user(call_name, cid).await;
            return;
        }
        let ended = move || stop_screen(state);
        match call.share_screen(&ticket.token, &me.nickname, ended).await {
            Ok(share) => {
                let view = share.view();
                let kept = with_active(generation, |a| {
                    a.views.insert(LOCAL_SCREEN.to_owned(), view);
                    a.screen = Some(share);
                });
                if kept.is_none() {
                    // Left the call meanwhile.
                    let _ = remove_user(call_name, cid).await;
                    return;
                }
                state.tiles.update(|t| {
                    t.insert(
                        1.min(t.len()),
                        Tile {
                            id: LOCAL_SCREEN.into(),
                            connection_id: cid,
                            nickname: me.nickname.clone(),
                            user: me.user.clone(),
                            local: true,
                            screen: true,
                            audio: RwSignal::new(false),
                            video: RwSignal::new(true),
                        },
                    )
                });
                state.main.set(Some(LOCAL_SCREEN.into()));
            }
            Err(e) => {
                with_active(generation, |a| a.screen_connection = None);
                state.sharing.set(false);
                let _ = remove_user(call_name, cid).await;
                if e.name != "SCREEN_CAPTURE_DENIED" {
                    state.notice.set(Some(format!(
                        "Screen sharing could not start: {}.",
                        e.message
                    )));
                }
            }
        }
    });
}

/// Ends our screen share, whoever asked (the button, or the browser's own "Stop sharing").
fn stop_screen(state: CallState) {
    let Some((generation, call_name)) = current(|a| (a.generation, a.call_name.clone())) else {
        return;
    };
    let taken = with_active(generation, |a| {
        (a.screen.take(), a.screen_connection.take())
    })
    .unwrap_or((None, None));
    state.sharing.set(false);
    events::remove_tile(generation, state, LOCAL_SCREEN);
    if let (share, Some(cid)) = taken {
        drop(share); // ends it
        leptos::task::spawn_local(async move {
            let _ = remove_user(call_name, cid).await;
        });
    }
}

fn call() -> Result<Rc<Call>, String> {
    current(|a| a.call.clone()).ok_or_else(|| "You are no longer in the call.".to_owned())
}

/// Sends a chat message to everyone in the call.
pub async fn send_chat(text: String) -> Result<(), String> {
    call()?
        .send_chat(&text)
        .await
        .map_err(|e| format!("The message was not sent ({}). Try again.", e.message))
}

/// Removes a participant from the call (moderators only; the server checks).
pub async fn remove_participant(connection_id: String) -> Result<(), String> {
    call()?
        .force_disconnect(&connection_id)
        .await
        .map_err(|e| moderation_error(&e.name, &e.message))
}

/// Stops a participant's camera and microphone (moderators only; the server checks).
pub async fn stop_stream(stream_id: String) -> Result<(), String> {
    call()?
        .force_unpublish(&stream_id)
        .await
        .map_err(|e| moderation_error(&e.name, &e.message))
}

fn moderation_error(name: &str, message: &str) -> String {
    if name == "OPENVIDU_PERMISSION_DENIED" {
        "Only a moderator can do that.".to_owned()
    } else {
        format!("That did not work ({message}). The person may have left already.")
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
        // The server function's own arguments, so the body is what it takes.
        let body = serde_json::to_string(&crate::api::RemoveUser {
            call: call_name.clone(),
            connection_id: connection_id.clone(),
        })
        .unwrap_or_default();
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
    let mut active = ACTIVE.with(|a| a.borrow_mut().take())?;
    if let (Some(window), Some(handler)) = (web_sys::window(), &active.on_pagehide) {
        let _ = window
            .remove_event_listener_with_callback("pagehide", handler.as_ref().unchecked_ref());
    }
    drop(active.screen.take()); // ends the share, before the call
    active.call.disconnect();
    Some(active)
}

/// Leaves the call and waits until the server has removed the connection.
pub async fn leave() {
    if let Some(Active {
        call_name,
        connection_id: Some(cid),
        screen_connection,
        ..
    }) = take_active()
    {
        if let Some(screen) = screen_connection {
            let _ = remove_user(call_name.clone(), screen).await;
        }
        let _ = remove_user(call_name, cid).await;
    }
}

/// Leaves without waiting (the screen is going away).
pub fn leave_in_background() {
    if let Some(Active {
        call_name,
        connection_id: Some(cid),
        screen_connection,
        ..
    }) = take_active()
    {
        leptos::task::spawn_local(async move {
            if let Some(screen) = screen_connection {
                let _ = remove_user(call_name.clone(), screen).await;
            }
            let _ = remove_user(call_name, cid).await;
        });
    }
}
