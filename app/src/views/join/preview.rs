//! The lobby's look before joining: a live preview of the camera (mirrored, as the call shows it), the
//! microphone's level, the choice of camera, microphone and (where the browser can) speaker,
//! remembered in this browser; a camera or microphone that cannot be used is explained here.

use super::Usable;
use super::devices::{self, Problem};
use crate::views::device_select::{DeviceSelect, Devices, Kind};
use leptos::html::Video;
use leptos::prelude::*;
use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

thread_local! {
    /// The one preview open (one lobby at a time), and a count that tells a late opening it is stale.
    static PREVIEW: RefCell<(u64, Option<devices::Preview>)> = const { RefCell::new((0, None)) };
}

/// Closes the preview, if any, and makes any opening under way stale.
fn close() -> u64 {
    PREVIEW.with(|p| {
        let mut p = p.borrow_mut();
        p.0 += 1;
        if let Some(old) = p.1.take() {
            old.stop();
        }
        p.0
    })
}

/// The sentence for devices that could not be used, with the way on.
fn explain(camera: Result<(), Problem>, microphone: Result<(), Problem>) -> Option<String> {
    let (what, problem) = match (camera, microphone) {
        (Ok(()), Ok(())) => return None,
        (Err(p), Ok(())) => ("your camera", p),
        (Ok(()), Err(p)) => ("your microphone", p),
        (Err(p), Err(_)) => ("your camera and microphone", p),
    };
    let why = match problem {
        Problem::Denied => {
            "the browser was not allowed to. Allow access in the site's settings (beside the address) and \
             reload the page"
        }
        Problem::Missing => "none was found. Connect one and reload the page",
        Problem::Busy => "another program is using it. Close that program and reload the page",
        Problem::Other => "it did not start. Reload the page to try again",
    };
    Some(format!(
        "This page cannot use {what}: {why}. Or join without it: you will still see and hear the others."
    ))
}

#[component]
pub fn Preview(
    camera_off: RwSignal<bool>,
    mic_off: RwSignal<bool>,
    /// What could be opened; `None` while opening.
    usable: RwSignal<Option<Usable>>,
) -> impl IntoView {
    let camera = RwSignal::new(Kind::Camera.chosen());
    let microphone = RwSignal::new(Kind::Microphone.chosen());
    let speaker = RwSignal::new(Kind::Speaker.chosen());
    let list = RwSignal::new(Devices::default());
    let problem = RwSignal::new(None::<String>);
    // In twentieths (0 to 20): an integer, so that the page needs no formatting of floats.
    let level = RwSignal::new(0u8);
    let video_ref = NodeRef::<Video>::new();
    // The opening this lobby started last: its cleanup closes only that one, not a newer lobby's
    // (leaving a call can drop the old view after the new one has started its preview).
    let mine = Arc::new(AtomicU64::new(0));

    let started = mine.clone();
    Effect::new(move |_| {
        let (cam, mic) = (camera.get(), microphone.get());
        // With "Join with camera off" the camera is opened only to learn that it works, then let go.
        let off = camera_off.get();
        // Released before the next one opens: some cameras open only once.
        let generation = close();
        started.store(generation, Ordering::Relaxed);
        usable.set(None);
        leptos::task::spawn_local(async move {
            let opened = devices::open(cam.as_deref(), mic.as_deref()).await;
            let current = PREVIEW.with(|p| p.borrow().0 == generation);
            if !current {
                if let Some(p) = opened.preview {
                    p.stop();
                }
                return;
            }
            if let Some(p) = opened.preview.as_ref().filter(|_| off) {
                p.stop_camera();
            }
            if let (Some(p), Some(video)) = (&opened.preview, video_ref.get_untracked()) {
                p.attach(&video);
            }
            PREVIEW.with(|p| p.borrow_mut().1 = opened.preview);
            problem.set(explain(opened.camera, opened.microphone));
            usable.set(Some(Usable {
                camera: opened.camera.is_ok(),
                microphone: opened.microphone.is_ok(),
            }));
            // Labels are only known once access was granted.
            list.set(devices::list().await);
        });
    });
    if let Ok(meter) = set_interval_with_handle(
        move || {
            let now = PREVIEW.with(|p| p.borrow().1.as_ref().map_or(0.0, |p| p.level()));
            level.set((now * 20.0).round().clamp(0.0, 20.0) as u8);
        },
        Duration::from_millis(100),
    ) {
        on_cleanup(move || meter.clear());
    }
    on_cleanup(move || {
        if PREVIEW.with(|p| p.borrow().0) == mine.load(Ordering::Relaxed) {
            close();
        }
    });

    let can_see = move || usable.get().is_some_and(|u| u.camera);
    let can_hear = move || usable.get().is_some_and(|u| u.microphone);
    let speakers = devices::can_choose_speaker();

    view! {
        <div class="lobby">
            <div class="preview mirror">
                <video node_ref=video_ref autoplay playsinline muted data-testid="preview"
                    aria-label="Your camera" class:hidden=move || camera_off.get() || !can_see()></video>
                <Show when=move || usable.get().is_none()>
                    <p class="progress" role="status">"Starting camera and microphone…"</p>
                </Show>
                <Show when=move || camera_off.get() && can_see()>
                    <p class="preview-note">"Your camera will be off"</p>
                </Show>
            </div>
            <Show when=can_hear>
                <label class="level">
                    {move || if mic_off.get() { "Microphone (will be off)" } else { "Microphone level" }}
                    <meter min="0" max="20" value=move || level.get() data-testid="mic-level"></meter>
                </label>
            </Show>
            <Show when=move || problem.get().is_some()>
                <p class="error" role="alert" data-testid="device-problem">{move || problem.get().unwrap_or_default()}</p>
            </Show>
            <Show when=can_see>
                <DeviceSelect kind=Kind::Camera list chosen=camera/>
            </Show>
            <Show when=can_hear>
                <DeviceSelect kind=Kind::Microphone list chosen=microphone/>
            </Show>
            <Show when=move || speakers>
                <DeviceSelect kind=Kind::Speaker list chosen=speaker/>
            </Show>
        </div>
    }
    .into_any()
}
