//! Container state kept under the state root (`--root`, default /run/isorun):
//! `<root>/<id>/state.json` plus the exec fifo that holds the container
//! process between `create` and `start` (OCI runtime spec, "State" and
//! "Lifecycle"; runc's exec.fifo).

use crate::cgroup::Cgroup;
use crate::config::Plan;
use crate::error::{io, Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
pub const EXEC_FIFO: &str = "exec.fifo";

/// Default state root, as runc's /run/runc.
pub const DEFAULT_ROOT: &str = "/run/isorun";

/// The plan kept in the state dir at create, so that `exec` uses the
/// container's config as it was created, whatever becomes of the bundle.
pub const PLAN_FILE: &str = "plan.json";

/// Status of a container, as in the OCI runtime spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Stopped => "stopped",
        })
    }
}

/// What isorun remembers of a container.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct State {
    pub id: String,
    pub bundle: PathBuf,
    /// Host pid of the container process (0 until cloned).
    pub pid: i32,
    /// Its start time (field 22 of `/proc/<pid>/stat`), to tell pid reuse.
    pub start_time: u64,
    pub cgroup: Option<Cgroup>,
    /// Overlay upper/work dirs made for the container (removed on delete).
    pub scratch: Vec<PathBuf>,
    /// RFC 3339 creation time.
    pub created: String,
    pub annotations: BTreeMap<String, String>,
    /// Memory limit, for the OOM report.
    pub memory_limit: Option<i64>,
}

/// The OCI state JSON `isorun state` prints.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OciState {
    pub oci_version: String,
    pub id: String,
    pub status: Status,
    pub pid: i32,
    pub bundle: PathBuf,
    #[serde(skip_serializing_if = "BTreeMap::is_empty", default)]
    pub annotations: BTreeMap<String, String>,
    pub created: String,
}

/// The directory of one container.
pub fn dir(root: &Path, id: &str) -> PathBuf {
    root.join(id)
}

/// Claim `id` by creating its directory: fails if it exists.
pub fn claim(root: &Path, id: &str) -> Result<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    // 0700 as runc: other users may not list the container ids.
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .map_err(io("mkdir", root))?;
    let d = dir(root, id);
    // 0711 as runc: others may traverse to a socket or fifo they were
    // given but not list or read the container's state (claim C6 found
    // a rootless container's state readable by other users on a shared root).
    match std::fs::DirBuilder::new().mode(0o711).create(&d) {
        Ok(()) => Ok(d),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Error::Exists {
            id: id.into(),
            path: d,
        }),
        Err(e) => Err(io("mkdir", &d)(e)),
    }
}

impl State {
    /// Write atomically (temp file + rename).
    pub fn save(&self, root: &Path) -> Result<()> {
        let d = dir(root, &self.id);
        let tmp = d.join(".state.json.tmp");
        let text = serde_json::to_vec(self).expect("state serializes");
        {
            use std::io::Write;
            use std::os::unix::fs::OpenOptionsExt;
            // Readable by its owner only, as runc's state.json.
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(io("write", &tmp))?;
            f.write_all(&text).map_err(io("write", &tmp))?;
        }
        let p = d.join(STATE_FILE);
        std::fs::rename(&tmp, &p).map_err(io("rename", &p))
    }

    /// Load the state of `id`; NotFound if the container does not exist.
    /// A directory without a state file (create killed early) loads as a
    /// state with pid 0, so `delete --force` can remove it.
    pub fn load(root: &Path, id: &str) -> Result<State> {
        crate::config::validate_id(id)?;
        let d = dir(root, id);
        let p = d.join(STATE_FILE);
        match std::fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::MalformedConfig {
                path: p.clone(),
                msg: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if d.is_dir() {
                    Ok(State::empty(id, Path::new("")))
                } else {
                    Err(Error::NotFound {
                        id: id.into(),
                        root: root.into(),
                    })
                }
            }
            Err(e) => Err(io("read", &p)(e)),
        }
    }

    pub fn empty(id: &str, bundle: &Path) -> State {
        State {
            id: id.into(),
            bundle: bundle.into(),
            pid: 0,
            start_time: 0,
            cgroup: None,
            scratch: Vec::new(),
            created: String::new(),
            annotations: BTreeMap::new(),
            memory_limit: None,
        }
    }

    /// The container's status, from the process and the exec fifo.
    pub fn status(&self, root: &Path) -> Status {
        if self.pid <= 0 {
            return Status::Creating;
        }
        if !alive(self.pid, self.start_time) {
            return Status::Stopped;
        }
        if dir(root, &self.id).join(EXEC_FIFO).exists() {
            Status::Created
        } else {
            Status::Running
        }
    }

    pub fn oci(&self, root: &Path) -> OciState {
        let status = self.status(root);
        OciState {
            oci_version: "1.0.2".into(),
            id: self.id.clone(),
            status,
            pid: if status == Status::Stopped {
                0
            } else {
                self.pid
            },
            bundle: self.bundle.clone(),
            annotations: self.annotations.clone(),
            created: self.created.clone(),
        }
    }
}

/// Field 22 (starttime) of `/proc/<pid>/stat`, parsed after the command name.
pub fn parse_start_time(stat: &str) -> Option<u64> {
    let after = &stat[stat.rfind(')')? + 1..];
    // Fields after ")" start at field 3; starttime is field 22.
    after.split_whitespace().nth(19)?.parse().ok()
}

/// PF_EXITING in the flags field of /proc/<pid>/stat (include/linux/sched.h).
const PF_EXITING: u64 = 0x4;

/// Start time of `pid` and whether it is already exiting (its files may be
/// closed while it is still listed); None if gone or a zombie.
pub fn probe(pid: i32) -> Option<(u64, bool)> {
    let s = crate::cgroup::read_proc(std::path::Path::new(&format!("/proc/{pid}/stat"))).ok()?;
    let after = &s[s.rfind(')')? + 1..];
    let mut f = after.split_whitespace();
    let state = f.next()?;
    if state == "Z" || state == "X" {
        return None;
    }
    let flags: u64 = after.split_whitespace().nth(6)?.parse().ok()?;
    Some((parse_start_time(&s)?, flags & PF_EXITING != 0))
}

/// Start time of `pid`, None if it does not exist.
pub fn start_time(pid: i32) -> Option<u64> {
    probe(pid).map(|p| p.0)
}

/// Whether `pid` is still the process we started (and not exiting).
pub fn alive(pid: i32, start: u64) -> bool {
    pid > 0 && probe(pid) == Some((start, false))
}

/// Whether `pid` is the process we started, exiting or not.
pub fn exists(pid: i32, start: u64) -> bool {
    pid > 0 && probe(pid).is_some_and(|p| p.0 == start)
}

/// Now as RFC 3339 (UTC, seconds and nanoseconds), without a date crate.
pub fn now_rfc3339() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = d.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    // Civil from days (Howard Hinnant's algorithm).
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        d.subsec_nanos()
    )
}

/// Ids of all containers under `root`.
pub fn list(root: &Path) -> Result<Vec<String>> {
    let rd = match std::fs::read_dir(root) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io("read", root)(e)),
    };
    let mut ids: Vec<String> = rd
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    ids.sort();
    Ok(ids)
}

/// Keep the container's plan for later `exec`s (owner-only, as state.json).
pub fn save_plan(dir: &Path, plan: &Plan) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let p = dir.join(PLAN_FILE);
    let text = serde_json::to_vec(plan).expect("plan serializes");
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&p)
        .map_err(io("write", &p))?;
    f.write_all(&text).map_err(io("write", &p))
}

/// The plan saved at create; for a container made before plans were kept,
/// the bundle's config.json read again.
pub fn load_plan(root: &Path, st: &State) -> Result<Plan> {
    let p = dir(root, &st.id).join(PLAN_FILE);
    match std::fs::read(&p) {
        Ok(b) => serde_json::from_slice(&b).map_err(|e| Error::MalformedConfig {
            path: p.clone(),
            msg: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::bundle::load(&st.bundle, &st.id)
        }
        Err(e) => Err(io("read", &p)(e)),
    }
}

/// Write `pid` to `path` as runc does: the number alone, no newline,
/// through a temporary file renamed into place (a reader never sees a
/// partial file). A relative path is the caller's.
pub fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| Error::Invalid {
            field: "--pid-file".into(),
            why: format!("{} names no file", path.display()),
        })?
        .to_string_lossy()
        .into_owned();
    let tmp = path.with_file_name(format!(".{name}.{}", std::process::id()));
    std::fs::write(&tmp, pid.to_string()).map_err(io("write", &tmp))?;
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io("rename", path)(e)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn start_time_is_field_22_even_with_odd_names() {
        let stat = "42 (a b) c) S 1 42 42 0 -1 4194560 100 0 0 0 0 0 0 0 20 0 1 0 987654 1000 10";
        assert_eq!(parse_start_time(stat), Some(987654));
    }

    #[test]
    fn own_process_is_alive_and_pid_reuse_is_detected() {
        let me = std::process::id() as i32;
        let st = start_time(me).unwrap();
        assert!(alive(me, st));
        assert!(!alive(me, st + 1));
    }

    #[test]
    fn claim_refuses_duplicates_and_state_round_trips() {
        let t = tempfile::tempdir().unwrap();
        claim(t.path(), "c").unwrap();
        assert!(matches!(claim(t.path(), "c"), Err(Error::Exists { .. })));
        // No state file yet: loads as "creating".
        let s = State::load(t.path(), "c").unwrap();
        assert_eq!(s.status(t.path()), Status::Creating);
        let mut s = State::empty("c", Path::new("/b"));
        s.pid = std::process::id() as i32;
        s.start_time = start_time(s.pid).unwrap();
        s.save(t.path()).unwrap();
        let back = State::load(t.path(), "c").unwrap();
        assert_eq!(back.status(t.path()), Status::Running);
        std::fs::write(t.path().join("c").join(EXEC_FIFO), "").unwrap();
        assert_eq!(back.status(t.path()), Status::Created);
        assert!(matches!(
            State::load(t.path(), "nope"),
            Err(Error::NotFound { .. })
        ));
        assert_eq!(list(t.path()).unwrap(), ["c"]);
    }

    #[test]
    fn a_new_state_root_is_private_to_its_owner() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("a/root");
        claim(&root, "c").unwrap();
        for d in [root.as_path(), root.parent().unwrap()] {
            let mode = std::fs::metadata(d).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o700, "{}", d.display());
        }
        let mode = std::fs::metadata(root.join("c"))
            .unwrap()
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o711);
    }

    #[test]
    fn rfc3339_looks_right() {
        let s = now_rfc3339();
        assert_eq!(s.len(), 30, "{s}");
        assert!(s.starts_with("20") && s.ends_with('Z'));
    }

    #[test]
    fn pid_file_is_the_number_alone_renamed_into_place() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("c.pid");
        std::fs::write(&p, "stale contents").unwrap();
        write_pid_file(&p, 4242).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "4242");
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["c.pid"], "no temporary file left");
        assert!(write_pid_file(std::path::Path::new("/"), 1).is_err());
    }
}
