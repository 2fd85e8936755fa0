//! The conversations behind the inline keyboards: link → mode (or quality), search → pick →
//! mode, playlist → preview → how many → mode, and `/settings`. Every keyboard's state lives in
//! the [`crate::callbacks::FlowStore`]; buttons carry only its key. One file per flow; `tap`
//! dispatches a button to the flow it belongs to.
mod inline;
mod link;
mod lookup;
mod playlist;
mod quality;
mod screen;
mod search;
mod settings;
mod tap;

pub(crate) use inline::{answer_inline_query, bot_username, deep_link_url};
pub(crate) use link::{download_command, offer_link};
pub(crate) use playlist::playlist_command;
pub(crate) use search::search;
pub(crate) use settings::show_settings;
pub(crate) use tap::handle_callback;
