//! Replays the fuzz corpus on stable Rust: every file of `fuzz/corpus/<target>/` (minimised by
//! `scripts/fuzz.sh`), `fuzz/seeds/<target>/` and `fuzz/regressions/<target>/` (inputs that once
//! failed) goes through the same target body as under libFuzzer (`fuzz_logic.rs`, shared with
//! `fuzz/src/lib.rs`), properties included. Run: `cargo test --features native-json --test fuzz_corpus`.
//!
//! `cargo test --features native-json --test fuzz_corpus -- --ignored write_seeds` rewrites
//! `fuzz/seeds/` from `fuzz_logic::seeds()`.

#[path = "fuzz_logic.rs"]
mod fuzz_logic;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The files of `dir`, sorted; none when it does not exist.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

/// Runs `input` through `target`, naming the input if it fails.
fn run(name: &str, what: &str, target: fuzz_logic::Target, input: &[u8]) -> Option<String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| target(input)));
    outcome.err().map(|panic| {
        let why = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
            .unwrap_or_default();
        format!("{name}: {what}: {why}")
    })
}

#[test]
fn corpus_replays_with_every_property() {
    let root = fuzz_dir();
    let mut failures = Vec::new();
    let mut total = 0;
    for &(name, target) in fuzz_logic::TARGETS {
        let corpus = files(&root.join("corpus").join(name));
        assert!(
            !corpus.is_empty(),
            "fuzz/corpus/{name}/ is empty: run scripts/fuzz.sh"
        );
        for sub in ["corpus", "seeds", "regressions"] {
            for path in files(&root.join(sub).join(name)) {
                let input = std::fs::read(&path).unwrap();
                total += 1;
                failures.extend(run(name, &path.display().to_string(), target, &input));
            }
        }
    }
    for (name, input) in fuzz_logic::seeds() {
        let target = fuzz_logic::TARGETS
            .iter()
            .find(|(n, _)| *n == name)
            .unwrap()
            .1;
        failures.extend(run(
            name,
            &format!("seed {}", fuzz_logic::seed_name(&input)),
            target,
            &input,
        ));
    }
    assert!(
        failures.is_empty(),
        "{} of {total} corpus inputs failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn empty_and_tiny_inputs() {
    for &(name, target) in fuzz_logic::TARGETS {
        for input in [
            &[][..],
            &[0],
            &[0xff],
            &[0xff, 0xff],
            &[0x80, 0xc8, 0xff, 0xff],
        ] {
            if let Some(failure) = run(name, &format!("{input:?}"), target, input) {
                panic!("{failure}");
            }
        }
    }
}

#[test]
#[ignore = "writes fuzz/seeds/: run by hand after changing fuzz_logic::seeds()"]
fn write_seeds() {
    let root = fuzz_dir().join("seeds");
    for &(name, _) in fuzz_logic::TARGETS {
        let dir = root.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
    }
    for (name, input) in fuzz_logic::seeds() {
        std::fs::write(root.join(name).join(fuzz_logic::seed_name(&input)), &input).unwrap();
    }
}
