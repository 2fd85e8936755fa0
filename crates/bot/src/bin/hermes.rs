fn main() { eprintln!("usage: hermes"); std::process::exit(2) }
