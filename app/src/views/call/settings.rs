//! The devices panel: switch the camera or microphone being sent without leaving the call (the others
//! see and hear the new one at once), and the speaker that plays the others, where the browser can.
//! A device the call was joined without is not offered; the choices are remembered for the next call.

use super::controls::PanelHead;
use super::{CallState, media};
use crate::views::device_select::{DeviceSelect, Devices, Kind};
use leptos::prelude::*;

#[component]
pub fn DevicesPanel(state: CallState) -> impl IntoView {
    let list = RwSignal::new(Devices::default());
    let camera = RwSignal::new(Kind::Camera.chosen());
    let microphone = RwSignal::new(Kind::Microphone.chosen());
    let speaker = RwSignal::new(Kind::Speaker.chosen());
    let loaded = RwSignal::new(false);
    leptos::task::spawn_local(async move {
        list.set(media::device_list().await);
        loaded.set(true);
    });
    let switch = move |kind: Kind, chosen: RwSignal<Option<String>>| {
        Callback::new(move |id: String| media::switch_device(state, kind, id, chosen))
    };
    let sends = move |without: bool| state.publishing.get() && !without;
    let speakers = media::can_choose_speaker();
    view! {
        <aside class="panel devices" aria-labelledby="devices-title" data-testid="devices">
            <PanelHead state title_id="devices-title" close_label="Close devices">"Devices"</PanelHead>
            <Show when=move || !loaded.get()>
                <p class="progress" role="status">"Looking for cameras and microphones…"</p>
            </Show>
            <Show when=move || sends(state.devices.without_camera)>
                <DeviceSelect kind=Kind::Camera list chosen=camera on_choose=switch(Kind::Camera, camera)/>
            </Show>
            <Show when=move || sends(state.devices.without_mic)>
                <DeviceSelect kind=Kind::Microphone list chosen=microphone on_choose=switch(Kind::Microphone, microphone)/>
            </Show>
            <Show when=move || speakers>
                <DeviceSelect kind=Kind::Speaker list chosen=speaker on_choose=switch(Kind::Speaker, speaker)/>
            </Show>
            <Show when=move || loaded.get() && !speakers && !state.publishing.get()>
                <p class="hint">"Nothing to choose here: you send neither camera nor microphone, and this browser plays sound on its default speaker."</p>
            </Show>
        </aside>
    }
    .into_any()
}
