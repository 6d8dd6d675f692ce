//! Small statistics: Wilson score intervals, rates and nearest-rank
//! percentiles, for the run's totals and the collector alike.

use serde::{Deserialize, Serialize};

/// z for a two-sided 95% interval.
pub const Z_95: f64 = 1.959_963_984_540_054;

/// A confidence interval of a proportion, both ends in [0, 1].
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Interval {
    pub low: f64,
    pub high: f64,
}

impl Interval {
    /// How every report says it: "95% CI 3.62%–62.45%" (ends at `decimals`).
    pub fn describe(&self, decimals: usize) -> String {
        format!("95% CI {}–{}", percent(self.low, decimals), percent(self.high, decimals))
    }
}

/// A proportion as a percentage: 0.2 → "20.00%" (2 decimals), "20%" (0).
pub fn percent(rate: f64, decimals: usize) -> String {
    format!("{:.*}%", decimals, rate * 100.0)
}

/// The Wilson score interval of `k` events in `n` trials at `z`; `None`
/// when there are no trials. Unlike the normal approximation it stays
/// inside [0, 1] and is honest for 0 / n and small n.
pub fn wilson(k: u64, n: u64, z: f64) -> Option<Interval> {
    if n == 0 {
        return None;
    }
    let n_f = n as f64;
    let p = k.min(n) as f64 / n_f;
    let z2 = z * z;
    let denominator = 1.0 + z2 / n_f;
    let center = (p + z2 / (2.0 * n_f)) / denominator;
    let half = z * (p * (1.0 - p) / n_f + z2 / (4.0 * n_f * n_f)).sqrt() / denominator;
    Some(Interval { low: (center - half).max(0.0), high: (center + half).min(1.0) })
}

/// Nearest-rank percentile of sorted values.
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// `k / n`, and 0 when `n` is 0 (the upstream summary's convention).
pub fn rate(k: u64, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        k as f64 / n as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_is_nearest_rank() {
        let v = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0];
        assert_eq!(percentile(&v, 0.5), Some(5.0));
        assert_eq!(percentile(&v, 0.95), Some(10.0));
        assert_eq!(percentile(&[], 0.5), None);
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-6
    }

    /// By hand, z = 1.96 (z² = 3.8416), k = 1, n = 5: p = 0.2,
    /// denominator = 1 + 3.8416/5 = 1.76832,
    /// center = (0.2 + 3.8416/10) / 1.76832 = 0.330348,
    /// half = 1.96 · √(0.2·0.8/5 + 3.8416/100) / 1.76832 = 1.96 · 0.265360 / 1.76832 = 0.294123,
    /// so [0.036225, 0.624470] (with the exact z: [0.036224, 0.624465]).
    #[test]
    fn wilson_matches_hand_computed_values() {
        let i = wilson(1, 5, Z_95).unwrap();
        assert!(close(i.low, 0.036_224_1) && close(i.high, 0.624_465_4), "{i:?}");
        // 0 of 10: the low end is exactly 0, the high end (z²/n)/(1 + z²/n) = 0.277533.
        let i = wilson(0, 10, Z_95).unwrap();
        assert_eq!(i.low, 0.0);
        assert!(close(i.high, 0.277_532_8), "{i:?}");
        // 10 of 10 mirrors it.
        let i = wilson(10, 10, Z_95).unwrap();
        assert!(close(i.low, 1.0 - 0.277_532_8) && close(i.high, 1.0), "{i:?}");
        assert_eq!(wilson(0, 0, Z_95), None);
    }

    #[test]
    fn wilson_contains_the_estimate_and_narrows_with_n() {
        for (k, n) in [(1, 3), (5, 50), (50, 500), (3, 22)] {
            let i = wilson(k, n, Z_95).unwrap();
            let p = rate(k, n);
            assert!(i.low <= p && p <= i.high, "{k}/{n}: {i:?}");
        }
        let small = wilson(5, 50, Z_95).unwrap();
        let large = wilson(50, 500, Z_95).unwrap();
        assert!(large.high - large.low < small.high - small.low);
    }

    #[test]
    fn rate_of_nothing_is_zero() {
        assert_eq!(rate(0, 0), 0.0);
        assert_eq!(rate(1, 20), 0.05);
    }
}
