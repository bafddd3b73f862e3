//! `[[fleet.override]]`: what a campaign changes on some hosts of a fleet run (`sandbench fleet
//! run`), e.g. fewer vCPUs and less memory on a 2 GB board. Hosts and groups are the
//! inventory's names; overrides apply in file order, later ones winning.

use serde::{Deserialize, Serialize};

/// The campaign's fleet section.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetSpec {
    #[serde(rename = "override", default)]
    pub overrides: Vec<FleetOverride>,
}

/// Settings for the hosts it names (by inventory name) and the hosts of the groups it names.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FleetOverride {
    #[serde(default)]
    pub hosts: Vec<String>,
    #[serde(default)]
    pub groups: Vec<String>,
    /// The environments it changes (all when empty).
    #[serde(default)]
    pub environments: Vec<String>,
    #[serde(default)]
    pub vcpus: Option<u32>,
    #[serde(default)]
    pub memory_mib: Option<u64>,
    /// Environments these hosts do not run at all (e.g. a VM on a board without KVM).
    #[serde(default)]
    pub skip: Vec<String>,
}

impl FleetSpec {
    pub fn is_empty(&self) -> bool {
        self.overrides.is_empty()
    }
}

impl FleetOverride {
    pub fn applies_to(&self, host: &str, groups: &[String]) -> bool {
        self.hosts.iter().any(|h| h == host) || self.groups.iter().any(|g| groups.contains(g))
    }
}

#[cfg(test)]
mod tests {
    use crate::Campaign;
    use std::path::Path;

    const TEXT: &str = r#"
[[environment]]
name = "native"
driver = "native"
vcpus = 4
memory_mib = 4096

[[environment]]
name = "runc"
driver = "oci"
vcpus = 4
memory_mib = 4096

[[workload]]
name = "noop"
kind = "noop"

[[fleet.override]]
groups = ["nano2g"]
vcpus = 2
memory_mib = 1024

[[fleet.override]]
hosts = ["pi4-8g"]
environments = ["runc"]
memory_mib = 2048
skip = ["native"]
"#;

    #[test]
    fn overrides_apply_by_group_and_host_in_order() {
        let c = Campaign::parse(TEXT, Path::new("t.toml")).unwrap();
        let nano = c.for_host("nano-a", &["nano2g".into()]).unwrap();
        assert!(nano.envs().all(|e| e.vcpus == 2 && e.memory_mib == 1024));
        let pi = c.for_host("pi4-8g", &[]).unwrap();
        let envs: Vec<_> = pi.envs().map(|e| (e.name.as_str(), e.vcpus, e.memory_mib)).collect();
        assert_eq!(envs, vec![("runc", 4, 2048)]);
        let other = c.for_host("x", &[]).unwrap();
        assert!(other.envs().all(|e| e.vcpus == 4 && e.memory_mib == 4096));
        assert!(other.fleet.overrides.is_empty(), "the host's campaign has no fleet section");
        // What a host runs is a campaign that parses again.
        Campaign::parse(&toml::to_string(&pi).unwrap(), Path::new("pi.toml")).unwrap();
    }

    #[test]
    fn an_unknown_environment_names_the_valid_ones() {
        let text = TEXT.replace("skip = [\"native\"]", "skip = [\"kata\"]");
        let c = Campaign::parse(&text, Path::new("t.toml")).unwrap();
        let e = c.for_host("x", &[]).unwrap_err();
        assert_eq!((e.index, e.name.as_str(), e.valid.join(", ")), (2, "kata", "native, runc".to_string()));
        let e = e.to_string();
        assert!(e.contains("no environment `kata`") && e.contains("native, runc"), "{e}");
    }
}
