//! The `isorun` binary: runc-compatible verbs (create, start, state, kill,
//! delete, run, list) and image commands (build, import, ls, rm).
//!
//! `no_main`: isorun starts at its own C `main` (see [`main`] for why and
//! what of Rust's start-up it keeps).

#![no_main]

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use isorun::{image, lifecycle};
use std::path::{Path, PathBuf};

#[derive(Parser)]
#[command(name = "isorun", version, about = "A minimal OCI container runtime")]
struct Cli {
    /// State directory of containers (default: /run/isorun as root; for
    /// other users $XDG_RUNTIME_DIR/isorun, else /tmp/isorun-UID).
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    /// Also write errors to this file (as runc; conmon passes it).
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Format of --log: text or json (one {"level","msg","time"} object a line).
    #[arg(long, global = true, default_value = "text")]
    log_format: String,
    /// Accepted for runc compatibility; isorun logs errors only.
    #[arg(long, global = true)]
    debug: bool,
    /// Refused: isorun drives cgroupfs itself, not systemd.
    #[arg(long, global = true)]
    systemd_cgroup: bool,
    #[command(subcommand)]
    cmd: Cmd,
}

// `defer`: a verb's arguments are built only when that verb is parsed
// (or its help printed), so a `run` does not build the command tree of
// all the others (clap was about 3 % of a bare `run`'s CPU). A plain
// comment: a doc comment here would reach clap.
#[derive(Subcommand)]
#[command(defer = true)]
enum Cmd {
    /// Create a container; its process waits for `start`.
    Create {
        id: String,
        /// Bundle directory (holds config.json).
        #[arg(long, short, default_value = ".")]
        bundle: PathBuf,
        /// Write the container process's pid here.
        #[arg(long)]
        pid_file: Option<PathBuf>,
        /// Unix socket that receives the pty master (SCM_RIGHTS) when
        /// process.terminal is set; unused without a terminal.
        #[arg(long)]
        console_socket: Option<PathBuf>,
        /// Refused: isorun always uses pivot_root(2).
        #[arg(long)]
        no_pivot: bool,
        /// Accepted: isorun makes no session keyring in any case.
        #[arg(long)]
        no_new_keyring: bool,
        /// Extra fds to pass beyond stdio: only 0 is supported.
        #[arg(long, default_value_t = 0)]
        preserve_fds: u32,
    },
    /// Start a created container.
    Start { id: String },
    /// Run a process in a created or running container (as runc's exec);
    /// exits with the process's status.
    Exec(ExecArgs),
    /// Print the OCI state JSON.
    State { id: String },
    /// Send a signal (default SIGTERM).
    Kill {
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
        /// Signal every process of the container's cgroup.
        #[arg(long, short)]
        all: bool,
    },
    /// Delete a stopped container (--force: kill it first).
    Delete {
        id: String,
        #[arg(long, short)]
        force: bool,
    },
    /// Create, start, wait and delete; exits with the process's status.
    Run {
        id: String,
        #[arg(long, short, default_value = ".")]
        bundle: PathBuf,
        /// Write the container process's pid here (as `create`).
        #[arg(long)]
        pid_file: Option<PathBuf>,
        /// Unix socket that receives the pty master (SCM_RIGHTS) when
        /// process.terminal is set (as `create`); `run` still waits for
        /// the process and exits with its status.
        #[arg(long)]
        console_socket: Option<PathBuf>,
    },
    /// Write a default config.json (no terminal) into a bundle, as `runc spec`.
    Spec {
        #[arg(long, short, default_value = ".")]
        bundle: PathBuf,
        /// A config for an unprivileged user, as `runc spec --rootless`: a
        /// user namespace mapping the caller (and its /etc/subuid range) to
        /// 0, host devices bound, no gid on devpts unless mapped.
        #[arg(long)]
        rootless: bool,
        /// The process to run (default: sh).
        args: Vec<String>,
    },
    /// Print what isorun implements (OCI "Features Structure" JSON).
    Features,
    /// List containers.
    List {
        #[arg(long, short, default_value = "table")]
        format: String,
    },
    /// Layered images in a layer store.
    Image {
        /// Layer store directory (default: /var/lib/isorun as root, else
        /// $XDG_DATA_HOME/isorun or ~/.local/share/isorun).
        #[arg(long)]
        store: Option<PathBuf>,
        #[command(subcommand)]
        cmd: ImageCmd,
    },
}

#[derive(Subcommand)]
#[command(defer = true)]
enum ImageCmd {
    /// Build an image from directories, one layer each (bottom first).
    Build {
        #[arg(long)]
        name: String,
        dirs: Vec<PathBuf>,
    },
    /// Import an OCI image layout.
    Import {
        layout: PathBuf,
        /// Which image of the layout (org.opencontainers.image.ref.name).
        #[arg(long = "ref")]
        reference: Option<String>,
        /// Name in the store (default: the ref name).
        #[arg(long)]
        name: Option<String>,
    },
    /// List images.
    Ls,
    /// Remove an image and its unshared layers.
    Rm { name: String },
}

fn parse_signal(s: &str) -> Result<nix::sys::signal::Signal> {
    use std::str::FromStr;
    if let Ok(n) = s.parse::<i32>() {
        return nix::sys::signal::Signal::try_from(n)
            .with_context(|| format!("unknown signal {s}"));
    }
    let up = s.to_uppercase();
    let name = if up.starts_with("SIG") {
        up
    } else {
        format!("SIG{up}")
    };
    nix::sys::signal::Signal::from_str(&name).with_context(|| format!("unknown signal {s}"))
}

fn report_oom(id: &str, d: &lifecycle::Deleted) {
    if d.oom_kills > 0 {
        let limit = d
            .memory_limit
            .map(|l| format!("{l} bytes"))
            .unwrap_or_else(|| "unset".into());
        eprintln!(
            "isorun: container {id} was OOM-killed: the memory limit ({limit}) was reached, {} process(es) killed",
            d.oom_kills
        );
    }
}

/// A flag or value isorun refuses: exit 2 (bad input), as clap does.
#[derive(Debug)]
struct BadInput(String);

impl std::fmt::Display for BadInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BadInput {}

/// Append one error line to `--log` (runc's format: logrus text or JSON).
fn log_error(path: &Path, format: &str, msg: &str) {
    let time = isorun::state::now_rfc3339();
    let line = if format == "json" {
        serde_json::json!({"level": "error", "msg": msg, "time": time}).to_string()
    } else {
        format!("time={time:?} level=error msg={msg:?}")
    };
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
    {
        let _ = writeln!(f, "{line}");
    }
}

/// The process's entry point, called by the C library's start-up code.
///
/// Why not Rust's `fn main`: its start-up (`lang_start`) also prepares the
/// message for a stack overflow of the main thread, which asks the C
/// library for the main thread's stack (glibc reads and parses the whole
/// of /proc/self/maps, then sched_getaffinity) and maps an alternate signal
/// stack: about a tenth of isorun's own start-up CPU time, paid by every
/// `run` of an engine. What it does that matters is done here too:
/// stdin, stdout and stderr open (else /dev/null: a file opened later must
/// never become fd 1), SIGPIPE ignored (a write to a closed pipe is an
/// error to report, not a death that skips the clean-up), a panic ending
/// the process with status 101. A stack overflow still hits the guard
/// page and kills the process (SIGSEGV), only without the message.
/// Arguments come through std's own capture of argc/argv (`std::env`),
/// which does not depend on `lang_start`.
#[no_mangle]
pub extern "C" fn main(_argc: libc::c_int, _argv: *const *const libc::c_char) -> libc::c_int {
    std_fds_open();
    // SAFETY: sets the disposition of SIGPIPE for this process only.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
    let code = std::panic::catch_unwind(cli_main).unwrap_or(101);
    // Flushes stdout (std's clean-up) and exits.
    std::process::exit(code)
}

/// As Rust's start-up does: any of fds 0, 1, 2 that is closed is opened
/// on /dev/null; if that fails the process aborts.
fn std_fds_open() {
    let mut pfds = [0, 1, 2].map(|fd| libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    });
    let closed: Vec<i32> = loop {
        // SAFETY: three pollfds we own; no timeout (returns at once).
        let r = unsafe { libc::poll(pfds.as_mut_ptr(), 3, 0) };
        if r >= 0 {
            break pfds
                .iter()
                .filter(|p| p.revents & libc::POLLNVAL != 0)
                .map(|p| p.fd)
                .collect();
        }
        match nix::errno::Errno::last() {
            nix::errno::Errno::EINTR => continue,
            // poll refused (no memory, a sandbox): ask each fd instead.
            _ => break [0, 1, 2].into_iter().filter(|&fd| !fd_open(fd)).collect(),
        }
    };
    for _ in closed {
        // The lowest free fd is the closed one (the lowest first).
        // SAFETY: a NUL-terminated path; a new fd or -1.
        let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR) };
        if fd < 0 {
            std::process::abort();
        }
    }
}

/// Whether `fd` is open (fcntl F_GETFD succeeds).
fn fd_open(fd: i32) -> bool {
    // SAFETY: F_GETFD only reads the fd's flags.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

fn cli_main() -> i32 {
    let cli = Cli::parse();
    let log = cli.log.clone();
    let format = cli.log_format.clone();
    match real_main(cli) {
        Ok(code) => code,
        Err(e) => {
            let msg = format!("{e:#}");
            eprintln!("isorun: {msg}");
            if let Some(p) = &log {
                log_error(p, &format, &msg);
            }
            if e.downcast_ref::<BadInput>().is_some() {
                2
            } else {
                1
            }
        }
    }
}

fn real_main(cli: Cli) -> Result<i32> {
    if !["text", "json"].contains(&cli.log_format.as_str()) {
        return Err(BadInput(format!("--log-format {}: use text or json", cli.log_format)).into());
    }
    if cli.systemd_cgroup {
        return Err(BadInput(
            "--systemd-cgroup is not supported: isorun manages cgroupfs itself; \
             use cgroup_manager = \"cgroupfs\" (containers.conf) or podman --cgroup-manager=cgroupfs"
                .into(),
        )
        .into());
    }
    let root = match cli.root {
        Some(r) => r,
        None if matches!(
            cli.cmd,
            Cmd::Spec { .. } | Cmd::Image { .. } | Cmd::Features
        ) =>
        {
            PathBuf::new()
        }
        None => isorun::rootless::default_state_root()?,
    };
    let root = root.as_path();
    match cli.cmd {
        Cmd::Create {
            id,
            bundle,
            pid_file,
            console_socket,
            no_pivot,
            no_new_keyring: _,
            preserve_fds,
        } => create(
            root,
            &id,
            &bundle,
            pid_file,
            console_socket,
            no_pivot,
            preserve_fds,
        )?,
        Cmd::Start { id } => lifecycle::start(root, &id)?,
        Cmd::Exec(a) => return exec(root, a),
        Cmd::State { id } => {
            let st = isorun::state::State::load(root, &id)?;
            println!("{}", serde_json::to_string_pretty(&st.oci(root))?);
        }
        Cmd::Kill { id, signal, all } => {
            let sig = parse_signal(&signal)?;
            lifecycle::kill(root, &id, sig)?;
            if all {
                let st = isorun::state::State::load(root, &id)?;
                for pid in st.cgroup.map(|c| c.pids()).unwrap_or_default() {
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig);
                }
            }
        }
        Cmd::Features => println!(
            "{}",
            serde_json::to_string_pretty(&isorun::features::document())?
        ),
        Cmd::Delete { id, force } => match lifecycle::delete(root, &id, force) {
            Ok(d) => report_oom(&id, &d),
            // As runc and crun: `delete --force` of a container that is
            // already gone succeeds (an engine's cleanup and its `rm -f`
            // may both delete it).
            Err(isorun::Error::NotFound { .. }) if force => {}
            Err(e) => return Err(e.into()),
        },
        Cmd::Run {
            id,
            bundle,
            pid_file,
            console_socket,
        } => {
            let end = lifecycle::run_with_console(
                root,
                &id,
                &bundle,
                pid_file.as_deref(),
                console_socket.as_deref(),
            )?;
            report_oom(&id, &end.deleted);
            return Ok(end.code);
        }
        Cmd::List { format } => list(root, &format)?,
        Cmd::Spec {
            bundle,
            rootless,
            args,
        } => spec_cmd(&bundle, rootless, args)?,
        Cmd::Image { store, cmd } => {
            let store = store.unwrap_or_else(isorun::rootless::default_store);
            image_cmd(&store, cmd)?
        }
    }
    Ok(0)
}

/// `isorun create` (runc's flags; those isorun cannot honour refused).
fn create(
    root: &Path,
    id: &str,
    bundle: &Path,
    pid_file: Option<PathBuf>,
    console_socket: Option<PathBuf>,
    no_pivot: bool,
    preserve_fds: u32,
) -> Result<()> {
    if no_pivot {
        return Err(BadInput(
            "--no-pivot is not supported: isorun always uses pivot_root(2); \
             set no_pivot_root = false (containers.conf)"
                .into(),
        )
        .into());
    }
    if preserve_fds > 0 {
        return Err(BadInput(format!(
            "--preserve-fds {preserve_fds} is not supported: only stdio passes into the container"
        ))
        .into());
    }
    let c = lifecycle::create_with_console(root, id, bundle, true, console_socket.as_deref())?;
    if let Some(p) = pid_file {
        if let Err(e) = lifecycle::write_pid_file(&p, c.state.pid) {
            let _ = lifecycle::delete(root, id, true);
            return Err(e.into());
        }
    }
    Ok(())
}

/// `isorun spec`: a default config.json (rootless: with a user namespace).
fn spec_cmd(bundle: &Path, rootless: bool, args: Vec<String>) -> Result<()> {
    let args = if args.is_empty() {
        vec!["sh".to_string()]
    } else {
        args
    };
    let config = if rootless {
        isorun::spec::rootless_json(&args, &isorun::userns::caller_default())
    } else {
        isorun::spec::default_json(&args)
    };
    isorun::spec::write_config(bundle, &config)?;
    Ok(())
}

// The flags of `isorun exec` (runc's names). A plain comment: a doc
// comment would become the verb's about text in its help (the verb is
// deferred, so this struct's attributes are applied after the variant's).
#[derive(clap::Args)]
struct ExecArgs {
    /// A JSON file holding the OCI process to run (instead of a command).
    #[arg(long, short)]
    process: Option<PathBuf>,
    /// KEY=VALUE, replacing the container's KEY (repeatable).
    #[arg(long, short)]
    env: Vec<String>,
    /// Working directory inside the container.
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// uid[:gid] to run as.
    #[arg(long, short)]
    user: Option<String>,
    /// Supplementary group (repeatable; with --user, replaces the config's).
    #[arg(long = "additional-gids", short = 'g')]
    additional_gids: Vec<u32>,
    /// A capability to add (repeatable).
    #[arg(long, short)]
    cap: Vec<String>,
    /// Set no_new_privs for the process.
    #[arg(long)]
    no_new_privs: bool,
    /// Give the process a terminal (its master goes to --console-socket).
    #[arg(long, short)]
    tty: bool,
    /// Unix socket that receives the pty master (SCM_RIGHTS).
    #[arg(long)]
    console_socket: Option<PathBuf>,
    /// Return once the process runs, without waiting for it.
    #[arg(long, short)]
    detach: bool,
    /// Write the process's pid here.
    #[arg(long)]
    pid_file: Option<PathBuf>,
    /// Extra fds to pass beyond stdio: only 0 is supported.
    #[arg(long, default_value_t = 0)]
    preserve_fds: u32,
    id: String,
    /// The command and its arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

fn exec(root: &Path, a: ExecArgs) -> Result<i32> {
    if a.preserve_fds > 0 {
        return Err(BadInput(format!(
            "--preserve-fds {} is not supported: only stdio passes into the process",
            a.preserve_fds
        ))
        .into());
    }
    let opts = isorun::exec::Options {
        process: a.process,
        args: a.command,
        env: a.env,
        cwd: a.cwd,
        user: a.user,
        additional_gids: a.additional_gids,
        caps: a.cap,
        no_new_privs: a.no_new_privs,
        tty: a.tty,
        console_socket: a.console_socket,
        detach: a.detach,
        pid_file: a.pid_file,
    };
    Ok(isorun::exec::exec(root, &a.id, &opts)?)
}

fn list(root: &Path, format: &str) -> Result<()> {
    let all = lifecycle::list(root)?;
    match format {
        "json" => println!("{}", serde_json::to_string(&all)?),
        "table" => {
            println!(
                "{:<24} {:<8} {:<10} {:<32} CREATED",
                "ID", "PID", "STATUS", "BUNDLE"
            );
            for s in all {
                println!(
                    "{:<24} {:<8} {:<10} {:<32} {}",
                    s.id,
                    s.pid,
                    s.status,
                    s.bundle.display(),
                    s.created
                );
            }
        }
        f => bail!("unknown format {f} (table or json)"),
    }
    Ok(())
}

fn image_cmd(store: &Path, cmd: ImageCmd) -> Result<()> {
    let s = image::Store::open(store)?;
    match cmd {
        ImageCmd::Build { name, dirs } => {
            if dirs.is_empty() {
                bail!("give at least one directory (one layer each)");
            }
            let img = s.build(&name, &dirs, image::ImageConfig::default())?;
            println!("{} {}", img.name, img.layers.join(" "));
        }
        ImageCmd::Import {
            layout,
            reference,
            name,
        } => {
            let img = image::oci::import(&s, &layout, reference.as_deref(), name.as_deref())?;
            println!("{} {}", img.name, img.layers.join(" "));
        }
        ImageCmd::Ls => {
            println!("{:<32} {:<7} TOP LAYER", "NAME", "LAYERS");
            for i in s.images()? {
                println!(
                    "{:<32} {:<7} {}",
                    i.name,
                    i.layers.len(),
                    i.layers.last().map(String::as_str).unwrap_or("")
                );
            }
        }
        ImageCmd::Rm { name } => {
            for l in s.remove(&name)? {
                println!("removed layer {l}");
            }
        }
    }
    Ok(())
}
