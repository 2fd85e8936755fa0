//! What a job's runner reports, step by step: the wire form of `hermes:results` and what the
//! jobs table records ([`crate::record`]).

use serde::{Deserialize, Serialize};

use crate::db::CachedUpload;

/// One step of a job. The wire form of `hermes:results`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(crate) enum JobReport {
    /// A start; `attempt` counts from 1 across restarts and reclaims.
    Running {
        attempt: u32,
    },
    Progress {
        percent: u8,
    },
    Delivered {
        file_path: Option<String>,
        /// The upload to answer the same request with next time.
        upload: Option<CachedUpload>,
    },
    Failed {
        reason: String,
        /// The file was over the upload limit: the front offers smaller choices.
        too_large: bool,
        file_size: Option<u64>,
    },
    Cancelled,
    /// Given up after `attempts` starts: the user is told, with a 🔁 Retry button.
    Dead {
        attempts: u32,
    },
}

impl JobReport {
    pub(crate) fn ends_the_job(&self) -> bool {
        !matches!(self, JobReport::Running { .. } | JobReport::Progress { .. })
    }
}
