//! A private network link between the host and one sandbox, for the `net` and `transfer`
//! workloads, whose peer runs inside sandbench on the host side of the link.
//!
//! - `native` and `oci`: a network namespace `sb-<id>` with a veth pair; the native agent is
//!   started inside the namespace, an OCI container joins it (`linux.namespaces` path). Both
//!   therefore cross the same kind of path (veth), as the issue asks.
//! - VMs: a tap device with virtio-net; the guest's initramfs configures its side from the
//!   kernel command line (`sandbench.net=<addr>/<prefix>`).
//!
//! Addresses are a /30 out of 10.213.0.0/16 (private), on interfaces sandbench creates and
//! removes; one not already on any interface of the host is chosen. Needs root.

use crate::SandboxError;
use sandbench_workloads::PeerLimits;
use std::net::Ipv4Addr;
use std::process::Command;

/// How the sandbox's end of the link is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkKind {
    /// A veth pair whose far end is in a network namespace of its own.
    Veth,
    /// A tap device for a VMM's virtio-net.
    Tap,
}

/// One live link. Removed by [`Link::remove`] (also on drop).
#[derive(Debug)]
pub struct Link {
    pub kind: LinkKind,
    /// The host-side interface (veth end or tap).
    pub host_if: String,
    /// The sandbox-side veth end (inside `netns`); `eth0` in a VM.
    pub guest_if: String,
    /// The namespace holding the sandbox end (veth only).
    pub netns: Option<String>,
    pub host_addr: Ipv4Addr,
    pub guest_addr: Ipv4Addr,
    pub prefix: u8,
    /// The veth end goes into this process's network namespace instead of a new one (a
    /// container a daemon started).
    attach_pid: Option<u32>,
    alias: String,
    removed: bool,
}

/// The /30 subnet number `i` of 10.213.0.0/16: (host, guest) addresses.
pub fn subnet(i: u32) -> (Ipv4Addr, Ipv4Addr) {
    let base = u32::from(Ipv4Addr::new(10, 213, 0, 0)) + (i % 16384) * 4;
    (Ipv4Addr::from(base + 1), Ipv4Addr::from(base + 2))
}

pub use crate::ids::id_hash;

/// The first subnet from `start` whose addresses no host interface uses (`ip -o addr` text).
pub fn free_subnet(start: u32, ip_addr_text: &str) -> (Ipv4Addr, Ipv4Addr) {
    (0..16384)
        .map(|k| subnet(start.wrapping_add(k)))
        .find(|(h, g)| !ip_addr_text.contains(&format!(" {h}/")) && !ip_addr_text.contains(&format!(" {g}/")))
        .unwrap_or_else(|| subnet(start))
}

fn ip(args: &[&str]) -> Result<(), SandboxError> {
    let out = Command::new("ip").args(args).output().map_err(|source| SandboxError::Spawn {
        program: "ip".into(),
        source,
        hint: "install it: apt-get install iproute2".into(),
    })?;
    if out.status.success() {
        Ok(())
    } else {
        Err(SandboxError::Command {
            command: format!("ip {}", args.join(" ")),
            detail: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        })
    }
}

fn quiet_ip(args: &[&str]) {
    let _ = crate::process::run_bounded(Command::new("ip").args(args));
}

impl Link {
    /// Creates the link for sandbox `id` and configures both ends (the VM's guest end is
    /// configured by the guest from [`Link::kernel_arg`]).
    pub fn create(id: &str, kind: LinkKind) -> Result<Link, SandboxError> {
        Link::new(id, kind, None)
    }

    /// A veth link into the network namespace of running process `pid` (named `sb-<id>` with
    /// `ip netns attach` while the link lives).
    pub fn attach(id: &str, pid: u32) -> Result<Link, SandboxError> {
        Link::new(id, LinkKind::Veth, Some(pid))
    }

    /// The link [`Link::create`] would make for `id` (names, addresses), without making
    /// anything: for configuration tests and dry runs. Removing it does nothing.
    pub fn planned(id: &str, kind: LinkKind) -> Link {
        let h = id_hash(id);
        let (host_addr, guest_addr) = subnet(h);
        Link {
            kind,
            host_if: format!("sbh{h:08x}"),
            guest_if: if kind == LinkKind::Veth { format!("sbg{h:08x}") } else { "eth0".into() },
            netns: (kind == LinkKind::Veth).then(|| format!("sb-{id}")),
            host_addr,
            guest_addr,
            prefix: 30,
            attach_pid: None,
            alias: format!("sandbench {id}"),
            removed: true,
        }
    }

    fn new(id: &str, kind: LinkKind, attach_pid: Option<u32>) -> Result<Link, SandboxError> {
        if !crate::is_root() {
            return Err(SandboxError::Unsupported {
                why: "a network link (net, transfer workloads) needs root: veth, tap and namespaces".into(),
            });
        }
        let used = Command::new("ip").args(["-o", "-4", "addr"]).output().map(|o| o.stdout).unwrap_or_default();
        let (host_addr, guest_addr) = free_subnet(id_hash(id), &String::from_utf8_lossy(&used));
        let mut link = Link::planned(id, kind);
        (link.host_addr, link.guest_addr, link.attach_pid) = (host_addr, guest_addr, attach_pid);
        // From here on it is real: removing it removes what `configure` made.
        link.removed = false;
        if let Err(e) = link.configure() {
            link.remove();
            return Err(e);
        }
        Ok(link)
    }

    fn configure(&self) -> Result<(), SandboxError> {
        let host_cidr = format!("{}/{}", self.host_addr, self.prefix);
        match (&self.kind, &self.netns) {
            (LinkKind::Veth, Some(ns)) => {
                match self.attach_pid {
                    Some(pid) => ip(&["netns", "attach", ns, &pid.to_string()])?,
                    None => ip(&["netns", "add", ns])?,
                }
                ip(&["link", "add", &self.host_if, "type", "veth", "peer", "name", &self.guest_if, "netns", ns])?;
                let guest_cidr = format!("{}/{}", self.guest_addr, self.prefix);
                ip(&["-n", ns, "addr", "add", &guest_cidr, "dev", &self.guest_if])?;
                ip(&["-n", ns, "link", "set", &self.guest_if, "up"])?;
                ip(&["-n", ns, "link", "set", "lo", "up"])?;
            }
            _ => ip(&["tuntap", "add", "dev", &self.host_if, "mode", "tap"])?,
        }
        ip(&["addr", "add", &host_cidr, "dev", &self.host_if])?;
        // The alias names the sandbox, so a sweep after a crash knows whose link it is.
        ip(&["link", "set", "dev", &self.host_if, "alias", &self.alias])?;
        ip(&["link", "set", &self.host_if, "up"])
    }

    /// The namespace file a process or container joins (veth links).
    pub fn netns_path(&self) -> Option<String> {
        self.netns.as_ref().map(|ns| format!("/var/run/netns/{ns}"))
    }

    /// The guest kernel argument the VM's initramfs reads to configure `eth0`.
    pub fn kernel_arg(&self) -> String {
        format!("sandbench.net={}/{}", self.guest_addr, self.prefix)
    }

    /// What shapes the numbers, for the record: path, addresses, MTU and offloads.
    pub fn describe(&self) -> String {
        let mtu = std::fs::read_to_string(format!("/sys/class/net/{}/mtu", self.host_if)).unwrap_or_default();
        let offloads = Command::new("ethtool")
            .args(["-k", &self.host_if])
            .output()
            .ok()
            .map(|o| offload_summary(&String::from_utf8_lossy(&o.stdout)))
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "offloads unknown (no ethtool)".into());
        let path = match self.kind {
            LinkKind::Veth => {
                format!("veth {} ⇄ {} in netns {}", self.host_if, self.guest_if, self.netns.as_deref().unwrap_or(""))
            }
            LinkKind::Tap => format!("tap {} (single queue, no vhost-net) ⇄ guest virtio-net eth0", self.host_if),
        };
        format!(
            "{path}; host {} guest {}/{}; mtu {}; {offloads}",
            self.host_addr,
            self.guest_addr,
            self.prefix,
            mtu.trim()
        )
    }

    /// Removes the link (and namespace). Idempotent.
    pub fn remove(&mut self) {
        if self.removed {
            return;
        }
        self.removed = true;
        if let Some(ns) = &self.netns {
            // Deleting a namespace of our own destroys the veth end inside it, and with it the
            // pair; for an attached one it only drops the name, and the next line goes.
            quiet_ip(&["netns", "del", ns]);
        }
        quiet_ip(&["link", "del", &self.host_if]);
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        self.remove();
    }
}

/// The offloads that change throughput figures, from `ethtool -k` output.
pub fn offload_summary(ethtool_k: &str) -> String {
    let keys =
        ["tcp-segmentation-offload", "generic-segmentation-offload", "generic-receive-offload", "tx-checksumming"];
    ethtool_k
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            keys.contains(&k.trim()).then(|| format!("{} {}", k.trim(), v.split_whitespace().next().unwrap_or("?")))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Removes links and namespaces of dead sandbench processes: namespaces are named
/// `sb-<sandbox id>`, host interfaces carry the alias `sandbench <sandbox id>`. Returns what it
/// removed.
pub fn reap_stale(is_stale: impl Fn(&str) -> bool) -> Vec<String> {
    let mut removed = Vec::new();
    for e in std::fs::read_dir("/sys/class/net").into_iter().flatten().flatten() {
        let alias = std::fs::read_to_string(e.path().join("ifalias")).unwrap_or_default();
        if alias.trim().strip_prefix("sandbench ").is_some_and(&is_stale) {
            let name = e.file_name().to_string_lossy().into_owned();
            quiet_ip(&["link", "del", &name]);
            removed.push(format!("interface {name}"));
        }
    }
    for e in std::fs::read_dir("/var/run/netns").into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name.strip_prefix("sb-").is_some_and(&is_stale) {
            quiet_ip(&["netns", "del", &name]);
            removed.push(format!("netns {name}"));
        }
    }
    removed
}

/// A sandbox's link with sandbench's peers listening on the host end: the `net` peer and the
/// `transfer` receiver (which stores what it receives under the sandbox's scratch space).
pub struct Network {
    peer: sandbench_workloads::net::Peer,
    receiver: Option<sandbench_workloads::transfer::Receiver>,
    /// Where the receiver stores files: beside the scratch space, never inside anything a
    /// guest can write; removed with the network.
    store: std::path::PathBuf,
    /// What the guest may reach through the link: the two peers, nothing else.
    pub filter: crate::firewall::Filter,
    pub link: Link,
}

impl Drop for Network {
    fn drop(&mut self) {
        // The receiver stops before its store goes; the link goes last (field drop order).
        drop(self.receiver.take());
        let _ = std::fs::remove_dir_all(&self.store);
    }
}

impl Network {
    pub fn create(id: &str, kind: LinkKind, limits: PeerLimits) -> Result<Network, SandboxError> {
        Network::with_link(id, Link::create(id, kind)?, limits)
    }

    /// A link into the network namespace of the running process `pid`.
    pub fn attach(id: &str, pid: u32, limits: PeerLimits) -> Result<Network, SandboxError> {
        Network::with_link(id, Link::attach(id, pid)?, limits)
    }

    fn with_link(id: &str, link: Link, limits: PeerLimits) -> Result<Network, SandboxError> {
        let ip = std::net::IpAddr::V4(link.host_addr);
        let what = |w: &str| format!("start the {w} on {}", link.host_addr);
        let peer = sandbench_workloads::net::Peer::start(ip, limits.session)
            .map_err(|source| SandboxError::Io { what: what("network peer"), source })?;
        let store = crate::scratch::received_dir(id);
        let receiver = sandbench_workloads::transfer::Receiver::start(ip, store.clone(), limits)
            .map_err(|source| SandboxError::Io { what: what("transfer receiver"), source })?;
        let ports = [peer.addr.port(), receiver.addr.port()];
        let filter = crate::firewall::Filter::install(id, &link.host_if, link.host_addr, &ports)?;
        Ok(Network { peer, receiver: Some(receiver), store, filter, link })
    }

    /// The parameters `net` and `transfer` trials take from this link's peers.
    pub fn peers(&self) -> sandbench_workloads::Peers {
        let r = self.receiver.as_ref();
        sandbench_workloads::Peers {
            net: self.peer.addr.to_string(),
            net_token: self.peer.token.clone(),
            transfer: r.map(|r| r.addr.to_string()).unwrap_or_default(),
            transfer_cert_sha256: r.map(|r| r.cert_sha256.clone()).unwrap_or_default(),
            transfer_token: r.map(|r| r.token.clone()).unwrap_or_default(),
        }
    }

    /// For the record: the path and what shapes it, and where the peers listen.
    pub fn describe(&self) -> String {
        let r = self.receiver.as_ref();
        format!(
            "{}; net peer {}, transfer receiver {} (TLS 1.3, certificate sha256 {}…); nftables table {} admits only these two",
            self.link.describe(),
            self.peer.addr,
            r.map(|r| r.addr.to_string()).unwrap_or_default(),
            r.map(|r| r.cert_sha256[..16].to_string()).unwrap_or_default(),
            self.filter.table
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_are_private_slash_30s() {
        assert_eq!(subnet(0), (Ipv4Addr::new(10, 213, 0, 1), Ipv4Addr::new(10, 213, 0, 2)));
        assert_eq!(subnet(65), (Ipv4Addr::new(10, 213, 1, 5), Ipv4Addr::new(10, 213, 1, 6)));
        assert_eq!(subnet(16384), subnet(0));
        let (h, g) = subnet(16383);
        assert!(h.is_private() && g.is_private());
    }

    #[test]
    fn a_used_subnet_is_skipped() {
        let text = "5: sbhx    inet 10.213.0.1/30 scope global sbhx\\       valid_lft forever";
        assert_eq!(free_subnet(0, text), subnet(1));
        assert_eq!(free_subnet(2, text), subnet(2));
    }

    #[test]
    fn interface_names_fit_the_kernel_limit() {
        let h = id_hash("sb123456-native-with-a-long-name-17");
        assert!(format!("sbh{h:08x}").len() <= 15);
        assert_ne!(id_hash("a"), id_hash("b"));
    }

    #[test]
    fn offloads_are_summarised() {
        let text = "Features for sbh1:\nrx-checksumming: on\ntx-checksumming: on\n\ttx-checksum-ipv4: off [fixed]\ntcp-segmentation-offload: on\ngeneric-receive-offload: off\n";
        assert_eq!(
            offload_summary(text),
            "tx-checksumming on, tcp-segmentation-offload on, generic-receive-offload off"
        );
    }
}
