//! The virtio-blk disk a guest measures file I/O on (the fileio workload's
//! `disk` place in a VM, claim C8).
//!
//! - The disk is a sparse raw image in the run's scratch directory, made
//!   fresh for every repetition and formatted ext4 on the host by
//!   `mkfs.ext4` (e2fsprogs, part of every Debian system), with lazy inode
//!   table and journal initialisation off so that no background thread of
//!   the guest writes during the measurement.
//! - QEMU attaches it with `cache=none` (O_DIRECT on the host): the guest's
//!   writes and fsyncs reach the host's storage rather than the host's page
//!   cache, which is what a VM's virtual disk costs (libvirt's usual setting
//!   for performance). microvm has no PCI bus, so there it is a
//!   `virtio-blk-device` on virtio-mmio (found through ACPI); on q35 a
//!   `virtio-blk-pci`.
//! - Debian's cloud kernel builds virtio, its transports and virtio-blk as
//!   modules. `scripts/fetch-kernel.sh` keeps them beside the kernel; the
//!   initramfs carries them (only for a plan with fileio, so other
//!   workloads boot the same image as before) and the guest's PID 1 loads
//!   them in order (`isobench_workloads::pid1::attach_disk`).

use crate::env::process::Spawner;
use crate::env::vm::cpio::{Archive, CpioError};
use crate::env::vm::qemu::Machine;
use isobench_workloads::pid1::GUEST_MODULES_DIR;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The modules below `lib/modules/<release>/kernel/drivers/`, dependencies
/// first (modinfo's `depends=`); scripts/fetch-kernel.sh keeps the same list.
pub const VIRTIO_BLK_MODULES: [&str; 7] = [
    "virtio/virtio_ring",
    "virtio/virtio",
    "virtio/virtio_mmio",
    "virtio/virtio_pci_modern_dev",
    "virtio/virtio_pci_legacy_dev",
    "virtio/virtio_pci",
    "block/virtio_blk",
];

/// The disk image's name in the scratch directory.
pub const DISK_IMAGE_NAME: &str = "vm-disk.img";

/// The kernel release in a `vmlinuz-<release>` file name.
fn release_of(kernel: &Path) -> Option<&str> {
    kernel.file_name()?.to_str()?.strip_prefix("vmlinuz-")
}

/// The virtio-blk modules for `kernel`, in load order: from
/// `<kernel's dir>/../lib/modules/<release>/` (the fetch-kernel cache, and
/// `/boot` → `/lib/modules` on a host). An empty list when the kernel's
/// `config-<release>` beside it builds virtio-blk in. Otherwise why a guest
/// of this kernel cannot see a disk, with the fix.
pub fn find_modules(kernel: &Path) -> Result<Vec<PathBuf>, String> {
    let dir = kernel.parent().unwrap_or(Path::new("."));
    let Some(rel) = release_of(kernel) else {
        return Err(format!(
            "the guest kernel {} is not named vmlinuz-<release>, so its virtio-blk modules cannot be found",
            kernel.display()
        ));
    };
    let config = std::fs::read_to_string(dir.join(format!("config-{rel}"))).unwrap_or_default();
    if config.lines().any(|l| l.trim() == "CONFIG_VIRTIO_BLK=y") {
        return Ok(Vec::new());
    }
    let drivers = dir
        .join("..")
        .join("lib/modules")
        .join(rel)
        .join("kernel/drivers");
    let mut found = Vec::new();
    for m in VIRTIO_BLK_MODULES {
        let p = drivers.join(format!("{m}.ko"));
        if !p.is_file() {
            return Err(format!(
                "the guest kernel {} has no {} (virtio-blk is a module there and fileio's disk needs it): run scripts/fetch-kernel.sh --force, which keeps the modules, or give a kernel with CONFIG_VIRTIO_BLK=y",
                kernel.display(),
                p.display()
            ));
        }
        found.push(p);
    }
    Ok(found)
}

/// Put `modules` into the initramfs under [`GUEST_MODULES_DIR`], named
/// `NN-<name>.ko` so that the guest loads them in this order.
pub fn add_modules(a: &mut Archive, modules: &[PathBuf]) -> Result<(), String> {
    let mut path = String::new();
    for part in GUEST_MODULES_DIR.trim_start_matches('/').split('/') {
        path.push('/');
        path.push_str(part);
        if !a.contains(&path) {
            a.dir(&path, 0o755).map_err(|e: CpioError| e.to_string())?;
        }
    }
    for (i, m) in modules.iter().enumerate() {
        let name = m
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| format!("module path {} has no name", m.display()))?;
        let data = std::fs::read(m).map_err(|e| format!("reading {}: {e}", m.display()))?;
        a.file(
            &format!("{GUEST_MODULES_DIR}/{:02}-{name}", i + 1),
            0o644,
            data,
        )
        .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The image size for a fileio file of `file_bytes` written in `block`
/// blocks: the file, one block, and room for ext4's metadata and journal
/// (a quarter more plus 64 MiB), rounded up to MiB.
pub fn image_bytes(file_bytes: u64, block: u64) -> u64 {
    let raw = file_bytes + block + file_bytes / 4 + (64 << 20);
    raw.div_ceil(1 << 20) << 20
}

/// A disk image file, removed when dropped.
#[derive(Debug)]
pub struct DiskImage {
    path: PathBuf,
}

impl DiskImage {
    /// A sparse file of `bytes` at `path`, formatted ext4 by mkfs.ext4
    /// started through `spawner` (the column's).
    pub fn create(spawner: &dyn Spawner, path: &Path, bytes: u64) -> Result<DiskImage, String> {
        let _ = std::fs::remove_file(path);
        let f =
            std::fs::File::create(path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        // Held from here: a failed mkfs leaves no image behind.
        let img = DiskImage {
            path: path.to_path_buf(),
        };
        f.set_len(bytes)
            .map_err(|e| format!("sizing {} to {bytes} bytes: {e}", path.display()))?;
        drop(f);
        let mut mkfs = Command::new("mkfs.ext4");
        mkfs.args([
            "-q",
            "-F",
            "-m",
            "0",
            "-E",
            "lazy_itable_init=0,lazy_journal_init=0",
        ])
        .arg(path);
        let out = spawner
            .output(mkfs)
            .map_err(|e| format!("running mkfs.ext4 (e2fsprogs) on {}: {e}", path.display()))?;
        if !out.status.success() {
            return Err(format!(
                "mkfs.ext4 {} failed ({}): {}",
                path.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(img)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DiskImage {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// QEMU's arguments attaching `image` as the guest's first virtio-blk disk
/// (`/dev/vda`) on `machine`'s virtio transport.
pub fn qemu_args(machine: Machine, image: &Path) -> Vec<OsString> {
    let mut drive = OsString::from("file=");
    drive.push(image);
    drive.push(",format=raw,if=none,id=isobench-disk,cache=none,aio=threads");
    let device = match machine {
        Machine::Microvm => "virtio-blk-device,drive=isobench-disk",
        Machine::Q35 => "virtio-blk-pci,drive=isobench-disk",
    };
    vec!["-drive".into(), drive, "-device".into(), device.into()]
}

/// Whether mkfs.ext4 can be run (fileio in a VM needs it).
pub fn mkfs_available() -> bool {
    crate::locate::find_in_path("mkfs.ext4", std::env::var_os("PATH").as_deref()).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree(with: &[&str], config: &str) -> (tempfile::TempDir, PathBuf) {
        let t = tempfile::tempdir().unwrap();
        let boot = t.path().join("root/boot");
        std::fs::create_dir_all(&boot).unwrap();
        let k = boot.join("vmlinuz-6.1.0-9-cloud-amd64");
        std::fs::write(&k, b"k").unwrap();
        std::fs::write(boot.join("config-6.1.0-9-cloud-amd64"), config).unwrap();
        let drivers = t
            .path()
            .join("root/lib/modules/6.1.0-9-cloud-amd64/kernel/drivers");
        for m in with {
            let p = drivers.join(format!("{m}.ko"));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, m.as_bytes()).unwrap();
        }
        (t, k)
    }

    #[test]
    fn modules_are_found_in_load_order_beside_the_kernel() {
        let (_t, k) = tree(&VIRTIO_BLK_MODULES, "CONFIG_VIRTIO_BLK=m\n");
        let found = find_modules(&k).unwrap();
        let names: Vec<String> = found
            .iter()
            .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names.first().map(String::as_str), Some("virtio_ring"));
        assert_eq!(names.last().map(String::as_str), Some("virtio_blk"));
        assert_eq!(names.len(), VIRTIO_BLK_MODULES.len());
    }

    #[test]
    fn a_missing_module_names_the_file_and_the_fix() {
        let (_t, k) = tree(&VIRTIO_BLK_MODULES[..6], "CONFIG_VIRTIO_BLK=m\n");
        let e = find_modules(&k).unwrap_err();
        assert!(e.contains("virtio_blk.ko"), "{e}");
        assert!(e.contains("fetch-kernel.sh --force"), "{e}");
    }

    #[test]
    fn a_built_in_virtio_blk_needs_no_module() {
        let (_t, k) = tree(&[], "CONFIG_VIRTIO=y\nCONFIG_VIRTIO_BLK=y\n");
        assert_eq!(find_modules(&k).unwrap(), Vec::<PathBuf>::new());
    }

    #[test]
    fn modules_go_into_the_initramfs_numbered_in_order() {
        let (_t, k) = tree(&VIRTIO_BLK_MODULES, "");
        let mods = find_modules(&k).unwrap();
        let mut a = crate::env::vm::initramfs::base_layout().unwrap();
        add_modules(&mut a, &mods).unwrap();
        assert!(a.contains(&format!("{GUEST_MODULES_DIR}/01-virtio_ring.ko")));
        assert!(a.contains(&format!("{GUEST_MODULES_DIR}/07-virtio_blk.ko")));
    }

    #[test]
    fn the_image_holds_the_file_and_ext4_s_overhead() {
        let b = image_bytes(64 << 20, 1 << 20);
        assert!(b >= (64 << 20) + (1 << 20) + (16 << 20) + (64 << 20), "{b}");
        assert_eq!(b % (1 << 20), 0);
    }

    #[test]
    fn the_disk_sits_on_the_machine_s_virtio_transport() {
        let img = Path::new("/run/x/vm-disk.img");
        let m = qemu_args(Machine::Microvm, img);
        assert_eq!(m[3], "virtio-blk-device,drive=isobench-disk");
        assert!(m[1].to_string_lossy().contains("cache=none"));
        assert!(m[1]
            .to_string_lossy()
            .starts_with("file=/run/x/vm-disk.img,"));
        assert_eq!(
            qemu_args(Machine::Q35, img)[3],
            "virtio-blk-pci,drive=isobench-disk"
        );
    }

    #[test]
    fn an_image_is_formatted_and_removed_when_dropped() {
        if !mkfs_available() {
            isobench_testkit::missing("mkfs.ext4 (e2fsprogs) is not installed");
            return;
        }
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join(DISK_IMAGE_NAME);
        let img = DiskImage::create(&crate::env::process::Host, &p, 80 << 20).unwrap();
        let head = std::fs::read(img.path()).unwrap();
        // The ext4 superblock's magic 0xEF53 sits at byte 1024 + 56.
        assert_eq!(&head[1080..1082], &[0x53, 0xef]);
        drop(img);
        assert!(!p.exists());
    }

    /// mkfs.ext4 is started through the column's spawner, not around it.
    #[test]
    fn mkfs_goes_through_the_spawner() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join(DISK_IMAGE_NAME);
        let fake = crate::env::fake::FakeSpawner::printing("");
        let img = DiskImage::create(&fake, &p, 80 << 20).unwrap();
        assert_eq!(fake.methods(), ["output"]);
        let cmd = &fake.commands()[0];
        assert_eq!(cmd[0], "mkfs.ext4");
        assert_eq!(cmd.last().map(String::as_str), p.to_str());
        assert_eq!(std::fs::metadata(img.path()).unwrap().len(), 80 << 20);
    }
}
