//! The control bar: microphone, camera, screen share (for those who publish), chat with its unread count,
//! participants, devices, keyboard shortcuts, leave. Every button has a name and, where it toggles, `aria-pressed`.
//! Shortcuts as in Meet: Ctrl+D microphone, Ctrl+E camera; listed in a help dialog.

use super::{CallState, Panel, media};
use leptos::html::Button;
use leptos::prelude::*;

fn toggle_panel(state: CallState, panel: Panel) {
    let next = if state.panel.get_untracked() == panel {
        Panel::None
    } else {
        panel
    };
    if next == Panel::Chat {
        state.unread.set(0);
    }
    state.panel.set(next);
}

#[component]
pub fn ControlBar(state: CallState, leave: Callback<()>, leaving: RwSignal<bool>) -> impl IntoView {
    let help_open = RwSignal::new(false);
    let help_button = NodeRef::<Button>::new();
    let help_close = NodeRef::<Button>::new();
    let keys = window_event_listener(leptos::ev::keydown, move |ev| {
        if help_open.get_untracked() {
            match ev.key().as_str() {
                "Escape" => {
                    help_open.set(false);
                    if let Some(b) = help_button.get_untracked() {
                        let _ = b.focus();
                    }
                    return;
                }
                // The dialog is modal: Tab brings the focus back to its Close button, all there is to reach
                // in it (a click on the dialog's text had taken the focus off it).
                "Tab" => {
                    ev.prevent_default();
                    if let Some(b) = help_close.get_untracked() {
                        let _ = b.focus();
                    }
                    return;
                }
                _ => {}
            }
        }
        if !ev.ctrl_key() || ev.alt_key() || ev.meta_key() {
            return;
        }
        match ev.key().to_ascii_lowercase().as_str() {
            "d" => {
                ev.prevent_default();
                Device::Microphone.toggle(state);
            }
            "e" => {
                ev.prevent_default();
                Device::Camera.toggle(state);
            }
            _ => {}
        }
    });
    on_cleanup(move || keys.remove());

    let publishing = move || state.publishing.get();
    view! {
        <footer class="controls" role="toolbar" aria-label="Call controls">
            <Show when=publishing>
                <DeviceToggle device=Device::Microphone state/>
                <DeviceToggle device=Device::Camera state/>
                <button
                    class="control"
                    class:hidden-control=!media::can_share_screen()
                    aria-pressed=move || state.sharing.get().to_string()
                    title=move || if state.sharing.get() { "Stop sharing your screen" } else { "Share your screen" }
                    data-testid="toggle-screen"
                    on:click=move |_| media::toggle_screen(state)
                >
                    {move || if state.sharing.get() { "Stop sharing" } else { "Share screen" }}
                </button>
            </Show>
            <PanelToggle state panel=Panel::Devices label="Devices" testid="toggle-devices"
                title="Switch camera, microphone or speaker"/>
            <PanelToggle state panel=Panel::Chat label="Chat" testid="toggle-chat">
                <Show when=move || state.unread.get() != 0>
                    <span class="badge" data-testid="unread">
                        {move || state.unread.get().to_string()}
                        <span class="sr-only">" unread"</span>
                    </span>
                </Show>
            </PanelToggle>
            <PanelToggle state panel=Panel::People label="Participants" testid="toggle-people"/>
            <button
                class="control"
                node_ref=help_button
                aria-haspopup="dialog"
                on:click=move |_| help_open.set(true)
            >
                "Shortcuts"
            </button>
            <button class="danger" data-testid="leave" on:click=move |_| leave.run(()) disabled=move || leaving.get()>
                {move || if leaving.get() { "Leaving…" } else { "Leave call" }}
            </button>
        </footer>
        <Show when=move || help_open.get()>
            <HelpDialog close=help_close on_close=move || {
                help_open.set(false);
                if let Some(b) = help_button.get_untracked() {
                    let _ = b.focus();
                }
            }/>
        </Show>
    }
    .into_any()
}

/// The button that opens or closes a side panel (`aria-pressed` while it is open); `children` follow
/// the label (the chat's unread count).
#[component]
fn PanelToggle(
    state: CallState,
    panel: Panel,
    label: &'static str,
    testid: &'static str,
    #[prop(optional)] title: Option<&'static str>,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    view! {
        <button
            class="control"
            aria-pressed=move || (state.panel.get() == panel).to_string()
            title=title
            data-testid=testid
            on:click=move |_| toggle_panel(state, panel)
        >
            {label}
            {children.map(|c| c())}
        </button>
    }
    .into_any()
}

/// A side panel's heading, with its Close button.
#[component]
pub fn PanelHead(
    state: CallState,
    title_id: &'static str,
    close_label: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <header class="panel-head">
            <h2 id=title_id>{children()}</h2>
            <button class="secondary" aria-label=close_label on:click=move |_| state.panel.set(Panel::None)>"Close"</button>
        </header>
    }
    .into_any()
}

/// One of one's own devices, as the control bar switches it.
#[derive(Clone, Copy)]
enum Device {
    Microphone,
    Camera,
}

impl Device {
    fn on(self, state: CallState) -> RwSignal<bool> {
        match self {
            Device::Microphone => state.mic,
            Device::Camera => state.camera,
        }
    }

    /// The call was joined without it (it could not be used).
    fn without(self, state: CallState) -> bool {
        match self {
            Device::Microphone => state.devices.without_mic,
            Device::Camera => state.devices.without_camera,
        }
    }

    /// Switches it, when our own stream is published with that device.
    fn toggle(self, state: CallState) {
        if !state.publishing.get_untracked() || self.without(state) {
            return;
        }
        let on = !self.on(state).get_untracked();
        match self {
            Device::Microphone => media::set_mic(state, on),
            Device::Camera => media::set_camera(state, on),
        }
    }
}

/// The Microphone or Camera button: on/off as `aria-pressed`, its shortcut, hidden when the call was
/// joined without that device.
#[component]
fn DeviceToggle(device: Device, state: CallState) -> impl IntoView {
    let (name, thing, keys, shown_keys, testid) = match device {
        Device::Microphone => (
            "Microphone",
            "microphone",
            "Control+D",
            "Ctrl+D",
            "toggle-mic",
        ),
        Device::Camera => ("Camera", "camera", "Control+E", "Ctrl+E", "toggle-camera"),
    };
    let without = device.without(state);
    let on = device.on(state);
    let toggle = move |_| device.toggle(state);
    view! {
        <button
            class="control"
            class:hidden-control=without
            class:off=move || !on.get()
            aria-pressed=move || on.get().to_string()
            aria-keyshortcuts=keys
            title=move || format!("Turn {} {thing} ({shown_keys})", if on.get() { "off" } else { "on" })
            data-testid=testid
            on:click=toggle
        >
            {name}
        </button>
    }
    .into_any()
}

#[component]
fn HelpDialog(
    close: NodeRef<Button>,
    on_close: impl Fn() + Clone + Send + Sync + 'static,
) -> impl IntoView {
    Effect::new(move |_| {
        if let Some(b) = close.get() {
            let _ = b.focus();
        }
    });
    view! {
        <div class="dialog-backdrop">
            <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="help-title" data-testid="help-dialog">
                <h2 id="help-title">"Keyboard shortcuts"</h2>
                <dl class="shortcuts">
                    <dt><kbd>"Ctrl"</kbd>" + "<kbd>"D"</kbd></dt>
                    <dd>"Turn the microphone off or on"</dd>
                    <dt><kbd>"Ctrl"</kbd>" + "<kbd>"E"</kbd></dt>
                    <dd>"Turn the camera off or on"</dd>
                    <dt><kbd>"Tab"</kbd>", "<kbd>"Enter"</kbd></dt>
                    <dd>"Move between the controls and the tiles' Full screen and Pin buttons; Enter pins or unpins"</dd>
                    <dt><kbd>"Esc"</kbd></dt>
                    <dd>"Close this dialog, or leave full screen"</dd>
                </dl>
                <button node_ref=close on:click=move |_| on_close()>"Close"</button>
            </div>
        </div>
    }
    .into_any()
}
