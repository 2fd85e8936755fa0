//! The bot's shared state for the process that talks with users (`HERMES_ROLE=all` or `front`),
//! handed to every handler behind an `Arc`. It dereferences to its [`Engine`], which a node uses
//! alone.

use std::ops::Deref;
use std::sync::{Arc, OnceLock};

use crate::callbacks::FlowStore;
use crate::db::Db;
use crate::engine::Engine;
use crate::limits::PerChatRate;
use crate::role::Dispatch;

pub(crate) struct App {
    pub(crate) engine: Arc<Engine>,
    pub(crate) db: Db,
    pub(crate) flows: FlowStore,
    /// Where downloads run: here, or on the nodes behind Redis.
    pub(crate) dispatch: Dispatch,
    /// `SEARCHES_PER_CHAT_PER_HOUR`.
    pub(crate) searches: PerChatRate,
    /// The bot's `@username` (from `getMe`, asked once when first needed): inline results link
    /// to `t.me/<username>`.
    pub(crate) bot_username: OnceLock<String>,
}

impl App {
    pub(crate) fn new(engine: Arc<Engine>, db: Db, dispatch: Dispatch) -> Self {
        Self {
            searches: PerChatRate::per_hour(engine.config.searches_per_chat_per_hour),
            engine,
            db,
            flows: FlowStore::new(),
            dispatch,
            bot_username: OnceLock::new(),
        }
    }
}

impl Deref for App {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        &self.engine
    }
}
