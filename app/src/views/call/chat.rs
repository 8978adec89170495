//! The chat panel: messages of this call (kept while one stays in it), each with the sender's nickname
//! and user name from their connection, the time, the text as plain text; a box to write, with the
//! length limit said before sending.

use super::controls::PanelHead;
use super::{CallState, Status, media};
use leptos::html::Ol;
use leptos::prelude::*;
use leptos::wasm_bindgen::JsCast;

/// The longest chat message, in characters. Longer ones are refused when written and ignored when
/// received (a modified client could send them).
pub const MAX_CHAT: usize = 500;

/// A received message's text, if it is one we show: 1 to [`MAX_CHAT`] characters.
pub fn accept(text: String) -> Option<String> {
    let n = text.chars().count();
    (n > 0 && n <= MAX_CHAT).then_some(text)
}

/// Why `text` cannot be sent, in words; `None` when it can.
pub fn chat_problem(text: &str) -> Option<String> {
    let n = text.chars().count();
    (n > MAX_CHAT).then(|| {
        format!(
            "A message is at most {MAX_CHAT} characters; this one has {n}. Shorten it to send it."
        )
    })
}

#[component]
pub fn ChatPanel(state: CallState) -> impl IntoView {
    let draft = RwSignal::new(String::new());
    let error = RwSignal::new(None::<String>);
    let sending = RwSignal::new(false);
    let list = NodeRef::<Ol>::new();
    // Keep the newest message in view; opening the chat puts the cursor in the message box, as in Meet
    // (once, when the list first shows).
    let mut focused = false;
    Effect::new(move |_| {
        state.chat.track();
        if let Some(ol) = list.get() {
            ol.set_scroll_top(ol.scroll_height());
            if !focused && let Some(input) = document().get_element_by_id("chat-input") {
                focused = true;
                let _ = input
                    .unchecked_into::<leptos::web_sys::HtmlElement>()
                    .focus();
            }
        }
    });
    let problem = move || chat_problem(&draft.get());
    // Once the call is over for this page, what was said stays readable; nothing more can be sent.
    let over = move || state.status.get() == Status::Ended;
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let text = draft.get_untracked().trim().to_owned();
        if text.is_empty()
            || sending.get_untracked()
            || state.status.get_untracked() == Status::Ended
        {
            return;
        }
        if let Some(p) = chat_problem(&text) {
            error.set(Some(p));
            return;
        }
        sending.set(true);
        leptos::task::spawn_local(async move {
            match media::send_chat(text).await {
                Ok(()) => {
                    draft.set(String::new());
                    error.set(None);
                }
                Err(e) => error.set(Some(e)),
            }
            sending.set(false);
        });
    };
    view! {
        <aside class="panel chat" aria-labelledby="chat-title" data-testid="chat">
            <PanelHead state title_id="chat-title" close_label="Close chat">"Chat"</PanelHead>
            <ol class="messages" node_ref=list aria-live="polite" data-testid="chat-messages">
                <For each=move || state.chat.get() key=|m| m.id let:m>
                    <li class="message" class:mine=m.local data-testid="chat-message">
                        <div class="from">
                            <strong data-testid="chat-nickname">{m.nickname}</strong>
                            " "
                            <span class="user" data-testid="chat-user">{if m.local { format!("{} (you)", m.user) } else { m.user }}</span>
                            " "
                            <time>{m.time}</time>
                        </div>
                        <p data-testid="chat-text">{m.text}</p>
                    </li>
                </For>
            </ol>
            <Show when=move || state.chat.with(Vec::is_empty)>
                <p class="empty-chat">"No messages yet. Messages are seen by everyone in this call while they are in it."</p>
            </Show>
            <form class="chat-form" on:submit=submit>
                <label for="chat-input" class="sr-only">"Message"</label>
                <input id="chat-input" name="message" autocomplete="off" placeholder="Write a message" bind:value=draft disabled=over
                    aria-invalid=move || problem().is_some().to_string() aria-describedby="chat-limit"/>
                <button type="submit" disabled=move || over() || sending.get() || problem().is_some() || draft.with(|d| d.trim().is_empty())>
                    {move || if sending.get() { "Sending…" } else { "Send" }}
                </button>
            </form>
            <p id="chat-limit" class="hint" class:error=move || problem().is_some() data-testid="chat-limit" aria-live="polite">
                {move || over().then(|| "You are no longer in this call: messages can no longer be sent.".to_string())
                    .or_else(problem).or_else(|| error.get()).unwrap_or_else(|| {
                    let n = draft.with(|d| d.chars().count());
                    if n > MAX_CHAT * 8 / 10 { format!("{n} of {MAX_CHAT} characters") } else { String::new() }
                })}
            </p>
        </aside>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn received_messages_over_the_limit_or_empty_are_dropped() {
        assert_eq!(accept("hi".into()), Some("hi".into()));
        assert_eq!(accept(String::new()), None);
        assert_eq!(accept("x".repeat(MAX_CHAT + 1)), None);
        assert!(accept("é".repeat(MAX_CHAT)).is_some());
    }

    #[test]
    fn the_limit_is_said_in_words() {
        assert_eq!(chat_problem("hello"), None);
        assert_eq!(chat_problem(&"é".repeat(MAX_CHAT)), None);
        let p = chat_problem(&"a".repeat(MAX_CHAT + 1)).unwrap();
        assert!(p.contains(&MAX_CHAT.to_string()) && p.contains(&(MAX_CHAT + 1).to_string()));
    }
}
