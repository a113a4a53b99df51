//! Paths inside a container's root file system resolved safely: openat2(2)
//! with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS, so every symlink (and `..`)
//! is resolved as if the rootfs were `/`, and no /proc magic link can jump
//! out. Mounts then target `/proc/self/fd/N` of the opened file, as runc
//! (libpathrs, `WithProcfd`) and crun do: the kernel mounts on exactly the
//! file that was resolved, so a symlink planted in the rootfs (say /proc →
//! /etc) can never put a mount on a host path.
//!
//! Directories and files that a mount needs are created one component at
//! a time with mkdirat/openat relative to a resolved parent, never through a
//! host path.

use crate::error::{Error, Result};
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// An open root directory (O_PATH) in which paths are resolved.
pub struct Root {
    fd: OwnedFd,
    path: PathBuf,
    /// The kernel's name of `fd`, read once by the first [`Root::inside`].
    /// The root directory itself is not expected to move while a container
    /// is set up; if it did, every later `inside` fails (the fd's names no
    /// longer start with it), it never wrongly succeeds.
    real: std::cell::OnceCell<PathBuf>,
}

/// The relative components of an absolute in-container path, refusing `..`
/// (a config naming `..` is wrong even though the resolution is safe).
pub fn components(p: &Path) -> Result<Vec<&std::ffi::OsStr>> {
    let mut out = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::RootDir | Component::CurDir => {}
            _ => {
                return Err(Error::Invalid {
                    field: "mounts".into(),
                    why: format!("{} leaves the root file system", p.display()),
                })
            }
        }
    }
    Ok(out)
}

/// `p`'s parent (absolute, in the root) and its last component; an error
/// for the root itself or a path that leaves the root.
fn split_parent(p: &Path) -> Result<(PathBuf, &std::ffi::OsStr)> {
    let comps = components(p)?;
    let Some((last, parents)) = comps.split_last() else {
        return Err(Error::Invalid {
            field: "path".into(),
            why: format!("{} names the root itself", p.display()),
        });
    };
    let parent = std::iter::once(std::ffi::OsStr::new("/"))
        .chain(parents.iter().copied())
        .collect();
    Ok((parent, last))
}

fn cstr(p: &Path) -> Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Error::Invalid {
        field: "path".into(),
        why: format!("{} contains a NUL byte", p.display()),
    })
}

/// The path through which the kernel reaches the file behind `fd`.
pub fn fd_path(fd: &OwnedFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

/// The mount, device and inode of the file behind `fd` (statx(2)).
fn file_id(fd: &OwnedFd) -> Option<(u64, u32, u32, u64)> {
    // SAFETY: statx is plain old data; zeroed is a valid value.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: an fd we hold, an empty NUL-terminated path with
    // AT_EMPTY_PATH, and a statx buffer we own.
    let r = unsafe {
        libc::statx(
            fd.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH,
            libc::STATX_INO | libc::STATX_MNT_ID,
            &mut st,
        )
    };
    (r == 0 && st.stx_mask & libc::STATX_MNT_ID != 0).then_some((
        st.stx_mnt_id,
        st.stx_dev_major,
        st.stx_dev_minor,
        st.stx_ino,
    ))
}

/// openat2(2) under `dirfd` with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS.
fn openat2(dirfd: i32, rel: &Path, flags: i32) -> std::result::Result<OwnedFd, nix::errno::Errno> {
    openat2_with(dirfd, rel, flags, 0)
}

/// openat2(2) under `dirfd` with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS
/// and the `extra` RESOLVE_* flags.
fn openat2_with(
    dirfd: i32,
    rel: &Path,
    flags: i32,
    extra: u64,
) -> std::result::Result<OwnedFd, nix::errno::Errno> {
    let c = CString::new(rel.as_os_str().as_bytes()).map_err(|_| nix::errno::Errno::EINVAL)?;
    // SAFETY: open_how is plain old data; zeroed is valid and we set fields.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS | extra;
    loop {
        // SAFETY: dirfd is an fd we hold open, the path is NUL-terminated,
        // and `how` lives across the call with its size passed.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dirfd,
                c.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if r >= 0 {
            // SAFETY: openat2 returned a new fd that nothing else owns.
            return Ok(unsafe { OwnedFd::from_raw_fd(r as i32) });
        }
        match nix::errno::Errno::last() {
            // The kernel asks for a retry when a rename raced the lookup.
            nix::errno::Errno::EAGAIN | nix::errno::Errno::EINTR => continue,
            e => return Err(e),
        }
    }
}

impl Root {
    /// Open `path` as the root for later resolutions.
    pub fn open(path: &Path) -> Result<Root> {
        let c = cstr(path)?;
        // SAFETY: NUL-terminated path; a new fd or -1.
        let fd = unsafe {
            libc::open(
                c.as_ptr(),
                libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
            )
        };
        if fd < 0 {
            return Err(Error::Sys {
                op: format!("open root {}", path.display()),
                err: nix::errno::Errno::last(),
            });
        }
        Ok(Root {
            // SAFETY: a new fd that nothing else owns.
            fd: unsafe { OwnedFd::from_raw_fd(fd) },
            path: path.to_path_buf(),
            real: std::cell::OnceCell::new(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, op: &str, p: &Path, err: nix::errno::Errno) -> Error {
        Error::Sys {
            op: format!("{op} {} inside {}", p.display(), self.path.display()),
            err,
        }
    }

    /// Open the in-container path `p` (O_PATH), resolved inside the root.
    pub fn resolve(&self, p: &Path) -> Result<OwnedFd> {
        let rel: PathBuf = components(p)?.iter().collect();
        let rel = if rel.as_os_str().is_empty() {
            PathBuf::from(".")
        } else {
            rel
        };
        openat2(self.fd.as_raw_fd(), &rel, libc::O_PATH).map_err(|e| self.err("resolve", p, e))
    }

    /// The in-container path of `fd` (a file resolved in this root), from
    /// the kernel's names of both (readlink of /proc/self/fd/N): symlinks
    /// followed, as mounts checks such as /proc's need it.
    pub fn inside(&self, fd: &OwnedFd) -> Result<PathBuf> {
        let root = match self.real.get() {
            Some(r) => r,
            None => {
                let r = std::fs::read_link(fd_path(&self.fd))
                    .map_err(crate::error::io("readlink", &self.path))?;
                self.real.get_or_init(|| r)
            }
        };
        let p =
            std::fs::read_link(fd_path(fd)).map_err(crate::error::io("readlink", fd_path(fd)))?;
        let rel = p.strip_prefix(root).map_err(|_| {
            Error::Init(format!(
                "{} lies outside the root {}",
                p.display(),
                root.display()
            ))
        })?;
        Ok(Path::new("/").join(rel))
    }

    /// The in-container path of `fd`, which was resolved from `p`: `p`
    /// itself (made absolute) when `p` reaches the same file on the same
    /// mount without a symlink on the way, else [`inside`](Self::inside).
    /// Why: `inside` reads two magic links (/proc/self/fd/N), each a walk
    /// of /proc; the plain path costs one openat2(RESOLVE_NO_SYMLINKS) and
    /// two statx for the usual config whose mount points have no symlink.
    pub fn path_of(&self, fd: &OwnedFd, p: &Path) -> Result<PathBuf> {
        let comps = components(p)?;
        let rel: PathBuf = comps.iter().collect();
        if !rel.as_os_str().is_empty() {
            let plain = openat2_with(
                self.fd.as_raw_fd(),
                &rel,
                libc::O_PATH,
                libc::RESOLVE_NO_SYMLINKS,
            );
            if let Ok(plain) = plain {
                if let (Some(a), Some(b)) = (file_id(fd), file_id(&plain)) {
                    if a == b {
                        return Ok(Path::new("/").join(rel));
                    }
                }
            }
        }
        self.inside(fd)
    }

    /// Like [`resolve`](Self::resolve), None if it does not exist.
    pub fn try_resolve(&self, p: &Path) -> Result<Option<OwnedFd>> {
        match self.resolve(p) {
            Ok(fd) => Ok(Some(fd)),
            Err(Error::Sys {
                err: nix::errno::Errno::ENOENT,
                ..
            }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// mkdir -p of `p` inside the root; returns the final directory.
    /// Symlinks on the way are followed inside the root; a dangling one is
    /// an error, never a reason to create something outside.
    pub fn mkdir_all(&self, p: &Path) -> Result<OwnedFd> {
        let comps = components(p)?;
        // The usual case, an existing directory: one resolution of the
        // whole path (the same lookup the walk below ends with).
        if let Some(fd) = self.try_resolve(p)? {
            return Ok(fd);
        }
        // The next most usual: only the last component is missing (a mount
        // point in an existing directory). The same steps as the walk
        // below takes for it: resolve the parent, mkdirat, resolve again.
        if let Some((last, parents)) = comps.split_last() {
            if !parents.is_empty() {
                let parent: PathBuf = std::iter::once(std::ffi::OsStr::new("/"))
                    .chain(parents.iter().copied())
                    .collect();
                if let Some(dir) = self.try_resolve(&parent)? {
                    return self.make_dir_in(&dir, last, p);
                }
            }
        }
        let mut dir = self.resolve(Path::new("/"))?;
        let mut so_far = PathBuf::from("/");
        for c in comps {
            so_far.push(c);
            let fd = match self.try_resolve(&so_far)? {
                Some(fd) => fd,
                None => self.make_dir_in(&dir, c, &so_far)?,
            };
            dir = fd;
        }
        Ok(dir)
    }

    /// mkdirat(2) of `name` in `dir` (the resolved parent of `full`), then
    /// `full` resolved inside the root.
    fn make_dir_in(&self, dir: &OwnedFd, name: &std::ffi::OsStr, full: &Path) -> Result<OwnedFd> {
        let name = cstr(Path::new(name))?;
        // SAFETY: dir is an open directory fd, name NUL-terminated.
        let r = unsafe { libc::mkdirat(dir.as_raw_fd(), name.as_ptr(), 0o755) };
        if r != 0 {
            let e = nix::errno::Errno::last();
            if e != nix::errno::Errno::EEXIST {
                return Err(self.err("mkdir", full, e));
            }
        }
        // EEXIST with nothing resolvable: a dangling symlink.
        self.try_resolve(full)?.ok_or_else(|| {
            self.err(
                "mkdir (a dangling symlink is in the way)",
                full,
                nix::errno::Errno::ENOENT,
            )
        })
    }

    /// The parent directory of `p` (created) and `p`'s last component.
    pub fn parent_of(&self, p: &Path) -> Result<(OwnedFd, CString)> {
        let (parent, last) = split_parent(p)?;
        Ok((self.mkdir_all(&parent)?, cstr(Path::new(last))?))
    }

    /// Make sure `p` exists as a regular file (for a file bind mount or a
    /// bound device node) and open it.
    pub fn ensure_file(&self, p: &Path) -> Result<OwnedFd> {
        if let Some(fd) = self.try_resolve(p)? {
            return Ok(fd);
        }
        let (dir, name) = self.parent_of(p)?;
        // SAFETY: dir is an open directory fd, name NUL-terminated; O_EXCL
        // with O_NOFOLLOW never follows a symlink planted at the name.
        let r = unsafe {
            libc::openat(
                dir.as_raw_fd(),
                name.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644,
            )
        };
        if r < 0 {
            let e = nix::errno::Errno::last();
            if e != nix::errno::Errno::EEXIST {
                return Err(self.err("create", p, e));
            }
        } else {
            // SAFETY: we own the new fd and close it right away.
            unsafe { libc::close(r) };
        }
        self.resolve(p)
    }

    /// mknod(2) relative to the resolved parent of `p`.
    pub fn mknod(&self, p: &Path, mode: libc::mode_t, dev: libc::dev_t) -> Result<()> {
        Parents::new(self).mknod(p, mode, dev)
    }

    /// symlink(2) `p` → `to` relative to the resolved parent of `p`;
    /// an existing name is left alone.
    pub fn symlink(&self, to: &str, p: &Path) -> Result<()> {
        Parents::new(self).symlink(to, p)
    }

    /// The kind of file `p` resolves to, None if absent.
    pub fn kind(&self, p: &Path) -> Result<Option<nix::sys::stat::SFlag>> {
        let Some(fd) = self.try_resolve(p)? else {
            return Ok(None);
        };
        let st = nix::sys::stat::fstat(&fd).map_err(|e| self.err("stat", p, e))?;
        Ok(Some(nix::sys::stat::SFlag::from_bits_truncate(
            st.st_mode & libc::S_IFMT,
        )))
    }
}

/// Parent directories of a [`Root`], each resolved once for several
/// names made in it (/dev's device nodes and symlinks: one lookup of /dev
/// instead of one per name). A cached fd stays on the directory it was
/// resolved to; use one `Parents` only while nothing is mounted over
/// those directories.
pub struct Parents<'a> {
    root: &'a Root,
    dirs: Vec<(PathBuf, OwnedFd)>,
}

impl<'a> Parents<'a> {
    pub fn new(root: &'a Root) -> Parents<'a> {
        Parents {
            root,
            dirs: Vec::new(),
        }
    }

    /// The parent of `p` (resolved, created, as [`Root::parent_of`]) and
    /// `p`'s last component.
    fn of(&mut self, p: &Path) -> Result<(&OwnedFd, CString)> {
        let (parent, last) = split_parent(p)?;
        let i = match self.dirs.iter().position(|(d, _)| *d == parent) {
            Some(i) => i,
            None => {
                let fd = self.root.mkdir_all(&parent)?;
                self.dirs.push((parent, fd));
                self.dirs.len() - 1
            }
        };
        Ok((&self.dirs[i].1, cstr(Path::new(last))?))
    }

    /// mknod(2) relative to the resolved parent of `p`.
    pub fn mknod(&mut self, p: &Path, mode: libc::mode_t, dev: libc::dev_t) -> Result<()> {
        let (dir, name) = self.of(p)?;
        // SAFETY: dir is an open directory fd, name NUL-terminated.
        if unsafe { libc::mknodat(dir.as_raw_fd(), name.as_ptr(), mode, dev) } != 0 {
            return Err(self.root.err("mknod", p, nix::errno::Errno::last()));
        }
        Ok(())
    }

    /// symlink(2) `p` → `to` relative to the resolved parent of `p`;
    /// an existing name is left alone.
    pub fn symlink(&mut self, to: &str, p: &Path) -> Result<()> {
        let (dir, name) = self.of(p)?;
        let to = cstr(Path::new(to))?;
        // SAFETY: dir is an open directory fd; both strings NUL-terminated.
        if unsafe { libc::symlinkat(to.as_ptr(), dir.as_raw_fd(), name.as_ptr()) } != 0 {
            let e = nix::errno::Errno::last();
            if e != nix::errno::Errno::EEXIST {
                return Err(self.root.err("symlink", p, e));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symlinks_resolve_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let host = t.path().join("host");
        let root = t.path().join("root");
        std::fs::create_dir_all(&host).unwrap();
        std::fs::create_dir_all(root.join("etc")).unwrap();
        // Absolute and relative escapes both land inside the root.
        std::os::unix::fs::symlink(&host, root.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../..", root.join("rel")).unwrap();
        std::fs::create_dir_all(root.join(host.strip_prefix("/").unwrap())).unwrap();
        let r = Root::open(&root).unwrap();
        let fd = r.resolve(Path::new("/abs")).unwrap();
        let real = std::fs::read_link(fd_path(&fd)).unwrap();
        assert!(real.starts_with(&root), "{}", real.display());
        let fd = r.mkdir_all(Path::new("/rel/etc/x")).unwrap();
        let real = std::fs::read_link(fd_path(&fd)).unwrap();
        assert_eq!(real, root.join("etc/x"));
        assert_eq!(r.inside(&fd).unwrap(), Path::new("/etc/x"));
        // path_of: through a symlink, the real in-root path; without one,
        // the path as given.
        assert_eq!(
            r.path_of(&fd, Path::new("/rel/etc/x")).unwrap(),
            Path::new("/etc/x")
        );
        assert_eq!(
            r.path_of(&fd, Path::new("/etc/./x")).unwrap(),
            Path::new("/etc/x")
        );
        // A plain path naming another file is not taken for `fd`'s.
        std::fs::create_dir_all(root.join("etc/y")).unwrap();
        assert_eq!(
            r.path_of(&fd, Path::new("/etc/y")).unwrap(),
            Path::new("/etc/x")
        );
        assert_eq!(
            r.inside(&r.resolve(Path::new("/")).unwrap()).unwrap(),
            Path::new("/")
        );
        assert!(
            std::fs::read_dir(&host).unwrap().next().is_none(),
            "host untouched"
        );
    }

    #[test]
    fn dangling_symlinks_and_dotdot_are_refused_and_nothing_is_made_outside() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(&root).unwrap();
        let outside = t.path().join("outside");
        std::os::unix::fs::symlink(&outside, root.join("d")).unwrap();
        let r = Root::open(&root).unwrap();
        assert!(r.mkdir_all(Path::new("/d")).is_err());
        assert!(r.ensure_file(Path::new("/d")).is_err());
        assert!(!outside.exists());
        assert!(r.resolve(Path::new("/../etc")).is_err());
        let f = r.ensure_file(Path::new("/a/b/file")).unwrap();
        assert_eq!(
            std::fs::read_link(fd_path(&f)).unwrap(),
            root.join("a/b/file")
        );
        r.symlink("/proc/self/fd", Path::new("/a/fd")).unwrap();
        assert_eq!(
            r.kind(Path::new("/a/b")).unwrap(),
            Some(nix::sys::stat::SFlag::S_IFDIR)
        );
        assert_eq!(r.kind(Path::new("/nope")).unwrap(), None);
    }
}
