//! Records the git commit isobench was built from (run.json, history).
fn main() {
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    if let Ok(out) = std::process::Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
    {
        if out.status.success() {
            let c = String::from_utf8_lossy(&out.stdout).trim().to_string();
            if !c.is_empty() {
                println!("cargo:rustc-env=ISOBENCH_GIT_COMMIT={c}");
            }
        }
    }
}
