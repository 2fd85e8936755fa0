//! `scripts/cluster-demo.sh`'s driver: Redis, a front and N nodes on this machine against the fake
//! Bot API; users in three chats send links; prints which node took how many jobs and how long
//! the whole batch took.
//!
//! usage: hermes-cluster-demo <hermes-bot> <hermes-worker> [nodes=2] [jobs=12]

use std::path::PathBuf;
use std::time::Duration;

use hermes_testkit::cluster::Cluster;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: hermes-cluster-demo <hermes-bot> <hermes-worker> [nodes=2] [jobs=12]");
        std::process::exit(2);
    }
    let number = |i: usize, default: usize| args.get(i).and_then(|a| a.parse().ok()).unwrap_or(default);
    let (nodes, jobs) = (number(2, 2), number(3, 12));
    let cluster = match Cluster::start(&PathBuf::from(&args[0]), &PathBuf::from(&args[1]), nodes, 2) {
        Ok(cluster) => cluster,
        Err(error) => {
            eprintln!("cluster-demo: cannot start: {error}");
            std::process::exit(1);
        }
    };
    if !cluster.wait_ready(Duration::from_secs(60)) {
        eprintln!(
            "cluster-demo: the front or a node did not start; logs in {}",
            cluster.dir.path().display()
        );
        std::process::exit(1);
    }
    println!(
        "redis-server on {}, fake Telegram on {}, a front and {nodes} nodes; logs in {}",
        cluster.redis.url(),
        cluster.api.base_url(),
        cluster.dir.path().display()
    );
    let urls: Vec<String> = (0..jobs).map(|n| cluster.paced_url(500_000, n)).collect();
    println!("{jobs} users' links from 3 chats, each a 1 MiB file served at 500 kB/s, as mp3 …");
    match cluster.deliver(&[101, 102, 103], &urls, Duration::from_secs(300)) {
        Ok(took) => {
            println!("all {jobs} files delivered in {:.1} s", took.as_secs_f64());
            for (node, claimed) in cluster.claims() {
                println!("  {node}: {claimed} jobs ({})", "#".repeat(claimed));
            }
        }
        Err(error) => {
            eprintln!("cluster-demo: {error}");
            std::process::exit(1);
        }
    }
}
