//! `hermes formats URL [--audio]`: the format choices offered for a URL, with the selector to
//! pass to `--format`.
use hermes_host::client::new_task_id;
use hermes_protocol::{get_formats_request_mode, Event, FormatList, FormatMode};

use crate::columns::{clock, human_size, pad};
use crate::error::CliError;
use crate::session::Session;
use crate::ui::println_stdout;

pub(crate) async fn run(session: &mut Session<'_>, url: &str, audio: bool) -> Result<(), CliError> {
    let mode = if audio {
        FormatMode::Audio
    } else {
        FormatMode::Video
    };
    let request = get_formats_request_mode(&new_task_id("cli"), url, mode);
    let list: FormatList = session
        .run(&request, "Looking up", false, Event::FormatList)
        .await?;
    if !session.ui().json() {
        println_stdout(&formats_table(&list));
    }
    Ok(())
}

fn formats_table(list: &FormatList) -> String {
    let mut lines = vec![
        format!(
            "{} ({})",
            list.title,
            clock(list.duration_string.as_deref(), list.duration)
        ),
        format!(
            "{}  {}  {:<5}  {:>9}",
            pad("FORMAT (--format)", 28),
            pad("Label", 24),
            "Ext",
            "Size"
        ),
    ];
    for option in &list.formats {
        let size = option
            .filesize_approx
            .map(human_size)
            .unwrap_or_else(|| "?".to_owned());
        lines.push(format!(
            "{}  {}  {:<5}  {:>9}",
            pad(&option.format_id, 28),
            pad(&option.label, 24),
            option.ext,
            size
        ));
    }
    lines.join("\n")
}
