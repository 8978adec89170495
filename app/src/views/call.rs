//! The call screen: the call name, the participants' tiles arranged on the stage ([`stage`]: one large
//! and a strip, or a grid; nickname and user name over each, always as text; a muted icon, a placeholder
//! with initials when the camera is off), the control bar ([`controls`]), the chat ([`chat`]) and
//! participants ([`people`]) panels, progress, errors.
//! The media work happens in the browser only ([`media`]); the server renders nothing of a call.

// Without `hydrate` (server rendering) nothing drives a call: its states and tiles are never built.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

mod chat;
mod controls;
mod link;
#[cfg(feature = "hydrate")]
mod media;
mod people;
mod settings;
mod stage;
mod tile;

/// Server rendering has no call: the actions the controls trigger do nothing there.
#[cfg(not(feature = "hydrate"))]
mod media {
    use super::CallState;
    pub fn set_mic(_: CallState, _: bool) {}
    pub fn set_camera(_: CallState, _: bool) {}
    pub fn toggle_screen(_: CallState) {}
    pub fn can_share_screen() -> bool {
        false
    }
    pub async fn send_chat(_: String) -> Result<(), String> {
        Ok(())
    }
    pub async fn remove_participant(_: String) -> Result<(), String> {
        Ok(())
    }
    pub async fn stop_stream(_: String) -> Result<(), String> {
        Ok(())
    }
    pub fn switch_device(
        _: CallState,
        _: crate::views::device_select::Kind,
        _: String,
        _: leptos::prelude::RwSignal<Option<String>>,
    ) {
    }
    pub async fn device_list() -> crate::views::device_select::Devices {
        Default::default()
    }
    pub fn can_choose_speaker() -> bool {
        false
    }
    pub async fn received_video(_: &str) -> Option<crate::quality::Received> {
        None
    }
}

use crate::model::{Me, Role};
use leptos::prelude::*;
use leptos_meta::Title;
use std::collections::HashSet;

/// One video on screen. `id` is the stream id, or [`LOCAL`] for one's own camera.
#[derive(Debug, Clone)]
pub struct Tile {
    pub id: String,
    pub connection_id: String,
    pub nickname: String,
    pub user: String,
    pub local: bool,
    /// A shared screen rather than a camera (shown large; never mirrored).
    pub screen: bool,
    /// Whether its owner sends sound and picture right now (they switch them with the control bar).
    pub audio: RwSignal<bool>,
    pub video: RwSignal<bool>,
}

pub const LOCAL: &str = "local";
/// The tile id of one's own shared screen.
pub const LOCAL_SCREEN: &str = "local-screen";

/// Someone in the call (a connection), whether or not they send anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub connection_id: String,
    pub nickname: String,
    pub user: String,
    /// As the server set it in the connection's data; unknown for a connection of an older server.
    pub role: Option<Role>,
    pub local: bool,
}

/// One chat line as shown: names from the sender's connection, never from the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatLine {
    pub id: usize,
    pub nickname: String,
    pub user: String,
    pub local: bool,
    /// `HH:MM`, local time of arrival.
    pub time: String,
    pub text: String,
}

/// The side panel that is open (one at a time, so that a phone screen keeps the call visible).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Panel {
    None,
    Chat,
    People,
    Devices,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    GettingToken,
    Connecting,
    StartingCamera,
    Live,
    Reconnecting,
    /// The call is over for this page (an error, or the server ended it).
    Ended,
}

impl Status {
    fn progress(self) -> Option<&'static str> {
        match self {
            Status::GettingToken => Some("Joining the call…"),
            Status::Connecting => Some("Connecting to the media server…"),
            Status::StartingCamera => Some("Starting camera and microphone…"),
            Status::Reconnecting => {
                Some("Connection lost, reconnecting… The videos are frozen until it is back.")
            }
            Status::Live | Status::Ended => None,
        }
    }
}

/// The signals the media side writes and the view reads. All `Copy`.
#[derive(Clone, Copy)]
pub struct CallState {
    pub status: RwSignal<Status>,
    pub tiles: RwSignal<Vec<Tile>>,
    /// The tile the call would show large by itself: a screen share, else the last one who spoke,
    /// else the first remote one.
    pub main: RwSignal<Option<String>>,
    /// The tile the user chose to keep large (pinned), over [`CallState::main`].
    pub pinned: RwSignal<Option<String>>,
    /// The grid layout rather than the speaker layout ([`stage`]), and its page.
    pub grid: RwSignal<bool>,
    pub page: RwSignal<usize>,
    pub error: RwSignal<Option<String>>,
    /// The error above can be overcome by joining again: the label of the button that does it
    /// ("Try again" when joining failed, "Rejoin" when the call was lost).
    pub rejoin: RwSignal<Option<&'static str>>,
    /// Something that happened to us, in words ("A moderator stopped your camera").
    pub notice: RwSignal<Option<String>>,
    /// The role the server gave with the token (the UI never guesses it from the user name).
    pub role: RwSignal<Option<Role>>,
    /// The login is gone (401): offer to log in again.
    pub logged_out: RwSignal<bool>,
    pub people: RwSignal<Vec<Person>>,
    /// Our own camera and microphone are published (the mic and camera buttons apply).
    pub publishing: RwSignal<bool>,
    pub mic: RwSignal<bool>,
    pub camera: RwSignal<bool>,
    /// As chosen in the lobby; `without_*` says a device is not used at all in this call.
    pub devices: super::join::StartWith,
    /// Our screen is shared.
    pub sharing: RwSignal<bool>,
    pub chat: RwSignal<Vec<ChatLine>>,
    pub unread: RwSignal<usize>,
    pub panel: RwSignal<Panel>,
    /// Connection ids of those speaking now.
    pub speaking: RwSignal<HashSet<String>>,
}

impl CallState {
    fn new(start: super::join::StartWith) -> CallState {
        CallState {
            status: RwSignal::new(Status::GettingToken),
            tiles: RwSignal::new(Vec::new()),
            main: RwSignal::new(None),
            pinned: RwSignal::new(None),
            grid: RwSignal::new(stage::grid_chosen()),
            page: RwSignal::new(0),
            error: RwSignal::new(None),
            rejoin: RwSignal::new(None),
            notice: RwSignal::new(None),
            role: RwSignal::new(None),
            logged_out: RwSignal::new(false),
            people: RwSignal::new(Vec::new()),
            publishing: RwSignal::new(false),
            mic: RwSignal::new(start.mic),
            camera: RwSignal::new(start.camera),
            devices: start,
            sharing: RwSignal::new(false),
            chat: RwSignal::new(Vec::new()),
            unread: RwSignal::new(0),
            panel: RwSignal::new(Panel::None),
            speaking: RwSignal::new(HashSet::new()),
        }
    }
}

#[component]
pub fn CallView(
    me: Me,
    call: String,
    nickname: String,
    /// Microphone and camera on or off at the start, as chosen on the join form.
    start: super::join::StartWith,
    on_leave: impl Fn() + Clone + Send + Sync + 'static,
    on_logged_out: impl Fn() + Clone + Send + Sync + 'static,
    /// Joins the same call again (fresh token, new connection), microphone and camera as they are now.
    on_rejoin: impl Fn(super::join::StartWith) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let state = CallState::new(start);

    #[cfg(feature = "hydrate")]
    {
        let (me, call, nickname) = (me.clone(), call.clone(), nickname.clone());
        Effect::new(move |started: Option<()>| {
            if started.is_none() {
                media::start(me.user.clone(), call.clone(), nickname.clone(), state);
            }
        });
        on_cleanup(media::leave_in_background);
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (&me, &nickname);

    let relogin = Callback::new(move |_: ()| on_logged_out());
    let rejoin = Callback::new(move |_: ()| {
        on_rejoin(super::join::StartWith {
            mic: state.mic.get_untracked(),
            camera: state.camera.get_untracked(),
            ..state.devices
        })
    });
    let leaving = RwSignal::new(false);
    let leave = Callback::new(move |_: ()| {
        if leaving.get_untracked() {
            return;
        }
        leaving.set(true);
        let on_leave = on_leave.clone();
        leptos::task::spawn_local(async move {
            #[cfg(feature = "hydrate")]
            media::leave().await;
            on_leave();
        });
    });
    let heading = super::focus_on_mount();

    view! {
        <Title text=format!("{call} — call")/>
        <section class="call" class:with-panel=move || state.panel.get() != Panel::None data-testid="call">
            <header class="bar">
                <h1 node_ref=heading tabindex="-1">"Call " <span data-testid="call-name">{call.clone()}</span></h1>
                <div class="row">
                    <stage::LayoutToggle state/>
                    <link::CopyLink call=call.clone()/>
                </div>
            </header>
            <div class="call-body">
                <div class="stage">
                    <Messages state relogin rejoin leave/>
                    <stage::Stage state/>
                </div>
                <Show when=move || state.panel.get() == Panel::Chat>
                    <chat::ChatPanel state/>
                </Show>
                <Show when=move || state.panel.get() == Panel::People>
                    <people::PeoplePanel state/>
                </Show>
                <Show when=move || state.panel.get() == Panel::Devices>
                    <settings::DevicesPanel state/>
                </Show>
            </div>
            <controls::ControlBar state leave leaving/>
        </section>
    }
    .into_any()
}

/// Progress, errors, what happened to us, and the subscriber's notice, above the videos.
#[component]
fn Messages(
    state: CallState,
    relogin: Callback<()>,
    rejoin: Callback<()>,
    leave: Callback<()>,
) -> impl IntoView {
    view! {
        {move || {
            state
                .status
                .get()
                .progress()
                .map(|p| {
                    view! {
                        <p class="progress" class:banner=state.status.get() == Status::Reconnecting role="status">
                            {p}
                        </p>
                    }
                })
        }}
        <Show when=move || state.error.get().is_some()>
            <div class="error" role="alert" data-testid="call-error">
                <p>{move || state.error.get().unwrap_or_default()}</p>
                <Show when=move || state.logged_out.get()>
                    <button on:click=move |_| relogin.run(())>"Log in again"</button>
                </Show>
                <Show when=move || state.rejoin.get().is_some()>
                    <button on:click=move |_| rejoin.run(())>{move || state.rejoin.get().unwrap_or_default()}</button>
                </Show>
                <Show when=move || state.status.get() == Status::Ended>
                    <button class="secondary" data-testid="back-to-start" on:click=move |_| leave.run(())>
                        "Back to the start page"
                    </button>
                </Show>
            </div>
        </Show>
        <Show when=move || state.notice.get().is_some()>
            <p class="notice" role="alert" data-testid="call-notice">{move || state.notice.get().unwrap_or_default()}</p>
        </Show>
        <Show when=move || state.role.get() == Some(Role::Subscriber)>
            <p class="notice" data-testid="subscriber-notice">
                "You are watching: your role lets you see and hear the others, not send your camera or microphone."
            </p>
        </Show>
    }
    .into_any()
}
