//! `isobench list`: workloads and environments, and whether each is usable on
//! this host (and if not, what to do about it).

use crate::cli::ListArgs;
use crate::env::column::{Engine, Runtime};
use crate::env::vm::vmm::Vmm;
use crate::locate::which;
use crate::{host, locate};
use anyhow::Result;
use isobench_workloads::Workload;
use serde::Serialize;
use std::path::Path;

#[derive(Serialize)]
struct Item {
    kind: &'static str,
    name: String,
    usable: bool,
    detail: String,
}

fn items() -> Vec<Item> {
    let mut v = Vec::new();
    let bin = locate::workload_bin(None);
    for w in Workload::ALL {
        v.push(Item {
            kind: "workload",
            name: w.name().into(),
            usable: bin.is_ok(),
            detail: w.describe().into(),
        });
    }
    v.push(Item {
        kind: "environment",
        name: "native".into(),
        usable: bin.is_ok(),
        detail: match &bin {
            Ok(p) => format!("workload binary {}", p.display()),
            Err(e) => format!("{e:#}"),
        },
    });
    let isorun = locate::isorun_bin();
    for rt in Runtime::NAMED {
        let path = rt.locate(&isorun);
        v.push(Item {
            kind: "environment",
            name: format!("{} ({})", rt.class(), rt.name()),
            usable: path.is_some(),
            detail: match path {
                Some(p) if rt == Runtime::Runsc => match isorun::peer::runsc_platform() {
                    Ok((platform, _)) => {
                        format!("{}; platform {platform}, --network=none", p.display())
                    }
                    Err(e) => format!("{}; {e}", p.display()),
                },
                Some(p) => p.display().to_string(),
                None => format!("not installed ({})", rt.install_hint()),
            },
        });
    }
    let podman = Engine::Podman.locate();
    v.push(Item {
        kind: "environment",
        name: "container through podman".into(),
        usable: podman.is_some(),
        detail: match podman {
            Some(p) => format!(
                "{}; --runtime podman:isorun|podman:runc|podman:crun",
                p.display()
            ),
            None => "not installed (apt-get install podman conmon)".into(),
        },
    });
    let docker_down = crate::env::docker::daemon_unavailable();
    v.push(Item {
        kind: "environment",
        name: "container through docker".into(),
        usable: docker_down.is_none(),
        detail: docker_down.unwrap_or_else(|| {
            "daemon answers; --runtime docker:runc|docker:isorun (docker:isorun registers isorun in daemon.json for the run)".into()
        }),
    });
    let h = host::kvm(Path::new("/"));
    let vmm: &dyn Vmm = &crate::env::vm::qemu::QEMU;
    let qemu = which(vmm.program());
    let accel = match (h.device, h.module.as_deref()) {
        (true, Some("kvm_pvm")) => {
            "tcg (KVM is kvm_pvm, on which stock guest kernels hang)".to_string()
        }
        (true, m) => format!(
            "kvm when a test boot succeeds ({}), else tcg",
            m.unwrap_or("module unknown")
        ),
        (false, _) => "tcg (no /dev/kvm)".to_string(),
    };
    v.push(Item {
        kind: "environment",
        name: "vm".into(),
        usable: qemu.is_some(),
        detail: match qemu {
            Some(q) => format!("{}; accelerator: {accel}", q.display()),
            None => format!(
                "{} not installed (apt-get install qemu-system-x86)",
                vmm.program()
            ),
        },
    });
    v
}

pub fn run(a: &ListArgs) -> Result<i32> {
    let items = items();
    if a.json {
        println!("{}", serde_json::to_string_pretty(&items)?);
        return Ok(0);
    }
    print!("{}", table(&items));
    Ok(0)
}

/// The items as text: a table per kind, its columns as wide as their
/// widest entry (a long label such as "sandbox: user-space kernel
/// (runsc)" widens its table instead of pushing its row out of line).
fn table(items: &[Item]) -> String {
    let usable = |i: &Item| if i.usable { "usable" } else { "UNUSABLE" };
    let mut s = String::new();
    for kind in ["workload", "environment"] {
        let rows: Vec<&Item> = items.iter().filter(|i| i.kind == kind).collect();
        let name_w = rows
            .iter()
            .map(|i| i.name.chars().count())
            .max()
            .unwrap_or(0);
        let usable_w = rows.iter().map(|i| usable(i).len()).max().unwrap_or(0);
        s.push_str(&format!("{kind}s:\n"));
        for i in rows {
            s.push_str(&format!(
                "  {:<name_w$}  {:<usable_w$}  {}\n",
                i.name,
                usable(i),
                i.detail
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(kind: &'static str, name: &str, usable: bool) -> Item {
        Item {
            kind,
            name: name.into(),
            usable,
            detail: "detail".into(),
        }
    }

    /// Every row of a table starts its status and detail at the same
    /// column, however long a label is.
    #[test]
    fn the_columns_are_as_wide_as_their_content() {
        let t = table(&[
            item("workload", "cpu", true),
            item("environment", "native", true),
            item("environment", "sandbox: user-space kernel (runsc)", false),
            item("environment", "container (isorun)", true),
        ]);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines[0], "workloads:");
        assert_eq!(lines[1], "  cpu  usable  detail");
        let envs = &lines[3..];
        let status: Vec<usize> = envs
            .iter()
            .map(|l| l.find("usable").or_else(|| l.find("UNUSABLE")).unwrap())
            .collect();
        assert!(status.iter().all(|&c| c == status[0]), "{t}");
        let detail: Vec<usize> = envs.iter().map(|l| l.find("detail").unwrap()).collect();
        assert!(detail.iter().all(|&c| c == detail[0]), "{t}");
        assert!(envs[1].starts_with("  sandbox: user-space kernel (runsc)  UNUSABLE  detail"));
    }
}
