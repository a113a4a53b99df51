//! User namespaces (user_namespaces(7); OCI runtime spec "User namespace
//! mappings" and runc's rootless containers): which host ids the container's
//! ids map to, and writing those maps for the container process.
//!
//! An unprivileged caller may map only its own uid and gid (the kernel
//! requires `setgroups` to be denied first for the gid map); more ids need
//! the setuid helpers newuidmap(1)/newgidmap(1) of shadow's `uidmap`
//! package, which check them against /etc/subuid and /etc/subgid. Root
//! writes any map itself. The pure parts (parsing /etc/subuid, building the
//! default maps, choosing how to write) are tested without privileges.

use crate::error::{io, Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// One line of a uid_map or gid_map: `size` ids from `container` inside
/// map to `host` outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdMap {
    pub container: u32,
    pub host: u32,
    pub size: u32,
}

/// The uid and gid maps of a container's user namespace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mappings {
    pub uid: Vec<IdMap>,
    pub gid: Vec<IdMap>,
}

/// A subordinate id range: `(start, count)`.
pub type Range = (u32, u32);

/// Subordinate ids of a user: `(start, count)` from /etc/subuid-style text
/// (`name:start:count` or `uid:start:count` lines, subuid(5)). The first
/// matching line wins, as runc's user package reads it.
pub fn subordinate(text: &str, name: Option<&str>, id: u32) -> Option<(u32, u32)> {
    text.lines().find_map(|l| {
        let mut f = l.trim().split(':');
        let (who, start, count) = (f.next()?, f.next()?, f.next()?);
        let ours = Some(who) == name || who.parse::<u32>().ok() == Some(id);
        if !ours {
            return None;
        }
        let (s, c) = (start.parse().ok()?, count.parse::<u32>().ok()?);
        (c > 0).then_some((s, c))
    })
}

/// The default maps of a rootless container: the caller's id as 0 and, when
/// the host grants a subordinate range, that range as 1..=count (as podman
/// and rootlesskit map it).
pub fn default_maps(
    uid: u32,
    gid: u32,
    sub_uid: Option<(u32, u32)>,
    sub_gid: Option<(u32, u32)>,
) -> Mappings {
    let one = |own: u32, sub: Option<(u32, u32)>| {
        let mut v = vec![IdMap {
            container: 0,
            host: own,
            size: 1,
        }];
        if let Some((start, count)) = sub {
            v.push(IdMap {
                container: 1,
                host: start,
                size: count,
            });
        }
        v
    };
    Mappings {
        uid: one(uid, sub_uid),
        gid: one(gid, sub_gid),
    }
}

/// The caller's subordinate ranges, when /etc/subuid and /etc/subgid grant
/// some and the newuidmap/newgidmap helpers that apply them are installed.
pub fn caller_subordinates() -> (Option<Range>, Option<Range>) {
    let uid = nix::unistd::geteuid();
    if helper("newuidmap").is_none() || helper("newgidmap").is_none() {
        return (None, None);
    }
    let name = nix::unistd::User::from_uid(uid)
        .ok()
        .flatten()
        .map(|u| u.name);
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    // subgid(5) is keyed by user name (or uid), like subuid.
    (
        subordinate(&read("/etc/subuid"), name.as_deref(), uid.as_raw()),
        subordinate(&read("/etc/subgid"), name.as_deref(), uid.as_raw()),
    )
}

/// The default maps for the calling user.
pub fn caller_default() -> Mappings {
    let (su, sg) = caller_subordinates();
    default_maps(
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
        su,
        sg,
    )
}

/// `linux.uidMappings`/`gidMappings` of a config; None when both are
/// absent or empty, an error when only one is given.
pub fn from_linux(linux: &oci_spec::runtime::Linux) -> Result<Option<Mappings>> {
    let conv = |v: &Option<Vec<oci_spec::runtime::LinuxIdMapping>>| -> Vec<IdMap> {
        v.iter()
            .flatten()
            .map(|m| IdMap {
                container: m.container_id(),
                host: m.host_id(),
                size: m.size(),
            })
            .collect()
    };
    let m = Mappings {
        uid: conv(linux.uid_mappings()),
        gid: conv(linux.gid_mappings()),
    };
    if m.uid.is_empty() && m.gid.is_empty() {
        return Ok(None);
    }
    validate(&m)?;
    Ok(Some(m))
}

/// uid_map/gid_map text: one `container host size` line per map.
pub fn map_text(m: &[IdMap]) -> String {
    m.iter()
        .map(|l| format!("{} {} {}\n", l.container, l.host, l.size))
        .collect()
}

/// Whether container id `id` is mapped.
pub fn maps_id(m: &[IdMap], id: u32) -> bool {
    m.iter()
        .any(|l| id >= l.container && (id - l.container) < l.size)
}

/// How a map gets written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Writer {
    /// Written into /proc/PID/{uid,gid}_map directly (root, or an
    /// unprivileged caller mapping only its own id).
    Direct,
    /// Through the setuid newuidmap/newgidmap helper.
    Helper,
}

/// Choose the writer: `own` is the caller's effective id of that kind.
pub fn writer(root: bool, own: u32, m: &[IdMap]) -> Writer {
    if root || (m.len() == 1 && m[0].host == own && m[0].size == 1) {
        Writer::Direct
    } else {
        Writer::Helper
    }
}

/// Check the maps against what the kernel accepts (at most 340 lines,
/// nonzero sizes, no overlapping ranges inside), naming the field.
pub fn validate(m: &Mappings) -> Result<()> {
    for (field, v) in [("linux.uidMappings", &m.uid), ("linux.gidMappings", &m.gid)] {
        let bad = |why: String| Error::Invalid {
            field: field.into(),
            why,
        };
        if v.is_empty() {
            return Err(bad(
                "empty: a user namespace needs at least one mapping".into()
            ));
        }
        if v.len() > 340 {
            return Err(bad(format!(
                "{} lines; the kernel takes at most 340",
                v.len()
            )));
        }
        for (i, a) in v.iter().enumerate() {
            if a.size == 0 {
                return Err(bad(format!("[{i}] has size 0")));
            }
            if a.container.checked_add(a.size).is_none() || a.host.checked_add(a.size).is_none() {
                return Err(bad(format!("[{i}] overflows 32-bit ids")));
            }
            for (j, b) in v.iter().enumerate().skip(i + 1) {
                let overlap = |x: u32, xs: u32, y: u32, ys: u32| x < y + ys && y < x + xs;
                if overlap(a.container, a.size, b.container, b.size) {
                    return Err(bad(format!("[{i}] and [{j}] overlap inside the container")));
                }
            }
        }
    }
    Ok(())
}

/// Find a helper program on the usual paths.
pub fn helper(name: &str) -> Option<std::path::PathBuf> {
    ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"]
        .iter()
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}

/// Write the maps of the user namespace of `pid` (a child that waits for
/// them). Runs in the runtime, before the child goes on.
pub fn apply(pid: i32, m: &Mappings) -> Result<()> {
    let root = nix::unistd::geteuid().is_root();
    let uw = writer(root, nix::unistd::geteuid().as_raw(), &m.uid);
    let gw = writer(root, nix::unistd::getegid().as_raw(), &m.gid);
    // Why: the kernel lets an unprivileged process write its own gid map
    // only after setgroups(2) is denied in the namespace, so no one can drop
    // a group to escape a negative (deny) permission.
    if gw == Writer::Direct && !root {
        let p = format!("/proc/{pid}/setgroups");
        std::fs::write(&p, "deny").map_err(io("write", &p))?;
    }
    write_map(pid, "uid_map", "newuidmap", uw, &m.uid)?;
    write_map(pid, "gid_map", "newgidmap", gw, &m.gid)
}

fn write_map(pid: i32, file: &str, tool: &str, w: Writer, m: &[IdMap]) -> Result<()> {
    match w {
        Writer::Direct => {
            let p = format!("/proc/{pid}/{file}");
            std::fs::write(&p, map_text(m)).map_err(|e| {
                Error::Init(format!(
                    "writing {p} ({}): {e}",
                    map_text(m).trim().replace('\n', ", ")
                ))
            })
        }
        Writer::Helper => {
            let Some(bin) = helper(tool) else {
                return Err(Error::Init(format!(
                    "mapping more than the caller's own id needs {tool} (apt-get install uidmap) and a range in /etc/sub{}",
                    if file == "uid_map" { "uid" } else { "gid" }
                )));
            };
            let mut c = std::process::Command::new(&bin);
            c.arg(pid.to_string());
            for l in m {
                c.args([
                    l.container.to_string(),
                    l.host.to_string(),
                    l.size.to_string(),
                ]);
            }
            let out = c.output().map_err(io("run", &bin))?;
            if out.status.success() {
                Ok(())
            } else {
                Err(Error::Init(format!(
                    "{tool} {pid} {} failed ({}): {} (is the range granted in /etc/sub{}?)",
                    map_text(m).trim().replace('\n', " "),
                    out.status,
                    String::from_utf8_lossy(&out.stderr).trim(),
                    if file == "uid_map" { "uid" } else { "gid" }
                )))
            }
        }
    }
}

/// Whether this process may not call setgroups(2) (its user namespace
/// denies it, as a rootless namespace without newgidmap does).
pub fn setgroups_denied() -> bool {
    std::fs::read_to_string("/proc/self/setgroups").is_ok_and(|s| s.trim() == "deny")
}

/// In the container process: block until the runtime has written the id
/// maps (one byte), or fail if the runtime gave up (EOF).
pub fn wait_for_maps(fd: &std::os::fd::OwnedFd) -> Result<()> {
    let mut b = [0u8; 1];
    loop {
        match nix::unistd::read(std::os::fd::AsFd::as_fd(fd), &mut b) {
            Ok(1) => return Ok(()),
            Err(nix::errno::Errno::EINTR) => continue,
            _ => {
                return Err(Error::Init(
                    "the runtime did not write the user namespace maps".into(),
                ))
            }
        }
    }
}

/// In the container process, maps written: take uid and gid 0 of the
/// namespace (its kernel ids become the mapped host ids, as runc does), and
/// drop the host's supplementary groups where setgroups(2) is allowed.
pub fn become_root() -> Result<()> {
    let zero_g = nix::unistd::Gid::from_raw(0);
    let zero_u = nix::unistd::Uid::from_raw(0);
    if !setgroups_denied() {
        nix::unistd::setgroups(&[])
            .map_err(crate::error::sys("setgroups in the user namespace"))?;
    }
    nix::unistd::setresgid(zero_g, zero_g, zero_g).map_err(crate::error::sys(
        "setresgid 0 in the user namespace (is gid 0 mapped?)",
    ))?;
    nix::unistd::setresuid(zero_u, zero_u, zero_u).map_err(crate::error::sys(
        "setresuid 0 in the user namespace (is uid 0 mapped?)",
    ))?;
    // A change of credentials clears the parent-death signal: set it again.
    // SAFETY: prctl with integer arguments only.
    unsafe {
        libc::prctl(
            libc::PR_SET_PDEATHSIG,
            libc::SIGKILL as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    Ok(())
}

/// Whether isorun runs without root (effective uid not 0).
pub fn is_rootless() -> bool {
    !nix::unistd::geteuid().is_root()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subordinate_ranges_by_name_or_uid() {
        let t = "alice:100000:65536\n1001:200000:1000\nbob:0:0\n";
        assert_eq!(subordinate(t, Some("alice"), 1000), Some((100000, 65536)));
        assert_eq!(subordinate(t, Some("carol"), 1001), Some((200000, 1000)));
        assert_eq!(
            subordinate(t, Some("bob"), 1002),
            None,
            "count 0 grants nothing"
        );
        assert_eq!(subordinate("", Some("alice"), 1000), None);
    }

    #[test]
    fn default_maps_put_the_caller_at_zero_and_the_range_after() {
        let m = default_maps(1000, 1000, Some((100000, 65536)), None);
        assert_eq!(map_text(&m.uid), "0 1000 1\n1 100000 65536\n");
        assert_eq!(map_text(&m.gid), "0 1000 1\n");
        assert!(maps_id(&m.uid, 5) && !maps_id(&m.gid, 5));
        validate(&m).unwrap();
    }

    #[test]
    fn only_the_own_id_is_written_directly_without_root() {
        let own = [IdMap {
            container: 0,
            host: 1000,
            size: 1,
        }];
        assert_eq!(writer(false, 1000, &own), Writer::Direct);
        assert_eq!(writer(false, 1001, &own), Writer::Helper);
        let more = default_maps(1000, 1000, Some((100000, 10)), None).uid;
        assert_eq!(writer(false, 1000, &more), Writer::Helper);
        assert_eq!(writer(true, 0, &more), Writer::Direct);
    }

    #[test]
    fn bad_maps_are_named() {
        let mut m = default_maps(1000, 1000, None, None);
        m.uid.push(IdMap {
            container: 0,
            host: 5,
            size: 2,
        });
        let e = validate(&m).unwrap_err().to_string();
        assert!(
            e.contains("linux.uidMappings") && e.contains("overlap"),
            "{e}"
        );
        m.uid.clear();
        assert!(validate(&m).unwrap_err().to_string().contains("empty"));
    }
}
