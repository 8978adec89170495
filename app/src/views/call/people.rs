//! The participants panel: everyone in the call with role, microphone and camera state.
//! A MODERATOR also gets "Stop camera and microphone" and "Remove" for the others, each after a confirmation; the
//! server refuses them to anyone else, and acting on someone who already left does nothing.

use super::controls::PanelHead;
use super::{CallState, Person, Tile, media};
use crate::model::Role;
use leptos::prelude::*;

/// A moderator action waiting for its confirmation.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pending {
    Remove { connection_id: String, name: String },
    StopCamera { stream_id: String, name: String },
}

impl Pending {
    fn question(&self) -> String {
        match self {
            Pending::Remove { name, .. } => format!("Remove {name} from the call?"),
            Pending::StopCamera { name, .. } => format!("Stop {name}'s camera and microphone?"),
        }
    }
    fn verb(&self) -> &'static str {
        match self {
            Pending::Remove { .. } => "Remove",
            Pending::StopCamera { .. } => "Stop camera and microphone",
        }
    }
}

/// The camera stream of `connection_id`, if they send one.
fn camera_of(tiles: &[Tile], connection_id: &str) -> Option<Tile> {
    tiles
        .iter()
        .find(|t| t.connection_id == connection_id)
        .cloned()
}

#[component]
pub fn PeoplePanel(state: CallState) -> impl IntoView {
    let pending = RwSignal::new(None::<Pending>);
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let moderator = move || state.role.get() == Some(Role::Moderator);
    let confirm = move |_: leptos::ev::MouseEvent| {
        let Some(action) = pending.get_untracked() else {
            return;
        };
        busy.set(true);
        leptos::task::spawn_local(async move {
            let result = match &action {
                Pending::Remove { connection_id, .. } => {
                    media::remove_participant(connection_id.clone()).await
                }
                Pending::StopCamera { stream_id, .. } => {
                    media::stop_stream(stream_id.clone()).await
                }
            };
            busy.set(false);
            pending.set(None);
            error.set(result.err());
        });
    };
    view! {
        <aside class="panel people" aria-labelledby="people-title" data-testid="people-panel">
            <PanelHead state title_id="people-title" close_label="Close participants">
                "Participants (" {move || state.people.with(Vec::len)} ")"
            </PanelHead>
            {move || pending.get().map(|p| view! {
                <div class="confirm" role="alertdialog" aria-labelledby="confirm-q" data-testid="confirm">
                    <p id="confirm-q">{p.question()}</p>
                    <div class="row">
                        <button class="danger" on:click=confirm disabled=move || busy.get()>{p.verb()}</button>
                        <button class="secondary" on:click=move |_| pending.set(None)>"Cancel"</button>
                    </div>
                </div>
            })}
            <Show when=move || error.get().is_some()>
                <p class="error" role="alert">{move || error.get().unwrap_or_default()}</p>
            </Show>
            <ul class="people-list">
                <For each=move || state.people.get() key=|p| p.connection_id.clone() let:person>
                    <PersonRow person state pending moderator=Signal::derive(moderator)/>
                </For>
            </ul>
        </aside>
    }
    .into_any()
}

#[component]
fn PersonRow(
    person: Person,
    state: CallState,
    pending: RwSignal<Option<Pending>>,
    moderator: Signal<bool>,
) -> impl IntoView {
    let Person {
        connection_id,
        nickname,
        user,
        role,
        local,
    } = person;
    let cid = connection_id.clone();
    let camera = move || state.tiles.with(|t| camera_of(t, &cid));
    let media_state = {
        let camera = camera.clone();
        move || match camera() {
            None => "Not sending camera or microphone".to_owned(),
            Some(t) => format!(
                "Microphone {}, camera {}",
                if t.audio.get() { "on" } else { "off" },
                if t.video.get() { "on" } else { "off" }
            ),
        }
    };
    let name = format!("{nickname} ({user})");
    // One's own role as the token said, else the one in the connection's data.
    let role = if local {
        state.role.get_untracked().or(role)
    } else {
        role
    };
    let stop_camera = {
        let (camera, name) = (camera.clone(), name.clone());
        move || {
            let t = camera()?;
            let (label, name) = (
                format!("Stop camera and microphone of {name}"),
                name.clone(),
            );
            let ask = move |_: leptos::ev::MouseEvent| {
                pending.set(Some(Pending::StopCamera {
                    stream_id: t.id.clone(),
                    name: name.clone(),
                }))
            };
            Some(
                view! { <button class="secondary" aria-label=label on:click=ask>"Stop camera and microphone"</button> },
            )
        }
    };
    let remove = move || {
        let (label, name, connection_id) = (
            format!("Remove {name}"),
            name.clone(),
            connection_id.clone(),
        );
        let ask = move |_: leptos::ev::MouseEvent| {
            pending.set(Some(Pending::Remove {
                connection_id: connection_id.clone(),
                name: name.clone(),
            }))
        };
        view! { <button class="danger" aria-label=label on:click=ask>"Remove"</button> }
    };
    let actions = move || {
        (moderator.get() && !local)
            .then(|| view! { <div class="row">{stop_camera.clone()}{remove.clone()}</div> })
    };
    view! {
        <li class="person" data-testid="person" data-user=user.clone() data-local=local.to_string()>
            <div class="who">
                <strong>{nickname.clone()}</strong>
                " "
                <span class="user">{if local { format!("{user} (you)") } else { user.clone() }}</span>
                {role.map(|r| view! { " " <span class="role" data-testid="role">{r.label()}</span> })}
            </div>
            <div class="state" data-testid="person-media">{media_state}</div>
            {actions}
        </li>
    }
    .into_any()
}
