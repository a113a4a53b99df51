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
                None => {
                    "not installed (apt-get install runc crun runsc; isorun is built with isobench)"
                        .into()
                }
            },
        });
    }
    let podman = Engine::Podman.locate();
    v.push(Item {
        kind: "environment",
        name: "container through podman (--runtime podman:isorun|podman:runc|podman:crun)".into(),
        usable: podman.is_some(),
        detail: match podman {
            Some(p) => p.display().to_string(),
            None => "not installed (apt-get install podman conmon)".into(),
        },
    });
    let docker_down = crate::env::docker::daemon_unavailable();
    v.push(Item {
        kind: "environment",
        name: "container through docker (--runtime docker:runc|docker:isorun)".into(),
        usable: docker_down.is_none(),
        detail: docker_down.unwrap_or_else(|| {
            "daemon answers (docker:isorun registers isorun in daemon.json for the run)".into()
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
    for kind in ["workload", "environment"] {
        println!("{kind}s:");
        for i in items.iter().filter(|i| i.kind == kind) {
            println!(
                "  {:<20} {:<8} {}",
                i.name,
                if i.usable { "usable" } else { "UNUSABLE" },
                i.detail
            );
        }
    }
    Ok(0)
}
