//! Pure pieces of the VM environment: initramfs (cpio newc) writing, guest
//! kernel lookup, QEMU command lines, serial console parsing, accelerator
//! choice, vCPU pinning (a pure plan and the one call that applies it).
//! Nothing here starts QEMU; `crate::env::vm` does, using these.

pub mod accel;
pub mod console;
pub mod cpio;
pub mod disk;
pub mod initramfs;
pub mod kernel;
pub mod memory;
pub mod pin;
pub mod qemu;
