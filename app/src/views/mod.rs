//! The three screens (login, join, call) of one page; the document around them is [`crate::shell`].
//! The screen is chosen in the browser: the server renders a "loading" screen and the browser asks
//! `/api/me` who is logged in.

mod call;
mod join;
mod login;

use crate::model::Me;
use leptos::prelude::*;
use leptos_meta::{Title, provide_meta_context};

/// A heading that takes the focus when its screen appears, so that keyboard and screen-reader users
/// start at the top of each new screen.
pub(crate) fn focus_on_mount() -> NodeRef<leptos::html::H1> {
    let heading = NodeRef::<leptos::html::H1>::new();
    Effect::new(move |_| {
        if let Some(h) = heading.get() {
            let _ = h.focus();
        }
    });
    heading
}

/// What the user is doing.
#[derive(Clone, PartialEq)]
pub enum Screen {
    /// Asking the server who is logged in.
    Loading,
    Login,
    Join(Me),
    Call {
        me: Me,
        call: String,
        nickname: String,
        start: join::StartWith,
    },
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let screen = RwSignal::new(Screen::Loading);
    // The last call name and nickname, so that "leave" returns to a pre-filled form.
    let last = RwSignal::new(None::<(String, String)>);

    // Only in the browser (effects do not run on the server).
    Effect::new(move |_| {
        leptos::task::spawn_local(async move {
            let next = match crate::api::me().await {
                Ok(me) => Screen::Join(me),
                Err(_) => Screen::Login,
            };
            screen.set(next);
        });
    });

    view! {
        <Title text="Video calls"/>
        <main class="app">
            {move || match screen.get() {
                Screen::Loading => view! { <p class="progress" role="status">"Loading…"</p> }.into_any(),
                Screen::Login => view! { <login::LoginView on_login=move |me| screen.set(Screen::Join(me))/> }.into_any(),
                Screen::Join(me) => {
                    view! {
                        <join::JoinView
                            me=me.clone()
                            last=last.get_untracked()
                            on_join=move |call: String, nickname: String, start: join::StartWith| {
                                last.set(Some((call.clone(), nickname.clone())));
                                screen.set(Screen::Call { me: me.clone(), call, nickname, start });
                            }
                            on_logout=move || screen.set(Screen::Login)
                        />
                    }
                        .into_any()
                }
                Screen::Call { me, call, nickname, start } => {
                    let back = me.clone();
                    view! {
                        <call::CallView
                            me=me
                            call=call
                            nickname=nickname
                            start=start
                            on_leave=move || screen.set(Screen::Join(back.clone()))
                            on_logged_out=move || screen.set(Screen::Login)
                        />
                    }
                        .into_any()
                }
            }}
        </main>
    }
}
