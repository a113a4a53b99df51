//! Runtime spec config "Root", "Mounts" and the Linux file system
//! properties: default file systems, devices and symlinks, masked and
//! read-only paths, rootfs propagation (runtime-tools: mounts,
//! root_readonly_true, linux_devices, linux_masked_paths,
//! linux_readonly_paths, linux_rootfs_propagation, default).

use crate::conformance;
use crate::harness::{Ct, Runtime};
use anyhow::{ensure, Context, Result};

/// Mount point → (fs type, super options, optional fields) from the
/// container's /proc/self/mountinfo.
fn mountinfo(out: &str) -> Vec<(String, String, String, String)> {
    out.lines()
        .filter_map(|l| {
            let (a, b) = l.split_once(" - ")?;
            let f: Vec<&str> = a.split_whitespace().collect();
            let g: Vec<&str> = b.split_whitespace().collect();
            Some((
                f.get(4)?.to_string(),
                g.first()?.to_string(),
                format!("{} {}", f.get(5)?, g.get(2).unwrap_or(&"")),
                f[6..].join(" "),
            ))
        })
        .collect()
}

conformance!(default_file_systems_are_mounted, |rt| {
    let ct = Ct::new(rt, "defaultfs", "cat /proc/self/mountinfo");
    let out = ct.run_ok()?;
    let m = mountinfo(&out);
    for (dest, fs) in [
        ("/proc", "proc"),
        ("/sys", "sysfs"),
        ("/dev", "tmpfs"),
        ("/dev/pts", "devpts"),
        ("/dev/shm", "tmpfs"),
        ("/dev/mqueue", "mqueue"),
    ] {
        ensure!(
            m.iter().any(|e| e.0 == dest && e.1 == fs),
            "{dest} is no {fs}: {out}"
        );
    }
    Ok(())
});

conformance!(mounts_apply_in_order_with_their_options, |rt| {
    let mut ct = Ct::new(rt, "mountopts", "cat /proc/self/mountinfo");
    ct.edit(|v| {
        let m = v["mounts"].as_array_mut().unwrap();
        m.push(
            serde_json::json!({"destination": "/mnt/a", "type": "tmpfs", "source": "tmpfs",
            "options": ["nosuid", "nodev", "noexec", "size=1m"]}),
        );
        m.push(serde_json::json!({"destination": "/mnt/a/b", "type": "tmpfs", "source": "tmpfs"}));
    });
    let out = ct.run_ok()?;
    let m = mountinfo(&out);
    let a = m
        .iter()
        .position(|e| e.0 == "/mnt/a")
        .context("/mnt/a not mounted")?;
    let b = m
        .iter()
        .position(|e| e.0 == "/mnt/a/b")
        .context("/mnt/a/b not mounted")?;
    ensure!(a < b, "mounts out of order");
    let opts = &m[a].2;
    for o in ["nosuid", "nodev", "noexec", "size=1024k"] {
        ensure!(opts.contains(o), "/mnt/a lacks {o}: {opts}");
    }
    Ok(())
});

conformance!(bind_mounts_and_read_only_binds_work, |rt| {
    let mut ct = Ct::new(
        rt,
        "bind",
        "cat /mnt/rw/f; echo w > /mnt/rw/new && echo rw-ok; echo w > /mnt/ro/new2 || echo ro-refused",
    );
    let src = ct.dir.path().join("src");
    std::fs::create_dir_all(&src)?;
    std::fs::write(src.join("f"), "host-file\n")?;
    let s = src.to_str().unwrap().to_string();
    ct.edit(|v| {
        let m = v["mounts"].as_array_mut().unwrap();
        m.push(serde_json::json!({"destination": "/mnt/rw", "type": "bind", "source": s, "options": ["rbind"]}));
        m.push(serde_json::json!({"destination": "/mnt/ro", "type": "bind", "source": s, "options": ["rbind", "ro"]}));
    });
    let out = ct.run_ok()?;
    ensure!(
        out.contains("host-file") && out.contains("rw-ok") && out.contains("ro-refused"),
        "{out:?}"
    );
    ensure!(
        src.join("new").exists() && !src.join("new2").exists(),
        "bind writes wrong"
    );
    Ok(())
});

conformance!(read_only_root_is_read_only, |rt| {
    let mut ct = Ct::new(rt, "rootro", "touch /x && echo wrote || echo refused");
    ct.edit(|v| v["root"]["readonly"] = true.into());
    let out = ct.run_ok()?;
    ensure!(out.trim() == "refused", "{out:?}");
    Ok(())
});

conformance!(default_devices_and_symlinks_exist, |rt| {
    let ct = Ct::new(
        rt,
        "devices",
        "for d in null zero full random urandom tty ptmx; do test -c /dev/$d && echo dev-$d; done; \
         for l in fd stdin stdout stderr; do readlink /dev/$l; done",
    );
    let out = ct.run_ok()?;
    for d in ["null", "zero", "full", "random", "urandom", "tty", "ptmx"] {
        ensure!(
            out.contains(&format!("dev-{d}\n")),
            "/dev/{d} missing: {out}"
        );
    }
    for l in [
        "/proc/self/fd",
        "/proc/self/fd/0",
        "/proc/self/fd/1",
        "/proc/self/fd/2",
    ] {
        ensure!(out.lines().any(|x| x == l), "symlink to {l} missing: {out}");
    }
    Ok(())
});

conformance!(linux_devices_are_created, |rt| {
    let mut ct = Ct::new(rt, "linuxdev", "stat -c '%t:%T %a %u %g %F' /dev/conf-null");
    ct.edit(|v| {
        v["linux"]["devices"] = serde_json::json!([{"path": "/dev/conf-null", "type": "c",
            "major": 1, "minor": 3, "fileMode": 0o640, "uid": 7, "gid": 8}]);
        v["linux"]["resources"] = serde_json::json!({"devices": [{"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]});
    });
    let out = ct.run_ok()?;
    ensure!(
        out.trim() == "1:3 640 7 8 character special file",
        "{out:?}"
    );
    Ok(())
});

conformance!(masked_paths_are_hidden, |rt| {
    let mut ct = Ct::new(rt, "masked", "cat /masked-file; ls /masked-dir; echo end");
    std::fs::write(ct.rootfs().join("masked-file"), "secret\n")?;
    std::fs::create_dir_all(ct.rootfs().join("masked-dir/inner"))?;
    ct.edit(|v| v["linux"]["maskedPaths"] = serde_json::json!(["/masked-file", "/masked-dir"]));
    let out = ct.run_ok()?;
    ensure!(out.trim() == "end", "masked content visible: {out:?}");
    Ok(())
});

conformance!(readonly_paths_are_read_only, |rt| {
    let mut ct = Ct::new(
        rt,
        "ropaths",
        "touch /ro-dir/x && echo wrote || echo refused",
    );
    std::fs::create_dir_all(ct.rootfs().join("ro-dir"))?;
    ct.edit(|v| v["linux"]["readonlyPaths"] = serde_json::json!(["/ro-dir"]));
    let out = ct.run_ok()?;
    ensure!(out.trim() == "refused", "{out:?}");
    Ok(())
});

/// The optional fields of the container's root mount for `prop`.
fn root_propagation(rt: &Runtime, prop: &str) -> Result<String> {
    let mut ct = Ct::new(rt, &format!("prop-{prop}"), "cat /proc/self/mountinfo");
    ct.edit(|v| v["linux"]["rootfsPropagation"] = prop.into());
    let out = ct.run_ok()?;
    let m = mountinfo(&out);
    let root = m.iter().find(|e| e.0 == "/").context("no / in mountinfo")?;
    Ok(root.3.clone())
}

conformance!(rootfs_propagation_shared, |rt| {
    let f = root_propagation(rt, "shared")?;
    ensure!(f.contains("shared:"), "root mount not shared: {f:?}");
    Ok(())
});

conformance!(rootfs_propagation_slave, |rt| {
    let f = root_propagation(rt, "slave")?;
    ensure!(!f.contains("shared:") && !f.contains("unbindable"), "{f:?}");
    Ok(())
});

conformance!(rootfs_propagation_private, |rt| {
    let f = root_propagation(rt, "private")?;
    ensure!(f.is_empty(), "root mount not private: {f:?}");
    Ok(())
});

conformance!(rootfs_propagation_unbindable, |rt| {
    let f = root_propagation(rt, "unbindable")?;
    ensure!(f.contains("unbindable"), "root mount not unbindable: {f:?}");
    Ok(())
});
