//! The worked examples of the course book, one module per week.
//!
//! Chapters include these listings with `{{#include}}` and ANCHOR markers, so the
//! code a reader sees is the code `cargo test -p course-examples` compiles and tests.

/// The course's decision tree: the very file every lab and solution shares.
#[path = "../../../solutions/week01-baseline/src/tree.rs"]
pub mod tree;

pub mod week01;
pub mod week02;
pub mod week03;
pub mod week04;
pub mod week05;
pub mod week06;
pub mod week07;
pub mod week08;
pub mod week09;
pub mod week10;
pub mod week11;
pub mod week12;
pub mod week13;
pub mod week14;
pub mod week15;
