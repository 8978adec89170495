//! "Copy link": puts the call's own URL (`/call/<name>`) on the clipboard, and says so. Where the
//! browser refuses the clipboard, the link is shown instead, to copy by hand.

use super::super::browser;
use leptos::prelude::*;
use std::time::Duration;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Copied {
    Not,
    Yes,
    Refused,
}

#[component]
pub fn CopyLink(call: String) -> impl IntoView {
    let copied = RwSignal::new(Copied::Not);
    let url = StoredValue::new(format!("{}/call/{call}", browser::origin()));
    // The copy and the note's timer can outlive the call view (the call left meanwhile): the
    // signal is then gone, and neither touches it.
    let copy = move |_| {
        let link = url.get_value();
        leptos::task::spawn_local(async move {
            let ok = browser::copy_text(link).await;
            let shown = if ok { Copied::Yes } else { Copied::Refused };
            if copied.try_set(shown).is_some() || !ok {
                return;
            }
            set_timeout(
                move || {
                    if copied.try_get_untracked() == Some(Copied::Yes) {
                        copied.try_set(Copied::Not);
                    }
                },
                Duration::from_secs(4),
            );
        });
    };
    view! {
        <div class="copy-link">
            <button class="secondary" data-testid="copy-link" on:click=copy>"Copy link"</button>
            <span role="status" class="copied">
                {move || (copied.get() == Copied::Yes).then_some("Link copied")}
            </span>
            <Show when=move || copied.get() == Copied::Refused>
                <label class="link-by-hand">
                    "The browser did not allow copying. The call's link:"
                    <input readonly value=url.get_value()/>
                </label>
            </Show>
        </div>
    }
    .into_any()
}
