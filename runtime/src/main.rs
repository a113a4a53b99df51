//! The `isorun` binary: runc-compatible verbs.
fn main() {
    eprintln!("isorun: not built yet");
    std::process::exit(2);
}
