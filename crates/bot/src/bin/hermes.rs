//! `hermes`: the terminal front end of Hermes-rs (see `src/cli/`).
#[path = "../cli/mod.rs"]
mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
