//! The choice of one camera, microphone or speaker, as the lobby and the call's settings offer it: a
//! labelled `<select>` of the browser's devices of that kind, remembered in this browser.

use super::browser;
use leptos::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Device {
    pub id: String,
    pub label: String,
}

/// The browser's devices, by kind (labels appear once access was granted).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Devices {
    pub cameras: Vec<Device>,
    pub microphones: Vec<Device>,
    pub speakers: Vec<Device>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Camera,
    Microphone,
    Speaker,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Camera => "Camera",
            Kind::Microphone => "Microphone",
            Kind::Speaker => "Speaker",
        }
    }

    /// The `<select>`'s name, and the test id of the form `device-<name>`.
    fn name(self) -> &'static str {
        match self {
            Kind::Camera => "camera",
            Kind::Microphone => "microphone",
            Kind::Speaker => "speaker",
        }
    }

    /// Where this browser keeps the choice.
    fn key(self) -> &'static str {
        match self {
            Kind::Camera => "lobby.camera",
            Kind::Microphone => "lobby.microphone",
            Kind::Speaker => "lobby.speaker",
        }
    }

    fn of(self, devices: &Devices) -> &[Device] {
        match self {
            Kind::Camera => &devices.cameras,
            Kind::Microphone => &devices.microphones,
            Kind::Speaker => &devices.speakers,
        }
    }

    /// The device id chosen last in this browser (none: the browser's default).
    pub fn chosen(self) -> Option<String> {
        browser::local(self.key()).filter(|id| !id.is_empty())
    }

    pub fn remember(self, id: &str) {
        browser::set_local(self.key(), id);
    }
}

/// The `<select>` of the devices of `kind` in `list`, shown once there is one, showing `chosen`.
/// Choosing remembers the device and sets `chosen`; or, given `on_choose`, runs it with the device id
/// instead, which does both once the device is in use (a device that fails is not kept).
#[component]
pub fn DeviceSelect(
    kind: Kind,
    list: RwSignal<Devices>,
    chosen: RwSignal<Option<String>>,
    #[prop(optional)] on_choose: Option<Callback<String>>,
) -> impl IntoView {
    let change = move |ev: leptos::ev::Event| {
        let id = event_target_value(&ev);
        match on_choose {
            Some(f) => f.run(id),
            None => {
                kind.remember(&id);
                chosen.set(Some(id));
            }
        }
    };
    // The device in use: the one chosen if the browser lists it, else the browser's default, which it
    // lists first (a select showing nothing would leave the person guessing).
    let shown = move || {
        list.with(|l| {
            let devices = kind.of(l);
            chosen
                .get()
                .filter(|id| devices.iter().any(|d| &d.id == id))
                .or_else(|| devices.first().map(|d| d.id.clone()))
                .unwrap_or_default()
        })
    };
    view! {
        <Show when=move || list.with(|l| !kind.of(l).is_empty())>
            <label>
                {kind.label()}
                <select name=kind.name() data-testid=format!("device-{}", kind.name()) on:change=change
                    prop:value=shown>
                    <For each=move || list.with(|l| kind.of(l).to_vec()) key=|d| d.id.clone() let:d>
                        <option value=d.id.clone() selected=move || shown() == d.id>
                            {d.label.clone()}
                        </option>
                    </For>
                </select>
            </label>
        </Show>
    }
    .into_any()
}
