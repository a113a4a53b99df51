//! A fake environment for tests without root: the one test double of the
//! orchestrator's `Environment` and `Instance` traits.
//!
//! The traits live in the orchestrator crate, and its unit tests build
//! that crate anew (a dependency of this crate would be another copy whose
//! traits the tests' types do not implement). So the double is a macro:
//! [`fake_env!`](macro@crate::fake_env) expands, in the crate that names itself
//! as its argument (`crate` in the orchestrator's own tests, `isobench` in
//! an integration test), to `FakeEnv` and `FakeInstance` implementing that
//! crate's `env::Environment` and `env::Instance`.
//!
//! What the fake does:
//! - every launch is recorded (its arguments and limits) and counted live
//!   until stopped; instances stop on drop;
//! - an instance is READY after 5 ms, except launch `fail_ready_at`
//!   (1-based), whose READY never comes;
//! - `wait` ends the instance with a valid result: an antagonist (`args[0]
//!   == "antagonist"`) a `rate` of 500 Mops/s, a victim pinned to CPUs 10
//!   `gflops`, any other 20 (launch `fail_wait_at` fails instead);
//! - `stop_output` prints an antagonist's progress line at 500 Mops/s (100
//!   from antagonist launch `weak_from` on, 0-based);
//! - each instance's footprint is 2 MiB PSS, 1 MiB USS, one pid;
//! - `cannot_run` answers from `cannot`, `emulated` from its field, and
//!   `cleanup` counts itself in `cleaned`.

/// Define `FakeEnv` and `FakeInstance` for the crate `$root` (see the
/// module documentation).
#[macro_export]
macro_rules! fake_env {
    ($root:tt) => {
        /// An environment of fake instances (`isobench_testkit::fake_env`).
        pub struct FakeEnv {
            pub id: String,
            pub kind: $root::env::EnvKind,
            pub live: std::sync::Arc<std::sync::atomic::AtomicUsize>,
            /// Every launch: its arguments and limits.
            pub launches: std::sync::Mutex<Vec<(Vec<String>, $root::env::Limits)>>,
            /// Launch number (1-based) whose READY never comes.
            pub fail_ready_at: Option<usize>,
            /// Launch number whose `wait` fails.
            pub fail_wait_at: Option<usize>,
            /// Antagonist launches so far, and from which one on (0-based)
            /// an antagonist reaches only a fifth of its usual rate.
            pub antagonists: std::sync::atomic::AtomicUsize,
            pub weak_from: Option<usize>,
            /// Workloads it cannot run, and why.
            pub cannot: std::collections::BTreeMap<isobench_workloads::Workload, String>,
            pub emulated: bool,
            /// Calls of `cleanup`.
            pub cleaned: std::sync::Arc<std::sync::atomic::AtomicUsize>,
        }

        impl Default for FakeEnv {
            fn default() -> FakeEnv {
                FakeEnv {
                    id: "container-fake".into(),
                    kind: $root::env::EnvKind::Container,
                    live: Default::default(),
                    launches: Default::default(),
                    fail_ready_at: None,
                    fail_wait_at: None,
                    antagonists: Default::default(),
                    weak_from: None,
                    cannot: Default::default(),
                    emulated: false,
                    cleaned: Default::default(),
                }
            }
        }

        /// One live fake instance.
        pub struct FakeInstance {
            live: std::sync::Arc<std::sync::atomic::AtomicUsize>,
            stopped: bool,
            ready: bool,
            wait_ok: bool,
            args: Vec<String>,
            pinned: bool,
            rate: f64,
        }

        impl FakeInstance {
            fn stop_once(&mut self) {
                if !self.stopped {
                    self.stopped = true;
                    self.live.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                }
            }
        }

        impl $root::env::Instance for FakeInstance {
            fn wait_ready(
                &mut self,
                _t: std::time::Duration,
            ) -> anyhow::Result<std::time::Duration> {
                if self.ready {
                    Ok(std::time::Duration::from_millis(5))
                } else {
                    anyhow::bail!("no READY")
                }
            }
            fn pids(&self) -> std::collections::BTreeSet<i32> {
                std::collections::BTreeSet::from([1])
            }
            fn memory(&self) -> Option<$root::env::footprint::Footprint> {
                Some($root::env::footprint::Footprint {
                    pss_kib: 2048,
                    uss_kib: 1024,
                    rss_kib: 4096,
                    pids: vec![1],
                })
            }
            fn stop(&mut self) -> anyhow::Result<()> {
                self.stop_once();
                Ok(())
            }
            fn wait_line(&mut self, marker: &str, _t: std::time::Duration) -> anyhow::Result<()> {
                assert_eq!(marker, isobench_workloads::antagonist::PROGRESS_MARKER);
                Ok(())
            }
            fn stop_output(mut self: Box<Self>) -> anyhow::Result<String> {
                self.stop_once();
                if !self.wait_ok {
                    anyhow::bail!("the antagonist crashed");
                }
                let p = isobench_workloads::antagonist::Progress {
                    kind: isobench_workloads::antagonist::Kind::Cpu,
                    elapsed_s: 1.0,
                    ops: (self.rate * 1e6) as u64,
                    rate: self.rate,
                    failures: 0,
                };
                Ok(format!("ISOBENCH-READY\n{}\n", p.to_line()))
            }
            fn wait(
                mut self: Box<Self>,
                _t: std::time::Duration,
            ) -> anyhow::Result<$root::env::RunOutcome> {
                self.stop_once();
                if !self.wait_ok {
                    anyhow::bail!("the workload crashed");
                }
                let antagonist = self.args.first().map(String::as_str) == Some("antagonist");
                let (metric, unit, value) = if antagonist {
                    ("rate", "Mops/s", 500.0)
                } else if self.pinned {
                    ("gflops", "GFLOP/s", 10.0)
                } else {
                    ("gflops", "GFLOP/s", 20.0)
                };
                Ok($root::env::RunOutcome {
                    result: isobench_workloads::WorkloadResult {
                        workload: self.args.first().cloned().unwrap_or_default(),
                        params: std::collections::BTreeMap::from([(
                            "threads".to_string(),
                            serde_json::json!(2),
                        )]),
                        valid: true,
                        metrics: std::collections::BTreeMap::from([(metric.to_string(), value)]),
                        units: std::collections::BTreeMap::from([(
                            metric.to_string(),
                            unit.to_string(),
                        )]),
                        directions: std::collections::BTreeMap::new(),
                        aliases: std::collections::BTreeMap::new(),
                        info: std::collections::BTreeMap::new(),
                        error: None,
                        elapsed_s: 0.001,
                    },
                    first_instruction: Some(std::time::Duration::from_millis(1)),
                    lifecycle: std::time::Duration::from_millis(2),
                    extra_ms: std::collections::BTreeMap::new(),
                    footprint: None,
                })
            }
        }

        impl Drop for FakeInstance {
            fn drop(&mut self) {
                self.stop_once();
            }
        }

        impl $root::env::Environment for FakeEnv {
            fn kind(&self) -> $root::env::EnvKind {
                self.kind
            }
            fn id(&self) -> String {
                self.id.clone()
            }
            fn detail(&self) -> std::collections::BTreeMap<String, String> {
                std::collections::BTreeMap::new()
            }
            fn emulated(&self) -> bool {
                self.emulated
            }
            fn cannot_run(&self, w: isobench_workloads::Workload) -> Option<String> {
                self.cannot.get(&w).cloned()
            }
            fn prepare(&mut self, _c: &$root::env::EnvContext) -> anyhow::Result<()> {
                Ok(())
            }
            fn launch_with(
                &self,
                spec: &isobench_workloads::WorkloadSpec,
                _t: std::time::Duration,
                limits: &$root::env::Limits,
            ) -> anyhow::Result<Box<dyn $root::env::Instance>> {
                use std::sync::atomic::Ordering;
                let mut l = self.launches.lock().unwrap();
                l.push((spec.to_args(), limits.clone()));
                let n = l.len();
                self.live.fetch_add(1, Ordering::SeqCst);
                let mut rate = 500.0;
                if spec.to_args().first().map(String::as_str) == Some("antagonist") {
                    let k = self.antagonists.fetch_add(1, Ordering::SeqCst);
                    if self.weak_from.is_some_and(|w| k >= w) {
                        rate = 100.0;
                    }
                }
                Ok(Box::new(FakeInstance {
                    live: std::sync::Arc::clone(&self.live),
                    stopped: false,
                    ready: self.fail_ready_at != Some(n),
                    wait_ok: self.fail_wait_at != Some(n),
                    args: spec.to_args(),
                    pinned: limits.cpus.is_some(),
                    rate,
                }))
            }
            fn cleanup(&mut self) -> anyhow::Result<()> {
                self.cleaned
                    .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                Ok(())
            }
        }
    };
}
