//! The join form: call name and nickname, pre-filled as in the openvidu-js-node sample, "join with
//! microphone off" / "camera off" (for roles that publish; remembered in this browser), the logged-in
//! user, logout.

use crate::api::logout;
use crate::model::{MAX_CALL_NAME, MAX_NICKNAME, Me, valid_call_name};
use leptos::prelude::*;
use leptos_meta::Title;

/// Whether one's microphone and camera start on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartWith {
    pub mic: bool,
    pub camera: bool,
}

const MIC_OFF_KEY: &str = "join.micOff";
const CAMERA_OFF_KEY: &str = "join.cameraOff";

/// A choice remembered in this browser's localStorage (none on the server, or when storage is refused).
fn remembered(key: &str) -> bool {
    #[cfg(feature = "hydrate")]
    {
        web_sys::window()
            .and_then(|w| w.local_storage().ok().flatten())
            .and_then(|s| s.get_item(key).ok().flatten())
            .is_some_and(|v| v == "1")
    }
    #[cfg(not(feature = "hydrate"))]
    {
        let _ = key;
        false
    }
}

fn remember(key: &str, on: bool) {
    #[cfg(feature = "hydrate")]
    if let Some(s) = web_sys::window().and_then(|w| w.local_storage().ok().flatten()) {
        let _ = s.set_item(key, if on { "1" } else { "0" });
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = (key, on);
}

fn random_nickname() -> String {
    #[cfg(feature = "hydrate")]
    let n = (js_sys::Math::random() * 100.0) as u32;
    #[cfg(not(feature = "hydrate"))]
    let n = 0;
    format!("Participant{n}")
}

#[component]
pub fn JoinView(
    me: Me,
    last: Option<(String, String)>,
    on_join: impl Fn(String, String, StartWith) + Clone + Send + Sync + 'static,
    on_logout: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let (last_call, last_nick) = last.unwrap_or_else(|| ("SessionA".to_owned(), random_nickname()));
    let call = RwSignal::new(last_call);
    let nickname = RwSignal::new(last_nick);
    let error = RwSignal::new(None::<String>);
    let mic_off = RwSignal::new(false);
    let camera_off = RwSignal::new(false);
    // Read after hydration (the server has no storage), so that the page hydrates as rendered.
    Effect::new(move |_| {
        mic_off.set(remembered(MIC_OFF_KEY));
        camera_off.set(remembered(CAMERA_OFF_KEY));
    });
    let publishes = me.role.can_publish();

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let (c, n) = (
            call.get_untracked().trim().to_owned(),
            nickname.get_untracked().trim().to_owned(),
        );
        if !valid_call_name(&c) {
            error.set(Some(
                "A call name is 1 to 64 letters, digits, '-' or '_'.".into(),
            ));
            return;
        }
        if n.is_empty() || n.chars().count() > MAX_NICKNAME {
            error.set(Some(format!(
                "A nickname is 1 to {MAX_NICKNAME} characters."
            )));
            return;
        }
        let (m, k) = (mic_off.get_untracked(), camera_off.get_untracked());
        remember(MIC_OFF_KEY, m);
        remember(CAMERA_OFF_KEY, k);
        on_join(
            c,
            n,
            StartWith {
                mic: !(publishes && m),
                camera: !(publishes && k),
            },
        );
    };

    let do_logout = move |_| {
        let on_logout = on_logout.clone();
        leptos::task::spawn_local(async move {
            // Whatever the answer, this page forgets the login; the server destroyed it or never had it.
            let _ = logout().await;
            on_logout();
        });
    };

    let heading = super::focus_on_mount();
    view! {
        <Title text="Join a call — Video calls"/>
        <section class="card join">
            <header class="bar">
                <span class="who" data-testid="me">
                    "Logged in as " <strong>{me.user.clone()}</strong> " (" {me.role.as_str()} ")"
                </span>
                <button class="secondary" on:click=do_logout>"Log out"</button>
            </header>
            <h1 node_ref=heading tabindex="-1">"Join a video call"</h1>
            <form on:submit=submit>
                <label>
                    "Call name"
                    <input name="call" required maxlength=MAX_CALL_NAME.to_string() bind:value=call/>
                </label>
                <label>
                    "Nickname"
                    <input name="nickname" required maxlength=MAX_NICKNAME.to_string() bind:value=nickname/>
                </label>
                <Show when=move || publishes>
                    <label class="check">
                        <input type="checkbox" name="mic-off" bind:checked=mic_off/>
                        "Join with microphone off"
                    </label>
                    <label class="check">
                        <input type="checkbox" name="camera-off" bind:checked=camera_off/>
                        "Join with camera off"
                    </label>
                </Show>
                <button type="submit">"Join"</button>
            </form>
            <Show when=move || error.get().is_some()>
                <p class="error" role="alert">{move || error.get().unwrap_or_default()}</p>
            </Show>
        </section>
    }
}
