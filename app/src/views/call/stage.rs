//! Where the videos go. Every stream has exactly one tile, and the layout only arranges the tiles, so a
//! video never plays twice and never restarts when it moves:
//! - **speaker**: one tile large (the pinned one, else a screen share, else the one speaking, else the
//!   last one who spoke), the others in a strip below it, which scrolls when they do not fit;
//! - **grid**: all tiles the same size, filling the stage for 1 to 9 of them, in pages of 9 past that.
//!
//! The speaker layout is the default; the control bar's "Grid view" switches (remembered in this browser).
//! A pin shows its tile large in either. Alone in a call, one's tile fills the stage either way.

use super::{CallState, Tile, tile};
use crate::views::browser;
use leptos::prelude::*;
use std::collections::HashSet;

/// The most tiles a grid page holds (3 × 3).
pub const PAGE_SIZE: usize = 9;

const LAYOUT_KEY: &str = "call-layout";

/// The grid view as last chosen in this browser.
pub fn grid_chosen() -> bool {
    browser::local(LAYOUT_KEY).as_deref() == Some("grid")
}

/// The grid layout on or off; turning it on also lets go of a pinned tile, which would stay large.
fn toggle_grid(state: CallState) {
    let grid = !state.grid.get_untracked();
    if grid {
        state.pinned.set(None);
    }
    state.page.set(0);
    state.grid.set(grid);
    browser::set_local(LAYOUT_KEY, if grid { "grid" } else { "speaker" });
}

/// The switch between the speaker and the grid layout, in the call's header.
#[component]
pub fn LayoutToggle(state: CallState) -> impl IntoView {
    view! {
        <button
            class="secondary"
            aria-pressed=move || state.grid.get().to_string()
            title=move || if state.grid.get() { "Show the speaker large" } else { "Show everyone the same size" }
            data-testid="toggle-grid"
            on:click=move |_| toggle_grid(state)
        >
            "Grid view"
        </button>
    }
    .into_any()
}

/// The page count of a grid of `tiles` tiles (at least one, so that "page 1 of 1" is never "of 0").
pub fn pages(tiles: usize) -> usize {
    tiles.div_ceil(PAGE_SIZE).max(1)
}

/// The tiles on grid page `page` (0-based, clamped to the last page): their index range and count.
pub fn page_range(tiles: usize, page: usize) -> std::ops::Range<usize> {
    let page = page.min(pages(tiles) - 1);
    let start = page * PAGE_SIZE;
    start..(start + PAGE_SIZE).min(tiles)
}

/// How the stage is arranged right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arrangement {
    /// This tile large, the others in a strip.
    Speaker(String),
    /// A grid page: the index range of the tiles on it.
    Grid(std::ops::Range<usize>),
}

impl CallState {
    /// The arrangement: a pinned tile is large in either layout; in the speaker layout the call's own
    /// choice is ([`CallState::main`]); with one tile, or nothing to show large, a grid.
    pub fn arrangement(&self) -> Arrangement {
        let count = self.tiles.with(Vec::len);
        let large = self
            .pinned
            .get()
            .or_else(|| (!self.grid.get()).then(|| self.main.get()).flatten())
            .filter(|id| count > 1 && self.tiles.with(|t| t.iter().any(|x| &x.id == id)));
        match large {
            Some(id) => Arrangement::Speaker(id),
            None => Arrangement::Grid(page_range(count, self.page.get())),
        }
    }
}

#[component]
pub fn Stage(state: CallState) -> impl IntoView {
    let arrangement = Memo::new(move |_| state.arrangement());
    let on_page = move || match arrangement.get() {
        Arrangement::Grid(range) => range.len(),
        Arrangement::Speaker(_) => 0,
    };
    let count = move || state.tiles.with(Vec::len);
    // Keeps the page in range as people leave.
    Effect::new(move |_| {
        let last = pages(count()) - 1;
        if state.page.get() > last {
            state.page.set(last);
        }
    });
    // (Outside the view: a `>` in an attribute there would end the tag.)
    let on_last_page = move || state.page.get() + 1 >= pages(count());
    // Whenever the tiles are arranged as a grid, not only in the grid view (a speaker layout with
    // nobody to show large is a grid too), past one page they need the pager.
    let paged = move || matches!(arrangement.get(), Arrangement::Grid(_)) && count() > PAGE_SIZE;
    view! {
        <ul
            class="tiles"
            class:speaker=move || matches!(arrangement.get(), Arrangement::Speaker(_))
            class:grid=move || matches!(arrangement.get(), Arrangement::Grid(_))
            data-count=move || on_page().to_string()
            data-testid="participants"
        >
            <For each=move || state.tiles.get() key=|t| t.id.clone() let:tile>
                <tile::VideoTile tile state arrangement/>
            </For>
        </ul>
        <Show when=move || state.status.get() == super::Status::Live && count() == 0>
            <p class="empty">"Nobody is sending video yet."</p>
        </Show>
        <Show when=paged>
            <nav class="pager" aria-label="Pages of participants">
                // aria-disabled rather than disabled: a disabled button would drop the keyboard focus.
                <button
                    class="secondary"
                    aria-disabled=move || (state.page.get() == 0).to_string()
                    on:click=move |_| state.page.update(|p| *p = p.saturating_sub(1))
                >
                    "Previous page"
                </button>
                <span role="status" data-testid="page">
                    {move || format!("Page {} of {}", state.page.get().min(pages(count()) - 1) + 1, pages(count()))}
                </span>
                <button
                    class="secondary"
                    aria-disabled=move || on_last_page().to_string()
                    on:click=move |_| {
                        if !on_last_page() {
                            state.page.update(|p| *p += 1)
                        }
                    }
                >
                    "Next page"
                </button>
            </nav>
        </Show>
    }
    .into_any()
}

/// The camera to show large now that `quiet` (a connection) has stopped speaking: if `quiet`'s camera
/// is the one shown large (`main`) and somebody else is still `speaking`, theirs. Otherwise `None`: the
/// large tile stays as it is, the last one who spoke. Neither a screen nor one's own tile is chosen.
pub fn speaker_after(
    tiles: &[Tile],
    main: Option<&str>,
    quiet: &str,
    speaking: &HashSet<String>,
) -> Option<String> {
    let mut cameras = tiles.iter().filter(|t| !t.screen && !t.local);
    if !cameras
        .clone()
        .any(|t| t.connection_id == quiet && main == Some(t.id.as_str()))
    {
        return None;
    }
    cameras
        .find(|t| t.connection_id != quiet && speaking.contains(&t.connection_id))
        .map(|t| t.id.clone())
}

#[cfg(test)]
mod tests {
    use super::{PAGE_SIZE, Tile, page_range, pages, speaker_after};
    use leptos::prelude::{Owner, RwSignal};
    use std::collections::HashSet;

    fn tile(id: &str, connection: &str, local: bool, screen: bool) -> Tile {
        Tile {
            id: id.into(),
            connection_id: connection.into(),
            nickname: connection.into(),
            user: connection.into(),
            local,
            screen,
            audio: RwSignal::new(true),
            video: RwSignal::new(true),
        }
    }

    fn set(connections: &[&str]) -> HashSet<String> {
        connections.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn when_the_one_shown_large_falls_quiet_whoever_still_speaks_is_shown() {
        // A tile's signals need a reactive owner (its arena, with the server's features).
        Owner::new().with(the_one_shown_large_falls_quiet);
    }

    fn the_one_shown_large_falls_quiet() {
        let tiles = [
            tile("local", "me", true, false),
            tile("cam-a", "a", false, false),
            tile("cam-c", "c", false, false),
            tile("screen-d", "d", false, true),
        ];
        // C spoke over A, then fell quiet while A goes on: A is shown again.
        assert_eq!(
            speaker_after(&tiles, Some("cam-c"), "c", &set(&["a"])),
            Some("cam-a".into())
        );
        // Nobody else speaks: the last one who spoke stays.
        assert_eq!(speaker_after(&tiles, Some("cam-c"), "c", &set(&[])), None);
        // Someone not shown large fell quiet: nothing changes.
        assert_eq!(
            speaker_after(&tiles, Some("cam-a"), "c", &set(&["a"])),
            None
        );
        // A shared screen shown large stays.
        assert_eq!(
            speaker_after(&tiles, Some("screen-d"), "d", &set(&["a"])),
            None
        );
        // One's own voice never takes one's own tile large, nor does a sharer's screen.
        assert_eq!(
            speaker_after(&tiles, Some("cam-c"), "c", &set(&["me", "d"])),
            None
        );
    }

    #[test]
    fn grid_pages_of_nine() {
        assert_eq!(pages(0), 1);
        assert_eq!(pages(1), 1);
        assert_eq!(pages(PAGE_SIZE), 1);
        assert_eq!(pages(PAGE_SIZE + 1), 2);
        assert_eq!(page_range(4, 0), 0..4);
        assert_eq!(page_range(12, 0), 0..9);
        assert_eq!(page_range(12, 1), 9..12);
        // A page past the end (people left) shows the last one.
        assert_eq!(page_range(12, 5), 9..12);
        assert_eq!(page_range(0, 0), 0..0);
    }
}
