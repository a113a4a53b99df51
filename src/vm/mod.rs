//! Pure pieces of the VM environment: initramfs (cpio newc) writing, guest
//! kernel lookup, QEMU command lines, serial console parsing, accelerator
//! choice. Nothing here starts QEMU; `crate::env::vm` does, using these.

pub mod accel;
pub mod console;
pub mod cpio;
pub mod initramfs;
pub mod kernel;
pub mod memory;
pub mod qemu;
