//! One participant's tile: the video (one's own mirrored, as in every call app), or with the camera off
//! a placeholder with initials and name; the names as text; a muted-microphone icon; a speaking ring.
//! "Video frozen" over a remote camera that stops delivering pictures, or while the call reconnects.
//! Clicking it, or its Pin button (the keyboard's way), keeps it large until unpinned; its Full screen
//! button shows it alone on the whole screen (Esc, or the button again, leaves).

use super::stage::Arrangement;
use super::{CallState, Tile};
#[cfg(feature = "hydrate")]
use crate::views::device_select::Kind;
use leptos::html::{Li, Video};
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
pub fn VideoTile(tile: Tile, state: CallState, arrangement: Memo<Arrangement>) -> impl IntoView {
    let video_ref = NodeRef::<Video>::new();
    let tile_ref = NodeRef::<Li>::new();
    let full = RwSignal::new(false);
    let playing = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    {
        let id = tile.id.clone();
        let local = tile.local;
        Effect::new(move |_| {
            if let Some(video) = video_ref.get() {
                super::media::attach(&id, &video);
                // The speaker chosen in the lobby plays the others' sound.
                if let (false, Some(speaker)) = (local, Kind::Speaker.chosen()) {
                    super::super::join::set_speaker(&video, &speaker);
                }
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
    let stalled = watch_frames(video_ref, local || screen, video, playing);
    let poor = watch_quality(id.clone(), local, screen, video);
    // No new picture for a while, or the call is reconnecting: what is shown is an old picture.
    let frozen = move || {
        !local
            && video.get()
            && (stalled.get() || state.status.get() == super::Status::Reconnecting)
    };
    let featured = {
        let id = id.clone();
        move || matches!(arrangement.get(), Arrangement::Speaker(large) if large == id)
    };
    let off_page = {
        let id = id.clone();
        move || match arrangement.get() {
            Arrangement::Grid(range) => state
                .tiles
                .with(|t| t.iter().position(|x| x.id == id))
                .is_some_and(|i| !range.contains(&i)),
            Arrangement::Speaker(_) => false,
        }
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
    let whose = if screen {
        format!("the screen of {nickname} ({user})")
    } else {
        format!("{nickname} ({user})")
    };
    let label = format!("Pin {whose}");
    let full_label = format!("Show {whose} full screen");
    let full_click = move |ev: leptos::ev::MouseEvent| {
        ev.stop_propagation();
        toggle_full_screen(tile_ref);
    };
    let shown_user = match (local, screen) {
        (_, true) => format!("{user}: screen"),
        (true, false) => format!("{user} (you)"),
        (false, false) => user.clone(),
    };
    let (pn, pu) = (nickname.clone(), user.clone());
    view! {
        <li
            node_ref=tile_ref
            class="tile"
            class:featured=featured
            class:off-page=off_page
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
            data-connection=move || match poor.get() { None => "unknown", Some(false) => "good", Some(true) => "poor" }
            on:click=move |_| show()
            on:fullscreenchange=move |_| full.set(is_full_screen(tile_ref))
        >
            <video node_ref=video_ref autoplay playsinline muted=local class:hidden=move || !video.get()
                on:playing=move |_| playing.set(true)></video>
            <Show when=move || !video.get()>
                <Placeholder nickname=pn.clone() user=pu.clone()/>
            </Show>
            <Show when=move || video.get() && !playing.get()>
                <p class="connecting" role="status">"Connecting media…"</p>
            </Show>
            <Show when=frozen>
                <p class="frozen" role="status" data-testid="frozen">"Video frozen"</p>
            </Show>
            <Show when=move || poor.get() == Some(true) && !frozen()>
                <p class="frozen poor" role="status" data-testid="poor-connection">"Poor connection"</p>
            </Show>
            <div class="tile-actions">
                <button class="full" class:unavailable=!full_screen_possible() aria-label=full_label aria-pressed=move || full.get().to_string()
                    title=move || if full.get() { "Leave full screen (Esc)" } else { "Full screen" }
                    data-testid="full-screen" on:click=full_click>
                    <svg viewBox="0 0 24 24" width="16" height="16" aria-hidden="true">
                        <path fill="none" stroke="currentColor" stroke-width="2" d="M4 9V4h5M15 4h5v5M20 15v5h-5M9 20H4v-5"/>
                    </svg>
                </button>
                <button class="pin" aria-label=label aria-pressed=move || pinned.get().to_string() data-testid="pin" on:click=pin_click>
                    {move || if pinned.get() { "Unpin" } else { "Pin" }}
                </button>
            </div>
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

/// Whether this browser lets an element fill the screen (iPhone Safari does not).
fn full_screen_possible() -> bool {
    #[cfg(feature = "hydrate")]
    {
        document().fullscreen_enabled()
    }
    #[cfg(not(feature = "hydrate"))]
    {
        false
    }
}

/// Shows the tile alone on the screen, or leaves full screen when something is shown so.
fn toggle_full_screen(tile: NodeRef<Li>) {
    #[cfg(feature = "hydrate")]
    {
        let document = document();
        if document.fullscreen_element().is_some() {
            document.exit_fullscreen();
        } else if let Some(li) = tile.get_untracked() {
            // Refused (no permission, an iframe): the tile simply stays where it is.
            let _ = li.request_fullscreen();
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = tile;
}

fn is_full_screen(tile: NodeRef<Li>) -> bool {
    #[cfg(feature = "hydrate")]
    {
        let li = tile.get_untracked();
        document()
            .fullscreen_element()
            .is_some_and(|e| li.is_some_and(|li| AsRef::<web_sys::Element>::as_ref(&li) == &e))
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = tile;
        false
    }
}

/// How often a received video's counters are read for the "Poor connection" badge.
const QUALITY_EVERY_SECS: u64 = 2;

/// How the video of tile `id` arrives: `None` until two readings could be compared, then whether it
/// arrives badly ([`crate::quality::Received::poor_since`]) in the last reading or the one before, so
/// that the badge does not flicker. One's own tile is never judged, nor a camera that is off; a shared
/// screen only by its losses (a still screen sends few frames).
fn watch_quality(
    id: String,
    local: bool,
    screen: bool,
    sending: RwSignal<bool>,
) -> RwSignal<Option<bool>> {
    let poor = RwSignal::new(None);
    #[cfg(feature = "hydrate")]
    if !local {
        use crate::quality::Received;
        let seen = StoredValue::new((None::<Received>, false));
        let check = move || {
            let id = id.clone();
            leptos::task::spawn_local(async move {
                let now = if sending.get_untracked() {
                    super::media::received_video(&id).await
                } else {
                    None
                };
                // The tile may have gone while the browser counted.
                if poor.is_disposed() {
                    return;
                }
                let Some(mut now) = now else {
                    seen.set_value((None, false));
                    poor.set(None);
                    return;
                };
                if screen {
                    now.freezes = 0.0;
                }
                let (before, was_bad) = seen.get_value();
                let bad = before.is_some_and(|b| now.poor_since(&b));
                seen.set_value((Some(now), bad));
                let shown = before.map(|_| bad || was_bad);
                if poor.get_untracked() != shown {
                    poor.set(shown);
                }
            });
        };
        if let Ok(handle) =
            set_interval_with_handle(check, std::time::Duration::from_secs(QUALITY_EVERY_SECS))
        {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (id, local, screen, sending);
    poor
}

/// Seconds without a new decoded frame after which a playing camera counts as frozen.
const STALLED_AFTER_SECS: u8 = 3;

/// True while `video` plays but decodes no new frames (the sender or the server is gone). Not
/// watched for `exempt` tiles: one's own, and shared screens, which send nothing while the screen is
/// still.
fn watch_frames(
    video_ref: NodeRef<Video>,
    exempt: bool,
    sending: RwSignal<bool>,
    playing: RwSignal<bool>,
) -> RwSignal<bool> {
    let stalled = RwSignal::new(false);
    #[cfg(feature = "hydrate")]
    if !exempt {
        let seen = StoredValue::new((0.0f64, 0u8));
        let check = move || {
            let frames = video_ref
                .get_untracked()
                .filter(|_| sending.get_untracked() && playing.get_untracked())
                .and_then(|v| decoded_frames(&v));
            let Some(frames) = frames else {
                seen.set_value((0.0, 0));
                stalled.set(false);
                return;
            };
            let (last, same) = seen.get_value();
            let same = if frames > last {
                0
            } else {
                same.saturating_add(1)
            };
            seen.set_value((frames, same));
            let now = same >= STALLED_AFTER_SECS;
            if stalled.get_untracked() != now {
                stalled.set(now);
            }
        };
        if let Ok(handle) = set_interval_with_handle(check, std::time::Duration::from_secs(1)) {
            on_cleanup(move || handle.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (video_ref, exempt, sending, playing);
    stalled
}

/// `video.getVideoPlaybackQuality().totalVideoFrames`.
#[cfg(feature = "hydrate")]
fn decoded_frames(video: &web_sys::HtmlVideoElement) -> Option<f64> {
    use wasm_bindgen::{JsCast, JsValue};
    let quality = js_sys::Reflect::get(video, &JsValue::from_str("getVideoPlaybackQuality"))
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?
        .call0(video)
        .ok()?;
    js_sys::Reflect::get(&quality, &JsValue::from_str("totalVideoFrames"))
        .ok()?
        .as_f64()
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
