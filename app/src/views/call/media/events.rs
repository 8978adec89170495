//! What the call's events do to [`CallState`]: tiles for streams, the people list, mute and camera
//! state, chat lines, the speaking ring, and the words a person reads when something happens to them.

use super::super::{CallState, ChatLine, LOCAL, Panel, Person, Status, Tile, chat, stage};
use super::with_active;
use crate::openvidu::CallEvent;
use leptos::prelude::*;

/// The local time as `HH:MM`.
fn now_hh_mm() -> String {
    let d = js_sys::Date::new_0();
    format!("{:02}:{:02}", d.get_hours(), d.get_minutes())
}

fn tile_of(state: CallState, id: &str) -> Option<Tile> {
    state
        .tiles
        .with_untracked(|t| t.iter().find(|x| x.id == id).cloned())
}

pub fn on_event(generation: u64, state: CallState, event: CallEvent) {
    if with_active(generation, |_| ()).is_none() {
        return;
    }
    match event {
        // Our own screen share is a second connection: not a person, and we show it from the source.
        CallEvent::ConnectionCreated(peer) if is_own_screen(generation, &peer.connection_id) => {}
        CallEvent::StreamCreated(stream) if is_own_screen(generation, &stream.connection_id) => {}
        CallEvent::ConnectionCreated(peer) => state.people.update(|p| {
            p.retain(|x| x.connection_id != peer.connection_id);
            let person = Person {
                connection_id: peer.connection_id,
                nickname: peer.nickname,
                user: peer.user,
                role: peer.role,
                local: peer.local,
            };
            if person.local {
                p.insert(0, person)
            } else {
                p.push(person)
            }
        }),
        CallEvent::ConnectionDestroyed { connection_id } => {
            state
                .people
                .update(|p| p.retain(|x| x.connection_id != connection_id));
            state.speaking.update(|s| {
                s.remove(&connection_id);
            });
        }
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
                connection_id: stream.connection_id.clone(),
                nickname: stream.nickname.clone(),
                user: stream.user.clone(),
                local: false,
                screen: stream.screen,
                audio: RwSignal::new(stream.audio),
                video: RwSignal::new(stream.video),
            };
            state.tiles.update(|t| {
                t.retain(|x| x.id != tile.id);
                t.push(tile)
            });
            if stream.screen {
                // A shared screen is shown large; its connection is not one more person.
                state
                    .people
                    .update(|p| p.retain(|x| x.connection_id != stream.connection_id));
                state.main.set(Some(stream.stream_id));
            } else if state.main.get_untracked().is_none_or(|m| m == LOCAL) {
                state.main.set(Some(stream.stream_id));
            }
        }
        CallEvent::StreamDestroyed { stream_id } => remove_tile(generation, state, &stream_id),
        CallEvent::StreamChanged {
            stream_id,
            audio,
            video,
        } => {
            // Our own stream's changes are already applied by the control bar.
            if let Some(t) = tile_of(state, &stream_id).filter(|t| !t.local) {
                if let Some(a) = audio {
                    t.audio.set(a);
                }
                if let Some(v) = video {
                    t.video.set(v);
                }
            }
        }
        CallEvent::OwnStreamDestroyed { reason } => {
            with_active(generation, |a| a.publisher = None);
            state.publishing.set(false);
            remove_tile(generation, state, LOCAL);
            if reason.starts_with("forceUnpublish") {
                state.notice.set(Some(
                    "A moderator stopped your camera and microphone. The others no longer see or hear you; \
                     leave and join again to send them."
                        .into(),
                ));
            }
        }
        CallEvent::Chat(message) => {
            // Over the limit or empty: a modified client sent it; nobody is shown it.
            let Some(text) = chat::accept(message.text) else {
                return;
            };
            state.chat.update(|c| {
                let id = c.len();
                c.push(ChatLine {
                    id,
                    nickname: message.nickname,
                    user: message.user,
                    local: message.local,
                    time: now_hh_mm(),
                    text,
                })
            });
            if !message.local && state.panel.get_untracked() != Panel::Chat {
                state.unread.update(|n| *n += 1);
            }
        }
        CallEvent::Speaking {
            connection_id,
            speaking,
        } => {
            state.speaking.update(|s| {
                if speaking {
                    s.insert(connection_id.clone());
                } else {
                    s.remove(&connection_id);
                }
            });
            if speaking {
                show_speaker(state, &connection_id);
            } else if let Some(next) = state.tiles.with_untracked(|t| {
                state.speaking.with_untracked(|s| {
                    stage::speaker_after(
                        t,
                        state.main.get_untracked().as_deref(),
                        &connection_id,
                        s,
                    )
                })
            }) {
                // The one shown large fell quiet while another still speaks: that one is shown.
                state.main.set(Some(next));
            }
        }
        CallEvent::Disconnected { reason } => {
            if reason == "disconnect" {
                return;
            }
            let (message, rejoin) = match reason.as_str() {
                "networkDisconnect" | "nodeCrashed" => (
                    "You were disconnected: the connection to the server was lost.",
                    true,
                ),
                "forceDisconnectByUser" => ("A moderator removed you from the call.", false),
                "forceDisconnectByServer" => ("You were removed from the call.", false),
                "sessionClosedByServer" | "openviduServerStopped" => {
                    ("The call was ended by the server.", true)
                }
                _ => ("You were disconnected from the call.", true),
            };
            ended(state, message, rejoin);
        }
        CallEvent::Reconnecting => {
            state.status.set(Status::Reconnecting);
            give_up_later(generation, state);
        }
        CallEvent::Reconnected => {
            if state.status.get_untracked() == Status::Reconnecting {
                state.status.set(Status::Live);
            }
        }
    }
}

/// How long openvidu-browser may try to reconnect before the page gives up and offers to rejoin. The
/// embedded media server keeps a lost participant 20 s from the last message it heard; past that a
/// reconnection can only fail.
const GIVE_UP_AFTER: std::time::Duration = std::time::Duration::from_secs(20);

/// After [`GIVE_UP_AFTER`] still reconnecting (openvidu-browser would go on for hours): leave the call
/// and say so, with a way back in.
fn give_up_later(generation: u64, state: CallState) {
    set_timeout(
        move || {
            let still = with_active(generation, |a| a.call.clone());
            if let Some(call) = still
                && state.status.get_untracked() == Status::Reconnecting
            {
                // Its own sessionDisconnected ("disconnect") is ignored above.
                call.disconnect();
                ended(
                    state,
                    "You were disconnected: the connection could not be restored.",
                    true,
                );
            }
        },
        GIVE_UP_AFTER,
    );
}

/// The call is over for this page: say why, and whether joining again may help.
fn ended(state: CallState, message: &str, rejoin: bool) {
    state.error.set(Some(message.into()));
    // What was said about the call before no longer applies.
    state.notice.set(None);
    state.rejoin.set(rejoin.then_some("Rejoin"));
    state.tiles.set(Vec::new());
    state.people.set(Vec::new());
    state.main.set(None);
    state.publishing.set(false);
    state.status.set(Status::Ended);
}

/// The active speaker is shown large, unless a screen share is (the pinned tile wins over both).
fn show_speaker(state: CallState, connection_id: &str) {
    let (speaker, screen_shown) = state.tiles.with_untracked(|t| {
        let speaker = t
            .iter()
            .find(|x| x.connection_id == connection_id && !x.screen && !x.local)
            .map(|x| x.id.clone());
        let main = state.main.get_untracked();
        let screen_shown = t
            .iter()
            .any(|x| x.screen && main.as_deref() == Some(x.id.as_str()));
        (speaker, screen_shown)
    });
    if let (Some(id), false) = (speaker, screen_shown)
        && state.main.get_untracked().as_deref() != Some(id.as_str())
    {
        state.main.set(Some(id));
    }
}

fn is_own_screen(generation: u64, connection_id: &str) -> bool {
    with_active(generation, |a| {
        a.screen_connection.as_deref() == Some(connection_id)
    })
    .unwrap_or(false)
}

pub(super) fn remove_tile(generation: u64, state: CallState, id: &str) {
    with_active(generation, |a| a.views.remove(id));
    state.tiles.update(|t| t.retain(|x| x.id != id));
    if state.pinned.get_untracked().as_deref() == Some(id) {
        state.pinned.set(None);
    }
    if state.main.get_untracked().as_deref() == Some(id) {
        let next = state.tiles.with_untracked(|t| {
            t.iter()
                .find(|x| !x.local)
                .or_else(|| t.first())
                .map(|x| x.id.clone())
        });
        state.main.set(next);
    }
}
