//! Throwaway unprivileged users for tests of what an ordinary user can do
//! (rootless containers): made with useradd(8), which on Debian also grants
//! a subordinate id range in /etc/subuid and /etc/subgid, and removed with
//! userdel(8) (which drops those ranges) when the guard is dropped.

use std::process::Command;

/// A user that exists while this value lives.
pub struct TestUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

/// Run a shadow tool, retrying while another process holds the passwd or
/// group lock ([`isobench_shadow::check`]); an error names the tool, its
/// arguments and its stderr.
fn shadow(tool: &str, args: &[&str]) -> Result<(), String> {
    isobench_shadow::check(tool, args)
        .map(drop)
        .map_err(|e| e.to_string())
}

fn id_of(name: &str, flag: &str) -> Option<u32> {
    let o = Command::new("id").args([flag, name]).output().ok()?;
    String::from_utf8_lossy(&o.stdout).trim().parse().ok()
}

impl TestUser {
    /// Create user `isob-TAG-PID-N` (no home, no login shell). None, with
    /// the skip recorded, when not root or useradd is missing.
    #[track_caller]
    pub fn create(tag: &str) -> Option<TestUser> {
        if !crate::require_root("creating a test user") {
            return None;
        }
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut name = format!("isob-{tag}-{}-{n}", std::process::id());
        name.truncate(32);
        // A leftover of a killed earlier run with the same pid goes first.
        if id_of(&name, "-u").is_some() {
            let _ = shadow("userdel", &["-f", &name]);
        }
        if let Err(e) = shadow(
            "useradd",
            &[
                "--no-create-home",
                "--user-group",
                "--shell",
                "/usr/sbin/nologin",
                &name,
            ],
        ) {
            crate::missing(format!("cannot create a test user: {e}"));
            return None;
        }
        let (Some(uid), Some(gid)) = (id_of(&name, "-u"), id_of(&name, "-g")) else {
            let _ = shadow("userdel", &["-f", &name]);
            crate::missing(format!("test user {name} has no uid"));
            return None;
        };
        Some(TestUser { name, uid, gid })
    }

    /// A command run as this user: its uid and gid, no supplementary
    /// groups, a minimal environment (no XDG_RUNTIME_DIR).
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        use std::os::unix::process::CommandExt;
        let mut c = Command::new(program);
        c.uid(self.uid)
            .gid(self.gid)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .env("HOME", "/nonexistent")
            .env("USER", &self.name)
            .env("LOGNAME", &self.name)
            .current_dir("/");
        c
    }

    /// chown -R a directory tree (no symlink followed) to this user.
    pub fn give(&self, path: &std::path::Path) {
        let md = std::fs::symlink_metadata(path).unwrap();
        std::os::unix::fs::lchown(path, Some(self.uid), Some(self.gid)).unwrap();
        if md.is_dir() {
            for e in std::fs::read_dir(path).unwrap().flatten() {
                self.give(&e.path());
            }
        }
    }
}

impl Drop for TestUser {
    fn drop(&mut self) {
        // The fallback state root and run registry isorun and isobench
        // make for the user, if any.
        let _ = std::fs::remove_dir_all(format!("/tmp/isorun-{}", self.uid));
        let _ = std::fs::remove_dir_all(format!("/tmp/isobench-{}", self.uid));
        if let Err(e) = shadow("userdel", &["-f", &self.name]) {
            eprintln!("test user {} not removed: {e}", self.name);
        }
    }
}
