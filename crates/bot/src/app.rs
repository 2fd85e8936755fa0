//! The bot's shared state for the process that talks with users (`HERMES_ROLE=all` or `front`),
//! handed to every handler behind an `Arc`. It dereferences to its [`Engine`], which a node uses
//! alone.

use std::ops::Deref;
use std::sync::Arc;

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
}

impl App {
    pub(crate) fn new(engine: Arc<Engine>, db: Db, dispatch: Dispatch) -> Self {
        Self {
            searches: PerChatRate::per_hour(engine.config.searches_per_chat_per_hour),
            engine,
            db,
            flows: FlowStore::new(),
            dispatch,
        }
    }
}

impl Deref for App {
    type Target = Engine;

    fn deref(&self) -> &Engine {
        &self.engine
    }
}
