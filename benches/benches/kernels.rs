//! Criterion benchmarks of every workload kernel at a small size (in cache
//! where the kernel allows it), to catch code-generation regressions: prime
//! counting, the blocked matrix multiply (and its run-time dispatched paths
//! side by side: baseline SSE2 against the tuned AVX2+FMA and AVX-512F ones
//! where the CPU has them; read as ratios), the four STREAM kernels, the
//! RandomAccess update loop and the pointer chase.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use isobench_workloads::{cpu, latency, membw, randacc};
use std::hint::black_box;
use std::time::Duration;

fn cpu_kernels(c: &mut Criterion) {
    let mut g = c.benchmark_group("cpu");
    g.bench_function("primes_trial_20000", |b| {
        b.iter(|| cpu::count_primes_trial(black_box(20_000)))
    });
    let n = 96;
    let a = cpu::fill_matrix(n, 1);
    let bm = cpu::fill_matrix(n, 2);
    let mut cm = vec![0.0; n * n];
    g.throughput(Throughput::Elements(2 * (n * n * n) as u64));
    g.bench_function("dgemm_96", |b| {
        b.iter(|| cpu::dgemm_rows(black_box(&a), black_box(&bm), &mut cm, n, 0))
    });
    g.finish();

    // The ISA paths at the workload's default order (256): what a VM whose
    // CPU model hides AVX2 loses is the ratio tuned/baseline.
    let n = 256;
    let a = cpu::fill_matrix(n, 1);
    let bm = cpu::fill_matrix(n, 2);
    let mut cm = vec![0.0; n * n];
    let mut g = c.benchmark_group("dgemm_path_256");
    g.throughput(Throughput::Elements(2 * (n * n * n) as u64));
    for path in cpu::DgemmPath::ALL.into_iter().filter(|p| p.available()) {
        g.bench_function(path.name(), |b| {
            b.iter(|| cpu::dgemm_rows_on(path, black_box(&a), black_box(&bm), &mut cm, n, 0))
        });
    }
    g.finish();
}

fn stream_kernels(c: &mut Criterion) {
    let n = 16 * 1024; // 3 x 128 KiB: in L2
    let (mut a, mut b, mut cc) = (vec![1.0; n], vec![2.0; n], vec![0.0; n]);
    let mut g = c.benchmark_group("stream_16Ki");
    g.throughput(Throughput::Bytes(16 * n as u64));
    g.bench_function("copy", |bn| {
        bn.iter(|| membw::copy(black_box(&mut cc), black_box(&a)))
    });
    g.bench_function("scale", |bn| {
        bn.iter(|| membw::scale(black_box(&mut b), black_box(&cc), 3.0))
    });
    g.throughput(Throughput::Bytes(24 * n as u64));
    g.bench_function("add", |bn| {
        bn.iter(|| membw::add(black_box(&mut cc), black_box(&a), black_box(&b)))
    });
    g.bench_function("triad", |bn| {
        bn.iter(|| membw::triad(black_box(&mut a), black_box(&b), black_box(&cc), 3.0))
    });
    g.finish();
}

fn randacc_kernel(c: &mut Criterion) {
    let table = randacc::new_table(16).expect("table");
    let mut g = c.benchmark_group("randacc");
    g.throughput(Throughput::Elements(randacc::updates_for(table.len())));
    g.bench_function("updates_2^16", |b| {
        b.iter(|| randacc::run_updates(black_box(&table), 1))
    });
    g.finish();
}

fn latency_kernel(c: &mut Criterion) {
    let lines = (64 << 10) / latency::LINE;
    let order = latency::random_order(lines, 3).expect("order");
    let mut buf = vec![0usize; lines * latency::LINE / 8];
    latency::write_chain(&mut buf, &order);
    latency::check_chain(&buf, &order).expect("valid chain");
    let loads = 100_000;
    let mut g = c.benchmark_group("latency");
    g.throughput(Throughput::Elements(loads));
    g.bench_function("chase_64KiB", |b| {
        // SAFETY: check_chain proved every line points at a line of `buf`,
        // which outlives the benchmark.
        b.iter(|| unsafe { latency::chase(black_box(buf.as_ptr()), loads) })
    });
    g.finish();
}

fn config() -> Criterion {
    // No plots: the plotters backend needs system fonts, absent on CI hosts.
    Criterion::default()
        .without_plots()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(300))
        .measurement_time(Duration::from_secs(1))
}

criterion_group! {
    name = kernels;
    config = config();
    targets = cpu_kernels, stream_kernels, randacc_kernel, latency_kernel
}
criterion_main!(kernels);
