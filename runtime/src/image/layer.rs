//! Layers: tar streams (OCI image spec, "Image Layer Filesystem Changeset")
//! unpacked once into a content-addressed directory, with whiteouts turned
//! into what overlayfs understands (Documentation/filesystems/overlayfs.rst):
//! `.wh.NAME` becomes a 0/0 character device NAME, `.wh..wh..opq` sets the
//! `trusted.overlay.opaque` xattr on its directory.

use crate::error::{Error, Result};
use std::ffi::CString;
use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

pub const WHITEOUT_PREFIX: &str = ".wh.";
pub const OPAQUE: &str = ".wh..wh..opq";

/// What one tar entry means for the layer directory.
#[derive(Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A file, directory or link at this (normalised, relative) path.
    Normal(PathBuf),
    /// Delete this path from the layers below.
    Whiteout(PathBuf),
    /// Hide everything the layers below have in this directory.
    Opaque(PathBuf),
}

/// Classify a tar entry path; reject paths escaping the layer.
pub fn classify(path: &Path) -> Result<EntryKind> {
    let mut rel = PathBuf::new();
    for c in path.components() {
        match c {
            Component::Normal(n) => rel.push(n),
            Component::CurDir | Component::RootDir => {}
            Component::ParentDir | Component::Prefix(_) => {
                return Err(Error::Image(format!(
                    "layer entry {} escapes the layer",
                    path.display()
                )))
            }
        }
    }
    let name = rel
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = rel.parent().map(Path::to_path_buf).unwrap_or_default();
    if name == OPAQUE {
        Ok(EntryKind::Opaque(parent))
    } else if let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) {
        if hidden.is_empty() || hidden == "." || hidden == ".." {
            return Err(Error::Image(format!("bad whiteout {}", path.display())));
        }
        Ok(EntryKind::Whiteout(parent.join(hidden)))
    } else {
        Ok(EntryKind::Normal(rel))
    }
}

/// A reader that hashes what passes through it (sha256).
pub struct HashingReader<R> {
    pub inner: R,
    pub hasher: sha2::Sha256,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        sha2::Digest::update(&mut self.hasher, &buf[..n]);
        Ok(n)
    }
}

/// sha256 of bytes, as lowercase hex.
pub fn sha256_hex(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}

/// A tar stream completed at its end: zeros up to the next 512-byte
/// record and two zero records (the end-of-archive marker). Some image
/// tools write layers without them: umoci's layers end right after the last
/// file's data (opencontainers/umoci#436; GNU tar reports "Unexpected EOF
/// in archive", runc and umoci unpack them). The blob's digest is checked
/// on the stored bytes, below this reader.
pub struct TarTail<R> {
    inner: R,
    read: u64,
    /// Zeros still to supply once `inner` has ended (`None`: not ended).
    tail: Option<u64>,
}

impl<R> TarTail<R> {
    pub fn new(inner: R) -> Self {
        TarTail {
            inner,
            read: 0,
            tail: None,
        }
    }
}

impl<R: Read> Read for TarTail<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.tail.is_none() {
            let n = self.inner.read(buf)?;
            if n > 0 || buf.is_empty() {
                self.read += n as u64;
                return Ok(n);
            }
            let pad = (512 - self.read % 512) % 512;
            self.tail = Some(pad + 1024);
        }
        let left = self.tail.as_mut().expect("set above");
        let n = (*left).min(buf.len() as u64) as usize;
        buf[..n].fill(0);
        *left -= n as u64;
        Ok(n)
    }
}

/// Unpack a tar stream into `dest` (which must exist), applying whiteouts.
pub fn unpack(reader: impl Read, dest: &Path) -> Result<()> {
    let mut ar = tar::Archive::new(TarTail::new(reader));
    ar.set_preserve_permissions(true);
    // Why: only root may give files away; an unprivileged user's layers
    // keep the user's own ids, which a rootless container's user
    // namespace shows as 0 (as rootless podman without subordinate ids).
    ar.set_preserve_ownerships(nix::unistd::geteuid().is_root());
    ar.set_overwrite(true);
    let err = |e: std::io::Error| {
        // tar wraps the cause: show it too.
        let cause = e
            .get_ref()
            .and_then(|i| i.source())
            .map(|s| format!(": {s}"))
            .unwrap_or_default();
        Error::Image(format!(
            "unpacking layer into {}: {e}{cause}",
            dest.display()
        ))
    };
    for entry in ar.entries().map_err(err)? {
        let mut entry = entry.map_err(err)?;
        let path = entry.path().map_err(err)?.into_owned();
        match classify(&path)? {
            EntryKind::Normal(_) => {
                entry.unpack_in(dest).map_err(err)?;
            }
            EntryKind::Whiteout(target) => {
                let parent = target.parent().unwrap_or(Path::new(""));
                let p = dir_inside(dest, parent)?.join(target.file_name().unwrap_or_default());
                let _ = std::fs::remove_dir_all(&p);
                let _ = std::fs::remove_file(&p);
                // Why: overlayfs reads a 0/0 character device in an upper
                // layer as "deleted"; mknod of a device needs CAP_MKNOD.
                nix::sys::stat::mknod(
                    &p,
                    nix::sys::stat::SFlag::S_IFCHR,
                    nix::sys::stat::Mode::empty(),
                    0,
                )
                .map_err(|e| Error::Image(format!("whiteout {}: mknod: {e}", p.display())))?;
            }
            EntryKind::Opaque(dir) => {
                set_opaque(&dir_inside(dest, &dir)?)?;
            }
        }
    }
    Ok(())
}

/// The directory `rel` under `dest`, made where missing, never through a
/// symlink: an earlier entry of the layer may have made a component a
/// symlink to a host path, and a whiteout or opaque marker behind it must
/// not delete, replace or mark anything there (found by the proptest
/// target in tests/proptest_image.rs). Each component is checked with
/// lstat; the layer directory is private staging, so nothing else changes
/// it meanwhile.
fn dir_inside(dest: &Path, rel: &Path) -> Result<PathBuf> {
    let mut p = dest.to_path_buf();
    for c in rel.components() {
        p.push(c);
        match std::fs::symlink_metadata(&p) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::Image(format!(
                    "layer entry under {} goes through a symlink or non-directory {}",
                    rel.display(),
                    p.display()
                )))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(&p).map_err(crate::error::io("mkdir", &p))?;
            }
            Err(e) => return Err(crate::error::io("lstat", &p)(e)),
        }
    }
    Ok(p)
}

/// Mark a directory opaque for overlayfs.
pub fn set_opaque(dir: &Path) -> Result<()> {
    let c =
        CString::new(dir.as_os_str().as_bytes()).map_err(|_| Error::Image("NUL in path".into()))?;
    // Why: trusted.* xattrs need CAP_SYS_ADMIN; overlayfs reads this one.
    // SAFETY: both strings are NUL-terminated and live across the call;
    // the value pointer/length pair describes a 1-byte static buffer.
    let r = unsafe {
        libc::setxattr(
            c.as_ptr(),
            c"trusted.overlay.opaque".as_ptr(),
            b"y".as_ptr().cast(),
            1,
            0,
        )
    };
    if r != 0 {
        return Err(Error::Image(format!(
            "opaque dir {}: setxattr: {}",
            dir.display(),
            std::io::Error::last_os_error()
        )));
    }
    Ok(())
}

/// A deterministic tar of a directory (sorted entries, fixed times and
/// owners), so the same content always gives the same digest.
pub fn tar_dir(dir: &Path) -> Result<Vec<u8>> {
    let mut b = tar::Builder::new(Vec::new());
    b.mode(tar::HeaderMode::Deterministic);
    b.follow_symlinks(false);
    let err = |e: std::io::Error| Error::Image(format!("archiving {}: {e}", dir.display()));
    fn walk(b: &mut tar::Builder<Vec<u8>>, root: &Path, rel: &Path) -> std::io::Result<()> {
        let mut entries: Vec<_> =
            std::fs::read_dir(root.join(rel))?.collect::<std::io::Result<_>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let r = rel.join(e.file_name());
            b.append_path_with_name(root.join(&r), &r)?;
            if e.file_type()?.is_dir() {
                walk(b, root, &r)?;
            }
        }
        Ok(())
    }
    walk(&mut b, dir, Path::new("")).map_err(err)?;
    b.into_inner().map_err(err)
}

/// Write all of `data` (small helper to keep error paths in one place).
pub fn write_file(path: &Path, data: &[u8]) -> Result<()> {
    let mut f = std::fs::File::create(path).map_err(crate::error::io("create", path))?;
    f.write_all(data).map_err(crate::error::io("write", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whiteouts_and_opaque_markers_are_recognised() {
        assert_eq!(
            classify(Path::new("./etc/.wh.passwd")).unwrap(),
            EntryKind::Whiteout("etc/passwd".into())
        );
        assert_eq!(
            classify(Path::new("var/.wh..wh..opq")).unwrap(),
            EntryKind::Opaque("var".into())
        );
        assert_eq!(
            classify(Path::new("/bin/sh")).unwrap(),
            EntryKind::Normal("bin/sh".into())
        );
        assert_eq!(
            classify(Path::new(".wh.top")).unwrap(),
            EntryKind::Whiteout("top".into())
        );
        assert!(classify(Path::new("../etc/passwd")).is_err());
        assert!(classify(Path::new("a/.wh.")).is_err());
    }

    #[test]
    fn directory_tar_is_deterministic() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("b")).unwrap();
        std::fs::write(t.path().join("b/x"), "x").unwrap();
        std::fs::write(t.path().join("a"), "a").unwrap();
        std::os::unix::fs::symlink("a", t.path().join("l")).unwrap();
        let one = tar_dir(t.path()).unwrap();
        let two = tar_dir(t.path()).unwrap();
        assert_eq!(sha256_hex(&one), sha256_hex(&two));
        let names: Vec<String> = tar::Archive::new(&one[..])
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a", "b", "b/x", "l"]);
    }

    #[test]
    fn a_layer_without_padding_or_trailer_unpacks() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("f"), "v3\n").unwrap();
        let mut tarball = tar_dir(src.path()).unwrap();
        // As umoci writes them: the header and the data, nothing after.
        tarball.truncate(512 + 3);
        let dst = tempfile::tempdir().unwrap();
        unpack(&tarball[..], dst.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(dst.path().join("f")).unwrap(),
            "v3\n"
        );
        // Cut well inside a file's data: still an error.
        let mut h = tar::Header::new_gnu();
        h.set_size(4096);
        h.set_path("g").unwrap();
        h.set_cksum();
        let mut cut = h.as_bytes().to_vec();
        cut.extend_from_slice(&[1u8; 100]);
        let dst = tempfile::tempdir().unwrap();
        assert!(unpack(&cut[..], dst.path()).is_err());
    }

    #[test]
    fn plain_entries_unpack_without_root() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("f"), "hello").unwrap();
        let tarball = tar_dir(src.path()).unwrap();
        let dst = tempfile::tempdir().unwrap();
        unpack(&tarball[..], dst.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(dst.path().join("f")).unwrap(),
            "hello"
        );
    }
}
