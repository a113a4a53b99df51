//! Pure statistics over the repetitions of one figure: median, percentile
//! bootstrap confidence intervals (Efron & Tibshirani, "An Introduction to the
//! Bootstrap", ch. 13) with a fixed seed so reports are reproducible, the
//! coefficient of variation, the ratio of two medians with its interval, and
//! the Mann–Whitney U test (two-sided; exact distribution for small samples
//! without ties, normal approximation with tie and continuity correction
//! otherwise, as `scipy.stats.mannwhitneyu(method="auto")`).
//!
//! Nothing here touches the disk or knows about run directories.

/// Number of bootstrap resamples used by reports.
pub const DEFAULT_RESAMPLES: usize = 2000;
/// Confidence level of every interval in the reports.
pub const CONFIDENCE: f64 = 0.95;

/// A small deterministic PRNG (SplitMix64, Steele et al. 2014): enough for
/// resampling, and identical on every platform so a report is reproducible.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform integer in `0..n` (n > 0), by Lemire's multiply-shift.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }
}

/// FNV-1a of a string: a stable seed per figure, independent of the order in
/// which figures are computed.
pub fn seed_for(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x0000_0100_0000_01B3);
    }
    h
}

/// Median of the values (mean of the two middle ones for an even count).
/// `None` for an empty slice.
pub fn median(xs: &[f64]) -> Option<f64> {
    let mut v = xs.to_vec();
    median_in_place(&mut v)
}

/// Median that reorders `v` (avoids an allocation in the bootstrap loop).
fn median_in_place(v: &mut [f64]) -> Option<f64> {
    let n = v.len();
    if n == 0 {
        return None;
    }
    let mid = n / 2;
    let (_, m, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let upper = *m;
    if n % 2 == 1 {
        Some(upper)
    } else {
        let lower = v[..mid].iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some((lower + upper) / 2.0)
    }
}

/// Quantile `q` in 0..=1 with linear interpolation between order statistics
/// (Hyndman & Fan type 7, the default of numpy and R). `None` when empty.
pub fn quantile(xs: &[f64], q: f64) -> Option<f64> {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    quantile_sorted(&v, q)
}

fn quantile_sorted(v: &[f64], q: f64) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let h = (v.len() - 1) as f64 * q.clamp(0.0, 1.0);
    let lo = h.floor() as usize;
    let hi = h.ceil() as usize;
    Some(v[lo] + (h - lo as f64) * (v[hi] - v[lo]))
}

pub fn mean(xs: &[f64]) -> Option<f64> {
    if xs.is_empty() {
        None
    } else {
        Some(xs.iter().sum::<f64>() / xs.len() as f64)
    }
}

/// Sample standard deviation (n − 1 in the denominator). `None` below 2 values.
pub fn std_dev(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    Some((ss / (xs.len() - 1) as f64).sqrt())
}

/// Coefficient of variation: sample standard deviation over the mean.
pub fn cv(xs: &[f64]) -> Option<f64> {
    let m = mean(xs)?;
    if m == 0.0 {
        return None;
    }
    Some(std_dev(xs)? / m.abs())
}

/// A point estimate with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    pub point: f64,
    pub lo: f64,
    pub hi: f64,
}

impl Estimate {
    pub fn map(self, f: impl Fn(f64) -> f64) -> Estimate {
        let (a, b) = (f(self.lo), f(self.hi));
        Estimate {
            point: f(self.point),
            lo: a.min(b),
            hi: a.max(b),
        }
    }

    pub fn contains(&self, x: f64) -> bool {
        self.lo <= x && x <= self.hi
    }
}

/// Percentile bootstrap interval of the median.
pub fn bootstrap_median_ci(xs: &[f64], resamples: usize, seed: u64) -> Option<Estimate> {
    let point = median(xs)?;
    let n = xs.len();
    let mut rng = SplitMix64::new(seed);
    let mut buf = vec![0.0; n];
    let mut meds = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for slot in buf.iter_mut() {
            *slot = xs[rng.below(n)];
        }
        meds.push(median_in_place(&mut buf)?);
    }
    percentile_interval(point, &mut meds)
}

/// Percentile bootstrap interval of median(num) / median(den), resampling each
/// sample independently. `None` when either is empty or a median is zero.
pub fn bootstrap_ratio_ci(
    num: &[f64],
    den: &[f64],
    resamples: usize,
    seed: u64,
) -> Option<Estimate> {
    let (mn, md) = (median(num)?, median(den)?);
    if md == 0.0 {
        return None;
    }
    let mut rng = SplitMix64::new(seed);
    let mut bn = vec![0.0; num.len()];
    let mut bd = vec![0.0; den.len()];
    let mut ratios = Vec::with_capacity(resamples);
    for _ in 0..resamples {
        for slot in bn.iter_mut() {
            *slot = num[rng.below(num.len())];
        }
        for slot in bd.iter_mut() {
            *slot = den[rng.below(den.len())];
        }
        let d = median_in_place(&mut bd)?;
        if d != 0.0 {
            ratios.push(median_in_place(&mut bn)? / d);
        }
    }
    percentile_interval(mn / md, &mut ratios)
}

fn percentile_interval(point: f64, draws: &mut [f64]) -> Option<Estimate> {
    if draws.is_empty() {
        return None;
    }
    draws.sort_by(f64::total_cmp);
    let alpha = (1.0 - CONFIDENCE) / 2.0;
    Some(Estimate {
        point,
        lo: quantile_sorted(draws, alpha)?,
        hi: quantile_sorted(draws, 1.0 - alpha)?,
    })
}

/// Everything a report says about the repetitions of one figure.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub median: Estimate,
    pub min: f64,
    pub max: f64,
    pub mean: f64,
    /// Coefficient of variation; `None` below two values.
    pub cv: Option<f64>,
}

/// Summarise a sample; `None` when it is empty.
pub fn summarize(xs: &[f64], resamples: usize, seed: u64) -> Option<Summary> {
    Some(Summary {
        n: xs.len(),
        median: bootstrap_median_ci(xs, resamples, seed)?,
        min: xs.iter().copied().fold(f64::INFINITY, f64::min),
        max: xs.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        mean: mean(xs)?,
        cv: cv(xs),
    })
}

/// Result of a two-sided Mann–Whitney U test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MannWhitney {
    /// U statistic of the first sample (scipy's `statistic`).
    pub u1: f64,
    pub p_value: f64,
    /// True when the exact null distribution was used.
    pub exact: bool,
}

/// Two-sided Mann–Whitney U test of `x` against `y`. `None` when either is empty.
pub fn mann_whitney_u(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    mwu(x, y, false)
}

/// The same test, always with the normal approximation.
pub fn mann_whitney_u_asymptotic(x: &[f64], y: &[f64]) -> Option<MannWhitney> {
    mwu(x, y, true)
}

fn mwu(x: &[f64], y: &[f64], force_asymptotic: bool) -> Option<MannWhitney> {
    let (n1, n2) = (x.len(), y.len());
    if n1 == 0 || n2 == 0 {
        return None;
    }
    let mut all: Vec<(f64, usize)> = x
        .iter()
        .map(|&v| (v, 0))
        .chain(y.iter().map(|&v| (v, 1)))
        .collect();
    all.sort_by(|a, b| a.0.total_cmp(&b.0));
    let n = all.len();
    let mut r1 = 0.0;
    let mut tie_term = 0.0;
    let mut i = 0;
    while i < n {
        let mut j = i;
        while j + 1 < n && all[j + 1].0 == all[i].0 {
            j += 1;
        }
        let t = (j - i + 1) as f64;
        let rank = (i + j) as f64 / 2.0 + 1.0;
        r1 += all[i..=j].iter().filter(|e| e.1 == 0).count() as f64 * rank;
        tie_term += t * t * t - t;
        i = j + 1;
    }
    let (n1f, n2f) = (n1 as f64, n2 as f64);
    let u1 = r1 - n1f * (n1f + 1.0) / 2.0;
    let u2 = n1f * n2f - u1;
    let u = u1.max(u2);
    let ties = tie_term > 0.0;
    // scipy's rule (exact when a sample has at most 8 values and there are
    // no ties), bounded so the counting table stays small.
    if (n1 <= 8 || n2 <= 8) && !ties && n1 * n2 <= 800 && !force_asymptotic {
        let p = (2.0 * exact_sf(n1, n2, u.round() as usize)).min(1.0);
        return Some(MannWhitney {
            u1,
            p_value: p,
            exact: true,
        });
    }
    let mu = n1f * n2f / 2.0;
    let nf = n as f64;
    let var = n1f * n2f / 12.0 * ((nf + 1.0) - tie_term / (nf * (nf - 1.0)));
    let p = if var <= 0.0 {
        1.0
    } else {
        let z = (u - mu - 0.5) / var.sqrt();
        (2.0 * normal_sf(z)).min(1.0)
    };
    Some(MannWhitney {
        u1,
        p_value: p,
        exact: false,
    })
}

/// P(U >= u) under the null for sample sizes n1, n2 without ties, counting
/// arrangements with the recurrence f(m, n, u) = f(m−1, n, u−n) + f(m, n−1, u).
fn exact_sf(n1: usize, n2: usize, u: usize) -> f64 {
    let max_u = n1 * n2;
    // counts[m][k][u] built bottom-up over m for fixed n: keep a table per (m, k).
    let mut table = vec![vec![vec![0f64; max_u + 1]; n2 + 1]; n1 + 1];
    for (m, row) in table.iter_mut().enumerate() {
        for (k, cell) in row.iter_mut().enumerate() {
            if m == 0 || k == 0 {
                cell[0] = 1.0;
            }
        }
    }
    for m in 1..=n1 {
        for k in 1..=n2 {
            for uu in 0..=m * k {
                let a = if uu >= k {
                    table[m - 1][k][uu - k]
                } else {
                    0.0
                };
                let b = table[m][k - 1][uu];
                table[m][k][uu] = a + b;
            }
        }
    }
    let counts = &table[n1][n2];
    let total: f64 = counts.iter().sum();
    let tail: f64 = counts[u.min(max_u)..].iter().sum();
    tail / total
}

/// Upper tail of the standard normal distribution, 1 − Φ(z).
pub fn normal_sf(z: f64) -> f64 {
    0.5 * erfc(z / std::f64::consts::SQRT_2)
}

/// Complementary error function: Taylor series of erf for |x| < 1.5, and the
/// continued fraction of erfc (Abramowitz & Stegun 7.1.14, evaluated with
/// Lentz's method) above. Relative error below 1e-12.
pub fn erfc(x: f64) -> f64 {
    if x < 0.0 {
        return 2.0 - erfc(-x);
    }
    if x < 1.5 {
        let mut sum = x;
        let mut term = x;
        let x2 = x * x;
        let mut k = 0.0;
        loop {
            k += 1.0;
            term *= -x2 / k;
            let add = term / (2.0 * k + 1.0);
            sum += add;
            if add.abs() <= 1e-17 * sum.abs() || k > 200.0 {
                break;
            }
        }
        return 1.0 - sum * 2.0 / std::f64::consts::PI.sqrt();
    }
    // erfc(x) = exp(-x²)/sqrt(pi) * 1/(x + 1/2/(x + 1/(x + 3/2/(x + ...))))
    let tiny = 1e-300;
    let mut f = x;
    let mut c = x;
    let mut d = 0.0;
    for i in 1..300 {
        let a = i as f64 / 2.0;
        d = x + a * d;
        if d.abs() < tiny {
            d = tiny;
        }
        c = x + a / c;
        if c.abs() < tiny {
            c = tiny;
        }
        d = 1.0 / d;
        let delta = c * d;
        f *= delta;
        if (delta - 1.0).abs() < 1e-16 {
            break;
        }
    }
    (-x * x).exp() / (f * std::f64::consts::PI.sqrt())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    const A: [f64; 9] = [12.1, 11.8, 12.6, 13.0, 11.9, 12.2, 12.4, 30.0, 12.0];
    const B: [f64; 8] = [10.2, 10.9, 11.1, 10.4, 10.8, 11.5, 10.0, 10.6];

    #[test]
    fn median_quantile_cv_match_python() {
        // Reference: Python 3.11 `statistics.median`, `statistics.stdev`,
        // `statistics.mean`, and numpy 2.4 `np.quantile(x, q)` (linear method).
        assert_eq!(median(&A), Some(12.2));
        assert!(close(median(&B).unwrap(), 10.7, 1e-12));
        assert!(close(mean(&A).unwrap(), 14.222222222222221, 1e-12));
        assert!(close(std_dev(&A).unwrap(), 5.928485847536827, 1e-12));
        assert!(close(cv(&A).unwrap(), 0.41684666115493313, 1e-12));
        assert!(close(quantile(&A, 0.025).unwrap(), 11.82, 1e-12));
        assert!(close(quantile(&A, 0.975).unwrap(), 26.6, 1e-12));
        assert_eq!(median(&[]), None);
        assert_eq!(cv(&[3.0]), None);
    }

    #[test]
    fn mann_whitney_matches_scipy() {
        // Reference: scipy 1.17.1
        // `scipy.stats.mannwhitneyu(A, B, alternative="two-sided")` →
        // statistic=72.0, pvalue=8.227067050596462e-05 (n2 = 8, no ties: exact);
        // with method="asymptotic": pvalue=0.0006355079242469125.
        let r = mann_whitney_u(&A, &B).unwrap();
        assert_eq!(r.u1, 72.0);
        assert!(r.exact);
        assert!(close(r.p_value, 8.227067050596462e-05, 1e-9), "{r:?}");
        let r = mann_whitney_u_asymptotic(&A, &B).unwrap();
        assert!(close(r.p_value, 0.0006355079242469125, 1e-9), "{r:?}");

        // Exact branch, no ties, n ≤ 8: scipy → statistic=2.0,
        // pvalue=0.11428571428571428.
        let x = [1.0, 2.0, 3.5, 4.0];
        let y = [3.0, 5.0, 6.0, 7.0];
        let r = mann_whitney_u(&x, &y).unwrap();
        assert!(r.exact);
        assert_eq!(r.u1, 2.0);
        assert!(close(r.p_value, 0.11428571428571428, 1e-12), "{r:?}");

        // Ties, asymptotic with tie correction: scipy →
        // statistic=3.0, pvalue=0.01810094873944969.
        let x = [1.0, 2.0, 2.0, 3.0, 3.0, 4.0];
        let y = [3.0, 4.0, 4.0, 5.0, 6.0, 6.0];
        let r = mann_whitney_u(&x, &y).unwrap();
        assert_eq!(r.u1, 3.0);
        assert!(!r.exact);
        assert!(close(r.p_value, 0.01810094873944969, 1e-9), "{r:?}");
    }

    #[test]
    fn erfc_matches_reference() {
        // Reference: Python 3.11 `math.erfc`.
        assert!(close(erfc(0.0), 1.0, 1e-15));
        let reference = [
            (0.5, 0.4795001221869535),
            (1.49, 0.03510213515679579),
            (1.51, 0.03272325187128836),
            (2.0, 0.004677734981047265),
            (2.49, 0.000429287867733913),
            (2.51, 0.0003857054817242798),
            (3.0, 2.2090496998585438e-05),
            (6.0, 2.1519736712498916e-17),
            (-1.0, 1.842700792949715),
        ];
        for (x, want) in reference {
            assert!(close(erfc(x), want, 1e-12), "erfc({x}) = {:e}", erfc(x));
        }
    }

    #[test]
    fn bootstrap_is_reproducible_and_brackets_the_median() {
        let a = bootstrap_median_ci(&A, DEFAULT_RESAMPLES, 7).unwrap();
        let b = bootstrap_median_ci(&A, DEFAULT_RESAMPLES, 7).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.point, 12.2);
        assert!(a.lo <= a.point && a.point <= a.hi);
        assert!(a.lo >= 11.8 && a.hi <= 30.0);
        // The outlier does not drag the interval of the median up to 30.
        assert!(a.hi < 13.1, "{a:?}");
    }

    #[test]
    fn bootstrap_of_a_constant_is_a_point() {
        let e = bootstrap_median_ci(&[5.0; 6], 500, 1).unwrap();
        assert_eq!((e.lo, e.point, e.hi), (5.0, 5.0, 5.0));
        let r = bootstrap_ratio_ci(&[4.0; 3], &[8.0; 5], 500, 1).unwrap();
        assert_eq!((r.lo, r.point, r.hi), (0.5, 0.5, 0.5));
    }

    #[test]
    fn ratio_interval_separates_different_samples() {
        let r = bootstrap_ratio_ci(&B, &A, DEFAULT_RESAMPLES, 3).unwrap();
        assert!(close(r.point, 10.7 / 12.2, 1e-12));
        assert!(r.hi < 1.0, "{r:?}");
    }

    /// Property: for many pseudo-random samples the interval holds the median,
    /// lies within [min, max], and does not widen when every value is shifted.
    #[test]
    fn bootstrap_properties_hold_on_random_samples() {
        let mut rng = SplitMix64::new(99);
        for case in 0..200 {
            let n = 1 + rng.below(25);
            let xs: Vec<f64> = (0..n)
                .map(|_| (rng.next_u64() % 10_000) as f64 / 7.0)
                .collect();
            let s = summarize(&xs, 300, case).unwrap();
            assert!(s.median.lo <= s.median.point && s.median.point <= s.median.hi);
            assert!(s.min <= s.median.lo && s.median.hi <= s.max);
            let shifted: Vec<f64> = xs.iter().map(|x| x + 1000.0).collect();
            let t = summarize(&shifted, 300, case).unwrap();
            assert!(close(t.median.lo, s.median.lo + 1000.0, 1e-9));
            assert!(close(t.median.hi, s.median.hi + 1000.0, 1e-9));
            // Mann–Whitney of a sample against itself finds nothing.
            assert!(mann_whitney_u(&xs, &xs).unwrap().p_value > 0.5);
        }
    }

    #[test]
    fn rng_below_is_in_range() {
        let mut r = SplitMix64::new(0);
        for n in 1..100 {
            assert!(r.below(n) < n);
        }
    }
}
