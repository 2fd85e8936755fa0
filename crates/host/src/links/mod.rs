//! Finding downloadable links in a chat message and classifying YouTube ones.
//!
//! Users paste links in every shape: with or without `https://` and `www.`, from the mobile
//! site, YouTube Music, share sheets (`youtu.be/ID?si=...`), inside parentheses or at the end
//! of a sentence. A front end needs to know which video or playlist a link means (to pick the
//! action and to find an earlier upload of the same media), so classification is done here,
//! once: `extract` finds the links, `link` says what each points at, `media_key` names the
//! media for upload caches.
mod extract;
mod link;
mod media_key;

pub use extract::{extract_links, MAX_LINKS_PER_MESSAGE};
pub use link::{youtube_playlist_url, youtube_video_url, Link, LinkKind};
pub use media_key::normalize_key;
