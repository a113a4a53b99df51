//! Layered images (OCI image spec: "Image Layout", "Image Manifest",
//! "Layer Filesystem Changeset"): a content-addressed store of unpacked
//! layers and images that are ordered lists of them, mounted with overlayfs
//! (lowerdir = the layers, top first; upperdir/workdir per container).
//!
//! Store layout: `<store>/layers/<sha256 hex>/` (one unpacked layer),
//! `<store>/images/<name>.json`, `<store>/tmp/` (staging, same file system
//! so a finished layer is renamed into place atomically: unpacked once).

pub mod layer;
pub mod oci;

use crate::error::{io, Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Default layer store of the `isorun image` commands.
pub const DEFAULT_STORE: &str = "/var/lib/isorun";

/// The run-time defaults an image carries (subset of the OCI image config).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    #[serde(default)]
    pub env: Vec<String>,
    #[serde(default)]
    pub entrypoint: Vec<String>,
    #[serde(default)]
    pub cmd: Vec<String>,
    #[serde(default)]
    pub working_dir: String,
}

/// An image: ordered layers (bottom first) plus its config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Image {
    pub name: String,
    /// `sha256:<hex>` digests, bottom layer first.
    pub layers: Vec<String>,
    pub config: ImageConfig,
}

/// A layer store rooted at a directory.
#[derive(Debug, Clone)]
pub struct Store {
    pub root: PathBuf,
}

/// Image names become file names: keep them to a safe alphabet.
pub fn validate_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 255
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-:@".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::Image(format!(
            "image name {name:?}: use letters, digits and ._-:@"
        )))
    }
}

fn hex_of(digest: &str) -> Result<&str> {
    let h = digest
        .strip_prefix("sha256:")
        .ok_or_else(|| Error::Image(format!("digest {digest}: only sha256 is supported")))?;
    if h.len() != 64 || !h.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::Image(format!(
            "digest {digest} is not a sha256 digest"
        )));
    }
    Ok(h)
}

/// overlayfs mount data for `lowers` (top first) with an optional upper.
pub fn overlay_data(lowers: &[PathBuf], upper_work: Option<(&Path, &Path)>) -> String {
    let lower: Vec<String> = lowers.iter().map(|p| escape_overlay(p)).collect();
    let mut s = format!("lowerdir={}", lower.join(":"));
    if let Some((u, w)) = upper_work {
        s.push_str(&format!(
            ",upperdir={},workdir={}",
            escape_overlay(u),
            escape_overlay(w)
        ));
    }
    s
}

fn escape_overlay(p: &Path) -> String {
    p.to_string_lossy()
        .replace('\\', "\\\\")
        .replace(':', "\\:")
        .replace(',', "\\,")
}

impl Store {
    /// Open (and create) a store.
    pub fn open(root: impl Into<PathBuf>) -> Result<Store> {
        let root = root.into();
        for d in ["layers", "images", "tmp"] {
            let p = root.join(d);
            std::fs::create_dir_all(&p).map_err(io("mkdir", &p))?;
        }
        Ok(Store { root })
    }

    /// Open a store without creating anything (for reading at create).
    pub fn at(root: impl Into<PathBuf>) -> Store {
        Store { root: root.into() }
    }

    pub fn layer_dir(&self, digest: &str) -> Result<PathBuf> {
        Ok(self.root.join("layers").join(hex_of(digest)?))
    }

    fn image_file(&self, name: &str) -> Result<PathBuf> {
        validate_name(name)?;
        Ok(self.root.join("images").join(format!("{name}.json")))
    }

    /// A fresh staging directory in the store.
    fn staging(&self) -> Result<tempfile::TempDir> {
        let t = self.root.join("tmp");
        tempfile::Builder::new()
            .prefix("layer-")
            .tempdir_in(&t)
            .map_err(io("mkdtemp", &t))
    }

    /// Add a layer from a tar stream with a known digest, unless present.
    /// `unpack` writes the content into the directory it is given.
    pub fn add_layer_with(
        &self,
        digest: &str,
        unpack: impl FnOnce(&Path) -> Result<()>,
    ) -> Result<String> {
        let dest = self.layer_dir(digest)?;
        if dest.is_dir() {
            return Ok(digest.to_string());
        }
        let stage = self.staging()?;
        let content = stage.path().join("c");
        std::fs::create_dir(&content).map_err(io("mkdir", &content))?;
        unpack(&content)?;
        match std::fs::rename(&content, &dest) {
            Ok(()) => {}
            // Another process unpacked the same layer meanwhile: keep theirs.
            Err(_) if dest.is_dir() => {}
            Err(e) => return Err(io("rename", &dest)(e)),
        }
        Ok(digest.to_string())
    }

    /// Add one directory as a layer; `.wh.NAME` files in it act as
    /// whiteouts and `.wh..wh..opq` marks an opaque directory.
    pub fn add_dir_layer(&self, dir: &Path) -> Result<String> {
        if !dir.is_dir() {
            return Err(Error::Image(format!(
                "layer source {} is not a directory",
                dir.display()
            )));
        }
        let tarball = layer::tar_dir(dir)?;
        let digest = format!("sha256:{}", layer::sha256_hex(&tarball));
        self.add_layer_with(&digest, |d| layer::unpack(&tarball[..], d))
    }

    /// Build an image from directories, one layer each (bottom first).
    pub fn build(&self, name: &str, dirs: &[PathBuf], config: ImageConfig) -> Result<Image> {
        validate_name(name)?;
        let mut layers = Vec::new();
        for d in dirs {
            layers.push(self.add_dir_layer(d)?);
        }
        let img = Image {
            name: name.into(),
            layers,
            config,
        };
        self.save(&img)?;
        Ok(img)
    }

    pub fn save(&self, img: &Image) -> Result<()> {
        let p = self.image_file(&img.name)?;
        let tmp = p.with_extension("json.tmp");
        layer::write_file(
            &tmp,
            &serde_json::to_vec_pretty(img).expect("image serializes"),
        )?;
        std::fs::rename(&tmp, &p).map_err(io("rename", &p))
    }

    /// Load an image by name.
    pub fn image(&self, name: &str) -> Result<Image> {
        let p = self.image_file(name)?;
        let b = std::fs::read(&p).map_err(|e| {
            Error::Image(format!(
                "no image {name} in store {} ({e})",
                self.root.display()
            ))
        })?;
        serde_json::from_slice(&b).map_err(|e| Error::Image(format!("{}: {e}", p.display())))
    }

    /// All images, sorted by name.
    pub fn images(&self) -> Result<Vec<Image>> {
        let d = self.root.join("images");
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io("read", &d)(e)),
        };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if let Some(name) = n.strip_suffix(".json") {
                out.push(self.image(name)?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Remove an image and every layer no other image uses.
    pub fn remove(&self, name: &str) -> Result<Vec<String>> {
        let img = self.image(name)?;
        let p = self.image_file(name)?;
        std::fs::remove_file(&p).map_err(io("remove", &p))?;
        let still: std::collections::HashSet<String> =
            self.images()?.into_iter().flat_map(|i| i.layers).collect();
        let mut removed = Vec::new();
        for l in img.layers {
            if !still.contains(&l) {
                let d = self.layer_dir(&l)?;
                if d.exists() {
                    std::fs::remove_dir_all(&d).map_err(io("remove", &d))?;
                    removed.push(l);
                }
            }
        }
        Ok(removed)
    }

    /// Digests of every layer in the store (`sha256:<hex>`).
    pub fn layer_digests(&self) -> Result<std::collections::BTreeSet<String>> {
        let d = self.root.join("layers");
        let mut out = std::collections::BTreeSet::new();
        let rd = match std::fs::read_dir(&d) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io("read", &d)(e)),
        };
        for e in rd {
            let e = e.map_err(io("read", &d))?;
            out.insert(format!("sha256:{}", e.file_name().to_string_lossy()));
        }
        Ok(out)
    }

    /// Bytes a layer holds unpacked: the sizes of its regular files and
    /// symlinks (directories and whiteouts count 0).
    pub fn layer_bytes(&self, digest: &str) -> Result<u64> {
        fn walk(p: &Path) -> std::io::Result<u64> {
            let mut n = 0;
            for e in std::fs::read_dir(p)? {
                let e = e?;
                let t = e.file_type()?;
                if t.is_dir() {
                    n += walk(&e.path())?;
                } else if t.is_file() || t.is_symlink() {
                    n += e.metadata()?.len();
                }
            }
            Ok(n)
        }
        let d = self.layer_dir(digest)?;
        walk(&d).map_err(io("read", &d))
    }

    /// The image's layer directories, top first (overlayfs lowerdir order).
    pub fn lowerdirs(&self, name: &str) -> Result<Vec<PathBuf>> {
        let img = self.image(name)?;
        if img.layers.is_empty() {
            return Err(Error::Image(format!("image {name} has no layers")));
        }
        let mut v = Vec::new();
        for l in img.layers.iter().rev() {
            let d = self.layer_dir(l)?;
            if !d.is_dir() {
                return Err(Error::Image(format!(
                    "image {name}: layer {l} missing from {}",
                    d.display()
                )));
            }
            v.push(d);
        }
        Ok(v)
    }
}

/// Mount an image's overlay on `target` in the caller's mount namespace
/// (for peer runtimes, which need a plain root.path). `upper` and `work`
/// are created; unmount with [`unmount`].
pub fn mount_overlay(
    store: &Store,
    name: &str,
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<()> {
    let lowers = store.lowerdirs(name)?;
    for d in [upper, work, target] {
        std::fs::create_dir_all(d).map_err(io("mkdir", d))?;
    }
    let data = overlay_data(&lowers, Some((upper, work)));
    // Why: the container's root is the image's read-only layers plus a
    // private writable layer; overlayfs needs CAP_SYS_ADMIN.
    nix::mount::mount(
        Some("overlay"),
        target,
        Some("overlay"),
        nix::mount::MsFlags::empty(),
        Some(data.as_str()),
    )
    .map_err(|e| Error::Sys {
        op: format!("mount overlay on {} ({data})", target.display()),
        err: e,
    })
}

/// Unmount what [`mount_overlay`] mounted (lazily, so a lingering process
/// cannot keep it busy).
pub fn unmount(target: &Path) -> Result<()> {
    nix::mount::umount2(target, nix::mount::MntFlags::MNT_DETACH).map_err(|e| Error::Sys {
        op: format!("umount {}", target.display()),
        err: e,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_data_orders_and_escapes() {
        let l = vec![PathBuf::from("/s/top"), PathBuf::from("/s/a:b")];
        assert_eq!(overlay_data(&l, None), "lowerdir=/s/top:/s/a\\:b");
        assert_eq!(
            overlay_data(&l[..1], Some((Path::new("/u"), Path::new("/w")))),
            "lowerdir=/s/top,upperdir=/u,workdir=/w"
        );
    }

    #[test]
    fn names_and_digests_are_checked() {
        assert!(validate_name("isobench-workload:1").is_ok());
        assert!(validate_name("../x").is_err());
        assert!(hex_of("sha256:abc").is_err());
        assert!(hex_of(&format!("sha256:{}", "a".repeat(64))).is_ok());
    }

    #[test]
    fn build_is_content_addressed_and_rm_collects_layers() {
        let t = tempfile::tempdir().unwrap();
        let store = Store::open(t.path().join("store")).unwrap();
        let a = t.path().join("a");
        let b = t.path().join("b");
        std::fs::create_dir_all(&a).unwrap();
        std::fs::create_dir_all(&b).unwrap();
        std::fs::write(a.join("f"), "lower").unwrap();
        std::fs::write(b.join("f"), "upper").unwrap();
        let one = store
            .build("one", &[a.clone(), b.clone()], ImageConfig::default())
            .unwrap();
        let two = store
            .build("two", std::slice::from_ref(&a), ImageConfig::default())
            .unwrap();
        assert_eq!(one.layers[0], two.layers[0], "same directory, same layer");
        let lowers = store.lowerdirs("one").unwrap();
        assert_eq!(
            std::fs::read_to_string(lowers[0].join("f")).unwrap(),
            "upper"
        );
        assert_eq!(store.images().unwrap().len(), 2);
        let removed = store.remove("one").unwrap();
        assert_eq!(removed, vec![one.layers[1].clone()], "shared layer kept");
        assert!(store.layer_dir(&one.layers[0]).unwrap().is_dir());
        assert!(store.image("one").is_err());
    }
}
