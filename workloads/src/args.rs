//! The command line of `isobench-workload`:
//!
//! ```text
//! isobench-workload WORKLOAD [--KEY VALUE | --KEY=VALUE]...
//!   cpu      [--threads N] [--primes-max M] [--matrix-n N] [--min-time-ms MS] [--isa auto|baseline|avx2|avx512]
//!   membw    [--threads N] [--passes P] [--size BYTES] [--stores normal|nt] [--pages base|huge]
//!   randacc  [--threads N] [--log2-table L] [--pages base|huge]
//!   latency  [--max-size BYTES] [--min-size BYTES] [--loads N] [--pages base|huge]
//!   startup  [--hold-ms N]
//!   copyup   [--sizes S1,S2,...] [--dir DIR]
//!   ovlmount [--layers N1,N2,...] [--tries T]
//!   fsmeta   [--files N] [--dir DIR]
//!   layers   [--layers N] [--layer-size BYTES]   (measured by the host)
//!   fileio   [--places NAME=DIR,...] [--file-size BYTES] [--block BYTES] [--rand-ops N] [--min-time-ms MS] [--direct auto|off]
//!   antagonist --kind cpu|membw|llc|fork [--threads N] [--size BYTES] [--max-procs K] [--duration-ms MS]
//! ```
//!
//! Sizes take a binary suffix (`16KiB`, `256MiB`, `1GiB`; `K`/`M`/`G` mean the
//! same) or a plain number of bytes. `--threads` defaults to the number of CPUs
//! available. `membw --size` is the size of each of STREAM's three arrays in
//! bytes (8-byte doubles; default 4x the last-level cache); `--stores nt`
//! selects the tuned variant with non-temporal stores (default: plain
//! stores, STREAM as written). `--pages` sets the page policy of the large
//! arrays (default `base`: 4 KiB pages everywhere, see `alloc`).
//!
//! Hand-written rather than clap: the binary is the static `/init` of every VM
//! guest and is copied into every container image, so it stays small and
//! dependency-light, and the grammar is a handful of `--key value` pairs.

use crate::cpu::CpuConfig;
use crate::error::arg_err;
pub use crate::error::ArgError;
use crate::latency::LatencyConfig;
use crate::membw::MembwConfig;
use crate::randacc::RandaccConfig;
use crate::workload::Workload;

/// What the binary was asked to do.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    Cpu(CpuConfig),
    Membw(MembwConfig),
    Randacc(RandaccConfig),
    Latency(LatencyConfig),
    /// `hold_ms`: how long to stay idle after `ISOBENCH-READY` (0: none), so
    /// the host can measure the instance's memory while it is alive.
    Startup {
        hold_ms: u64,
    },
    Copyup(crate::cow::CopyupConfig),
    Ovlmount(crate::cow::OvlmountConfig),
    Fsmeta(crate::cow::FsmetaConfig),
    /// Measured by the host (isorun's layer store); the binary refuses it.
    Layers {
        layers: u32,
        layer_size: u64,
    },
    /// A noisy neighbour for claim C5 (not a measured workload: it reports
    /// the pressure it applied; see `antagonist`).
    Antagonist(crate::antagonist::AntagonistConfig),
    /// Print `ISOBENCH-READY` and sleep until killed (SIGKILL: as PID 1 of a
    /// container's pid namespace it ignores other signals).
    Idle,
    /// Sequential and random file I/O per place (claim C8).
    Fileio(crate::fileio::FileioConfig),
    /// The user's own program (`command`).
    UserCommand(crate::command::CommandConfig),
    Help,
}

impl Command {
    /// The workload this command runs (`None` for help).
    pub fn workload(&self) -> Option<Workload> {
        Some(match self {
            Command::Cpu(_) => Workload::Cpu,
            Command::Membw(_) => Workload::Membw,
            Command::Randacc(_) => Workload::Randacc,
            Command::Latency(_) => Workload::Latency,
            Command::Startup { .. } => Workload::Startup,
            Command::Copyup(_) => Workload::Copyup,
            Command::Ovlmount(_) => Workload::Ovlmount,
            Command::Fsmeta(_) => Workload::Fsmeta,
            Command::Layers { .. } => Workload::Layers,
            Command::Idle => Workload::Idle,
            Command::Fileio(_) => Workload::Fileio,
            Command::UserCommand(_) => Workload::Command,
            Command::Antagonist(_) | Command::Help => return None,
        })
    }
}

impl Command {
    /// Bytes of memory the kernel allocates for its data, when known before
    /// it runs (membw without `--size` depends on the cache it finds). The
    /// workload checks this against MemAvailable before allocating, and the
    /// host sizes a VM's memory from it, so both use this one function.
    pub fn memory_need_bytes(&self) -> Option<u64> {
        match self {
            Command::Cpu(c) => Some(3 * (c.matrix_n as u64).pow(2) * 8),
            Command::Membw(c) => c.size_bytes.map(|s| 3 * (s / 8 * 8)),
            Command::Randacc(c) => 8u64.checked_shl(c.log2_table),
            Command::Latency(c) => {
                // The largest buffer plus its 4-byte-per-line order.
                let largest = crate::latency::sizes(c.min_size, c.max_size)
                    .last()
                    .copied()
                    .unwrap_or(0);
                Some(largest + largest / crate::latency::LINE as u64 * 4)
            }
            Command::Startup { .. } | Command::Idle | Command::Help => Some(0),
            // Buffers of 1 MiB; the files themselves are in the page cache
            // or the upper layer, not the process.
            Command::Copyup(_) | Command::Fsmeta(_) | Command::Layers { .. } => Some(2 << 20),
            // 500 tiny layers on a tmpfs.
            Command::Ovlmount(_) => Some(4 << 20),
            Command::Antagonist(c) => c.memory_need(),
            // The I/O buffer, and the file itself where a place is a tmpfs
            // (or a guest's rootfs): there the file is memory.
            Command::Fileio(c) => Some(c.block + crate::fileio::SECTOR + c.file_size),
            // Whatever the user's program allocates: not known beforehand.
            Command::UserCommand(_) => None,
        }
    }
}

impl Command {
    /// The arguments [`parse`] reads back as this command, workload name
    /// first: what a spawned process or a guest's kernel command line is
    /// given. The thread count (absent, it would be the CPUs of wherever the
    /// binary runs) and the values that size the work are always written,
    /// in the order the presets write them, so a preset's spec reads as its
    /// arguments always did; other values only where they differ from the
    /// binary's default (an environment appends `--places` itself).
    pub fn to_args(&self) -> Vec<String> {
        let name = match self {
            Command::Help => return vec!["--help".into()],
            Command::UserCommand(c) => return c.to_args(),
            Command::Antagonist(_) => "antagonist",
            _ => self.workload().map_or("help", Workload::name),
        };
        let mut o = Out(vec![name.to_string()]);
        let mut bare = vec![name.to_string()];
        if let Command::Antagonist(c) = self {
            bare.extend(["--kind".to_string(), c.kind.name().to_string()]);
        }
        let d = parse(&bare, 1).expect("a bare workload name parses to its defaults");
        match (self, &d) {
            (Command::Cpu(c), Command::Cpu(d)) => {
                o.flag("threads", c.threads);
                o.flag("primes-max", c.primes_max);
                o.flag("matrix-n", c.matrix_n);
                o.differs("min-time-ms", c.min_time_ms, d.min_time_ms);
                o.differs("isa", c.isa.name(), d.isa.name());
            }
            (Command::Membw(c), _) => {
                o.flag("threads", c.threads);
                o.flag("passes", c.passes);
                if let Some(s) = c.size_bytes {
                    o.flag("size", s);
                }
                o.flag("stores", c.stores.arg());
                o.flag("pages", c.pages.name());
            }
            (Command::Randacc(c), _) => {
                o.flag("threads", c.threads);
                o.flag("log2-table", c.log2_table);
                o.flag("pages", c.pages.name());
            }
            (Command::Latency(c), Command::Latency(d)) => {
                o.flag("max-size", format_size(c.max_size));
                o.differs("min-size", format_size(c.min_size), format_size(d.min_size));
                if let Some(n) = c.loads {
                    o.flag("loads", n);
                }
                o.flag("pages", c.pages.name());
            }
            (Command::Antagonist(c), Command::Antagonist(d)) => {
                o.flag("kind", c.kind.name());
                o.flag("threads", c.threads);
                if let Some(t) = c.duration {
                    o.flag("duration-ms", t.as_millis());
                }
                if let Some(s) = c.size_bytes {
                    o.flag("size", s);
                }
                if c.kind == crate::antagonist::Kind::Fork {
                    o.flag("max-procs", c.max_procs);
                } else {
                    o.differs("max-procs", c.max_procs, d.max_procs);
                }
            }
            (c, d) => o.storage_flags(c, d),
        }
        o.0
    }
}

/// Arguments being written by [`Command::to_args`].
struct Out(Vec<String>);

impl Out {
    fn flag(&mut self, key: &str, value: impl ToString) {
        self.0.push(format!("--{key}"));
        self.0.push(value.to_string());
    }

    fn differs<T: PartialEq + ToString>(&mut self, key: &str, value: T, default: T) {
        if value != default {
            self.flag(key, value);
        }
    }

    /// The flags of the workloads that measure file systems and startup;
    /// `d` holds the defaults of `c`'s workload.
    fn storage_flags(&mut self, c: &Command, d: &Command) {
        let list = |v: Vec<String>| v.join(",");
        match (c, d) {
            (Command::Startup { hold_ms }, _) => self.flag("hold-ms", hold_ms),
            (Command::Copyup(c), Command::Copyup(d)) => {
                self.flag(
                    "sizes",
                    list(c.sizes.iter().map(|b| format_size(*b)).collect()),
                );
                self.differs("dir", c.dir.as_str(), d.dir.as_str());
            }
            (Command::Ovlmount(c), _) => {
                self.flag(
                    "layers",
                    list(c.layers.iter().map(u32::to_string).collect()),
                );
                self.flag("tries", c.tries);
            }
            (Command::Fsmeta(c), Command::Fsmeta(d)) => {
                self.flag("files", c.files);
                self.differs("dir", c.dir.as_str(), d.dir.as_str());
            }
            (Command::Layers { layers, layer_size }, _) => {
                self.flag("layers", layers);
                self.flag("layer-size", format_size(*layer_size));
            }
            (Command::Fileio(c), Command::Fileio(d)) => {
                let places = crate::fileio::places_arg;
                self.differs("places", places(&c.places), places(&d.places));
                self.flag("file-size", format_size(c.file_size));
                self.flag("block", format_size(c.block));
                self.flag("rand-ops", c.rand_ops);
                self.differs("min-time-ms", c.min_time_ms, d.min_time_ms);
                self.differs("direct", c.direct.name(), d.direct.name());
            }
            _ => {}
        }
    }
}

/// The usage text printed by `--help`.
pub const USAGE: &str = "\
usage: isobench-workload WORKLOAD [--KEY VALUE]...
  cpu      [--threads N] [--primes-max M] [--matrix-n N] [--min-time-ms MS] [--isa auto|baseline|avx2|avx512]
  membw    [--threads N] [--passes P] [--size BYTES] [--stores normal|nt] [--pages base|huge]
           (--size: bytes per array, default 4x the last-level cache)
  randacc  [--threads N] [--log2-table L] [--pages base|huge]
  latency  [--max-size BYTES] [--min-size BYTES] [--loads N] [--pages base|huge]
  startup  [--hold-ms N]   (idle N ms after ISOBENCH-READY, default 0)
  copyup   [--sizes S1,S2,...] [--dir DIR]   (first write to isobench-data/copyup-<bytes>)
  ovlmount [--layers N1,N2,...] [--tries T]   (overlay mount time, 1..500 lower layers)
  fsmeta   [--files N] [--dir DIR]   (create, stat, unlink of N small files)
  layers   [--layers N] [--layer-size BYTES]   (measured by the host: isobench run)
  fileio   [--places NAME=DIR,...] [--file-size BYTES] [--block BYTES] [--rand-ops N] [--min-time-ms MS] [--direct auto|off]
           (sequential and 4 KiB random read/write with fsync per place; default disk=.;
            --min-time-ms: each phase lasts at least MS, default 0: one pass, no minimum)
  idle                     (sleep after ISOBENCH-READY until killed)
  antagonist --kind cpu|membw|llc|fork [--threads N] [--size BYTES] [--max-procs K] [--duration-ms MS]
           (a noisy neighbour: ISOBENCH-PROGRESS lines with the rate it achieves)
  command  [--timeout-ms MS] [--metric NAME:UNIT:higher|lower=REGEX]... [--chroot-cwd] -- PROG [ARG]...
           (the user's program, timed once; SPEC and every value after -- percent-encoded)
sizes: plain bytes or with a suffix: 16KiB, 256MiB, 1GiB (K, M, G also accepted)";

/// Parse a byte size: `4096`, `16KiB`, `256MiB`, `1GiB`, `2G`.
pub fn parse_size(s: &str) -> Result<u64, ArgError> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (num, suffix) = t.split_at(split);
    let mult: u64 = match suffix {
        "" | "B" => 1,
        "K" | "KiB" | "k" => 1 << 10,
        "M" | "MiB" => 1 << 20,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        _ => {
            return Err(arg_err!(
                "'{s}' is not a size (use e.g. 4096, 16KiB, 256MiB, 1GiB)"
            ))
        }
    };
    let n: u64 = num
        .parse()
        .map_err(|_| arg_err!("'{s}' is not a size (use e.g. 4096, 16KiB, 256MiB, 1GiB)"))?;
    let v = n
        .checked_mul(mult)
        .ok_or_else(|| arg_err!("size '{s}' is too large"))?;
    if v == 0 {
        return Err(arg_err!("size '{s}' must be greater than 0"));
    }
    Ok(v)
}

/// Write a size as the metric names do: `16KiB`, `1MiB`, `1GiB`, else bytes.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 4] = [
        (1 << 40, "TiB"),
        (1 << 30, "GiB"),
        (1 << 20, "MiB"),
        (1 << 10, "KiB"),
    ];
    for (m, u) in UNITS {
        if bytes >= m && bytes.is_multiple_of(m) {
            return format!("{}{u}", bytes / m);
        }
    }
    format!("{bytes}B")
}

/// `--key value` pairs after the workload name, in order.
struct Flags {
    pairs: Vec<(String, String)>,
}

impl Flags {
    fn parse(rest: &[String], known: &[&str], workload: &str) -> Result<Flags, ArgError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        let mut it = rest.iter();
        while let Some(a) = it.next() {
            let Some(body) = a.strip_prefix("--") else {
                return Err(ArgError::Invalid(format!(
                    "unexpected argument '{a}' (flags look like --threads 2)"
                )));
            };
            let (key, value) = match body.split_once('=') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => {
                    let v = it
                        .next()
                        .ok_or_else(|| ArgError::Invalid(format!("--{body} needs a value")))?;
                    (body.to_string(), v.clone())
                }
            };
            if !known.contains(&key.as_str()) {
                let list = if known.is_empty() {
                    "it takes none".to_string()
                } else {
                    format!(
                        "known: {}",
                        known
                            .iter()
                            .map(|k| format!("--{k}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                };
                return Err(ArgError::Invalid(format!(
                    "unknown flag --{key} for workload '{workload}' ({list})"
                )));
            }
            if pairs.iter().any(|(k, _)| *k == key) {
                return Err(ArgError::Invalid(format!("--{key} given twice")));
            }
            pairs.push((key, value));
        }
        Ok(Flags { pairs })
    }

    fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A positive integer in `min..=max`, or `default` when absent.
    fn int(&self, key: &str, default: u64, min: u64, max: u64) -> Result<u64, ArgError> {
        let Some(v) = self.get(key) else {
            return Ok(default);
        };
        let n: u64 = v
            .trim()
            .parse()
            .map_err(|_| ArgError::Invalid(format!("--{key} '{v}' is not a whole number")))?;
        // 0 is refused only where the range starts above it (a flag whose
        // 0 means "none", as fileio's --min-time-ms, accepts it).
        if n == 0 && min > 0 {
            return Err(ArgError::Invalid(format!("--{key} must be greater than 0")));
        }
        if n < min || n > max {
            return Err(ArgError::Invalid(format!(
                "--{key} {n} is out of range ({min}..={max})"
            )));
        }
        Ok(n)
    }

    fn pages(&self) -> Result<crate::alloc::PagePolicy, ArgError> {
        self.get("pages")
            .map(|v| v.parse())
            .transpose()
            .map(Option::unwrap_or_default)
    }

    fn size(&self, key: &str) -> Result<Option<u64>, ArgError> {
        self.get(key)
            .map(|v| parse_size(v).map_err(|e| ArgError::Invalid(format!("--{key}: {e}"))))
            .transpose()
    }
}

/// Parse the arguments after the program name. `default_threads` is used when
/// `--threads` is absent (the binary passes the number of available CPUs).
pub fn parse(args: &[String], default_threads: usize) -> Result<Command, ArgError> {
    let Some(first) = args.first() else {
        return Err(ArgError::Invalid(format!(
            "no workload given (one of: {})",
            Workload::ALL.map(|w| w.name()).join(", ")
        )));
    };
    if first == "--help" || first == "-h" || first == "help" {
        return Ok(Command::Help);
    }
    let rest = &args[1..];
    let dt = default_threads.max(1) as u64;
    if first == "antagonist" {
        return parse_antagonist(rest, dt);
    }
    let workload: Workload = first.parse()?;
    let name = workload.name();
    match workload {
        Workload::Cpu => parse_cpu(rest, dt),
        Workload::Membw => parse_membw(rest, dt),
        Workload::Randacc => {
            let f = Flags::parse(rest, &["threads", "log2-table", "pages"], name)?;
            Ok(Command::Randacc(RandaccConfig {
                threads: f.int("threads", dt, 1, crate::randacc::STREAMS as u64)? as usize,
                log2_table: f.int("log2-table", 24, 8, 40)? as u32,
                pages: f.pages()?,
            }))
        }
        Workload::Latency => parse_latency(rest),
        Workload::Startup => parse_startup(rest),
        Workload::Copyup => parse_copyup(rest),
        Workload::Ovlmount => parse_ovlmount(rest),
        Workload::Fsmeta => {
            let f = Flags::parse(rest, &["files", "dir"], name)?;
            Ok(Command::Fsmeta(crate::cow::FsmetaConfig {
                files: f.int("files", 2000, 1, 10_000_000)? as u32,
                dir: f.get("dir").unwrap_or(".").to_string(),
            }))
        }
        Workload::Layers => {
            let f = Flags::parse(rest, &["layers", "layer-size"], name)?;
            Ok(Command::Layers {
                layers: f.int("layers", 4, 2, 100)? as u32,
                layer_size: f.size("layer-size")?.unwrap_or(4 << 20),
            })
        }
        Workload::Idle => {
            Flags::parse(rest, &[], name)?;
            Ok(Command::Idle)
        }
        Workload::Fileio => parse_fileio(rest),
        Workload::Command => Ok(Command::UserCommand(crate::command::CommandConfig::parse(
            rest,
        )?)),
    }
}

fn parse_antagonist(rest: &[String], dt: u64) -> Result<Command, ArgError> {
    let f = Flags::parse(
        rest,
        &["kind", "threads", "size", "max-procs", "duration-ms"],
        "antagonist",
    )?;
    let kind = f
        .get("kind")
        .ok_or_else(|| ArgError::invalid("antagonist needs --kind cpu|membw|llc|fork"))?
        .parse()?;
    let duration = match f.get("duration-ms") {
        Some(_) => Some(std::time::Duration::from_millis(f.int(
            "duration-ms",
            1,
            1,
            86_400_000,
        )?)),
        None => None,
    };
    Ok(Command::Antagonist(crate::antagonist::AntagonistConfig {
        kind,
        threads: f.int("threads", dt, 1, 1024)? as usize,
        size_bytes: f.size("size")?,
        max_procs: f.int("max-procs", 64, 1, 4096)? as usize,
        duration,
    }))
}

fn parse_cpu(rest: &[String], dt: u64) -> Result<Command, ArgError> {
    let f = Flags::parse(
        rest,
        &["threads", "primes-max", "matrix-n", "min-time-ms", "isa"],
        "cpu",
    )?;
    Ok(Command::Cpu(CpuConfig {
        threads: f.int("threads", dt, 1, 1024)? as usize,
        primes_max: f.int("primes-max", 200_000, 3, 1 << 40)?,
        matrix_n: f.int("matrix-n", 256, 8, 16384)? as usize,
        min_time_ms: f.int("min-time-ms", crate::cpu::DEFAULT_MIN_TIME_MS, 10, 600_000)?,
        isa: f
            .get("isa")
            .map(str::parse)
            .transpose()?
            .unwrap_or_default(),
    }))
}

fn parse_membw(rest: &[String], dt: u64) -> Result<Command, ArgError> {
    let f = Flags::parse(
        rest,
        &["threads", "passes", "size", "stores", "pages"],
        "membw",
    )?;
    let stores = f
        .get("stores")
        .map(str::parse)
        .transpose()?
        .unwrap_or_default();
    let threads = f.int("threads", dt, 1, 1024)? as usize;
    let size = f.size("size")?;
    if let Some(s) = size {
        if s / 8 < threads as u64 {
            return Err(ArgError::Invalid(format!(
                "--size {s} holds fewer than one 8-byte element per thread ({threads} threads)"
            )));
        }
    }
    Ok(Command::Membw(MembwConfig {
        threads,
        // STREAM's values grow 15x per pass; 200 passes stay finite.
        passes: f.int("passes", 10, 1, 200)? as usize,
        size_bytes: size,
        stores,
        pages: f.pages()?,
    }))
}

fn parse_latency(rest: &[String]) -> Result<Command, ArgError> {
    let f = Flags::parse(rest, &["max-size", "min-size", "loads", "pages"], "latency")?;
    let min_size = f.size("min-size")?.unwrap_or(16 << 10);
    let max_size = f.size("max-size")?.unwrap_or(256 << 20);
    let line = crate::latency::LINE as u64;
    if min_size < 2 * line {
        return Err(ArgError::Invalid(format!(
            "--min-size must be at least {} bytes",
            2 * line
        )));
    }
    if max_size < min_size {
        return Err(ArgError::Invalid(format!(
            "--max-size {} is below --min-size {}",
            format_size(max_size),
            format_size(min_size)
        )));
    }
    let loads = match f.get("loads") {
        Some(_) => Some(f.int("loads", 1, 1, u64::MAX)?),
        None => None,
    };
    Ok(Command::Latency(LatencyConfig {
        min_size,
        max_size,
        loads,
        pages: f.pages()?,
    }))
}

fn parse_startup(rest: &[String]) -> Result<Command, ArgError> {
    let f = Flags::parse(rest, &["hold-ms"], "startup")?;
    // 0 is allowed (no hold), so not `f.int`.
    let hold_ms = match f.get("hold-ms") {
        None => 0,
        Some(v) => match v.trim().parse::<u64>() {
            Ok(n) if n <= 600_000 => n,
            Ok(n) => {
                return Err(ArgError::Invalid(format!(
                    "--hold-ms {n} is out of range (0..=600000)"
                )))
            }
            Err(_) => {
                return Err(ArgError::Invalid(format!(
                    "--hold-ms '{v}' is not a whole number"
                )))
            }
        },
    };
    Ok(Command::Startup { hold_ms })
}

fn parse_copyup(rest: &[String]) -> Result<Command, ArgError> {
    let f = Flags::parse(rest, &["sizes", "dir"], "copyup")?;
    let mut sizes = match f.get("sizes") {
        None => vec![4 << 10, 1 << 20],
        Some(v) => v
            .split(',')
            .map(|s| parse_size(s).map_err(|e| ArgError::Invalid(format!("--sizes: {e}"))))
            .collect::<Result<Vec<u64>, _>>()?,
    };
    sizes.sort_unstable();
    sizes.dedup();
    Ok(Command::Copyup(crate::cow::CopyupConfig {
        sizes,
        dir: f.get("dir").unwrap_or(crate::cow::DATA_DIR).to_string(),
    }))
}

fn parse_ovlmount(rest: &[String]) -> Result<Command, ArgError> {
    let f = Flags::parse(rest, &["layers", "tries"], "ovlmount")?;
    let max = crate::cow::OVL_MAX_STACK;
    let mut layers = match f.get("layers") {
        None => vec![1, 2, 4, 8, 16, 32, 64],
        Some(v) => v
            .split(',')
            .map(|s| match s.trim().parse::<u32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ArgError::Invalid(format!(
                    "--layers: '{s}' is not a number of layers in 1..={max} (the kernel's limit)"
                ))),
            })
            .collect::<Result<Vec<u32>, _>>()?,
    };
    layers.sort_unstable();
    layers.dedup();
    Ok(Command::Ovlmount(crate::cow::OvlmountConfig {
        layers,
        tries: f.int("tries", 5, 1, 1000)? as u32,
    }))
}

fn parse_fileio(rest: &[String]) -> Result<Command, ArgError> {
    let f = Flags::parse(
        rest,
        &[
            "places",
            "file-size",
            "block",
            "rand-ops",
            "min-time-ms",
            "direct",
        ],
        "fileio",
    )?;
    let places = match f.get("places") {
        None => vec![crate::fileio::Place {
            name: "disk".into(),
            dir: ".".into(),
        }],
        Some(v) => crate::fileio::parse_places(v)?,
    };
    let direct = match f.get("direct") {
        None | Some("auto") => crate::fileio::Direct::Auto,
        Some("off") => crate::fileio::Direct::Off,
        Some(v) => {
            return Err(ArgError::Invalid(format!(
                "--direct '{v}' is not one of auto, off"
            )))
        }
    };
    let c = crate::fileio::FileioConfig {
        places,
        file_size: f.size("file-size")?.unwrap_or(64 << 20),
        block: f.size("block")?.unwrap_or(1 << 20),
        rand_ops: f.int("rand-ops", 1000, 1, 10_000_000)?,
        // 0, the default: no minimum (one pass, exactly --rand-ops).
        min_time_ms: f.int("min-time-ms", 0, 0, 600_000)?,
        direct,
    };
    crate::fileio::validate(&c)?;
    Ok(Command::Fileio(c))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Result<Command, ArgError> {
        let v: Vec<String> = s.split_whitespace().map(String::from).collect();
        parse(&v, 2)
    }

    #[test]
    fn sizes_round_trip() {
        assert_eq!(parse_size("16KiB"), Ok(16 << 10));
        assert_eq!(parse_size("256MiB"), Ok(256 << 20));
        assert_eq!(parse_size("1GiB"), Ok(1 << 30));
        assert_eq!(parse_size("2G"), Ok(2 << 30));
        assert_eq!(parse_size("4096"), Ok(4096));
        assert!(parse_size("0").is_err());
        assert!(parse_size("0MiB").is_err());
        assert!(parse_size("12XB").is_err());
        assert!(parse_size("MiB").is_err());
        assert!(parse_size("99999999999TiB").is_err());
        assert_eq!(format_size(16 << 10), "16KiB");
        assert_eq!(format_size(1 << 20), "1MiB");
        assert_eq!(format_size(512 << 20), "512MiB");
        assert_eq!(format_size(1 << 30), "1GiB");
        assert_eq!(format_size(100), "100B");
    }

    #[test]
    fn values_and_defaults() {
        assert_eq!(
            p("cpu --threads 3 --primes-max 1000 --matrix-n=64").unwrap(),
            Command::Cpu(CpuConfig {
                threads: 3,
                primes_max: 1000,
                matrix_n: 64,
                min_time_ms: crate::cpu::DEFAULT_MIN_TIME_MS,
                isa: crate::cpu::IsaChoice::Auto,
            })
        );
        assert_eq!(
            p("membw").unwrap(),
            Command::Membw(MembwConfig {
                threads: 2,
                passes: 10,
                size_bytes: None,
                stores: crate::membw::Stores::Normal,
                pages: crate::alloc::PagePolicy::Base,
            })
        );
        assert_eq!(
            p("membw --size 64MiB --passes 3 --threads 1").unwrap(),
            Command::Membw(MembwConfig {
                threads: 1,
                passes: 3,
                size_bytes: Some(64 << 20),
                stores: crate::membw::Stores::Normal,
                pages: crate::alloc::PagePolicy::Base,
            })
        );
        assert_eq!(
            p("randacc --log2-table 20").unwrap(),
            Command::Randacc(RandaccConfig {
                threads: 2,
                log2_table: 20,
                pages: crate::alloc::PagePolicy::Base,
            })
        );
        assert_eq!(
            p("latency --max-size 1MiB").unwrap(),
            Command::Latency(LatencyConfig {
                min_size: 16 << 10,
                max_size: 1 << 20,
                loads: None,
                pages: crate::alloc::PagePolicy::Base,
            })
        );
        assert_eq!(p("startup").unwrap(), Command::Startup { hold_ms: 0 });
        assert_eq!(
            p("startup --hold-ms 250").unwrap(),
            Command::Startup { hold_ms: 250 }
        );
        assert_eq!(
            p("startup --hold-ms 0").unwrap(),
            Command::Startup { hold_ms: 0 }
        );
        assert_eq!(p("--help").unwrap(), Command::Help);
        assert_eq!(
            p("antagonist --kind fork --max-procs 16 --duration-ms 500").unwrap(),
            Command::Antagonist(crate::antagonist::AntagonistConfig {
                kind: crate::antagonist::Kind::Fork,
                threads: 2,
                size_bytes: None,
                max_procs: 16,
                duration: Some(std::time::Duration::from_millis(500)),
            })
        );
        assert!(p("antagonist")
            .unwrap_err()
            .to_string()
            .contains("needs --kind"));
        assert!(p("antagonist --kind disk")
            .unwrap_err()
            .to_string()
            .contains("not one of cpu, membw, llc, fork"));
    }

    #[test]
    fn bad_input_is_rejected_with_a_clear_message() {
        let err = |s: &str| p(s).unwrap_err().to_string();
        assert!(err("frobnicate").contains("unknown workload 'frobnicate'"));
        assert!(err("").contains("no workload"));
        assert!(err("cpu --threads 0").contains("--threads must be greater than 0"));
        assert!(err("membw --size 0").contains("greater than 0"));
        assert!(err("membw --passes x").contains("not a whole number"));
        assert!(err("latency --max-size 0KiB").contains("greater than 0"));
        assert!(err("latency --max-size 8KiB").contains("below --min-size"));
        assert!(err("cpu --matrix 4").contains("unknown flag --matrix"));
        assert!(err("cpu --isa avx3").contains("--isa 'avx3' is not one of"));
        assert!(matches!(
            p("cpu --isa baseline"),
            Ok(Command::Cpu(CpuConfig {
                isa: crate::cpu::IsaChoice::Force(crate::cpu::DgemmPath::Baseline),
                ..
            }))
        ));
        assert!(err("cpu --threads").contains("needs a value"));
        assert!(err("cpu 4").contains("unexpected argument"));
        assert!(err("cpu --threads 1 --threads 2").contains("twice"));
        assert!(err("randacc --threads 500").contains("out of range"));
        assert!(err("startup --threads 1").contains("unknown flag --threads"));
        assert_eq!(p("idle").unwrap(), Command::Idle);
        assert_eq!(Command::Idle.workload(), Some(Workload::Idle));
        assert!(err("idle --hold-ms 1").contains("hold-ms"));
        assert!(err("startup --hold-ms x").contains("not a whole number"));
        assert!(err("startup --hold-ms 9999999").contains("out of range"));
        assert!(err("membw --threads 4 --size 16").contains("fewer than one"));
        assert!(err("membw --stores fast").contains("not one of normal, nt"));
        assert!(err("latency --pages giant").contains("not one of base, huge"));
        assert!(matches!(
            p("membw --stores nt --pages huge").unwrap(),
            Command::Membw(MembwConfig {
                stores: crate::membw::Stores::NonTemporal,
                pages: crate::alloc::PagePolicy::Huge,
                ..
            })
        ));
    }

    /// fileio's `--min-time-ms 0` is its default (no minimum) given
    /// explicitly: accepted, and the same command as without it; cpu's
    /// range starts at 10 and still refuses 0.
    #[test]
    fn fileio_accepts_an_explicit_zero_min_time() {
        let zero = p("fileio --min-time-ms 0").unwrap();
        match &zero {
            Command::Fileio(c) => assert_eq!(c.min_time_ms, 0),
            other => panic!("{other:?}"),
        }
        assert_eq!(zero, p("fileio").unwrap());
        assert!(!zero.to_args().iter().any(|a| a.contains("min-time")));
        match p("fileio --min-time-ms 200").unwrap() {
            Command::Fileio(c) => assert_eq!(c.min_time_ms, 200),
            other => panic!("{other:?}"),
        }
        let e = p("fileio --min-time-ms 600001").unwrap_err().to_string();
        assert!(
            e.contains("--min-time-ms 600001 is out of range (0..=600000)"),
            "{e}"
        );
        let e = p("cpu --min-time-ms 0").unwrap_err().to_string();
        assert!(e.contains("--min-time-ms must be greater than 0"), "{e}");
        assert!(USAGE.contains("default 0: one pass, no minimum"));
    }
}
