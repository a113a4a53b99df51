//! Compiles the C reference kernels (c/stream.c, c/randacc.c) twice: with
//! `gcc -O3` and with `gcc -O3 -march=native`, into distinct symbols
//! (`isobench_c_o3_*`, `isobench_c_native_*`), for benches/vs_c.rs.

fn main() {
    for (prefix, native) in [("o3", false), ("native", true)] {
        let mut b = cc::Build::new();
        b.file("c/stream.c")
            .file("c/randacc.c")
            .include("c")
            .opt_level(3)
            .define("PREFIX", prefix)
            .flag("-pthread")
            .flag("-std=gnu11")
            .warnings(true);
        if native {
            b.flag("-march=native");
        }
        b.compile(&format!("isobench_c_{prefix}"));
    }
    println!("cargo:rustc-link-lib=pthread");
    println!("cargo:rustc-link-lib=m");
    for f in ["c/stream.c", "c/randacc.c", "c/common.h"] {
        println!("cargo:rerun-if-changed={f}");
    }
}
