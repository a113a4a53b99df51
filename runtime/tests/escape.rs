//! Symlink escapes through mount destinations, rootful and rootless: a
//! rootfs whose /proc, /dev, a bind destination or a file destination is a
//! symlink to a host path (a temp directory outside the rootfs standing for
//! the host) must never mount on, or create anything in, that host path;
//! the container either fails cleanly or gets the mount inside its rootfs
//! (the symlink resolved as if the rootfs were `/`: openat2
//! RESOLVE_IN_ROOT).

mod common;
use common::{can_run, text, Rig};
use std::path::{Path, PathBuf};

/// A "host" directory outside the rootfs holding one marker file.
fn host_dir(rig: &Rig) -> PathBuf {
    let h = rig.dir.path().join("host");
    std::fs::create_dir_all(&h).unwrap();
    std::fs::write(h.join("marker"), "host").unwrap();
    h
}

fn entries(d: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(d)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn assert_host_untouched(rig: &Rig, host: &Path) {
    assert_eq!(
        entries(host),
        ["marker"],
        "something was made in the host path"
    );
    assert_eq!(
        std::fs::read_to_string(host.join("marker")).unwrap(),
        "host"
    );
    let mi = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(
        !mi.contains(&host.display().to_string()),
        "a mount on the host path"
    );
    rig.assert_clean();
}

/// The same rootfs path as `host`, inside the rootfs (so that a symlink to
/// `host` resolved inside the root finds a directory).
fn inside_copy(rig: &Rig, host: &Path) -> PathBuf {
    let p = rig
        .bundle
        .join("rootfs")
        .join(host.strip_prefix("/").unwrap());
    std::fs::create_dir_all(&p).unwrap();
    p
}

fn rigs(name: &str) -> Vec<Rig> {
    let mut v = Vec::new();
    if !can_run() {
        return v;
    }
    v.push(Rig::new(name, ""));
    if let Some(r) = Rig::rootless(&format!("{name}-rl"), "") {
        v.push(r);
    }
    v
}

#[test]
fn proc_symlinked_to_a_host_path_is_mounted_inside_the_rootfs() {
    for rig in rigs("esc-proc") {
        let host = host_dir(&rig);
        inside_copy(&rig, &host);
        let proc_ = rig.bundle.join("rootfs/proc");
        std::fs::remove_dir(&proc_).unwrap();
        std::os::unix::fs::symlink(&host, &proc_).unwrap();
        rig.config(|_| {}, "cat /proc/1/stat >/dev/null && echo proc-inside");
        let out = rig.run();
        let so = text(&out.stdout);
        assert!(out.status.success(), "{so}\n{}", text(&out.stderr));
        assert!(so.contains("proc-inside"), "{so}");
        assert_host_untouched(&rig, &host);
    }
}

#[test]
fn dev_symlinked_to_a_host_path_fails_cleanly() {
    for rig in rigs("esc-dev") {
        let host = host_dir(&rig);
        // No copy inside: the link dangles inside the rootfs.
        let dev = rig.bundle.join("rootfs/dev");
        std::fs::remove_dir(&dev).unwrap();
        std::os::unix::fs::symlink(&host, &dev).unwrap();
        rig.config(|_| {}, "echo ran");
        let out = rig.run();
        let se = text(&out.stderr);
        assert!(!out.status.success(), "{}", text(&out.stdout));
        assert!(se.contains("dangling symlink"), "{se}");
        let errors = se.lines().filter(|l| !l.contains("rootless: cgroups"));
        assert_eq!(errors.count(), 1, "one line: {se}");
        assert_host_untouched(&rig, &host);
    }
}

#[test]
fn a_bind_destination_symlinked_to_a_host_path_stays_inside() {
    for rig in rigs("esc-bind") {
        let host = host_dir(&rig);
        inside_copy(&rig, &host);
        let src = rig.dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("from-source"), "payload").unwrap();
        // /mnt → host; the bind goes to /mnt/sub/data.
        std::os::unix::fs::symlink(&host, rig.bundle.join("rootfs/mnt")).unwrap();
        // A file destination whose name is a link to a host file that does
        // not exist yet: creating it must not create the host file.
        std::fs::create_dir_all(rig.bundle.join("rootfs/etc")).unwrap();
        let victim = host.join("victim");
        std::os::unix::fs::symlink(&victim, rig.bundle.join("rootfs/etc/hosts")).unwrap();
        let src_s = src.display().to_string();
        rig.config(
            |v| {
                let m = v["mounts"].as_array_mut().unwrap();
                m.push(serde_json::json!({"destination": "/mnt/sub/data", "type": "bind", "source": src_s, "options": ["rbind", "ro"]}));
            },
            "cat /mnt/sub/data/from-source",
        );
        let out = rig.run();
        let so = text(&out.stdout);
        assert!(out.status.success(), "{so}\n{}", text(&out.stderr));
        assert_eq!(so.trim(), "payload");
        assert_host_untouched(&rig, &host);
        // The file destination: a clean failure, no host file made.
        let file = rig.dir.path().join("hosts-src");
        std::fs::write(&file, "127.0.0.1 x\n").unwrap();
        let file_s = file.display().to_string();
        rig.config(
            |v| {
                let m = v["mounts"].as_array_mut().unwrap();
                m.push(serde_json::json!({"destination": "/etc/hosts", "type": "bind", "source": file_s, "options": ["bind"]}));
            },
            "cat /etc/hosts",
        );
        let out = rig.run();
        let se = text(&out.stderr);
        assert!(!out.status.success(), "{}", text(&out.stdout));
        assert!(se.contains("/etc/hosts"), "{se}");
        assert!(!victim.exists(), "the host file was created");
        assert_host_untouched(&rig, &host);
    }
}
