//! `isobench fleet` against a real one-node Slurm cluster and a real
//! PostgreSQL server, both started by scripts/test.sh (scripts/slurm-local.sh;
//! it exports ISOBENCH_TEST_SLURM_CONF and ISOBENCH_TEST_PG_URL). A two-job
//! campaign of a tiny plan runs through Slurm and every result is found in
//! PostgreSQL; a job cancelled midway is reported cancelled, the other job's
//! results stay, and `fleet resubmit` runs only the cancelled target again.
//! The node has 2 CPUs and every job asks for it exclusively, so the jobs of
//! a campaign run one after the other.

use isobench_reports::history::History;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

const PG_ENV: &str = "ISOBENCH_TEST_PG_URL";
const SLURM_ENV: &str = "ISOBENCH_TEST_SLURM_CONF";

struct Cluster {
    slurm_conf: String,
    node: String,
}

/// The test cluster and a fresh database `isobench_t_NAME`; None (after
/// recording the skip, which fails under CI) when either is missing.
fn prerequisites(name: &str) -> Option<(Cluster, String)> {
    let Ok(slurm_conf) = std::env::var(SLURM_ENV) else {
        isobench_testkit::missing(format!(
            "{SLURM_ENV} is not set (scripts/test.sh starts a one-node Slurm cluster)"
        ));
        return None;
    };
    let Ok(base) = std::env::var(PG_ENV) else {
        isobench_testkit::missing(format!(
            "{PG_ENV} is not set (scripts/test.sh starts a PostgreSQL server)"
        ));
        return None;
    };
    let out = Command::new("sinfo")
        .env("SLURM_CONF", &slurm_conf)
        .args(["--noheader", "--format=%n"])
        .output()
        .expect("sinfo runs");
    assert!(out.status.success(), "sinfo: {}", stderr(&out));
    let node = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .expect("the cluster has a node")
        .trim()
        .to_string();
    let mut admin = postgres::Client::connect(&base, postgres::NoTls).expect("connect");
    let db = format!("isobench_t_{name}");
    for sql in [
        format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"),
        format!("CREATE DATABASE {db}"),
    ] {
        admin.batch_execute(&sql).expect("create test database");
    }
    let (prefix, _) = base.rsplit_once('/').expect("URL names a database");
    Some((Cluster { slurm_conf, node }, format!("{prefix}/{db}")))
}

fn workload_bin() -> PathBuf {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/x86_64-unknown-linux-gnu/release/isobench-workload");
    assert!(
        p.is_file(),
        "{} is missing: build it with scripts/build-workload.sh (scripts/test.sh does)",
        p.display()
    );
    p
}

fn fleet(c: &Cluster, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_isobench"))
        .env("SLURM_CONF", &c.slurm_conf)
        .env("ISOBENCH_WORKLOAD_BIN", workload_bin())
        .env("NO_COLOR", "1")
        .env_remove("ISOBENCH_DB")
        .arg("fleet")
        .args(args)
        .output()
        .expect("isobench runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Submit REPS repetitions of native cpu (gate sizes) to the node, twice.
fn submit(c: &Cluster, db: &str, dir: &Path, reps: u32) {
    let reps = reps.to_string();
    let o = fleet(
        c,
        &[
            "submit",
            "--hosts",
            &c.node,
            "--count",
            "2",
            "--db",
            db,
            "--campaign-dir",
            dir.to_str().unwrap(),
            "--",
            "--env",
            "native",
            "--workload",
            "cpu",
            "--preset",
            "gate",
            "--reps",
            &reps,
            "--warmup",
            "0",
        ],
    );
    assert_eq!(o.status.code(), Some(0), "submit: {}", stderr(&o));
    assert!(stdout(&o).contains("2 job(s) in array"), "{}", stdout(&o));
}

/// `fleet status --json` (with --wait when `wait`): exit code and the
/// states by target.
fn status(c: &Cluster, dir: &Path, wait: bool) -> (i32, Vec<Value>) {
    let mut args = vec!["status", dir.to_str().unwrap(), "--json"];
    if wait {
        args.extend(["--wait", "--timeout", "240"]);
    }
    let o = fleet(c, &args);
    let v: Value = serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("status --json: {e}: {} {}", stdout(&o), stderr(&o)));
    (o.status.code().unwrap(), v.as_array().unwrap().clone())
}

fn states(v: &[Value]) -> Vec<(String, String)> {
    v.iter()
        .map(|s| {
            (
                s["target"].as_str().unwrap().to_string(),
                s["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn run_id(run_dir: &str) -> String {
    let v: Value = serde_json::from_str(
        &std::fs::read_to_string(Path::new(run_dir).join("run.json")).unwrap(),
    )
    .unwrap();
    v["run_id"].as_str().unwrap().to_string()
}

fn result_lines(run_dir: &Path) -> usize {
    std::fs::read_to_string(run_dir.join("results.jsonl"))
        .map(|t| t.lines().count())
        .unwrap_or(0)
}

#[test]
fn a_two_job_campaign_runs_through_slurm_and_every_result_is_in_postgres() {
    let Some((c, db)) = prerequisites("fleet_two") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("campaign");
    let began = Instant::now();
    submit(&c, &db, &dir, 2);
    let (code, st) = status(&c, &dir, true);
    eprintln!("two-job campaign end to end: {:.1?}", began.elapsed());
    let labels = [format!("{}#0", c.node), format!("{}#1", c.node)];
    assert_eq!(
        states(&st),
        labels
            .iter()
            .map(|l| (l.clone(), "done".to_string()))
            .collect::<Vec<_>>(),
        "{st:?}"
    );
    assert_eq!(code, 0);
    let mut h = History::open(Path::new(&db)).unwrap();
    assert_eq!(h.run_count().unwrap(), 2);
    assert_eq!(h.repetition_count().unwrap(), 4);
    for s in &st {
        assert_eq!(s["node"].as_str(), Some(c.node.as_str()));
        let run_dir = s["run_dir"]
            .as_str()
            .expect("a done job has a run directory");
        let stored = h.repetitions(&run_id(run_dir)).unwrap();
        assert_eq!(stored.len(), 2, "{run_dir}");
        assert_eq!(stored.len(), result_lines(Path::new(run_dir)));
        assert!(stored.iter().all(|r| r.valid && r.workload == "cpu"));
    }
    // The report: the status table, then the multi-run report of both runs.
    let o = fleet(&c, &["report", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let out = dir.join("report");
    let md = std::fs::read_to_string(out.join("summary.md")).unwrap();
    assert!(
        md.contains("2 of 2 target(s) have a run in the store"),
        "{md}"
    );
    let campaign_at = md.find("## Campaign ").expect("the status table");
    assert!(campaign_at < md.find("## Runs").expect("the runs"), "{md}");
    for s in &st {
        let id = run_id(s["run_dir"].as_str().unwrap());
        // Its status row: run id, repetitions in the store, its column.
        assert!(
            md.contains(&format!("| {id} | 2 | column {}", c.node)),
            "{md}"
        );
        let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
        assert!(
            csv.lines()
                .any(|l| l.starts_with(&format!("{id},{},", c.node)) && l.contains(",native,cpu,")),
            "{csv}"
        );
    }
    // Geometric mean with its 95% interval and n, per run.
    assert!(md.contains("| gflops (") && md.contains("] n=2"), "{md}");
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    assert!(html.contains("<h2>Campaign "), "{html}");
    // (No plot: a plan of native alone has no speed relative to native.)
    // Nothing left to resubmit.
    let o = fleet(&c, &["resubmit", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(stdout(&o).contains("nothing resubmitted"), "{}", stdout(&o));
}

#[test]
fn a_job_cancelled_midway_is_reported_and_only_it_is_resubmitted() {
    let Some((c, db)) = prerequisites("fleet_cancel") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("campaign");
    submit(&c, &db, &dir, 6);

    // The first job to run is cancelled once it has measured something.
    let deadline = Instant::now() + Duration::from_secs(180);
    let (victim, victim_dir) = loop {
        assert!(Instant::now() < deadline, "no job started measuring");
        let (_, st) = status(&c, &dir, false);
        let running = st.iter().find(|s| s["state"] == "running").and_then(|s| {
            let job = s["job"].as_str()?;
            let run = dir.join("runs").join(job);
            (result_lines(&run) >= 1).then(|| (s.clone(), run))
        });
        if let Some(found) = running {
            break found;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let job = victim["job"].as_str().unwrap().to_string();
    let target = victim["target"].as_str().unwrap().to_string();
    let o = Command::new("scancel")
        .env("SLURM_CONF", &c.slurm_conf)
        .arg(&job)
        .output()
        .unwrap();
    assert!(o.status.success(), "scancel: {}", stderr(&o));

    let (code, st) = status(&c, &dir, true);
    assert_eq!(code, 1, "a cancelled job makes status exit 1: {st:?}");
    for s in &st {
        let want = if s["target"] == target.as_str() {
            "cancelled"
        } else {
            "done"
        };
        assert_eq!(s["state"], want, "{st:?}");
    }
    // The cancelled run stopped midway and is not in the store; the other is whole.
    let measured = result_lines(&victim_dir);
    assert!(
        (1..6).contains(&measured),
        "{measured} results in the cancelled run"
    );
    let marker = std::fs::read_to_string(dir.join("jobs").join(format!("{job}.state"))).unwrap();
    assert!(marker.contains("signal TERM"), "{marker}");
    let mut h = History::open(Path::new(&db)).unwrap();
    assert_eq!(h.run_count().unwrap(), 1);
    assert_eq!(h.repetition_count().unwrap(), 6);
    assert!(h
        .repetitions(&run_id(victim_dir.to_str().unwrap()))
        .unwrap()
        .is_empty());
    // The report shows the whole run and names the cancelled target.
    let o = fleet(&c, &["report", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let md = std::fs::read_to_string(dir.join("report/summary.md")).unwrap();
    assert!(
        md.contains("1 of 2 target(s) have a run in the store"),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "| {target} | {job} | {} | cancelled (CANCELLED",
            c.node
        )),
        "{md}"
    );
    assert!(
        md.contains(&format!(
            "not in the store ({measured} results in its run directory)"
        )),
        "{md}"
    );
    assert!(
        md.contains(&format!("Not shown: {target} (cancelled")),
        "{md}"
    );
    assert!(md.contains("1 runs on 1 host(s)"), "{md}");

    // One command runs the cancelled target again, and only it.
    let o = fleet(&c, &["resubmit", dir.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "resubmit: {}", stderr(&o));
    assert!(
        stdout(&o).contains("resubmitted 1 target(s)"),
        "{}",
        stdout(&o)
    );
    assert!(stdout(&o).contains(&target), "{}", stdout(&o));
    let (code, st) = status(&c, &dir, true);
    assert_eq!(code, 0, "{st:?}");
    assert!(st.iter().all(|s| s["state"] == "done"), "{st:?}");
    let again = st.iter().find(|s| s["target"] == target.as_str()).unwrap();
    assert_eq!(again["attempts"], 2);
    assert_ne!(again["job"].as_str(), Some(job.as_str()));
    assert_eq!(h.run_count().unwrap(), 2);
    assert_eq!(h.repetition_count().unwrap(), 12);
    // No process of the cancelled job is left.
    let left = Command::new("pgrep")
        .args(["-f", victim_dir.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&left.stdout).trim().is_empty(),
        "processes of the cancelled job remain"
    );
}
