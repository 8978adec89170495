use leptos::prelude::*;
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! { <!DOCTYPE html><html><head><HydrationScripts options/></head><body><App/></body></html> }
}
#[component]
pub fn App() -> impl IntoView { view! { <p>"hi"</p> } }
