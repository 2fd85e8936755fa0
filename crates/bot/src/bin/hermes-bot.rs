fn main() { eprintln!("usage: hermes-bot"); std::process::exit(2) }
