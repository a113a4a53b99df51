//! Pure pieces of the VM environment: initramfs (cpio newc) writing, guest
//! kernel lookup, QEMU command lines, serial console parsing, accelerator
//! choice. (Being built: see issue 4.)
