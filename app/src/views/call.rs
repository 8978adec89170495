//! The call screen: the call name, a main video, a row of participants (nickname and user name over each,
//! always as text), the "you are watching" notice for subscribers, progress, errors and leave.
//! The media work happens in the browser only ([`media`]); the server renders nothing of a call.

// Without `hydrate` (server rendering) nothing drives a call: its states and tiles are never built.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

#[cfg(feature = "hydrate")]
mod media;

use crate::model::{Me, Role};
use leptos::html::Video;
use leptos::prelude::*;

/// One participant on screen. `id` is the stream id, or [`LOCAL`] for one's own camera.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tile {
    pub id: String,
    pub nickname: String,
    pub user: String,
    pub local: bool,
}

pub const LOCAL: &str = "local";

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
            Status::Reconnecting => Some("Connection lost, reconnecting…"),
            Status::Live | Status::Ended => None,
        }
    }
}

/// The signals the media side writes and the view reads. All `Copy`.
#[derive(Clone, Copy)]
pub struct CallState {
    pub status: RwSignal<Status>,
    pub tiles: RwSignal<Vec<Tile>>,
    /// The tile shown in the main video.
    pub main: RwSignal<Option<String>>,
    pub error: RwSignal<Option<String>>,
    /// The role the server gave with the token (the UI never guesses it from the user name).
    pub role: RwSignal<Option<Role>>,
    /// The login is gone (401): offer to log in again.
    pub logged_out: RwSignal<bool>,
}

#[component]
pub fn CallView(
    me: Me,
    call: String,
    nickname: String,
    on_leave: impl Fn() + Clone + Send + Sync + 'static,
    on_logged_out: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let state = CallState {
        status: RwSignal::new(Status::GettingToken),
        tiles: RwSignal::new(Vec::new()),
        main: RwSignal::new(None),
        error: RwSignal::new(None),
        role: RwSignal::new(None),
        logged_out: RwSignal::new(false),
    };

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
    let leaving = RwSignal::new(false);
    let leave = move |_| {
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
    };

    let main_ref = NodeRef::<Video>::new();
    #[cfg(feature = "hydrate")]
    Effect::new(move |_| {
        let selected = state.main.get();
        if let (Some(video), Some(id)) = (main_ref.get(), selected) {
            media::attach(&id, &video);
            // The participant's own tile plays the sound; the main video never does (no echo, no doubling).
            video.set_muted(true);
        }
    });
    let main_tile = move || {
        let id = state.main.get()?;
        state
            .tiles
            .with(|tiles| tiles.iter().find(|t| t.id == id).cloned())
    };

    view! {
        <section class="call" data-testid="call">
            <header class="bar">
                <h1>"Call " <span data-testid="call-name">{call.clone()}</span></h1>
                <button class="danger" data-testid="leave" on:click=leave disabled=move || leaving.get()>
                    {move || if leaving.get() { "Leaving…" } else { "Leave call" }}
                </button>
            </header>
            {move || {
                state.status.get().progress().map(|p| view! { <p class="progress" role="status">{p}</p> })
            }}
            <Show when=move || state.error.get().is_some()>
                <div class="error" role="alert" data-testid="call-error">
                    <p>{move || state.error.get().unwrap_or_default()}</p>
                    <Show when=move || state.logged_out.get()>
                        <button on:click=move |_| relogin.run(())>"Log in again"</button>
                    </Show>
                </div>
            </Show>
            <Show when=move || state.role.get() == Some(Role::Subscriber)>
                <p class="notice" data-testid="subscriber-notice">
                    "You are watching: your role lets you see and hear the others, not send your camera or microphone."
                </p>
            </Show>
            <div class="main-video">
                <video node_ref=main_ref autoplay playsinline muted data-testid="main-video"></video>
                {move || {
                    main_tile()
                        .map(|t| {
                            view! {
                                <div class="caption" data-testid="main-caption">
                                    <span class="nickname">{t.nickname}</span>
                                    <span class="user">{t.user}</span>
                                </div>
                            }
                        })
                }}
                <Show when=move || state.main.get().is_none() && state.status.get() == Status::Live>
                    <p class="empty">"Nobody is sending video yet."</p>
                </Show>
            </div>
            <ul class="tiles" data-testid="participants">
                <For each=move || state.tiles.get() key=|t| t.id.clone() let:tile>
                    <VideoTile tile state/>
                </For>
            </ul>
        </section>
    }
}

#[component]
fn VideoTile(tile: Tile, state: CallState) -> impl IntoView {
    let video_ref = NodeRef::<Video>::new();
    let playing = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let id = tile.id.clone();
        Effect::new(move |_| {
            if let Some(video) = video_ref.get() {
                media::attach(&id, &video);
            }
        });
    }
    let id = tile.id.clone();
    let selected = {
        let id = id.clone();
        move || state.main.get().as_deref() == Some(id.as_str())
    };
    view! {
        <li
            class="tile"
            class:selected=selected
            data-testid="participant"
            data-user=tile.user.clone()
            data-local=tile.local.to_string()
            on:click=move |_| state.main.set(Some(id.clone()))
        >
            <video node_ref=video_ref autoplay playsinline muted=tile.local on:playing=move |_| playing.set(true)></video>
            <Show when=move || !playing.get()>
                <p class="connecting" role="status">"Connecting media…"</p>
            </Show>
            <div class="caption">
                <span class="nickname" data-testid="nickname">{tile.nickname.clone()}</span>
                <span class="user" data-testid="user">{if tile.local { format!("{} (you)", tile.user) } else { tile.user.clone() }}</span>
            </div>
        </li>
    }
}
