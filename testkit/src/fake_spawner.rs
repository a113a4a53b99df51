//! A fake spawner for tests without root: the test double of the
//! orchestrator's `env::process::Spawner`, the door every column starts
//! its processes through.
//!
//! A macro for the reason [`fake_env!`](macro@crate::fake_env) is one:
//! [`fake_spawner!`](macro@crate::fake_spawner) expands, in the crate named as
//! its argument (`crate` in the orchestrator's own tests, `isobench` in an
//! integration test), to `FakeSpawner` implementing that crate's
//! `env::process::Spawner`.
//!
//! What the fake does:
//! - every call is recorded: the method's name and the command's program
//!   and arguments;
//! - with `stand_in` unset, the command runs on the host as given (a
//!   counting spawner);
//! - with `stand_in` set, nothing the caller built runs (no pre-exec
//!   hooks, no cgroup, no affinity): `spawn_logged` starts `sh` printing
//!   the stand-in text on stdout and exiting 0, and the other methods run
//!   `true` (status 0, no output).

/// Define `FakeSpawner` for the crate `$root` (see the module
/// documentation).
#[macro_export]
macro_rules! fake_spawner {
    ($root:tt) => {
        /// A spawner that records every command (`isobench_testkit::fake_spawner`).
        #[derive(Default)]
        pub struct FakeSpawner {
            /// Every call: the method, then the program and its arguments.
            pub calls: std::sync::Mutex<Vec<(&'static str, Vec<String>)>>,
            /// What a spawned stand-in prints instead of running the
            /// command; `None`: the command runs on the host.
            pub stand_in: Option<String>,
        }

        impl FakeSpawner {
            /// A spawner whose every spawned process prints `text` and exits 0.
            pub fn printing(text: impl Into<String>) -> FakeSpawner {
                FakeSpawner {
                    stand_in: Some(text.into()),
                    ..Default::default()
                }
            }

            /// The methods called, in order.
            pub fn methods(&self) -> Vec<&'static str> {
                self.calls.lock().unwrap().iter().map(|c| c.0).collect()
            }

            /// The commands passed, in order (program, then arguments).
            pub fn commands(&self) -> Vec<Vec<String>> {
                self.calls
                    .lock()
                    .unwrap()
                    .iter()
                    .map(|c| c.1.clone())
                    .collect()
            }

            fn record(
                &self,
                method: &'static str,
                cmd: std::process::Command,
                spawned: bool,
            ) -> std::process::Command {
                let mut seen = vec![cmd.get_program().to_string_lossy().into_owned()];
                seen.extend(cmd.get_args().map(|a| a.to_string_lossy().into_owned()));
                self.calls.lock().unwrap().push((method, seen));
                match &self.stand_in {
                    None => cmd,
                    Some(text) if spawned => {
                        let mut sh = std::process::Command::new("sh");
                        sh.arg("-c")
                            .arg("printf '%s\\n' \"$1\"")
                            .arg("sh")
                            .arg(text);
                        sh
                    }
                    Some(_) => std::process::Command::new("true"),
                }
            }
        }

        impl $root::env::process::Spawner for FakeSpawner {
            fn spawn_logged(
                &self,
                cmd: std::process::Command,
                stderr_log: Option<std::fs::File>,
            ) -> anyhow::Result<$root::env::process::Supervised> {
                let cmd = self.record("spawn_logged", cmd, true);
                <$root::env::process::Host as $root::env::process::Spawner>::spawn_logged(
                    &$root::env::process::Host,
                    cmd,
                    stderr_log,
                )
            }
            fn run_until(
                &self,
                cmd: std::process::Command,
                deadline: std::time::Instant,
            ) -> anyhow::Result<(std::process::ExitStatus, std::time::Instant)> {
                let cmd = self.record("run_until", cmd, false);
                <$root::env::process::Host as $root::env::process::Spawner>::run_until(
                    &$root::env::process::Host,
                    cmd,
                    deadline,
                )
            }
            fn output_of(&self, cmd: std::process::Command) -> anyhow::Result<String> {
                let cmd = self.record("output_of", cmd, false);
                <$root::env::process::Host as $root::env::process::Spawner>::output_of(
                    &$root::env::process::Host,
                    cmd,
                )
            }
            fn output(&self, cmd: std::process::Command) -> std::io::Result<std::process::Output> {
                let cmd = self.record("output", cmd, false);
                <$root::env::process::Host as $root::env::process::Spawner>::output(
                    &$root::env::process::Host,
                    cmd,
                )
            }
        }
    };
}
