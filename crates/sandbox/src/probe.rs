//! What this host can run (`sandbench doctor`): every environment of the papers, with version,
//! verdict, reason and the exact install hint.

pub use crate::process::version_of;

/// Verdict for one component.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Works here (checked for real where the check says so).
    Ok,
    /// Not installed.
    Missing,
    /// Installed or present but cannot work here, or sandbench has no driver for it yet.
    Unsupported,
    /// Could not be checked (e.g. no guest image yet).
    Unknown,
}

#[derive(Debug, Clone, serde::Serialize)]
pub struct Availability {
    pub component: String,
    /// Environments this enables, as campaign `driver` values.
    pub driver: String,
    pub verdict: Verdict,
    pub version: Option<String>,
    pub detail: String,
    pub hint: Option<String>,
}

/// One doctor row.
pub(crate) fn avail(
    component: &str,
    driver: &str,
    verdict: Verdict,
    version: Option<String>,
    detail: impl Into<String>,
    hint: Option<&str>,
) -> Availability {
    Availability {
        component: component.into(),
        driver: driver.into(),
        verdict,
        version,
        detail: detail.into(),
        hint: hint.map(str::to_string),
    }
}
