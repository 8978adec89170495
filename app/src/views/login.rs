//! The login form: user and password, a message on failure, no page reload.

use crate::api::login;
use crate::model::Me;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn LoginView(on_login: impl Fn(Me) + Clone + Send + Sync + 'static) -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let busy = RwSignal::new(false);

    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        if busy.get_untracked() {
            return;
        }
        busy.set(true);
        error.set(None);
        let on_login = on_login.clone();
        leptos::task::spawn_local(async move {
            let result = login(username.get_untracked(), password.get_untracked()).await;
            busy.set(false);
            match result {
                Ok(me) => {
                    password.set(String::new());
                    on_login(me);
                }
                // The error's own text is the message: wrong password, throttled (with the wait), server down.
                Err(e) => error.set(Some(e.to_string())),
            }
        });
    };

    let heading = super::focus_on_mount();
    view! {
        <Title text="Log in — Video calls"/>
        <section class="card login">
            <h1 node_ref=heading tabindex="-1">"Video calls"</h1>
            <form on:submit=submit>
                <label>
                    "User"
                    <input name="username" autocomplete="username" required bind:value=username/>
                </label>
                <label>
                    "Password"
                    <input name="password" type="password" autocomplete="current-password" required bind:value=password/>
                </label>
                <button type="submit" disabled=move || busy.get()>
                    {move || if busy.get() { "Logging in…" } else { "Log in" }}
                </button>
            </form>
            <Show when=move || error.get().is_some()>
                <p class="error" role="alert" data-testid="login-error">{move || error.get().unwrap_or_default()}</p>
            </Show>
        </section>
    }
}
