//! Terminals (`process.terminal`, `--console-socket`), as runc does them:
//! the runtime connects to the caller's unix socket; the container process
//! (after pivot_root, so in the container's own devpts instance) opens a
//! pty pair from /dev/ptmx, sends the master over the socket with
//! SCM_RIGHTS (unix(7)), and makes the slave its controlling terminal and
//! stdio. `consoleSize` is set on the pair before the master leaves.
//! `exec --tty` does the same in the exec'd process.

use crate::error::{io, Error, Result};
use std::io::IoSlice;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

/// Connect to the console socket (in the runtime, before any namespace
/// change, so the path is the caller's).
pub fn connect(path: &Path) -> Result<OwnedFd> {
    let s = std::os::unix::net::UnixStream::connect(path).map_err(io("connect", path))?;
    Ok(OwnedFd::from(s))
}

/// The console socket connected when the process has a terminal; a
/// terminal without a socket is refused naming `field` (isorun does not
/// relay a terminal itself, as runc does in the foreground).
pub fn for_create(terminal: bool, socket: Option<&Path>, field: &str) -> Result<Option<OwnedFd>> {
    match (terminal, socket) {
        (true, Some(p)) => connect(p).map(Some),
        (true, None) => Err(Error::Invalid {
            field: field.into(),
            why: "a terminal needs --console-socket (isorun relays no terminal itself)".into(),
        }),
        (false, _) => Ok(None),
    }
}

fn sys_err(op: &str) -> Error {
    Error::Sys {
        op: op.into(),
        err: nix::errno::Errno::last(),
    }
}

/// Open a pty pair from /dev/ptmx: (master, slave). The slave comes from
/// the master by TIOCGPTPEER, not by a /dev/pts path someone could swap.
pub fn open_pty() -> Result<(OwnedFd, OwnedFd)> {
    let master = nix::fcntl::open(
        "/dev/ptmx",
        nix::fcntl::OFlag::O_RDWR | nix::fcntl::OFlag::O_NOCTTY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(crate::error::sys("open /dev/ptmx"))?;
    let unlock: libc::c_int = 0;
    // SAFETY: TIOCSPTLCK reads one int we own.
    if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSPTLCK, &unlock) } != 0 {
        return Err(sys_err("unlocking the pty (TIOCSPTLCK)"));
    }
    // SAFETY: TIOCGPTPEER takes open flags and returns a new fd or -1.
    let slave = unsafe {
        libc::ioctl(
            master.as_raw_fd(),
            libc::TIOCGPTPEER,
            libc::O_RDWR | libc::O_NOCTTY | libc::O_CLOEXEC,
        )
    };
    if slave < 0 {
        return Err(sys_err("opening the pty slave (TIOCGPTPEER)"));
    }
    // SAFETY: the ioctl returned a new fd nothing else owns.
    Ok((master, unsafe { OwnedFd::from_raw_fd(slave) }))
}

/// Send `fd` over the unix socket `sock` with SCM_RIGHTS; the payload is a
/// name, as runc sends (the receiver uses the fd).
pub fn send_fd(sock: &OwnedFd, fd: &OwnedFd, name: &str) -> Result<()> {
    use nix::sys::socket::{sendmsg, ControlMessage, MsgFlags, UnixAddr};
    let fds = [fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let iov = [IoSlice::new(name.as_bytes())];
    sendmsg::<UnixAddr>(sock.as_raw_fd(), &iov, &cmsg, MsgFlags::empty(), None).map_err(
        crate::error::sys("sending the pty master to the console socket"),
    )?;
    Ok(())
}

/// In the container (or exec'd) process, as root, before dropping
/// privileges: make a pty, size it, hand the master to the console socket,
/// and make the slave the controlling terminal and stdio, owned by the
/// process's user.
pub fn setup(sock: &OwnedFd, size: Option<(u32, u32)>, uid: u32, gid: u32) -> Result<()> {
    let (master, slave) = open_pty()?;
    if let Some((height, width)) = size {
        let ws = libc::winsize {
            ws_row: height.min(u16::MAX as u32) as u16,
            ws_col: width.min(u16::MAX as u32) as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ reads one winsize we own.
        if unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) } != 0 {
            return Err(sys_err("setting process.consoleSize (TIOCSWINSZ)"));
        }
    }
    // Why: the process (maybe not root) must be able to use its terminal,
    // as runc's fixStdioPermissions.
    nix::unistd::fchown(
        slave.as_fd(),
        Some(nix::unistd::Uid::from_raw(uid)),
        Some(nix::unistd::Gid::from_raw(gid)),
    )
    .map_err(crate::error::sys(format!(
        "chown of the pty to {uid}:{gid}"
    )))?;
    send_fd(sock, &master, "/dev/ptmx")?;
    drop(master);
    nix::unistd::setsid().map_err(crate::error::sys("setsid"))?;
    // SAFETY: TIOCSCTTY with argument 0 on a tty fd we own.
    if unsafe { libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) } != 0 {
        return Err(sys_err(
            "making the pty the controlling terminal (TIOCSCTTY)",
        ));
    }
    for target in 0..3 {
        // SAFETY: dup2 onto stdio; the old stdio fds close atomically.
        if unsafe { libc::dup2(slave.as_raw_fd(), target) } < 0 {
            return Err(sys_err("dup2 of the pty onto stdio"));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pty_pair_passes_bytes_and_its_master_crosses_a_socket() {
        let Ok((master, slave)) = open_pty() else {
            // No /dev/ptmx in this sandbox: nothing to test here.
            return;
        };
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        send_fd(&OwnedFd::from(a), &master, "/dev/ptmx").unwrap();
        drop(master);
        // Receive it back as a console-socket reader would.
        use nix::sys::socket::{recvmsg, ControlMessageOwned, MsgFlags, UnixAddr};
        let mut buf = [0u8; 64];
        let mut iov = [std::io::IoSliceMut::new(&mut buf)];
        let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
        let msg = recvmsg::<UnixAddr>(b.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::empty())
            .unwrap();
        let fd = msg
            .cmsgs()
            .unwrap()
            .find_map(|c| match c {
                ControlMessageOwned::ScmRights(f) => f.first().copied(),
                _ => None,
            })
            .expect("an fd came");
        // SAFETY: the fd was just received and is ours.
        let got = unsafe { OwnedFd::from_raw_fd(fd) };
        nix::unistd::write(slave.as_fd(), b"hi\n").unwrap();
        let mut out = [0u8; 16];
        let n = nix::unistd::read(got.as_fd(), &mut out).unwrap();
        assert!(out[..n].starts_with(b"hi"), "{:?}", &out[..n]);
    }
}
