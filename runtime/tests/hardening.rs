//! Escape-class defects of issue 19, each driven through the real `isorun`
//! binary, rootful and (where the attack applies) rootless: the unchanged
//! id (uid/gid 4294967295), a cwd through a leaked directory fd
//! (CVE-2024-21626), masking from an image's fake /dev/null
//! (CVE-2025-31133), readonlyPaths that dropped nosuid/nodev/noexec, net
//! sysctls written into the host's network namespace, a world-readable
//! state root and non-proc mounts on or under /proc; and the mounts now
//! made on fds (crate::mountfd): read-only binds and root.readonly keep
//! nosuid/nodev, the cgroup view is the container's own and read-only.
//! Each defect's test fails on the code before the fix.

mod common;
use common::{can_run, text, Rig};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// A rootful rig and, where users can be made here, a rootless one.
fn rigs(name: &str, script: &str) -> Vec<Rig> {
    let mut v = Vec::new();
    if !can_run() {
        return v;
    }
    v.push(Rig::new(name, script));
    if let Some(r) = Rig::rootless(&format!("{name}-rl"), script) {
        v.push(r);
    }
    v
}

/// Lines of stderr that are errors (not the rootless note about cgroups).
fn error_lines(se: &str) -> Vec<&str> {
    se.lines()
        .filter(|l| !l.contains("rootless: cgroups"))
        .collect()
}

/// The run failed with exactly one error line containing every `needle`,
/// and left nothing behind.
fn assert_refused(rig: &Rig, out: &std::process::Output, needles: &[&str]) {
    let se = text(&out.stderr);
    assert!(!out.status.success(), "ran: {}\n{se}", text(&out.stdout));
    let errors = error_lines(&se);
    assert_eq!(errors.len(), 1, "one error line: {se}");
    for n in needles {
        assert!(errors[0].contains(n), "{n:?} not in: {se}");
    }
    rig.assert_clean();
}

/// A "host" directory outside the rootfs holding one marker file.
fn host_dir(rig: &Rig) -> PathBuf {
    let h = rig.dir.path().join("host");
    std::fs::create_dir_all(&h).unwrap();
    std::fs::write(h.join("marker"), "host-marker").unwrap();
    rig.regive();
    h
}

#[test]
fn uid_and_gid_4294967295_are_refused_not_run_as_root() {
    for rig in rigs("h-uid", "") {
        for (key, field) in [("uid", "process.user.uid"), ("gid", "process.user.gid")] {
            rig.config(
                |v| v["process"]["user"][key] = serde_json::json!(4294967295u32),
                "echo ran as $(id -u):$(id -g)",
            );
            let out = rig.run();
            assert!(!text(&out.stdout).contains("ran"), "{}", text(&out.stdout));
            assert_refused(&rig, &out, &[field, "4294967295"]);
        }
    }
}

#[test]
fn cwd_through_a_leaked_directory_fd_does_not_reach_the_host() {
    use std::os::fd::AsRawFd;
    use std::os::unix::process::CommandExt;
    const LEAKED: i32 = 42;
    for rig in rigs("h-cwd", "") {
        let host = host_dir(&rig);
        rig.config(
            |v| v["process"]["cwd"] = serde_json::json!(format!("/proc/self/fd/{LEAKED}")),
            "cat marker; echo cwd=$(pwd)",
        );
        let dir = std::fs::File::open(&host).unwrap();
        let raw = dir.as_raw_fd();
        let mut cmd = rig.cmd();
        cmd.arg("run").arg("--bundle").arg(&rig.bundle).arg(&rig.id);
        // SAFETY: dup2 is async-signal-safe; it leaks the directory as fd
        // 42 without close-on-exec, as a careless caller would.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(raw, LEAKED) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let out = cmd.output().unwrap();
        drop(dir);
        assert!(
            !text(&out.stdout).contains("host-marker"),
            "the container read the host directory: {}",
            text(&out.stdout)
        );
        assert_refused(&rig, &out, &["process.cwd", "/proc/self/fd/42"]);
        // The same cwd that exists inside the container is fine.
        rig.config(|_| {}, "echo cwd=$(pwd)");
        let out = rig.run();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout).trim(), "cwd=/");
    }
}

#[test]
fn masking_refuses_an_image_dev_null_that_is_not_the_null_device() {
    for rig in rigs("h-null", "") {
        // The image brings its own /dev (no /dev tmpfs in the config) whose
        // "null" is a symlink to a writable file: masking from it would put
        // that file over /proc/keys and the other masked files.
        let rootfs = rig.bundle.join("rootfs");
        std::fs::create_dir_all(rootfs.join("etc")).unwrap();
        std::fs::write(rootfs.join("etc/target"), "TARGET\n").unwrap();
        std::os::unix::fs::symlink("/etc/target", rootfs.join("dev/null")).unwrap();
        rig.regive();
        rig.config(
            |v| {
                let m = v["mounts"].as_array_mut().unwrap();
                m.retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev"));
                let masked = v["linux"]["maskedPaths"].as_array().unwrap();
                assert!(masked.iter().any(|p| p == "/proc/keys"), "{masked:?}");
            },
            "cat /proc/keys; echo ran",
        );
        let out = rig.run();
        assert!(
            !text(&out.stdout).contains("TARGET"),
            "a masked path shows the image's file: {}",
            text(&out.stdout)
        );
        assert_refused(&rig, &out, &["/dev/null", "not the null device"]);
        // The real null device (the default /dev tmpfs) masks as before.
        rig.config(|_| {}, "cat /proc/keys; echo ran");
        let out = rig.run();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "ran\n");
    }
}

/// The per-mount options (field 6) of each mountinfo line whose mount
/// point (field 5) is `at`.
fn mount_options<'a>(mountinfo: &'a str, at: &str) -> Vec<&'a str> {
    mountinfo
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(' ').collect();
            (f.get(4) == Some(&at)).then(|| f[5])
        })
        .collect()
}

#[test]
fn readonly_paths_keep_nosuid_nodev_noexec() {
    for rig in rigs("h-ro", "") {
        rig.config(
            |v| {
                // /proc itself nosuid, nodev, noexec; /proc/sys must stay so
                // when it is made read-only.
                v["mounts"][0]["options"] = serde_json::json!(["nosuid", "nodev", "noexec"]);
                assert_eq!(v["mounts"][0]["destination"], "/proc");
                let ro = v["linux"]["readonlyPaths"].as_array().unwrap();
                assert!(ro.iter().any(|p| p == "/proc/sys"), "{ro:?}");
                assert!(ro.iter().any(|p| p == "/proc/sysrq-trigger"), "{ro:?}");
            },
            "cat /proc/self/mountinfo",
        );
        let out = rig.run();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let mi = text(&out.stdout);
        // (a kernel without CONFIG_MAGIC_SYSRQ has no sysrq-trigger)
        let present = ["/proc/sys", "/proc/sysrq-trigger"]
            .into_iter()
            .filter(|p| std::path::Path::new(p).exists());
        for at in present {
            let opts = mount_options(&mi, at);
            assert!(!opts.is_empty(), "no mount at {at}:\n{mi}");
            for o in opts {
                let o: Vec<&str> = o.split(',').collect();
                for want in ["ro", "nosuid", "nodev", "noexec"] {
                    assert!(o.contains(&want), "{at}: {want} missing in {o:?}");
                }
            }
        }
        rig.assert_clean();
    }
}

/// Restores a sysctl file's value when dropped (a failing test must not
/// leave the host changed).
struct Restore(PathBuf, String);
impl Drop for Restore {
    fn drop(&mut self) {
        if std::fs::read_to_string(&self.0).ok().as_deref() != Some(self.1.as_str()) {
            let _ = std::fs::write(&self.0, &self.1);
        }
    }
}

#[test]
fn net_sysctls_are_refused_in_the_hosts_network_namespace_joined_by_path() {
    // Rootful only: a rootless caller cannot join the host's network
    // namespace at all (setns needs CAP_SYS_ADMIN over its user namespace).
    if !can_run() {
        return;
    }
    let file = PathBuf::from("/proc/sys/net/ipv4/ping_group_range");
    let host = std::fs::read_to_string(&file).unwrap();
    let _restore = Restore(file.clone(), host.clone());
    // A value different from the host's, so a write would show.
    let want = if host.split_whitespace().eq(["1", "0"]) {
        "0 0"
    } else {
        "1 0"
    };
    let rig = Rig::new("h-netns", "");
    let path = format!("/proc/{}/ns/net", std::process::id());
    rig.config(
        |v| {
            let ns = v["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "network");
            ns.push(serde_json::json!({"type": "network", "path": path}));
            v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ping_group_range": want});
        },
        "cat /proc/sys/net/ipv4/ping_group_range",
    );
    let out = rig.run();
    let after = std::fs::read_to_string(&file).unwrap();
    assert_eq!(after, host, "the host's value changed");
    assert_refused(
        &rig,
        &out,
        &[
            "linux.sysctl.net.ipv4.ping_group_range",
            "host's network namespace",
        ],
    );
    // Joined by path but not the host's: the value is set in that one.
    let other = std::process::Command::new("unshare")
        .args(["--net", "sleep", "30"])
        .spawn()
        .unwrap();
    let mut other = scopeguard(other);
    let npath = format!("/proc/{}/ns/net", other.0.id());
    // unshare execs sleep once the namespace is made; wait for that.
    let mine = std::fs::read_link("/proc/self/ns/net").unwrap();
    for _ in 0..500 {
        if std::fs::read_link(&npath).is_ok_and(|l| l != mine) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    rig.config(
        |v| {
            let ns = v["linux"]["namespaces"].as_array_mut().unwrap();
            ns.retain(|n| n["type"] != "network");
            ns.push(serde_json::json!({"type": "network", "path": npath}));
            v["linux"]["sysctl"] = serde_json::json!({"net.ipv4.ping_group_range": want});
        },
        "cat /proc/sys/net/ipv4/ping_group_range",
    );
    let out = rig.run();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).split_whitespace().collect::<Vec<_>>(),
        want.split_whitespace().collect::<Vec<_>>()
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), host);
    let _ = other.0.kill();
    let _ = other.0.wait();
    other.1 = false;
    rig.assert_clean();
}

/// A child killed and reaped on drop unless disarmed.
struct Guard(std::process::Child, bool);
impl Drop for Guard {
    fn drop(&mut self) {
        if self.1 {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}
fn scopeguard(c: std::process::Child) -> Guard {
    Guard(c, true)
}

#[test]
fn a_new_state_root_is_private_to_its_owner() {
    for rig in rigs("h-root", "true") {
        assert!(!rig.root.exists());
        let out = rig.run();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let mode = std::fs::metadata(&rig.root).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "state root {}", rig.root.display());
        rig.assert_clean();
    }
}

#[test]
fn non_proc_mounts_on_or_under_proc_are_refused() {
    for rig in rigs("h-procm", "") {
        let src = rig.dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(rig.dir.path().join("cpuinfo"), "fake cpuinfo\n").unwrap();
        // /pr is a symlink to /proc in the image: resolved, it is /proc.
        std::os::unix::fs::symlink("/proc", rig.bundle.join("rootfs/pr")).unwrap();
        rig.regive();
        let src_s = src.display().to_string();
        let cases = [
            (
                serde_json::json!({"destination": "/proc/sys", "type": "tmpfs", "source": "tmpfs"}),
                "inside /proc",
            ),
            (
                serde_json::json!({"destination": "/proc", "type": "bind", "source": src_s, "options": ["rbind"]}),
                "only a proc file system",
            ),
            (
                serde_json::json!({"destination": "/pr", "type": "tmpfs", "source": "tmpfs"}),
                "only a proc file system",
            ),
            (
                serde_json::json!({"destination": "/pr/sys/kernel", "type": "tmpfs", "source": "tmpfs"}),
                "inside /proc",
            ),
        ];
        for (m, why) in cases {
            let dest = m["destination"].as_str().unwrap().to_string();
            rig.config(|v| v["mounts"].as_array_mut().unwrap().push(m), "echo ran");
            let out = rig.run();
            assert!(!text(&out.stdout).contains("ran"), "{dest}");
            assert_refused(&rig, &out, &[&format!("mounts ({dest})"), why]);
        }
        // lxcfs's files may be bound over.
        let cpu = rig.dir.path().join("cpuinfo").display().to_string();
        rig.config(
            |v| {
                v["mounts"].as_array_mut().unwrap().push(serde_json::json!(
                    {"destination": "/proc/cpuinfo", "type": "bind", "source": cpu, "options": ["bind", "ro"]}));
            },
            "cat /proc/cpuinfo",
        );
        let out = rig.run();
        assert!(out.status.success(), "{}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "fake cpuinfo\n");
        rig.assert_clean();
    }
}

#[test]
fn bind_flags_and_propagation_apply_to_the_attached_mount() {
    // ro and noexec are set on the detached clone, rprivate on the same
    // mount after it is attached under a tmpfs mounted just before. The
    // source lives on a nosuid,nodev mount: the bind keeps both (the old
    // MS_REMOUNT with the config's flags alone dropped them).
    for rig in rigs("h-bind", "") {
        let src = rig.dir.path().join("src");
        std::fs::create_dir_all(&src).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            &src,
            Some("tmpfs"),
            nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
            Some("mode=755"),
        )
        .unwrap();
        let guard = Unmount(src.clone());
        rig.regive();
        let src_s = src.display().to_string();
        rig.config(
            |v| {
                let m = v["mounts"].as_array_mut().unwrap();
                m.push(
                    serde_json::json!({"destination": "/data", "type": "tmpfs", "source": "tmpfs",
                    "options": ["nosuid", "nodev", "mode=755"]}),
                );
                m.push(
                    serde_json::json!({"destination": "/data/b", "type": "bind", "source": src_s,
                    "options": ["rbind", "ro", "noexec", "rprivate"]}),
                );
            },
            "cat /proc/self/mountinfo; if touch /data/b/x 2>/dev/null; then echo wrote; fi",
        );
        let out = rig.run();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let so = text(&out.stdout);
        assert!(!so.contains("wrote"), "{so}");
        let opts = mount_options(&so, "/data/b");
        assert_eq!(opts.len(), 1, "{so}");
        for want in ["ro", "noexec", "nosuid", "nodev"] {
            assert!(opts[0].split(',').any(|o| o == want), "{want}: {opts:?}");
        }
        drop(guard);
        rig.assert_clean();
    }
}

#[test]
fn the_cgroup_view_is_the_containers_own_and_read_only() {
    // Mounted on fds (a tmpfs made detached, its per-hierarchy directories
    // made and opened in it, each bind attached onto such an fd); here,
    // what the container sees of it.
    for rig in rigs("h-cgv", "") {
        let rootless = rig.user.is_some();
        rig.config(
            |v| {
                v["mounts"].as_array_mut().unwrap().push(serde_json::json!(
                    {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
                     "options": ["ro", "nosuid", "nodev", "noexec"]}));
            },
            "cat /proc/self/mountinfo; echo ==; ls /sys/fs/cgroup; echo ==; \
             if [ -e /sys/fs/cgroup/cgroup.procs ]; then ls /sys/fs/cgroup; \
             else for d in /sys/fs/cgroup/*; do ls $d; break; done; fi; echo ==; \
             if touch /sys/fs/cgroup/x 2>/dev/null; then echo writable; fi",
        );
        let out = rig.run();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let so = text(&out.stdout);
        let parts: Vec<&str> = so.split("==\n").collect();
        assert_eq!(parts.len(), 4, "{so}");
        assert!(!parts[3].contains("writable"), "{so}");
        let views: Vec<&str> = parts[0]
            .lines()
            .filter_map(|l| {
                let f: Vec<&str> = l.split(' ').collect();
                f[4].starts_with("/sys/fs/cgroup").then(|| f[5])
            })
            .collect();
        assert!(!views.is_empty(), "{so}");
        for o in views {
            for want in ["ro", "nosuid", "nodev", "noexec"] {
                assert!(o.split(',').any(|x| x == want), "{want} missing: {so}");
            }
        }
        if rootless {
            continue; // its cgroups may not be delegated: the view may be empty
        }
        // The container's own cgroup (v2, or v1's first hierarchy joined:
        // devices alone for this bundle, which sets no limit): its files,
        // none of the host's siblings (the `isorun` parent is the host's).
        let own = parts[2];
        assert!(own.lines().any(|l| l == "cgroup.procs"), "{so}");
        assert!(!own.lines().any(|l| l == "isorun"), "{so}");
        rig.assert_clean();
    }
}

/// Unmounts (lazily) on drop: a failing test leaves no mount on the host.
struct Unmount(PathBuf);
impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH);
    }
}

#[test]
fn a_read_only_root_keeps_the_roots_nosuid_and_nodev() {
    // root.readonly used to remount "/" with MS_RDONLY alone, which drops
    // nosuid and nodev of the file system the rootfs lives on (and fails
    // rootless, where those flags are locked).
    for rig in rigs("h-rootro", "") {
        let rootfs = rig.dir.path().join("nosuid-rootfs");
        std::fs::create_dir_all(&rootfs).unwrap();
        nix::mount::mount(
            Some("tmpfs"),
            &rootfs,
            Some("tmpfs"),
            nix::mount::MsFlags::MS_NOSUID | nix::mount::MsFlags::MS_NODEV,
            Some("mode=755"),
        )
        .unwrap();
        let guard = Unmount(rootfs.clone());
        common::install_busybox(&rootfs);
        rig.regive();
        let root_s = rootfs.display().to_string();
        rig.config(
            |v| v["root"] = serde_json::json!({"path": root_s, "readonly": true}),
            "cat /proc/self/mountinfo; if touch /x 2>/dev/null; then echo wrote; fi",
        );
        let out = rig.run();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let so = text(&out.stdout);
        assert!(!so.contains("wrote"), "{so}");
        let opts = mount_options(&so, "/");
        assert_eq!(opts.len(), 1, "{so}");
        let o: Vec<&str> = opts[0].split(',').collect();
        for want in ["ro", "nosuid", "nodev"] {
            assert!(o.contains(&want), "{want} missing in {o:?}");
        }
        drop(guard);
        rig.assert_clean();
    }
}
