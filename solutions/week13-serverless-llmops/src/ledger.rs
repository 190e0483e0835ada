//! Tokens and money: what each call used, what a cache hit saved, and what
//! the billed tokens cost.
//!
//! Everything is an integer. Prices are micro-dollars (millionths of a
//! dollar) per million tokens, so $0.15 per million is `150_000`; tokens are
//! summed as they come; a cost is computed once, from a sum, and rounded up
//! once. Adding float dollars call by call would drift, and rounding each
//! call would bill a one-token call as nothing.

use std::collections::BTreeMap;

use serde::ser::SerializeStruct;
use serde::{Deserialize, Serialize};

/// Tokens, as OpenAI-compatible APIs report them in `usage`. Read from the
/// two counts (a server's `total_tokens` is not needed); written with
/// `total_tokens` too, as the API writes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub completion_tokens: u64,
}

impl Usage {
    /// Input and output tokens together. Computed, not taken from the
    /// server's `total_tokens`, so that it is always the sum of what is
    /// billed.
    pub fn total(&self) -> u64 {
        self.prompt_tokens + self.completion_tokens
    }

    pub fn add(&mut self, other: Usage) {
        self.prompt_tokens += other.prompt_tokens;
        self.completion_tokens += other.completion_tokens;
    }
}

impl Serialize for Usage {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut usage = serializer.serialize_struct("Usage", 3)?;
        usage.serialize_field("prompt_tokens", &self.prompt_tokens)?;
        usage.serialize_field("completion_tokens", &self.completion_tokens)?;
        usage.serialize_field("total_tokens", &self.total())?;
        usage.end()
    }
}

/// A model's prices, in micro-dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Price {
    pub input: u64,
    pub output: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no price is known for model `{0}` (add it under [prices]); refusing to count it as free")]
pub struct UnknownModel(pub String);

/// The price table, by model name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Prices(pub BTreeMap<String, Price>);

impl Prices {
    /// The price of `model`; a model missing from the table is an error,
    /// never free, or the first new model tried would be invisible.
    pub fn of(&self, model: &str) -> Result<Price, UnknownModel> {
        self.0
            .get(model)
            .copied()
            .ok_or_else(|| UnknownModel(model.to_owned()))
    }
}

/// The cost of `usage` at `price`, in micro-dollars, rounded up: a
/// fraction of a micro-dollar is billed as a whole one, never as nothing.
///
/// Call it once on a sum of usage, not per call and then added up: rounding
/// every call up would overcharge by up to a micro-dollar a call.
// lab:solution
pub fn cost_micros(usage: Usage, price: Price) -> u64 {
    // In u128 a product of two u64 cannot overflow, where in u64 a few
    // billion tokens at a high price would; only the sum can, at absurd
    // sizes, and saturates.
    let input = u128::from(usage.prompt_tokens) * u128::from(price.input);
    let output = u128::from(usage.completion_tokens) * u128::from(price.output);
    let scaled = input.saturating_add(output);
    u64::try_from(scaled.div_ceil(1_000_000)).unwrap_or(u64::MAX)
}
// lab:starter
// pub fn cost_micros(usage: Usage, price: Price) -> u64 {
//     // TODO(week 13): prompt tokens times the input price plus completion
//     // tokens times the output price, divided by a million and rounded up
//     // (in integers: mind the overflow of the product).
//     let _ = (usage, price);
//     todo!("week 13: price the usage in micro-dollars, rounded up once")
// }
// lab:end

/// The counts of one prompt version, or of a whole run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LedgerRow {
    /// Completed calls to the endpoint (a 429 is not one).
    pub calls: u64,
    pub cache_hits: u64,
    /// Tokens paid for: the answers that came from the endpoint.
    pub billed: Usage,
    /// Tokens the cache saved: what its answers cost when first asked.
    pub saved: Usage,
}

impl LedgerRow {
    /// Counts an answer; `cached` says whether the cache gave it.
    pub fn record(&mut self, usage: Usage, cached: bool) {
        if cached {
            self.cache_hits += 1;
            self.saved.add(usage);
        } else {
            self.calls += 1;
            self.billed.add(usage);
        }
    }

    /// Adds another row's counts to this one.
    pub fn add(&mut self, other: &LedgerRow) {
        self.calls += other.calls;
        self.cache_hits += other.cache_hits;
        self.billed.add(other.billed);
        self.saved.add(other.saved);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINI: Price = Price {
        input: 150_000,
        output: 600_000,
    };

    fn usage(prompt_tokens: u64, completion_tokens: u64) -> Usage {
        Usage {
            prompt_tokens,
            completion_tokens,
        }
    }

    // lab:starter
    // #[ignore = "TODO(week 13): passes once cost_micros is written"]
    // lab:end
    #[test]
    fn costs_are_integers_rounded_up_once() {
        // 1,000 input tokens at $0.15/M are 150 micro-dollars; 500 output
        // tokens at $0.60/M are 300.
        assert_eq!(cost_micros(usage(1_000, 500), MINI), 450);
        // One token costs 0.15 micro-dollars: billed as 1, not 0.
        assert_eq!(cost_micros(usage(1, 0), MINI), 1);
        assert_eq!(cost_micros(usage(0, 0), MINI), 0);
        // Exactly a whole number stays as it is.
        assert_eq!(cost_micros(usage(20, 0), MINI), 3);
        // Rounded once on the sum: three calls of 7 input tokens (1.05 each)
        // cost 4 together (3.15), not 3 × 2 = 6.
        let mut sum = Usage::default();
        for _ in 0..3 {
            sum.add(usage(7, 0));
        }
        assert_eq!(cost_micros(sum, MINI), 4);
        // No overflow at the extremes.
        let huge = Price {
            input: u64::MAX,
            output: u64::MAX,
        };
        assert_eq!(cost_micros(usage(u64::MAX, u64::MAX), huge), u64::MAX);
    }

    #[test]
    fn usage_is_written_with_its_total() {
        let json = serde_json::to_string(&usage(21, 5)).expect("json");
        assert_eq!(
            json,
            r#"{"prompt_tokens":21,"completion_tokens":5,"total_tokens":26}"#
        );
        let back: Usage = serde_json::from_str(&json).expect("reads back");
        assert_eq!(back, usage(21, 5));
    }

    #[test]
    fn an_unpriced_model_is_an_error_not_free() {
        let prices = Prices([("wine-mini".to_owned(), MINI)].into());
        assert_eq!(prices.of("wine-mini"), Ok(MINI));
        let err = prices.of("wine-max").expect_err("not priced");
        assert!(err.to_string().contains("`wine-max`"), "{err}");
    }

    #[test]
    fn hits_are_saved_and_calls_are_billed() {
        let mut row = LedgerRow::default();
        row.record(usage(10, 5), false);
        row.record(usage(10, 5), true);
        row.record(usage(3, 1), false);
        assert_eq!((row.calls, row.cache_hits), (2, 1));
        assert_eq!(row.billed, usage(13, 6));
        assert_eq!(row.saved, usage(10, 5));
        assert_eq!(row.billed.total(), 19);
        let mut total = LedgerRow::default();
        total.add(&row);
        total.add(&row);
        assert_eq!((total.calls, total.cache_hits), (4, 2));
        assert_eq!(total.billed, usage(26, 12));
    }
}
