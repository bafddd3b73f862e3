//! The hosts of an Ansible inventory, read by Ansible itself (`ansible-inventory --list`), so
//! that every format it takes (YAML, INI, plugins) works and `ansible_host`, `ansible_user`,
//! `ansible_port` and groups mean what they mean to Ansible.

use crate::FleetError;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

/// One host as the inventory describes it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Host {
    /// The inventory name (what results and reports call it).
    pub name: String,
    /// Where Ansible connects: `ansible_host`, else the name.
    pub address: String,
    pub user: Option<String>,
    pub port: Option<u16>,
    /// Its groups, without `all` and `ungrouped`.
    pub groups: Vec<String>,
}

/// Every host of an inventory, by name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub hosts: BTreeMap<String, Host>,
}

impl Inventory {
    /// Asks `ansible-inventory` for the inventory at `path`.
    pub fn load(path: &Path) -> Result<Inventory, FleetError> {
        let out = Command::new("ansible-inventory")
            .arg("-i")
            .arg(path)
            .arg("--list")
            .env("ANSIBLE_INVENTORY_UNPARSED_WARNING", "False")
            .output()
            .map_err(|e| FleetError::Ansible {
                program: "ansible-inventory".into(),
                detail: format!("{e} (install ansible-core: apt-get install ansible-core, or scripts/setup.sh)"),
            })?;
        let inv = |detail: String| FleetError::Inventory { path: path.display().to_string(), detail };
        if !out.status.success() {
            return Err(inv(String::from_utf8_lossy(&out.stderr).trim().to_string()));
        }
        let parsed = Inventory::parse_list(&String::from_utf8_lossy(&out.stdout))
            .map_err(|source| FleetError::InventoryJson { path: path.display().to_string(), source })?;
        if parsed.hosts.is_empty() {
            // ansible-inventory warns and succeeds on a file it could not parse.
            let why = String::from_utf8_lossy(&out.stderr).trim().to_string();
            return Err(inv(if why.is_empty() { "no hosts".into() } else { format!("no hosts ({why})") }));
        }
        Ok(parsed)
    }

    /// The hosts of `ansible-inventory --list` output.
    pub fn parse_list(json: &str) -> Result<Inventory, serde_json::Error> {
        let v: Value = serde_json::from_str(json)?;
        let hostvars = &v["_meta"]["hostvars"];
        let mut groups_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
        collect_groups(&v, "all", &mut Vec::new(), &mut groups_of);
        let mut hosts = BTreeMap::new();
        for (name, groups) in groups_of {
            let vars = &hostvars[&name];
            let port = vars["ansible_port"].as_u64().or_else(|| vars["ansible_port"].as_str()?.parse().ok());
            let host = Host {
                address: vars["ansible_host"].as_str().unwrap_or(&name).to_string(),
                user: vars["ansible_user"].as_str().map(str::to_string),
                port: port.and_then(|p| u16::try_from(p).ok()),
                groups,
                name: name.clone(),
            };
            hosts.insert(name, host);
        }
        Ok(Inventory { hosts })
    }

    /// The names, in order.
    pub fn names(&self) -> Vec<String> {
        self.hosts.keys().cloned().collect()
    }
}

/// Walks the group tree from `group`, giving every host the groups above it.
fn collect_groups(v: &Value, group: &str, path: &mut Vec<String>, out: &mut BTreeMap<String, Vec<String>>) {
    if path.iter().any(|g| g == group) || path.len() > 64 {
        return; // a cycle, or absurd nesting
    }
    let named = !matches!(group, "all" | "ungrouped");
    if named {
        path.push(group.to_string());
    }
    for h in v[group]["hosts"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        let groups = out.entry(h.to_string()).or_default();
        for g in path.iter() {
            if !groups.contains(g) {
                groups.push(g.clone());
            }
        }
    }
    for child in v[group]["children"].as_array().into_iter().flatten().filter_map(Value::as_str) {
        collect_groups(v, child, path, out);
    }
    if named {
        path.pop();
    }
}
