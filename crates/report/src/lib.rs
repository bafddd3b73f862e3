//! Turns trial records into reports. One exporter per file.

pub mod markdown;
mod table;

pub use table::{headline_metric, rows, Row};
