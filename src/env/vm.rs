//! The `vm` environment: QEMU with a guest kernel and an initramfs whose
//! `/init` is the workload binary. (Being built: see issue 4.)
