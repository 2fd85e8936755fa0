//! The bench's command line (`--quick`, `--json`, `--only`) and how many times each figure is
//! measured.

pub(crate) struct Options {
    pub(crate) quick: bool,
    pub(crate) json: bool,
    pub(crate) only: Option<Vec<u8>>,
}

impl Options {
    pub(crate) fn parse(args: impl Iterator<Item = String>) -> std::result::Result<Options, String> {
        let mut options = Options {
            quick: false,
            json: false,
            only: None,
        };
        let mut args = args.peekable();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--json" => options.json = true,
                // `cargo bench` passes `--bench` to every bench binary.
                "--bench" => {}
                "--only" => {
                    let list = args.next().ok_or("--only needs a list such as 1,4")?;
                    options.only = Some(parse_figure_list(&list)?);
                }
                other => match other.strip_prefix("--only=") {
                    Some(list) => options.only = Some(parse_figure_list(list)?),
                    None => return Err(format!("unknown argument {other:?}")),
                },
            }
        }
        Ok(options)
    }

    pub(crate) fn wants(&self, figure: u8) -> bool {
        self.only.as_ref().is_none_or(|only| only.contains(&figure))
    }
}

fn parse_figure_list(list: &str) -> std::result::Result<Vec<u8>, String> {
    list.split(',')
        .map(|item| match item.trim().parse::<u8>() {
            Ok(n) if (1..=9).contains(&n) => Ok(n),
            _ => Err(format!("--only: {item:?} is not a figure number 1-9")),
        })
        .collect()
}

/// How many times each figure is measured.
pub(crate) struct Reps {
    pub(crate) startups: usize,
    pub(crate) rtt_rounds: usize,
    pub(crate) rtt_per_round: usize,
    pub(crate) load_sessions: usize,
    pub(crate) jobs: usize,
    pub(crate) zips: usize,
    pub(crate) flood_rounds: usize,
    pub(crate) flood_requests: usize,
    pub(crate) parses: usize,
    /// Figure 8: runs of each side (a sequential baseline takes ~25 s).
    pub(crate) transfers: usize,
}

impl Reps {
    pub(crate) fn new(quick: bool) -> Reps {
        if quick {
            Reps {
                startups: 5,
                rtt_rounds: 2,
                rtt_per_round: 200,
                load_sessions: 1,
                jobs: 3,
                zips: 2,
                flood_rounds: 1,
                flood_requests: 10_000,
                parses: 3,
                transfers: 1,
            }
        } else {
            Reps {
                startups: 20,
                rtt_rounds: 3,
                rtt_per_round: 200,
                load_sessions: 2,
                jobs: 5,
                zips: 5,
                flood_rounds: 3,
                flood_requests: 10_000,
                parses: 7,
                transfers: 2,
            }
        }
    }
}
