//! One nftables table per sandbox link: the guest reaches its own two peer ports on the host
//! end of its link and nothing else, neither the host's other services (anything on 0.0.0.0)
//! nor, with a route of its own, other sandboxes or the outside (no forwarding).
//!
//! Tables are sandbench's own (`inet sandbench_<pid>_<link hash>`), so nothing else's rules are
//! touched; a drop in any base chain is final in nftables, so other tables' accepts cannot
//! reopen the link. Removed with the link, and by the stale sweep once their owner pid is gone.

use crate::SandboxError;
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};

/// The table prefix every sandbench table carries.
const PREFIX: &str = "sandbench_";

/// A sandbox link's filter; deleted when dropped.
#[derive(Debug)]
pub struct Filter {
    pub table: String,
}

impl Filter {
    /// Lets packets arriving on `host_if` reach `host_addr` on `ports` only.
    pub fn install(id: &str, host_if: &str, host_addr: Ipv4Addr, ports: &[u16]) -> Result<Filter, SandboxError> {
        let table = format!("{PREFIX}{}_{:08x}", std::process::id(), crate::ids::id_hash(id));
        let rules = ruleset(&table, id, host_if, host_addr, ports);
        nft_stdin(&rules)?;
        Ok(Filter { table })
    }
}

impl Drop for Filter {
    fn drop(&mut self) {
        delete(&self.table);
    }
}

/// The table's text, for `nft -f -`.
pub fn ruleset(table: &str, id: &str, host_if: &str, host_addr: Ipv4Addr, ports: &[u16]) -> String {
    let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
    format!(
        "table inet {table} {{\n  comment \"sandbench {id}\"\n  chain input {{\n    type filter hook input priority -10; policy accept;\n    iifname \"{host_if}\" ip daddr {host_addr} tcp dport {{ {} }} accept\n    iifname \"{host_if}\" drop\n  }}\n  chain forward {{\n    type filter hook forward priority -10; policy accept;\n    iifname \"{host_if}\" drop\n    oifname \"{host_if}\" drop\n  }}\n}}\n",
        ports.join(", ")
    )
}

fn nft_stdin(rules: &str) -> Result<(), SandboxError> {
    use std::io::Write;
    let mut child = Command::new("nft")
        .args(["-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| SandboxError::Spawn {
            program: "nft".into(),
            source,
            hint: "a sandbox link is filtered with nftables: apt-get install nftables".into(),
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(rules.as_bytes());
    }
    let out = crate::process::wait_output(child, crate::TEARDOWN_WAIT, "nft -f -")?;
    if !out.status.success() {
        return Err(SandboxError::Command {
            command: "nft".into(),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(())
}

fn delete(table: &str) {
    let _ = crate::process::run_bounded(Command::new("nft").args(["delete", "table", "inet", table]));
}

/// sandbench tables in `nft list tables` output, with their owner pid.
pub fn parse_tables(text: &str) -> Vec<(String, u32)> {
    text.lines()
        .filter_map(|l| {
            let name = l.trim().strip_prefix("table inet ")?;
            let pid = name.strip_prefix(PREFIX)?.split('_').next()?.parse().ok()?;
            Some((name.to_string(), pid))
        })
        .collect()
}

/// Deletes the tables of dead sandbench processes. Returns what it removed.
pub fn reap_stale(is_stale: impl Fn(&str) -> bool) -> Vec<String> {
    let Some(out) = crate::process::run_bounded(Command::new("nft").args(["list", "tables"])) else {
        return Vec::new();
    };
    let mut removed = Vec::new();
    for (table, pid) in parse_tables(&String::from_utf8_lossy(&out.stdout)) {
        if is_stale(&format!("sb{pid}-")) {
            delete(&table);
            removed.push(format!("nftables table {table}"));
        }
    }
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ruleset_opens_only_the_peer_ports_on_the_hosts_own_address() {
        let r = ruleset("sandbench_1_00000001", "sb1-n-1", "sbh00000001", Ipv4Addr::new(10, 213, 0, 1), &[4000, 4001]);
        assert!(r.contains("iifname \"sbh00000001\" ip daddr 10.213.0.1 tcp dport { 4000, 4001 } accept"));
        assert!(r.contains("iifname \"sbh00000001\" drop"));
        assert!(r.contains("oifname \"sbh00000001\" drop"));
    }

    #[test]
    fn only_sandbench_tables_are_parsed() {
        let text = "table inet filter\ntable inet sandbench_123_0000abcd\ntable ip nat\ntable inet sandbench_x_1\n";
        assert_eq!(parse_tables(text), vec![("sandbench_123_0000abcd".to_string(), 123)]);
    }
}
