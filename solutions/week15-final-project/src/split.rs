//! The seeded train/test split.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::error::TrainError;

/// Row indices of the training and the test set, each in ascending order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    pub train: Vec<usize>,
    pub test: Vec<usize>,
}

/// Shuffles the row indices `0..rows` with a ChaCha8 generator seeded from
/// `seed` (the same on every platform and every run) and holds out
/// `round(rows * test_fraction)` of them for testing.
pub fn split(rows: usize, test_fraction: f64, seed: u64) -> Result<Split, TrainError> {
    if !(test_fraction > 0.0 && test_fraction < 1.0) {
        return Err(TrainError::TestFraction(test_fraction));
    }
    let mut order: Vec<usize> = (0..rows).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let n_test = (rows as f64 * test_fraction).round() as usize;
    let (test, train) = order.split_at(n_test);
    if test.is_empty() || train.is_empty() {
        return Err(TrainError::EmptySplit {
            train: train.len(),
            test: test.len(),
        });
    }
    // Sorted: only which rows are in each set depends on the seed, not their order.
    let sorted = |rows: &[usize]| {
        let mut rows = rows.to_vec();
        rows.sort_unstable();
        rows
    };
    Ok(Split {
        train: sorted(train),
        test: sorted(test),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_is_a_partition_in_the_right_proportion() {
        let s = split(1599, 0.2, 42).expect("valid");
        assert_eq!((s.train.len(), s.test.len()), (1279, 320));
        let mut all: Vec<usize> = s.train.iter().chain(&s.test).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..1599).collect::<Vec<_>>());
    }

    #[test]
    fn the_same_seed_gives_the_same_split_and_another_seed_another() {
        assert_eq!(split(100, 0.2, 7).ok(), split(100, 0.2, 7).ok());
        assert_ne!(split(100, 0.2, 7).ok(), split(100, 0.2, 8).ok());
    }

    #[test]
    fn bad_fractions_are_refused() {
        for f in [0.0, 1.0, -0.1, f64::NAN] {
            assert!(matches!(split(10, f, 1), Err(TrainError::TestFraction(_))));
        }
        assert!(matches!(
            split(3, 0.01, 1),
            Err(TrainError::EmptySplit { .. })
        ));
    }
}
