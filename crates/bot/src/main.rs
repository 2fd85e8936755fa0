//! `hermes-bot`: the Telegram bot. All configuration comes from the environment (see the
//! README's "Run the Telegram bot"); the bot itself is the `hermes_bot` library.
fn main() {
    std::process::exit(hermes_bot::main());
}
