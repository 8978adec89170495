//! The three screens (login, join, call) of one page; the document around them is [`crate::shell`].
//! Each call has its own URL, `/call/<name>`. The screen is chosen in the browser: the server renders a
//! "loading" screen and the browser asks `/api/me` who is logged in.

mod browser;
mod call;
mod device_select;
mod join;
mod login;

use crate::model::Me;
use leptos::prelude::*;
use leptos_meta::{Title, provide_meta_context};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::hooks::{use_navigate, use_params_map};
use leptos_router::{NavigateOptions, path};

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

/// Who uses this page, as the server says.
#[derive(Clone, PartialEq)]
enum Login {
    /// Asking the server who is logged in.
    Asking,
    /// The server did not answer.
    Unreachable,
    LoggedOut,
    LoggedIn(Me),
}

/// The call this page is in; the page's URL is then `/call/<call>`.
#[derive(Clone, PartialEq)]
struct Joined {
    call: String,
    nickname: String,
    start: join::StartWith,
    /// Counts rejoins: a new value starts the call afresh (new token, new connection).
    attempt: u32,
}

/// What outlives a screen change (the screens are rebuilt when the URL changes).
#[derive(Clone, Copy)]
struct Page {
    login: RwSignal<Login>,
    joined: RwSignal<Option<Joined>>,
    /// The last call name and nickname, so that "leave" returns to a pre-filled form.
    last: RwSignal<Option<(String, String)>>,
}

/// The last nickname used in this browser, offered the next time (localStorage).
const NICKNAME_KEY: &str = "join.nickname";
/// The call this tab is in, so that a reload offers to rejoin it (sessionStorage).
const IN_CALL_KEY: &str = "call.current";

/// Asks the server who is logged in (in the browser only: effects do not run on the server).
fn ask_who(login: RwSignal<Login>) {
    login.set(Login::Asking);
    leptos::task::spawn_local(async move {
        let next = match crate::api::me().await {
            Ok(me) => Login::LoggedIn(me),
            Err(crate::model::AppError::Transport(_)) => Login::Unreachable,
            Err(_) => Login::LoggedOut,
        };
        login.set(next);
    });
}

/// The page: `/` (log in, join a call) and `/call/<name>` (log in, that call's join form, the call).
/// A link to a call therefore leads through login, and back, to that call.
#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    let page = Page {
        login: RwSignal::new(Login::Asking),
        joined: RwSignal::new(None),
        last: RwSignal::new(None),
    };
    provide_context(page);
    Effect::new(move |_| ask_who(page.login));

    view! {
        <Title text="Video calls"/>
        <Router>
            <main class="app">
                <Routes fallback=|| view! { <NotFound/> }>
                    <Route path=path!("/") view=Screens/>
                    <Route path=path!("/call/:name") view=Screens/>
                </Routes>
            </main>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    let heading = focus_on_mount();
    view! {
        <Title text="Not found — Video calls"/>
        <section class="card">
            <h1 node_ref=heading tabindex="-1">"There is no such page"</h1>
            <p><a href="/">"Go to the start page"</a></p>
        </section>
    }
}

/// The screen for the current URL and login.
#[component]
fn Screens() -> impl IntoView {
    let page = expect_context::<Page>();
    let params = use_params_map();
    let url_call = Memo::new(move |_| params.read().get("name"));
    // The call to show, if this URL is the call this page is in.
    let in_call = Memo::new(move |_| {
        page.joined
            .get()
            .filter(|j| url_call.get().as_deref() == Some(j.call.as_str()))
    });
    let navigate = use_navigate();

    move || match page.login.get() {
        Login::Asking => view! { <p class="progress" role="status">"Loading…"</p> }.into_any(),
        Login::Unreachable => {
            view! { <Unreachable on_retry=move || ask_who(page.login)/> }.into_any()
        }
        Login::LoggedOut => {
            view! { <login::LoginView on_login=move |me| page.login.set(Login::LoggedIn(me))/> }
                .into_any()
        }
        Login::LoggedIn(me) => match in_call.get() {
            Some(joined) => call_screen(page, me, joined, navigate.clone()).into_any(),
            None => join_screen(page, me, url_call.get_untracked(), navigate.clone()).into_any(),
        },
    }
}

fn join_screen(
    page: Page,
    me: Me,
    url_call: Option<String>,
    navigate: impl Fn(&str, NavigateOptions) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let last = page.last.get_untracked();
    let call = url_call
        .clone()
        .or_else(|| last.as_ref().map(|l| l.0.clone()))
        .unwrap_or_else(|| "SessionA".to_owned());
    let nickname = last
        .map(|l| l.1)
        .or_else(|| browser::local(NICKNAME_KEY).filter(|n| !n.trim().is_empty()))
        .unwrap_or_else(|| me.user.clone());
    // This tab was in this very call when it reloaded.
    let rejoin = url_call.is_some() && browser::session(IN_CALL_KEY) == url_call;
    view! {
        <join::JoinView
            me=me
            call=call
            nickname=nickname
            rejoin=rejoin
            on_join=move |call: String, nickname: String, start: join::StartWith| {
                page.last.set(Some((call.clone(), nickname.clone())));
                browser::set_local(NICKNAME_KEY, &nickname);
                browser::set_session(IN_CALL_KEY, Some(&call));
                let path = format!("/call/{call}");
                page.joined.set(Some(Joined { call, nickname, start, attempt: 0 }));
                if url_call.as_deref() != path.strip_prefix("/call/") {
                    navigate(&path, NavigateOptions::default());
                }
            }
            on_logout=move || page.login.set(Login::LoggedOut)
        />
    }
}

fn call_screen(
    page: Page,
    me: Me,
    joined: Joined,
    navigate: impl Fn(&str, NavigateOptions) + Clone + Send + Sync + 'static,
) -> impl IntoView {
    let Joined {
        call,
        nickname,
        start,
        ..
    } = joined;
    view! {
        <call::CallView
            me=me
            call=call
            nickname=nickname
            start=start
            on_leave=move || {
                browser::set_session(IN_CALL_KEY, None);
                navigate("/", NavigateOptions::default());
                page.joined.set(None);
            }
            on_logged_out=move || {
                page.joined.set(None);
                page.login.set(Login::LoggedOut);
            }
            on_rejoin=move |start| {
                page.joined.update(|j| {
                    if let Some(j) = j {
                        j.start = start;
                        j.attempt += 1;
                    }
                })
            }
        />
    }
}

/// The server did not answer the first question (who is logged in).
#[component]
fn Unreachable(on_retry: impl Fn() + Send + Sync + 'static) -> impl IntoView {
    let heading = focus_on_mount();
    view! {
        <Title text="Server unreachable — Video calls"/>
        <section class="card" role="alert">
            <h1 node_ref=heading tabindex="-1">"The server cannot be reached"</h1>
            <p>"Check your network connection; the server may also be restarting."</p>
            <button on:click=move |_| on_retry()>"Try again"</button>
        </section>
    }
}
