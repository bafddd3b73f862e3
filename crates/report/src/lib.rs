//! Turns a results folder into statistics, verdicts, figures and reports.
//!
//! [`model::build`] computes everything once into a [`ReportModel`] (also `summary.json`);
//! each exporter (one file each) only formats it.

pub mod capacity;
pub mod cells;
pub mod compare;
pub mod csv;
pub mod energy;
pub mod figures;
pub mod fleet;
mod fmt;
pub mod html;
mod html_parts;
pub mod markdown;
pub mod model;
mod rows;
mod sentences;
pub mod sweep;
pub mod types;

pub use model::{build, build_with, Options, ReportModel, REPORT_SCHEMA};
