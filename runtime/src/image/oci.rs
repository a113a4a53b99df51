//! Import of an OCI image layout (OCI image spec, "image-layout.md":
//! `oci-layout`, `index.json`, `blobs/sha256/...`), as written by skopeo or
//! `docker save` of recent Docker: index → manifest → config + layers
//! (tar or tar+gzip), each blob checked against its digest while unpacking.

use super::{layer, Image, ImageConfig, Store};
use crate::error::{Error, Result};
use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};
use std::io::Read;
use std::path::{Path, PathBuf};

const REF_NAME: &str = "org.opencontainers.image.ref.name";

fn blob_path(layout: &Path, d: &Descriptor) -> PathBuf {
    let digest = d.digest();
    layout
        .join("blobs")
        .join(digest.algorithm().as_ref())
        .join(digest.digest())
}

fn err(what: impl std::fmt::Display) -> Error {
    Error::Image(what.to_string())
}

/// The largest index, manifest or image config isorun reads: 4 MiB, as
/// containerd caps manifests and indexes; real ones are a few KiB. The
/// cap bounds the memory a hostile layout can make isorun use.
pub const JSON_MAX_BYTES: u64 = 4 << 20;

/// How deep indexes may nest (an index naming an index ...): real layouts
/// nest once; a hostile one could name itself and loop forever.
pub const MAX_NESTING: usize = 8;

/// Read a JSON document of the layout, refusing one over [`JSON_MAX_BYTES`].
fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let mut text = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(JSON_MAX_BYTES + 1).read_to_end(&mut text))
        .map_err(crate::error::io("read", path))?;
    if text.len() as u64 > JSON_MAX_BYTES {
        return Err(err(format!(
            "{}: larger than isorun's cap of {} MiB",
            path.display(),
            JSON_MAX_BYTES >> 20
        )));
    }
    serde_json::from_slice(&text).map_err(|e| err(format!("{}: {e}", path.display())))
}

/// Pick the manifest of `reference` (or the only/first one).
fn pick_manifest(layout: &Path, reference: Option<&str>) -> Result<Descriptor> {
    let index_path = layout.join("index.json");
    let mut index: ImageIndex = read_json(&index_path)?;
    for _ in 0..MAX_NESTING {
        let ms = index.manifests();
        let chosen = match reference {
            Some(r) => ms
                .iter()
                .find(|m| {
                    m.annotations()
                        .as_ref()
                        .and_then(|a| a.get(REF_NAME))
                        .is_some_and(|n| n == r)
                })
                .or_else(|| (ms.len() == 1).then(|| &ms[0])),
            None => ms.first(),
        }
        .cloned()
        .ok_or_else(|| {
            err(format!(
                "{}: no manifest{}",
                index_path.display(),
                reference.map(|r| format!(" named {r}")).unwrap_or_default()
            ))
        })?;
        match chosen.media_type() {
            MediaType::ImageIndex => {
                // A nested index (multi-platform): prefer linux/amd64.
                let p = blob_path(layout, &chosen);
                index = read_json(&p)?;
                let pick = index.manifests().iter().find(|m| {
                    m.platform().as_ref().is_some_and(|p| {
                        p.os().to_string() == "linux" && p.architecture().to_string() == "amd64"
                    })
                });
                if let Some(m) = pick.cloned() {
                    return Ok(m);
                }
                if reference.is_some() && index.manifests().len() == 1 {
                    return Ok(index.manifests()[0].clone());
                }
                if reference.is_none() {
                    continue;
                }
                return Err(err("nested index has no linux/amd64 manifest"));
            }
            _ => return Ok(chosen),
        }
    }
    Err(err(format!(
        "{}: indexes nest more than {MAX_NESTING} deep",
        index_path.display()
    )))
}

/// Import the image `reference` (or the first) of the layout at `layout`
/// under `name` (default: the reference name).
pub fn import(
    store: &Store,
    layout: &Path,
    reference: Option<&str>,
    name: Option<&str>,
) -> Result<Image> {
    if !layout.join("index.json").is_file() {
        return Err(err(format!(
            "{} is not an OCI image layout (no index.json)",
            layout.display()
        )));
    }
    let desc = pick_manifest(layout, reference)?;
    let name = name
        .map(str::to_string)
        .or_else(|| {
            desc.annotations()
                .as_ref()
                .and_then(|a| a.get(REF_NAME))
                .cloned()
        })
        .or_else(|| reference.map(str::to_string))
        .ok_or_else(|| err("the image has no ref name: give one with --name"))?;
    super::validate_name(&name)?;
    let mpath = blob_path(layout, &desc);
    let manifest: ImageManifest = read_json(&mpath)?;
    let cpath = blob_path(layout, manifest.config());
    let cfg: ImageConfiguration = read_json(&cpath)?;
    let mut layers = Vec::new();
    for l in manifest.layers() {
        let gzip = match l.media_type() {
            MediaType::ImageLayer | MediaType::ImageLayerNonDistributable => false,
            MediaType::ImageLayerGzip | MediaType::ImageLayerNonDistributableGzip => true,
            MediaType::Other(t) if t == "application/vnd.docker.image.rootfs.diff.tar.gzip" => true,
            MediaType::Other(t) if t == "application/vnd.docker.image.rootfs.diff.tar" => false,
            t => {
                return Err(err(format!(
                    "layer {}: media type {t} is not supported (tar and tar+gzip are)",
                    l.digest()
                )))
            }
        };
        let digest = format!(
            "{}:{}",
            l.digest().algorithm().as_ref(),
            l.digest().digest()
        );
        let p = blob_path(layout, l);
        layers.push(store.add_layer_with(&digest, |dest| unpack_blob(&p, gzip, &digest, dest))?);
    }
    let c = cfg.config().clone().unwrap_or_default();
    let img = Image {
        name,
        layers,
        config: ImageConfig {
            env: c.env().clone().unwrap_or_default(),
            entrypoint: c.entrypoint().clone().unwrap_or_default(),
            cmd: c.cmd().clone().unwrap_or_default(),
            working_dir: c.working_dir().clone().unwrap_or_default(),
        },
    };
    store.save(&img)?;
    Ok(img)
}

/// Unpack one layer blob, verifying its digest over the stored bytes.
fn unpack_blob(path: &Path, gzip: bool, digest: &str, dest: &Path) -> Result<()> {
    let f = std::fs::File::open(path).map_err(crate::error::io("open", path))?;
    let mut hr = layer::HashingReader {
        inner: std::io::BufReader::new(f),
        hasher: <sha2::Sha256 as sha2::Digest>::new(),
    };
    {
        let r: Box<dyn Read + '_> = if gzip {
            Box::new(flate2::read::GzDecoder::new(&mut hr))
        } else {
            Box::new(&mut hr)
        };
        layer::unpack(r, dest)?;
    }
    // Hash what the tar reader left unread (padding) before comparing.
    std::io::copy(&mut hr, &mut std::io::sink()).map_err(crate::error::io("read", path))?;
    let got = format!("sha256:{}", hex::encode(sha2::Digest::finalize(hr.hasher)));
    if got != digest {
        return Err(err(format!(
            "blob {} has digest {got}, manifest says {digest}",
            path.display()
        )));
    }
    Ok(())
}
