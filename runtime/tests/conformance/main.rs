//! Conformance tests of isorun's own, organised by the OCI runtime spec's
//! sections (lifecycle, state, process, mounts, namespaces, hooks, linux
//! resources). They check what the public runtime-tools validation programs
//! check (read, not copied: each test here is written against the spec).
//!
//! The runtime under test is isorun by default; `ISORUN_CONFORMANCE_RUNTIME`
//! names another runc-compatible binary on PATH (`runc`, `crun`) to run the
//! same tests against it.
//!
//! Every test either passes, or fails the run, or is a *known gap* of the
//! runtime under test listed in [`GAPS`] with its reason: a known gap that
//! fails is recorded as a skip (printed and counted through the testkit skip
//! log); a known gap that passes fails the run, so the list stays true.

mod harness;
mod hooks;
mod lifecycle;
mod mounts;
mod namespaces;
mod process;
mod resources;
mod state;

/// (runtime, test, reason): tests the runtime is known to fail here.
/// The test name is `<section>::<function>`.
pub const GAPS: &[(&str, &str, &str)] = &[
    // runc 1.1.5 (Debian 12)
    (
        "runc",
        "hooks::every_hook_kind_runs_in_order_with_the_state_on_stdin",
        "runc 1.1 runs poststart hooks during create, before start",
    ),
    (
        "runc",
        "hooks::failing_poststart_is_a_warning",
        "runc 1.1 fails create when a poststart hook fails (the spec: a warning)",
    ),
    (
        "runc",
        "hooks::failing_poststop_is_a_warning",
        "runc 1.1 stops at the first failing poststop hook (the spec: a warning, the rest run)",
    ),
    (
        "runc",
        "hooks::failing_start_container_fails_start",
        "runc start returns before the startContainer hooks run: their failure is not reported",
    ),
    (
        "runc",
        "mounts::rootfs_propagation_shared",
        "runc 1.1 applies rootfsPropagation before pivot_root: the new root is not shared",
    ),
    (
        "runc",
        "mounts::rootfs_propagation_unbindable",
        "runc 1.1 binds the root onto itself after making it unbindable: EINVAL",
    ),
    (
        "runc",
        "namespaces::namespace_path_user",
        "runc 1.1 wants uidMappings even when joining a user namespace by path",
    ),
    (
        "runc",
        "process::unknown_capability_fails_create",
        "runc 1.1 ignores unknown capabilities with a warning",
    ),
    // crun 1.8.1 (Debian 12), run with the host's cgroup2 mount hidden
    // (isorun::peer: crun refuses this hybrid cgroup host otherwise)
    (
        "crun",
        "lifecycle::exec_runs_a_command_with_overrides",
        "crun 1.8 exec with --env does not find the command on the container's PATH",
    ),
    (
        "crun",
        "hooks::every_hook_kind_runs_in_order_with_the_state_on_stdin",
        "crun 1.8 gives createContainer hooks a state with pid 0",
    ),
    (
        "crun",
        "hooks::failing_start_container_fails_start",
        "crun start returns before the startContainer hooks run: their failure is not reported",
    ),
    (
        "crun",
        "process::relative_cwd_is_refused",
        "crun 1.8 accepts a relative process.cwd",
    ),
    (
        "crun",
        "process::unknown_capability_fails_create",
        "crun 1.8 ignores unknown capabilities",
    ),
    (
        "crun",
        "resources::devices_outside_the_allow_list_are_denied",
        "crun 1.8 here (cgroup2 mount hidden) leaves a device outside the allow list open",
    ),
    (
        "crun",
        "resources::block_io_weight_is_set",
        "crun 1.8 on cgroup v1 writes only CFQ's blkio.weight, which Linux 5.0+ lacks (no BFQ fallback)",
    ),
    (
        "crun",
        "resources::block_io_weight_device_is_set",
        "crun 1.8 on cgroup v1 writes only CFQ's blkio.weight_device, which Linux 5.0+ lacks (no BFQ fallback)",
    ),
    (
        "crun",
        "state::pid_file_may_be_relative_to_the_caller",
        "crun 1.8 does not resolve a relative --pid-file against the caller's directory",
    ),
];
