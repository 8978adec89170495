//! One participant's tile: the video (one's own mirrored, as in every call app), or with the camera off
//! a placeholder with initials and name; the names as text; a muted-microphone icon; a speaking ring.
//! Clicking it, or its Pin button (the keyboard's way), keeps it large until unpinned.

use super::{CallState, Tile};
use leptos::html::Video;
use leptos::prelude::*;

/// Up to two initials from the nickname, else from the user name ("Ada Lovelace" → "AL").
pub fn initials(nickname: &str, user: &str) -> String {
    let from = |s: &str| -> String {
        s.split_whitespace()
            .filter_map(|w| w.chars().find(|c| c.is_alphanumeric()))
            .take(2)
            .flat_map(char::to_uppercase)
            .collect()
    };
    let n = from(nickname);
    if n.is_empty() { from(user) } else { n }
}

/// What stands in for the picture while a camera is off.
#[component]
pub fn Placeholder(nickname: String, user: String) -> impl IntoView {
    let letters = initials(&nickname, &user);
    view! {
        <div class="placeholder" data-testid="camera-off">
            <span class="initials" aria-hidden="true" data-testid="initials">{letters}</span>
            <span class="sr-only">"Camera off"</span>
        </div>
    }
    .into_any()
}

/// A crossed-out microphone, named for screen readers.
#[component]
pub fn MutedIcon() -> impl IntoView {
    view! {
        <span class="muted-icon" role="img" aria-label="Microphone off" data-testid="muted">
            <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
                <path fill="currentColor" d="M12 14a3 3 0 0 0 3-3V5a3 3 0 0 0-6 0v6a3 3 0 0 0 3 3zm5-3a5 5 0 0 1-10 0H5a7 7 0 0 0 6 6.9V21h2v-3.1A7 7 0 0 0 19 11z"/>
                <path stroke="currentColor" stroke-width="2" d="M4 4l16 16"/>
            </svg>
        </span>
    }
    .into_any()
}

#[component]
pub fn VideoTile(tile: Tile, state: CallState) -> impl IntoView {
    let video_ref = NodeRef::<Video>::new();
    let playing = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let id = tile.id.clone();
        Effect::new(move |_| {
            if let Some(video) = video_ref.get() {
                super::media::attach(&id, &video);
            }
        });
    }
    let Tile {
        id,
        connection_id,
        nickname,
        user,
        local,
        screen,
        audio,
        video,
    } = tile;
    let selected = {
        let id = id.clone();
        move || state.shown().as_deref() == Some(id.as_str())
    };
    let pinned = {
        let id = id.clone();
        Memo::new(move |_| state.pinned.get().as_deref() == Some(id.as_str()))
    };
    let speaking = move || state.speaking.with(|s| s.contains(&connection_id));
    let show = {
        let id = id.clone();
        // Pins this tile, or unpins it when it is the pinned one.
        move || {
            state.pinned.update(|p| {
                *p = if p.as_deref() == Some(id.as_str()) {
                    None
                } else {
                    Some(id.clone())
                }
            })
        }
    };
    let pin_click = {
        let show = show.clone();
        move |ev: leptos::ev::MouseEvent| {
            // The tile's own click would toggle it a second time.
            ev.stop_propagation();
            show();
        }
    };
    let label = if screen {
        format!("Pin the screen of {nickname} ({user})")
    } else {
        format!("Pin {nickname} ({user})")
    };
    let shown_user = match (local, screen) {
        (_, true) => format!("{user}: screen"),
        (true, false) => format!("{user} (you)"),
        (false, false) => user.clone(),
    };
    let (pn, pu) = (nickname.clone(), user.clone());
    view! {
        <li
            class="tile"
            class:selected=selected
            class:speaking=speaking.clone()
            class:local=local
            class:mirror=local && !screen
            class:screen=screen
            data-screen=screen.to_string()
            data-pinned=move || pinned.get().to_string()
            data-testid="participant"
            data-user=user.clone()
            data-local=local.to_string()
            data-speaking=move || speaking().to_string()
            on:click=move |_| show()
        >
            <video node_ref=video_ref autoplay playsinline muted=local class:hidden=move || !video.get()
                on:playing=move |_| playing.set(true)></video>
            <Show when=move || !video.get()>
                <Placeholder nickname=pn.clone() user=pu.clone()/>
            </Show>
            <Show when=move || video.get() && !playing.get()>
                <p class="connecting" role="status">"Connecting media…"</p>
            </Show>
            <button class="pin" aria-label=label aria-pressed=move || pinned.get().to_string() data-testid="pin" on:click=pin_click>
                {move || if pinned.get() { "Unpin" } else { "Pin" }}
            </button>
            <div class="caption">
                <Show when=move || !audio.get() && !screen>
                    <MutedIcon/>
                </Show>
                <span class="nickname" data-testid="nickname">{nickname.clone()}</span>
                <span class="user" data-testid="user">{shown_user}</span>
            </div>
        </li>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::initials;

    #[test]
    fn initials_from_names() {
        assert_eq!(initials("Ada Lovelace", "ada"), "AL");
        assert_eq!(initials("bob", "publisher2"), "B");
        assert_eq!(initials("  ", "publisher2"), "P");
        assert_eq!(initials("<b>x</b> y", "u"), "BY");
        assert_eq!(initials("élan vital extra", "u"), "ÉV");
    }
}
