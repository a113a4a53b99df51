//! The retry policy on fake attempts (no root), and the tools themselves
//! against a lock this test holds the way shadow does (root).

use super::*;
use std::cell::Cell;

fn out(code: i32, stderr: &str) -> Outcome {
    Outcome {
        code: Some(code),
        stdout: String::new(),
        stderr: stderr.into(),
    }
}

const HELD: &str = "groupadd: lock /etc/group.lock already used by PID 1\ngroupadd: cannot lock /etc/group; try again later.\n";

#[test]
fn only_a_held_lock_counts_as_held() {
    assert!(out(10, HELD).lock_held());
    assert!(out(1, "useradd: cannot lock /etc/passwd; try again later.\n").lock_held());
    // Status 10 without the message: the group file could not be updated
    // for another reason.
    assert!(!out(10, "useradd: cannot update /etc/group\n").lock_held());
    assert!(!out(9, "groupadd: group 'x' already exists\n").lock_held());
    assert!(!out(0, "cannot lock").lock_held());
    assert!(!out(1, "usermod: failed to unlock /etc/group\n").lock_held());
}

#[test]
fn another_failure_is_returned_at_once() {
    let n = Cell::new(0);
    let t0 = Instant::now();
    let o: Result<Outcome, ()> = retry(
        Duration::from_secs(5),
        &|| false,
        || {
            n.set(n.get() + 1);
            Ok(out(9, "groupadd: group 'x' already exists"))
        },
        Outcome::lock_held,
    );
    assert_eq!(o.unwrap().code, Some(9));
    assert_eq!(n.get(), 1);
    assert!(t0.elapsed() < Duration::from_millis(40));
}

#[test]
fn a_held_lock_is_retried_until_it_is_free() {
    let n = Cell::new(0);
    let o: Result<Outcome, ()> = retry(
        Duration::from_secs(5),
        &|| false,
        || {
            n.set(n.get() + 1);
            Ok(if n.get() < 4 {
                out(10, HELD)
            } else {
                out(0, "")
            })
        },
        Outcome::lock_held,
    );
    assert!(o.unwrap().success());
    assert_eq!(n.get(), 4);
}

#[test]
fn the_wait_is_bounded_and_stop_ends_it() {
    let n = Cell::new(0);
    let t0 = Instant::now();
    let o: Result<Outcome, ()> = retry(
        Duration::from_millis(200),
        &|| false,
        || {
            n.set(n.get() + 1);
            Ok(out(10, HELD))
        },
        Outcome::lock_held,
    );
    let took = t0.elapsed();
    assert!(o.unwrap().lock_held());
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert!(took < Duration::from_millis(600), "{took:?}");
    assert!((3..=6).contains(&n.get()), "{}", n.get());

    n.set(0);
    let o: Result<Outcome, ()> = retry(
        Duration::from_secs(5),
        &|| true,
        || {
            n.set(n.get() + 1);
            Ok(out(10, HELD))
        },
        Outcome::lock_held,
    );
    assert!(o.unwrap().lock_held());
    assert_eq!(n.get(), 1);

    // An error of the attempt itself ends it too.
    let e: Result<Outcome, &str> = retry(
        Duration::from_secs(5),
        &|| false,
        || Err("cannot run"),
        Outcome::lock_held,
    );
    assert_eq!(e.unwrap_err(), "cannot run");
}

#[test]
fn errors_name_the_tool_its_arguments_and_its_stderr() {
    let e = Error::Failed {
        tool: "useradd".into(),
        args: vec!["-M".into(), "x".into()],
        outcome: out(9, "useradd: user 'x' already exists\n"),
    };
    assert_eq!(
        e.to_string(),
        "useradd -M x: useradd: user 'x' already exists"
    );
    let e = Error::Failed {
        tool: "groupadd".into(),
        args: vec!["g".into()],
        outcome: out(10, HELD),
    };
    let s = e.to_string();
    assert!(s.starts_with("groupadd g: groupadd: lock"), "{s}");
    assert!(s.contains("cannot lock /etc/group"), "{s}");
    assert!(
        s.ends_with("(another process held the lock for 15 s)"),
        "{s}"
    );
    let e = Error::Failed {
        tool: "userdel".into(),
        args: vec!["x".into()],
        outcome: out(6, ""),
    };
    assert_eq!(e.to_string(), "userdel x: exit 6");
    let e = run("isobench-no-such-shadow-tool", &[]).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("cannot run isobench-no-such-shadow-tool (package passwd): "),
        "{e}"
    );
}

/// A lock on `/etc/<db>` held by this process, as shadow takes one: a
/// `<db>.lock` file holding the pid of a live process (this one). Removed
/// on drop. A stale one of a killed test names a dead pid, which shadow
/// takes over.
struct HeldLock(std::path::PathBuf);

impl HeldLock {
    fn take(db: &str) -> HeldLock {
        use std::io::Write;
        let p = std::path::PathBuf::from(format!("/etc/{db}.lock"));
        let t0 = Instant::now();
        loop {
            // create_new: never over another process's lock.
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&p)
            {
                Ok(mut f) => {
                    f.write_all(std::process::id().to_string().as_bytes())
                        .unwrap();
                    return HeldLock(p);
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    assert!(t0.elapsed() < LOCK_WAIT, "{} stays held", p.display());
                    std::thread::sleep(PAUSE);
                }
                Err(e) => panic!("{}: {e}", p.display()),
            }
        }
    }
}

impl Drop for HeldLock {
    fn drop(&mut self) {
        if std::fs::read_to_string(&self.0).ok().as_deref()
            == Some(std::process::id().to_string().as_str())
        {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

/// A group and user name of this test, removed on drop if they exist.
struct Names(String);

impl Names {
    fn new(tag: &str) -> Names {
        let mut n = format!("isobsh{tag}{}", std::process::id());
        n.truncate(32);
        Names(n)
    }
}

impl Drop for Names {
    fn drop(&mut self) {
        let _ = run("userdel", &[&self.0]);
        let _ = run("groupdel", &[&self.0]);
    }
}

fn exists(db: &str, name: &str) -> bool {
    Command::new("getent")
        .args([db, name])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// groupadd meets a held group lock (status 10) and useradd a held passwd
/// lock (status 1); each is retried and succeeds once the lock is freed.
#[test]
fn a_held_lock_is_waited_out() {
    if !isobench_testkit::require_root("making a group and a user") {
        return;
    }
    let n = Names::new("w");
    for (db, tool, args) in [
        ("group", "groupadd", vec![n.0.as_str()]),
        ("passwd", "useradd", vec!["-M", "-N", "-g", &n.0, &n.0]),
    ] {
        let lock = HeldLock::take(db);
        let raw = once(tool, &args).unwrap();
        assert!(raw.lock_held(), "{tool}: {raw:?}");
        assert_eq!(
            raw.code,
            Some(if db == "group" { 10 } else { 1 }),
            "{raw:?}"
        );
        let t0 = Instant::now();
        let free = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            drop(lock);
        });
        let o = check(tool, &args);
        free.join().unwrap();
        let o = o.unwrap_or_else(|e| panic!("{e}"));
        assert!(o.success());
        assert!(t0.elapsed() >= Duration::from_millis(300));
        assert!(exists(db, &n.0), "{tool} made no entry");
    }
    check("userdel", &[&n.0]).unwrap();
    // userdel removes a primary group named as the user (USERGROUPS_ENAB).
    if exists("group", &n.0) {
        check("groupdel", &[&n.0]).unwrap();
    }
    assert!(!exists("passwd", &n.0));
    assert!(!exists("group", &n.0));
}

/// A lock held past the wait: the error names the tool and its message,
/// and nothing was made. Another failure is not retried.
#[test]
fn a_lock_held_too_long_and_other_failures_are_errors() {
    if !isobench_testkit::require_root("running groupadd") {
        return;
    }
    let n = Names::new("b");
    {
        let _lock = HeldLock::take("group");
        let t0 = Instant::now();
        let e = check_within("groupadd", &[&n.0], Duration::from_millis(300)).unwrap_err();
        assert!(t0.elapsed() >= Duration::from_millis(300));
        let s = e.to_string();
        assert!(s.starts_with(&format!("groupadd {}: ", n.0)), "{s}");
        assert!(s.contains("cannot lock /etc/group"), "{s}");
    }
    assert!(!exists("group", &n.0));
    let t0 = Instant::now();
    let e = check("groupadd", &["root"]).unwrap_err().to_string();
    assert!(t0.elapsed() < Duration::from_secs(2), "retried: {e}");
    assert!(e.starts_with("groupadd root: "), "{e}");
    assert!(e.contains("already exists"), "{e}");
}
