//! PID-1 mode: `isobench-workload` as the `/init` of a VM guest's initramfs.
//!
//! As init it has no mounts and no argv from the host, so it mounts /proc,
//! /sys and devtmpfs on /dev, reads its arguments from the kernel command line
//! parameter `isobench.args=` (comma-separated, e.g.
//! `isobench.args=membw,--threads,2,--passes,5`), records the guest's uptime
//! at that moment, runs, prints, syncs and reboots with reboot(2). QEMU runs
//! with `-no-reboot` and the guest with `reboot=t`, so the reboot ends QEMU.
//! PID 1 must never exit: the kernel panics when init dies.
//!
//! Parsing (command line, uptime) is pure and unit-tested; the system calls
//! are in [`mount_pseudo_filesystems`] and [`reboot_now`].

use crate::error::{os_failed, Error};
use std::collections::BTreeMap;
use std::ffi::CString;
use std::io::{self, Write};

/// The kernel command line parameter holding the arguments.
pub const ARGS_PARAM: &str = "isobench.args";

/// The kernel command line parameter naming the disk to mount for fileio
/// (`isobench.disk=vda`): PID 1 loads the modules in [`GUEST_MODULES_DIR`],
/// waits for `/dev/<name>` and mounts it (ext4) on [`GUEST_DISK_MOUNT`].
pub const DISK_PARAM: &str = "isobench.disk";
/// Where the initramfs holds kernel modules to load before mounting the disk
/// (`NN-name.ko`, loaded in name order).
pub const GUEST_MODULES_DIR: &str = "/lib/modules/isobench";
/// Where the guest mounts its disk (the fileio `disk` place in a VM).
pub const GUEST_DISK_MOUNT: &str = "/isobench-disk";
/// How long PID 1 waits for the disk's device node after loading modules.
const DISK_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The result `info` key holding the guest's uptime (ms, from /proc/uptime)
/// when the workload started. The host reads it (src/vm/console.rs).
pub const UPTIME_KEY: &str = "guest_uptime_at_init_ms";

/// The result `info` key holding the guest's current clocksource. The host
/// refuses a VM result whose clocksource it cannot trust, or that lacks this
/// key (src/vm/console.rs, `check_clocksource`).
pub const CLOCKSOURCE_KEY: &str = "clocksource";
/// The result `info` key saying why the clocksource could not be read.
pub const CLOCKSOURCE_ERROR_KEY: &str = "clocksource_error";
/// Where the kernel names the clocksource in use (sysfs must be mounted).
pub const CURRENT_CLOCKSOURCE: &str =
    "/sys/devices/system/clocksource/clocksource0/current_clocksource";

/// True when this process is the init of a guest: PID 1 started by the
/// kernel without arguments (they come on the kernel command line). PID 1
/// of a container's PID namespace gets its arguments in argv and runs as
/// an ordinary process.
pub fn is_pid1() -> bool {
    guest_init_mode(std::process::id(), std::env::args_os().len())
}

/// The decision behind [`is_pid1`]: PID 1 with no argument after `argv[0]`.
pub fn guest_init_mode(pid: u32, argc: usize) -> bool {
    pid == 1 && argc <= 1
}

/// Split a kernel command line into parameters the way the kernel does:
/// whitespace separates, double quotes group (and are removed).
pub fn split_cmdline(cmdline: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut any = false;
    for ch in cmdline.chars() {
        match ch {
            '"' => {
                quoted = !quoted;
                any = true;
            }
            c if c.is_whitespace() && !quoted => {
                if any {
                    out.push(std::mem::take(&mut cur));
                    any = false;
                }
            }
            c => {
                cur.push(c);
                any = true;
            }
        }
    }
    if any {
        out.push(cur);
    }
    out
}

/// The workload arguments from a kernel command line: the value of the last
/// `isobench.args=` parameter, split at commas (empty items dropped).
pub fn parse_cmdline(cmdline: &str) -> Result<Vec<String>, Error> {
    let prefix = format!("{ARGS_PARAM}=");
    let value = split_cmdline(cmdline)
        .into_iter()
        .filter_map(|p| p.strip_prefix(&prefix).map(str::to_string))
        .next_back()
        .ok_or_else(|| {
            Error::Protocol(format!(
                "no {prefix}... parameter on the kernel command line"
            ))
        })?;
    let args: Vec<String> = value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if args.is_empty() {
        return Err(Error::Protocol(format!(
            "{prefix} on the kernel command line is empty"
        )));
    }
    Ok(args)
}

/// The disk named by the last `isobench.disk=` parameter, if any: a device
/// name under /dev (letters and digits only).
pub fn parse_disk(cmdline: &str) -> Result<Option<String>, Error> {
    let prefix = format!("{DISK_PARAM}=");
    let Some(v) = split_cmdline(cmdline)
        .into_iter()
        .filter_map(|p| p.strip_prefix(&prefix).map(str::to_string))
        .next_back()
    else {
        return Ok(None);
    };
    if v.is_empty() || !v.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Error::Protocol(format!(
            "{prefix}{v} on the kernel command line is not a device name"
        )));
    }
    Ok(Some(v))
}

/// Load one kernel module file with finit_module(2); "already loaded"
/// (EEXIST) counts as success.
fn load_module(path: &std::path::Path) -> Result<(), Error> {
    let f = std::fs::File::open(path).map_err(|e| Error::io("opening", path, e))?;
    let params = c"";
    use std::os::fd::AsRawFd;
    // SAFETY: a valid open fd, a NUL-terminated empty parameter string and
    // no flags; the kernel reads the module from the fd.
    let r = unsafe { libc::syscall(libc::SYS_finit_module, f.as_raw_fd(), params.as_ptr(), 0) };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EEXIST) {
        Ok(())
    } else {
        Err(Error::io("loading module", path, e))
    }
}

/// Load the modules the initramfs carries (in name order), wait for
/// `/dev/<dev>` and mount it (ext4) on [`GUEST_DISK_MOUNT`]. Returns what
/// it did, for the result's `info`.
pub fn attach_disk(dev: &str) -> Result<String, Error> {
    let t0 = std::time::Instant::now();
    let mut mods: Vec<std::path::PathBuf> = match std::fs::read_dir(GUEST_MODULES_DIR) {
        Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(Error::io("reading", GUEST_MODULES_DIR, e)),
    };
    mods.sort();
    for m in &mods {
        load_module(m)?;
    }
    let node = format!("/dev/{dev}");
    while !std::path::Path::new(&node).exists() {
        if t0.elapsed() > DISK_WAIT {
            return Err(os_failed!(
                "{node} did not appear within {} s after loading {} module(s)",
                DISK_WAIT.as_secs(),
                mods.len()
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    mount_one(&node, GUEST_DISK_MOUNT, "ext4", 0)?;
    Ok(format!(
        "{node} (ext4) on {GUEST_DISK_MOUNT}; {} module(s) loaded, ready after {:.0} ms",
        mods.len(),
        t0.elapsed().as_secs_f64() * 1000.0
    ))
}

/// Milliseconds since boot from the text of /proc/uptime (`12.34 5.67`).
pub fn parse_uptime_ms(s: &str) -> Option<f64> {
    let secs: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(secs * 1000.0)
}

/// Mount one filesystem; "already mounted" (EBUSY) counts as success.
fn mount_one(source: &str, target: &str, fstype: &str, flags: libc::c_ulong) -> Result<(), Error> {
    let _ = std::fs::create_dir_all(target);
    let cstr = |s: &str| CString::new(s).map_err(|_| os_failed!("NUL in '{s}'"));
    let (src, tgt, fs) = (cstr(source)?, cstr(target)?, cstr(fstype)?);
    // SAFETY: the three pointers are NUL-terminated strings that outlive the
    // call; a null data pointer is allowed for these filesystems.
    let r = unsafe {
        libc::mount(
            src.as_ptr(),
            tgt.as_ptr(),
            fs.as_ptr(),
            flags,
            std::ptr::null(),
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EBUSY) {
        Ok(())
    } else {
        Err(os_failed!("mount {fstype} on {target}: {e}"))
    }
}

/// Mount /proc, /sys and devtmpfs on /dev. Returns what failed (the run goes
/// on: /proc/cmdline is the only one that is strictly needed).
pub fn mount_pseudo_filesystems() -> Vec<String> {
    // Why: an initramfs starts with nothing mounted; the arguments are in
    // /proc/cmdline, cache sizes in /sys, and /dev gives the console and null.
    let common = libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC;
    [
        ("proc", "/proc", "proc", common),
        ("sysfs", "/sys", "sysfs", common),
        ("devtmpfs", "/dev", "devtmpfs", libc::MS_NOSUID),
    ]
    .into_iter()
    .filter_map(|(s, t, f, fl)| mount_one(s, t, f, fl).err().map(|e| e.to_string()))
    .collect()
}

/// The clocksource name from the text of `current_clocksource` (`tsc\n`).
pub fn parse_clocksource(s: &str) -> Option<String> {
    let c = s.trim();
    (!c.is_empty() && !c.contains(char::is_whitespace)).then(|| c.to_string())
}

/// Put the clocksource read from `path` into `info` under
/// [`CLOCKSOURCE_KEY`], or why it could not be read under
/// [`CLOCKSOURCE_ERROR_KEY`]. Called after [`mount_pseudo_filesystems`].
pub fn record_clocksource(info: &mut BTreeMap<String, String>, path: &str) {
    match std::fs::read_to_string(path) {
        Ok(text) => match parse_clocksource(&text) {
            Some(c) => {
                info.insert(CLOCKSOURCE_KEY.to_string(), c);
            }
            None => {
                info.insert(
                    CLOCKSOURCE_ERROR_KEY.to_string(),
                    format!("{path}: unexpected content {text:?}"),
                );
            }
        },
        Err(e) => {
            info.insert(CLOCKSOURCE_ERROR_KEY.to_string(), format!("{path}: {e}"));
        }
    }
}

/// Flush everything to the console and disks, then reboot (QEMU exits). Never
/// returns: if reboot(2) fails, power-off is tried, then it waits forever for
/// the host's timeout rather than letting init exit (a kernel panic).
pub fn reboot_now() -> ! {
    let _ = io::stdout().flush();
    let _ = io::stderr().flush();
    // SAFETY: sync(2) takes no arguments and cannot fail.
    unsafe { libc::sync() };
    // Why: RB_AUTOBOOT with the guest's `reboot=t` and QEMU's -no-reboot makes
    // QEMU exit at once; RB_POWER_OFF is the fallback for other setups.
    // SAFETY: reboot(2) with a valid command only returns on failure.
    let r1 = unsafe { libc::reboot(libc::RB_AUTOBOOT) };
    let e1 = io::Error::last_os_error();
    // SAFETY: as above.
    let r2 = unsafe { libc::reboot(libc::RB_POWER_OFF) };
    let e2 = io::Error::last_os_error();
    let _ = writeln!(
        io::stderr(),
        "isobench-workload: reboot failed ({r1}: {e1}), power-off failed ({r2}: {e2}); waiting"
    );
    loop {
        std::thread::sleep(std::time::Duration::from_secs(3600));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_come_from_the_parameter() {
        let cl = "console=ttyS0 reboot=t panic=-1 quiet tsc_early_khz=2994000 isobench.args=membw,--threads,2,--passes,5\n";
        assert_eq!(
            parse_cmdline(cl).unwrap(),
            ["membw", "--threads", "2", "--passes", "5"]
        );
        assert_eq!(parse_cmdline("isobench.args=startup").unwrap(), ["startup"]);
    }

    #[test]
    fn quotes_empty_items_and_repeats() {
        assert_eq!(
            parse_cmdline("quiet isobench.args=\"latency,--max-size,64MiB\" x=1").unwrap(),
            ["latency", "--max-size", "64MiB"]
        );
        assert_eq!(
            parse_cmdline("isobench.args=cpu,,--threads,1,").unwrap(),
            ["cpu", "--threads", "1"]
        );
        // The last one wins, as later parameters override earlier ones.
        assert_eq!(
            parse_cmdline("isobench.args=cpu isobench.args=startup").unwrap(),
            ["startup"]
        );
        assert_eq!(split_cmdline("a \"b c\"  d=\"e f\""), ["a", "b c", "d=e f"]);
    }

    #[test]
    fn missing_or_empty_parameter_is_an_error() {
        assert!(parse_cmdline("console=ttyS0 quiet")
            .unwrap_err()
            .to_string()
            .contains("no isobench.args="));
        assert!(parse_cmdline("isobench.args= quiet")
            .unwrap_err()
            .to_string()
            .contains("empty"));
        assert!(parse_cmdline("isobench.args=,,")
            .unwrap_err()
            .to_string()
            .contains("empty"));
        // A similarly named parameter is not taken.
        assert!(parse_cmdline("xisobench.args=cpu isobench.argsx=cpu").is_err());
    }

    #[test]
    fn guest_init_only_as_pid_1_without_arguments() {
        assert!(guest_init_mode(1, 1));
        assert!(guest_init_mode(1, 0));
        // PID 1 of a container's pid namespace, started with its arguments.
        assert!(!guest_init_mode(1, 3));
        assert!(!guest_init_mode(4242, 1));
    }

    #[test]
    fn clocksource_is_recorded_or_its_absence_explained() {
        assert_eq!(parse_clocksource("tsc\n").as_deref(), Some("tsc"));
        assert_eq!(parse_clocksource(" \n"), None);
        let dir = std::env::temp_dir().join(format!("isobench-cs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("current_clocksource");
        std::fs::write(&file, "tsc-early\n").unwrap();
        let mut info = BTreeMap::new();
        record_clocksource(&mut info, file.to_str().unwrap());
        assert_eq!(info[CLOCKSOURCE_KEY], "tsc-early");
        assert!(!info.contains_key(CLOCKSOURCE_ERROR_KEY));

        let mut info = BTreeMap::new();
        record_clocksource(&mut info, dir.join("absent").to_str().unwrap());
        assert!(!info.contains_key(CLOCKSOURCE_KEY));
        assert!(info[CLOCKSOURCE_ERROR_KEY].contains("absent"), "{info:?}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_disk_parameter_names_a_device() {
        assert_eq!(parse_disk("quiet isobench.args=fileio").unwrap(), None);
        assert_eq!(
            parse_disk("isobench.disk=vda isobench.args=fileio").unwrap(),
            Some("vda".to_string())
        );
        assert!(parse_disk("isobench.disk=../sda").is_err());
        assert!(parse_disk("isobench.disk=").is_err());
    }

    #[test]
    fn uptime_parses() {
        assert_eq!(parse_uptime_ms("2.5 1.02\n"), Some(2500.0));
        assert_eq!(parse_uptime_ms(""), None);
        assert_eq!(parse_uptime_ms("abc 1"), None);
    }
}
