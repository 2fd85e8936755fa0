//! The cache directory override and concurrent generation, in their own test binary because
//! `HERMES_TEST_MEDIA_DIR` is process-wide and this test needs an empty directory.

mod common;

use hermes_testkit::media::{media_dir, tone_webm, MEDIA_DIR_ENV};

#[test]
fn env_override_and_concurrent_generation_of_one_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let cache = dir.path().join("cache");
    std::env::set_var(MEDIA_DIR_ENV, &cache);
    assert_eq!(media_dir(), cache, "the override is used and created");
    assert!(cache.is_dir());

    let paths: Vec<_> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4).map(|_| scope.spawn(|| tone_webm(1, 1234))).collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("generator thread"))
            .collect()
    });
    assert!(
        paths.iter().all(|p| *p == cache.join("tone_1s_1234hz.webm")),
        "{paths:?}"
    );
    let (codecs, duration) = common::probe(&paths[0]);
    assert_eq!(codecs, ["opus"]);
    assert!((duration - 1.0).abs() < 0.15, "duration {duration}");

    let names: Vec<String> = std::fs::read_dir(&cache)
        .expect("read cache dir")
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names,
        ["tone_1s_1234hz.webm"],
        "only the finished file remains, no temp files"
    );
}
