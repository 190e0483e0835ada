//! Week 8: worked examples (being written).
