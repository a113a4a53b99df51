//! Terminals on the real binary: `process.terminal` with `--console-socket`
//! (create and run) and `exec --tty`: a small receiver takes the pty master the
//! container sends with SCM_RIGHTS and reads what the process writes on
//! its terminal: the tty is its stdio and controlling terminal, in the
//! container's devpts, with the consoleSize asked for. A terminal without a
//! console socket fails with one line and leaves nothing.

mod common;
use common::{can_run, text, Rig};
use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::net::UnixListener;
use std::process::Stdio;

/// What the process reports about its terminal.
const PROBE: &str = "/bin/busybox tty; /bin/busybox stty size; \
    [ -t 0 ] && [ -t 1 ] && [ -t 2 ] && echo stdio-is-tty; \
    read -r s < /proc/self/stat; set -- ${s##*) }; echo tty_nr=$5";

/// Accept one connection and take the fd it carries.
fn receive_master(l: &UnixListener) -> OwnedFd {
    let (conn, _) = l.accept().unwrap();
    let mut buf = [0u8; 4096];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = recvmsg::<UnixAddr>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut space),
        MsgFlags::MSG_CMSG_CLOEXEC,
    )
    .unwrap();
    let fd = msg
        .cmsgs()
        .unwrap()
        .find_map(|c| match c {
            ControlMessageOwned::ScmRights(f) => f.first().copied(),
            _ => None,
        })
        .expect("the runtime sent an fd");
    // SAFETY: the fd was just received and nothing else owns it.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// Everything the terminal gives until the last slave closes (EIO).
fn read_to_hangup(master: &OwnedFd) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match nix::unistd::read(master.as_fd(), &mut buf) {
            Ok(0) | Err(nix::errno::Errno::EIO) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => panic!("reading the pty master: {e}"),
        }
    }
    text(&out).replace('\r', "")
}

fn assert_terminal(out: &str, size: &str) {
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines.first().is_some_and(|l| l.starts_with("/dev/pts/")),
        "{out:?}"
    );
    assert!(lines.contains(&size), "size {size}: {out:?}");
    assert!(lines.contains(&"stdio-is-tty"), "{out:?}");
    let nr = lines
        .iter()
        .find_map(|l| l.strip_prefix("tty_nr="))
        .unwrap_or("0");
    assert_ne!(nr, "0", "a controlling terminal: {out:?}");
}

#[test]
fn create_with_a_terminal_sends_the_pty_master_to_the_console_socket() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("h19g-tty", "");
    rig.config(
        |v| {
            v["process"]["terminal"] = serde_json::json!(true);
            v["process"]["consoleSize"] = serde_json::json!({"height": 31, "width": 101});
        },
        PROBE,
    );
    let sock = rig.dir.path().join("console.sock");
    let l = UnixListener::bind(&sock).unwrap();
    let mut create = rig
        .cmd()
        .args(["create", "--console-socket"])
        .arg(&sock)
        .args(["--bundle", rig.bundle.to_str().unwrap(), &rig.id])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let master = receive_master(&l);
    let c = create.wait().unwrap();
    assert!(c.success());
    assert!(rig.isorun(&["start", &rig.id]).status.success());
    let out = read_to_hangup(&master);
    assert_terminal(&out, "31 101");
    let del = rig.isorun(&["delete", "--force", &rig.id]);
    assert!(del.status.success(), "{}", text(&del.stderr));
    rig.assert_clean();
}

#[test]
fn run_with_a_terminal_sends_the_pty_master_and_exits_with_the_status() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("h7-run-tty", "");
    rig.config(
        |v| {
            v["process"]["terminal"] = serde_json::json!(true);
            v["process"]["consoleSize"] = serde_json::json!({"height": 40, "width": 132});
        },
        &format!("{PROBE}; exit 7"),
    );
    // Without a socket: one line, nothing made.
    let out = rig.run();
    let se = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        se.contains("process.terminal") && se.contains("--console-socket"),
        "{se}"
    );
    assert_eq!(se.trim().lines().count(), 1, "{se}");
    rig.assert_clean();
    // As runc run --console-socket: the master goes to the socket, `run`
    // waits for the process and exits with its status, then deletes.
    let sock = rig.dir.path().join("run.sock");
    let l = UnixListener::bind(&sock).unwrap();
    let run = rig
        .cmd()
        .args(["run", "--console-socket"])
        .arg(&sock)
        .args(["--bundle", rig.bundle.to_str().unwrap(), &rig.id])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let master = receive_master(&l);
    let out = read_to_hangup(&master);
    let end = run.wait_with_output().unwrap();
    assert_eq!(end.status.code(), Some(7), "{}", text(&end.stderr));
    assert_terminal(&out, "40 132");
    rig.assert_clean();
}

#[test]
fn exec_tty_gives_the_process_a_terminal() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("h19g-exec-tty", "exec sleep 60");
    let create = rig
        .cmd()
        .args(["create", "--bundle", rig.bundle.to_str().unwrap(), &rig.id])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(create.success());
    assert!(rig.isorun(&["start", &rig.id]).status.success());
    let sock = rig.dir.path().join("exec.sock");
    let l = UnixListener::bind(&sock).unwrap();
    let pf = rig.dir.path().join("process.json");
    std::fs::write(
        &pf,
        serde_json::json!({
            "terminal": true,
            "consoleSize": {"height": 24, "width": 80},
            "args": ["sh", "-c", format!("{PROBE}; exit 5")],
            "env": ["PATH=/bin"],
            "cwd": "/",
            "user": {"uid": 1000, "gid": 1000}
        })
        .to_string(),
    )
    .unwrap();
    // As conmon runs it for `podman exec -t`.
    let exec = rig
        .cmd()
        .args(["exec", "--process"])
        .arg(&pf)
        .arg("--console-socket")
        .arg(&sock)
        .arg(&rig.id)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let master = receive_master(&l);
    let out = read_to_hangup(&master);
    let end = exec.wait_with_output().unwrap();
    assert_eq!(end.status.code(), Some(5), "{}", text(&end.stderr));
    assert_terminal(&out, "24 80");
    // Without a socket: one line, nothing run.
    let out = rig.isorun(&["exec", "--tty", &rig.id, "true"]);
    let se = text(&out.stderr);
    assert!(!out.status.success());
    assert!(se.contains("--console-socket"), "{se}");
    assert_eq!(se.trim().lines().count(), 1, "{se}");
    let del = rig.isorun(&["delete", "--force", &rig.id]);
    assert!(del.status.success(), "{}", text(&del.stderr));
    rig.assert_clean();
}

#[test]
fn a_terminal_without_a_console_socket_is_refused_cleanly() {
    if !can_run() {
        return;
    }
    let rig = Rig::new("h19g-tty-nosock", "true");
    rig.config(
        |v| v["process"]["terminal"] = serde_json::json!(true),
        "true",
    );
    let out = rig.isorun(&["create", "--bundle", rig.bundle.to_str().unwrap(), &rig.id]);
    let se = text(&out.stderr);
    assert!(!out.status.success());
    assert!(
        se.contains("process.terminal") && se.contains("--console-socket"),
        "{se}"
    );
    assert_eq!(se.trim().lines().count(), 1, "{se}");
    rig.assert_clean();
}
