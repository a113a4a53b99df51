//! Builds isorun's cgroup v2 device program (bpf/devices.bpf.c) into an eBPF
//! object with clang, for the aya crate to load (src/cgroup/devices.rs).
//! Without a clang that targets bpf the crate still builds, with the cfg
//! `isorun_no_bpf`: containers on cgroup v2 are then refused (fail closed),
//! and a cargo warning says so.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rustc-check-cfg=cfg(isorun_no_bpf)");
    println!("cargo::rerun-if-changed=bpf/devices.bpf.c");
    println!("cargo::rerun-if-env-changed=CLANG");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"))
        .join("devices.bpf.o");
    // <asm/types.h>, which linux/bpf.h includes, lives in Debian's
    // multiarch include directory, which clang -target bpf does not search.
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".into());
    let multiarch = format!("/usr/include/{arch}-linux-gnu");
    let mut clangs: Vec<String> = std::env::var("CLANG").into_iter().collect();
    clangs.push("clang".into());
    clangs.extend((14..=21).rev().map(|v| format!("clang-{v}")));
    for clang in &clangs {
        let ok = Command::new(clang)
            .args(["-g", "-O2", "-target", "bpf", "-I", &multiarch, "-c"])
            .arg("bpf/devices.bpf.c")
            .arg("-o")
            .arg(&out)
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            return;
        }
    }
    println!(
        "cargo::warning=no clang that targets bpf was found (tried {}): isorun is built \
         without its cgroup v2 device program and refuses containers on cgroup v2 \
         (apt-get install clang)",
        clangs.join(", ")
    );
    println!("cargo::rustc-cfg=isorun_no_bpf");
}
