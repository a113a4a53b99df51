//! Preset sizes for every workload (see [`crate::workload::Preset`]).
//!
//! The quick preset must keep `isobench run --preset quick` under two minutes
//! natively on 2 cores; the emulated (TCG) variant keeps the VM column to a few
//! minutes.

use crate::spec::WorkloadSpec;
use crate::workload::{Preset, Sizing, Workload};

impl WorkloadSpec {
    /// What `isobench-workload` runs for this workload at this size.
    ///
    /// # Panics
    /// For [`Workload::Command`], whose arguments come from the user's
    /// command, not a preset (the plan refuses it without one).
    pub fn for_sizing(workload: Workload, sizing: &Sizing) -> WorkloadSpec {
        WorkloadSpec::parse(workload, &preset_args(workload, sizing))
            .unwrap_or_else(|e| panic!("the {workload} preset does not parse: {e}"))
    }
}

/// Arguments for `isobench-workload` (workload name first).
pub fn preset_args(workload: Workload, sizing: &Sizing) -> Vec<String> {
    let t = sizing.threads.max(1).to_string();
    let mut a: Vec<String> = vec![workload.name().to_string()];
    let mut push = |k: &str, v: String| {
        a.push(format!("--{k}"));
        a.push(v);
    };
    // The gating preset measures quick's work, many times.
    let preset = match sizing.preset {
        Preset::Gate => Preset::Quick,
        p => p,
    };
    match workload {
        Workload::Idle => {}
        // Its arguments come from the user's command (`command::CommandConfig::to_args`).
        Workload::Command => {}
        Workload::Startup => {
            // Idle this long at READY: the host measures the instance's
            // memory (PSS/USS) then, and subtracts the hold from lifecycle_ms.
            push("hold-ms", "250".to_string());
        }
        Workload::Cpu => {
            let (primes, n) = match (preset, sizing.emulated) {
                (Preset::Quick, false) => (200_000, 256),
                (Preset::Quick, true) => (50_000, 128),
                (Preset::Standard, _) => (1_000_000, 512),
                (Preset::Full, _) => (5_000_000, 1024),
                (Preset::Gate, _) => unreachable!("gate uses quick sizes"),
            };
            push("threads", t);
            push("primes-max", primes.to_string());
            push("matrix-n", n.to_string());
        }
        Workload::Membw => {
            // The array size comes from the host (`isobench run` passes
            // --size: 4x the host's LLC, the same in every environment).
            // Under TCG a pass of the 4x-LLC arrays takes about a second.
            let passes = match (preset, sizing.emulated) {
                (Preset::Quick, true) => 3,
                (Preset::Quick, false) => 5,
                (Preset::Standard, _) => 10,
                (Preset::Full, _) => 20,
                (Preset::Gate, _) => unreachable!("gate uses quick sizes"),
            };
            push("threads", t);
            push("passes", passes.to_string());
        }
        Workload::Randacc => {
            let log2 = match (preset, sizing.emulated) {
                (Preset::Quick, false) => 24,
                // 2^22 took ~18 s per guest run under TCG; 2^20 takes ~6 s.
                (Preset::Quick, true) => 20,
                (Preset::Standard, _) => 26,
                (Preset::Full, _) => 28,
                (Preset::Gate, _) => unreachable!("gate uses quick sizes"),
            };
            push("threads", t);
            push("log2-table", log2.to_string());
        }
        Workload::Latency => {
            let max = match (preset, sizing.emulated) {
                (Preset::Quick, false) => "256MiB",
                (Preset::Quick, true) => "64MiB",
                (Preset::Standard, _) => "512MiB",
                (Preset::Full, _) => "1GiB",
                (Preset::Gate, _) => unreachable!("gate uses quick sizes"),
            };
            push("max-size", max.to_string());
            if preset == Preset::Quick {
                // Half the default 2^20 timed loads per size keeps quick short.
                push("loads", (1u64 << 19).to_string());
            }
        }
        Workload::Copyup | Workload::Ovlmount | Workload::Fsmeta | Workload::Layers => {
            filesystem_args(workload, preset, sizing.emulated, &mut push)
        }
        Workload::Fileio => {
            // The file size is the preset's, capped by the plan against the
            // host's memory (`isobench run` passes --file-size); the places
            // come from each environment. Quick keeps the main job short:
            // fsync per random write costs a device round trip each.
            let (size, ops) = match (preset, sizing.emulated) {
                (Preset::Quick, false) => ("32MiB", 300),
                (Preset::Quick, true) => ("16MiB", 200),
                (Preset::Standard, _) => ("256MiB", 2000),
                (Preset::Full, _) => ("1GiB", 10_000),
                (Preset::Gate, _) => unreachable!("gate uses quick sizes"),
            };
            push("file-size", size.to_string());
            push("block", "1MiB".to_string());
            push("rand-ops", ops.to_string());
            // On a memory-backed place (tmpfs, the overlay's tmpfs upper
            // layer) 300 random ops last under 1 ms and a 32 MiB pass about
            // 10 ms: one time slice of another task landed in a phase and
            // divided its rate by up to 40 (natively as in a container:
            // per-repetition ratios of 0.07-6.6 on 3 December). At least
            // this long, every phase averages over the scheduler's slices.
            push("min-time-ms", FILEIO_MIN_TIME_MS.to_string());
        }
    }
    a
}

/// How long each phase of `fileio` lasts at least, ms (every preset; a
/// device place's 300 fsynced writes already take longer).
pub const FILEIO_MIN_TIME_MS: u64 = 200;

/// The sizes of the copy-on-write and layer workloads (claim C7).
fn filesystem_args(
    workload: Workload,
    preset: Preset,
    emulated: bool,
    push: &mut impl FnMut(&str, String),
) {
    match workload {
        Workload::Copyup => {
            let sizes = match preset {
                Preset::Quick => "4KiB,64KiB,1MiB,16MiB",
                _ => "4KiB,16KiB,64KiB,256KiB,1MiB,4MiB,16MiB,64MiB,256MiB",
            };
            push("sizes", sizes.to_string());
        }
        Workload::Ovlmount => {
            let (layers, tries) = match preset {
                Preset::Quick => ("1,2,4,8,16,32,64", 5),
                Preset::Standard => ("1,2,4,8,16,32,64,128,256,500", 10),
                _ => ("1,2,4,8,16,32,64,128,256,500", 20),
            };
            push("layers", layers.to_string());
            push("tries", tries.to_string());
        }
        Workload::Fsmeta => {
            let files = match (preset, emulated) {
                (Preset::Quick, true) => 1000,
                (Preset::Quick, false) => 2000,
                (Preset::Standard, _) => 10_000,
                _ => 50_000,
            };
            push("files", files.to_string());
        }
        Workload::Layers => {
            let size = match preset {
                Preset::Quick => "4MiB",
                _ => "64MiB",
            };
            push("layers", "4".to_string());
            push("layer-size", size.to_string());
        }
        // The others are sized in `preset_args`.
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::args::{parse, Command};

    fn sizings() -> impl Iterator<Item = Sizing> {
        [Preset::Quick, Preset::Standard, Preset::Full, Preset::Gate]
            .into_iter()
            .flat_map(|preset| {
                [false, true].map(|emulated| Sizing {
                    preset,
                    threads: 2,
                    emulated,
                })
            })
    }

    #[test]
    fn preset_arguments_parse() {
        for sizing in sizings() {
            for w in Workload::ALL {
                let spec = WorkloadSpec::for_sizing(w, &sizing);
                assert_eq!(spec.command.workload(), Some(w));
                assert_eq!(spec.workload, w);
            }
        }
    }

    #[test]
    fn arguments_read_back_as_the_same_command_whatever_the_binary_s_cpus() {
        for sizing in sizings() {
            for w in Workload::ALL.into_iter().chain([Workload::Idle]) {
                let spec = WorkloadSpec::for_sizing(w, &sizing);
                let args = spec.to_args();
                assert_eq!(args[0], w.name());
                assert_eq!(parse(&args, 7).unwrap(), spec.command, "{args:?}");
                // The preset's own values are all there.
                // The wire is what the presets wrote, with the page policy
                // and stores the host always appended.
                let given = preset_args(w, &sizing);
                assert_eq!(args[..given.len()], given[..]);
                assert!(
                    args[given.len()..].chunks(2).all(|kv| matches!(
                        [kv[0].as_str(), kv[1].as_str()],
                        ["--stores", "normal"] | ["--pages", "base"]
                    )),
                    "{args:?}"
                );
            }
        }
    }

    /// Every preset, emulated or not, gives fileio's phases the same
    /// minimum time, so that no memory-backed phase is shorter than a
    /// time slice of the host's scheduler.
    #[test]
    fn every_fileio_preset_has_the_minimum_time() {
        for preset in [Preset::Quick, Preset::Standard, Preset::Full] {
            for emulated in [false, true] {
                let sizing = Sizing {
                    preset,
                    threads: 2,
                    emulated,
                };
                let f = WorkloadSpec::for_sizing(Workload::Fileio, &sizing);
                assert!(
                    matches!(&f.command, Command::Fileio(c) if c.min_time_ms == FILEIO_MIN_TIME_MS),
                    "{preset:?} emulated={emulated}: {:?}",
                    f.to_args()
                );
            }
        }
    }

    #[test]
    fn edited_specs_read_back_and_keep_the_wire_form() {
        let sizing = Sizing {
            preset: Preset::Quick,
            threads: 3,
            emulated: false,
        };
        let mut m = WorkloadSpec::for_sizing(Workload::Membw, &sizing);
        m.set_array_bytes(8 << 20);
        m.set_stores(crate::membw::Stores::NonTemporal);
        m.set_pages(crate::alloc::PagePolicy::Huge);
        m.set_passes(2);
        assert_eq!(
            m.to_args().join(" "),
            "membw --threads 3 --passes 2 --size 8388608 --stores nt --pages huge"
        );
        let mut f = WorkloadSpec::for_sizing(Workload::Fileio, &sizing);
        f.cap_file_size(16 << 20);
        assert!(matches!(&f.command, Command::Fileio(c) if c.file_size == 16 << 20));
        assert_eq!(
            f.to_args().join(" "),
            "fileio --file-size 16MiB --block 1MiB --rand-ops 300 --min-time-ms 200"
        );
        let mut c = WorkloadSpec::for_sizing(Workload::Cpu, &sizing);
        c.set_min_time_ms(100);
        assert_eq!(
            c.to_args().join(" "),
            "cpu --threads 3 --primes-max 200000 --matrix-n 256 --min-time-ms 100"
        );
        for spec in [m, f, c] {
            assert_eq!(parse(&spec.to_args(), 1).unwrap(), spec.command);
            let json = serde_json::to_value(&spec).unwrap();
            assert_eq!(json["args"], serde_json::json!(spec.to_args()));
            let back: WorkloadSpec = serde_json::from_value(json).unwrap();
            assert_eq!(back, spec);
        }
        let old = r#"{"workload":"cpu","args":["cpu","--threads","2","--primes-max","1000"]}"#;
        let back: WorkloadSpec = serde_json::from_str(old).unwrap();
        assert!(matches!(back.command, Command::Cpu(c) if c.threads == 2 && c.primes_max == 1000));
    }

    #[test]
    fn antagonists_user_commands_and_help_write_their_arguments() {
        use crate::antagonist::{AntagonistConfig, Kind};
        let a = WorkloadSpec::new(Command::Antagonist(AntagonistConfig {
            kind: Kind::Fork,
            threads: 2,
            size_bytes: None,
            max_procs: 16,
            duration: Some(std::time::Duration::from_millis(500)),
        }));
        assert_eq!(a.workload, Workload::Idle);
        assert_eq!(
            a.to_args().join(" "),
            "antagonist --kind fork --threads 2 --duration-ms 500 --max-procs 16"
        );
        assert_eq!(parse(&a.to_args(), 1).unwrap(), a.command);
        let args: Vec<String> = ["command", "--", "/bin/echo", "a b"]
            .map(String::from)
            .to_vec();
        let u = WorkloadSpec::parse(Workload::Command, &args).unwrap();
        assert_eq!(parse(&u.to_args(), 1).unwrap(), u.command);
        assert_eq!(WorkloadSpec::new(Command::Help).to_args(), ["--help"]);
    }
}
