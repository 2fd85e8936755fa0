//! Identical requests in flight share one download: the same media in the same mode and format
//! (the upload cache's key), asked for again while it is still downloading, waits for that
//! download and is sent by the `file_id` its upload got, instead of fetching and uploading the
//! same file twice. Per process: each node shares among its own jobs.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::watch;

use crate::db::{CachedUpload, UploadKey};

/// What a download ended with, for those waiting on it: the upload to send again, or `None`
/// when it was not delivered (they download for themselves then).
type Ending = Option<CachedUpload>;

#[derive(Default)]
pub(crate) struct SharedDownloads {
    running: Arc<Mutex<HashMap<String, watch::Sender<Option<Ending>>>>>,
}

/// How a job takes part in the download of its media.
pub(crate) enum Share {
    /// Nobody downloads it yet: this job does, and tells the others how it ended.
    Lead(Lead),
    /// Another job downloads it: wait for its ending.
    Follow(Follower),
}

impl SharedDownloads {
    pub(crate) fn join(&self, key: &UploadKey) -> Share {
        let name = format!("{}\n{}\n{}", key.media_key, key.mode.as_str(), key.format);
        let mut running = self.running.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(sender) = running.get(&name) {
            return Share::Follow(Follower {
                ending: sender.subscribe(),
            });
        }
        let (sender, _) = watch::channel(None);
        running.insert(name.clone(), sender);
        Share::Lead(Lead {
            running: Arc::clone(&self.running),
            name,
            ending: None,
        })
    }
}

/// The job downloading a media others may wait for. Dropping it ends the wait of every
/// follower: with the upload when [`Lead::delivered`] was called, else without.
pub(crate) struct Lead {
    running: Arc<Mutex<HashMap<String, watch::Sender<Option<Ending>>>>>,
    name: String,
    ending: Ending,
}

impl Lead {
    pub(crate) fn delivered(&mut self, upload: CachedUpload) {
        self.ending = Some(upload);
    }
}

impl Drop for Lead {
    fn drop(&mut self) {
        let sender = self
            .running
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&self.name);
        if let Some(sender) = sender {
            sender.send_replace(Some(self.ending.take()));
        }
    }
}

pub(crate) struct Follower {
    ending: watch::Receiver<Option<Ending>>,
}

impl Follower {
    /// Waits for the lead's ending: its upload, or `None` when it was not delivered.
    pub(crate) async fn ending(mut self) -> Ending {
        match self.ending.wait_for(Option::is_some).await {
            Ok(ending) => ending.clone().flatten(),
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::SendMethod;
    use crate::media_mode::MediaMode;

    fn key(format: &str) -> UploadKey {
        UploadKey {
            media_key: "yt:abc".into(),
            mode: MediaMode::Audio,
            format: format.into(),
        }
    }

    fn upload() -> CachedUpload {
        CachedUpload {
            file_id: "f1".into(),
            method: SendMethod::Audio,
            title: None,
            performer: None,
            caption: None,
        }
    }

    #[tokio::test]
    async fn followers_get_the_leads_upload_and_the_next_request_leads_again() {
        let shared = SharedDownloads::default();
        let Share::Lead(mut lead) = shared.join(&key("mp3")) else {
            panic!("the first leads");
        };
        let Share::Follow(follower) = shared.join(&key("mp3")) else {
            panic!("the second follows");
        };
        assert!(
            matches!(shared.join(&key("opus")), Share::Lead(_)),
            "another format is another file"
        );
        let waiting = tokio::spawn(follower.ending());
        lead.delivered(upload());
        drop(lead);
        assert_eq!(waiting.await.expect("join"), Some(upload()));
        assert!(matches!(shared.join(&key("mp3")), Share::Lead(_)));
    }

    #[tokio::test]
    async fn a_lead_that_fails_lets_its_followers_download_themselves() {
        let shared = SharedDownloads::default();
        let Share::Lead(lead) = shared.join(&key("mp3")) else {
            panic!("the first leads");
        };
        let Share::Follow(follower) = shared.join(&key("mp3")) else {
            panic!("the second follows");
        };
        drop(lead);
        assert_eq!(follower.ending().await, None);
    }
}
