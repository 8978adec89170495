//! The join form, a lobby for roles that publish: call name (from the call's URL, else the last one)
//! and nickname (the last one used in this browser, else the user name); for those who publish a live
//! preview with the microphone's level and the choice of devices ([`preview`]), "join with microphone
//! off" / "camera off", all remembered in this browser, and "join without" a device that cannot be
//! used. A subscriber gets the plain form and is never asked for a camera. After a reload during a
//! call it offers to rejoin that call.

#[cfg(feature = "hydrate")]
pub(crate) mod devices;
#[cfg(feature = "hydrate")]
mod preview;

/// The server renders no lobby (it only renders "loading"): nothing to preview there.
#[cfg(not(feature = "hydrate"))]
mod preview {
    use super::Usable;
    use leptos::prelude::*;

    #[component]
    pub fn Preview(
        camera_off: RwSignal<bool>,
        mic_off: RwSignal<bool>,
        usable: RwSignal<Option<Usable>>,
    ) -> impl IntoView {
        let _ = (camera_off, mic_off, usable);
    }
}

use crate::api::logout;
use crate::model::{MAX_CALL_NAME, MAX_NICKNAME, Me, valid_call_name};
use leptos::prelude::*;
use leptos_meta::Title;

/// Whether one's microphone and camera start on, and whether they exist for this call at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StartWith {
    pub mic: bool,
    pub camera: bool,
    /// Joined without that device (it could not be used): it is never opened.
    pub without_mic: bool,
    pub without_camera: bool,
}

/// Plays `video`'s sound on the speaker chosen in the lobby.
#[cfg(feature = "hydrate")]
pub fn set_speaker(video: &web_sys::HtmlVideoElement, id: &str) {
    devices::set_speaker(video, id);
}

/// Which of camera and microphone the lobby could open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Usable {
    pub camera: bool,
    pub microphone: bool,
}

const MIC_OFF_KEY: &str = "join.micOff";
const CAMERA_OFF_KEY: &str = "join.cameraOff";

/// A yes/no choice remembered in this browser.
fn remembered(key: &str) -> bool {
    super::browser::local(key).is_some_and(|v| v == "1")
}

fn remember(key: &str, on: bool) {
    super::browser::set_local(key, if on { "1" } else { "0" });
}

#[component]
pub fn JoinView(
    me: Me,
    /// The call name and nickname the form starts with.
    call: String,
    nickname: String,
    /// This tab was in this call when the page reloaded: offer to rejoin it.
    #[prop(optional)]
    rejoin: bool,
    on_join: impl Fn(String, String, StartWith) + Clone + Send + Sync + 'static,
    on_logout: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let call = RwSignal::new(call);
    let nickname = RwSignal::new(nickname);
    let error = RwSignal::new(None::<String>);
    let mic_off = RwSignal::new(false);
    let camera_off = RwSignal::new(false);
    // Read after hydration (the server has no storage), so that the page hydrates as rendered.
    Effect::new(move |_| {
        mic_off.set(remembered(MIC_OFF_KEY));
        camera_off.set(remembered(CAMERA_OFF_KEY));
    });
    let publishes = me.role.can_publish();

    let usable = RwSignal::new(None::<Usable>);

    // `without`: join without the devices that could not be opened.
    let go = Callback::new(move |without: bool| {
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
        let u = usable
            .get_untracked()
            .filter(|_| without)
            .unwrap_or(Usable {
                camera: true,
                microphone: true,
            });
        on_join(
            c,
            n,
            StartWith {
                mic: !(publishes && m) && u.microphone,
                camera: !(publishes && k) && u.camera,
                without_mic: !u.microphone,
                without_camera: !u.camera,
            },
        );
    });
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        go.run(false);
    };
    let without_label = move || match usable.get() {
        Some(Usable {
            camera: false,
            microphone: false,
        }) => Some("Join without camera and microphone"),
        Some(Usable { camera: false, .. }) => Some("Join without camera"),
        Some(Usable {
            microphone: false, ..
        }) => Some("Join without microphone"),
        _ => None,
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
            <Show when=move || rejoin>
                <p class="notice" role="status" data-testid="rejoin-offer">
                    "You were in this call when the page reloaded."
                </p>
            </Show>
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
                    <preview::Preview camera_off mic_off usable/>
                    <label class="check">
                        <input type="checkbox" name="mic-off" bind:checked=mic_off/>
                        "Join with microphone off"
                    </label>
                    <label class="check">
                        <input type="checkbox" name="camera-off" bind:checked=camera_off/>
                        "Join with camera off"
                    </label>
                </Show>
                <button type="submit">{if rejoin { "Rejoin" } else { "Join" }}</button>
                {move || {
                    without_label()
                        .map(|label| {
                            view! {
                                <button type="button" class="secondary" on:click=move |_| go.run(true)>{label}</button>
                            }
                        })
                }}
            </form>
            <Show when=move || error.get().is_some()>
                <p class="error" role="alert">{move || error.get().unwrap_or_default()}</p>
            </Show>
        </section>
    }
}
