//! Thresholds read off scores: where a set of benign scores reaches a false-positive rate.
//! The trainer sets each paranoia level's threshold this way, and `psf-guard eval
//! --report` reads recall at fixed rates the same way.

/// The lowest threshold at which at most `allowed` of `negatives` score at or above it:
/// just above the highest benign score that must not fire (0 when all may).
pub fn threshold_allowing(negatives: &[f32], allowed: usize) -> f32 {
    let mut sorted = negatives.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    match sorted.get(allowed) {
        Some(&score) => next_up(score),
        None => 0.0,
    }
}

/// The threshold at which at most `fpr` of `negatives` fire.
pub fn threshold_at(negatives: &[f32], fpr: f64) -> f32 {
    threshold_allowing(negatives, (fpr * negatives.len() as f64).floor() as usize)
}

/// The next float above a score in 0..=1.
fn next_up(score: f32) -> f32 {
    if score < 0.0 {
        0.0
    } else {
        f32::from_bits(score.to_bits() + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_let_through_at_most_the_rate() {
        let benign: Vec<f32> = (0..100).map(|i| i as f32 / 100.0).collect();
        let t = threshold_at(&benign, 0.02);
        assert_eq!(benign.iter().filter(|&&s| s >= t).count(), 2);
        assert_eq!(threshold_at(&benign, 1.0), 0.0);
        assert!(threshold_at(&benign, 0.0) > 0.99);
    }
}
