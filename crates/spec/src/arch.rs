//! The CPU architectures sandbench is built for, and QEMU's machines on each: what a campaign
//! may name on this host, and what the `qemu` driver runs.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Machine {
    Microvm,
    Q35,
    /// QEMU's arm64 machine (`qemu-system-aarch64 -M virt`): PCIe, a GIC, the PL011 console
    /// (`ttyAMA0`); the kernel is booted as an `Image`.
    Virt,
}

impl Machine {
    pub fn as_str(self) -> &'static str {
        match self {
            Machine::Microvm => "microvm",
            Machine::Q35 => "q35",
            Machine::Virt => "virt",
        }
    }

    /// The architecture whose QEMU has this machine.
    pub fn arch(self) -> Arch {
        match self {
            Machine::Microvm | Machine::Q35 => Arch::X86_64,
            Machine::Virt => Arch::Aarch64,
        }
    }

    /// The kernel's serial console on this machine (the agent's channel).
    pub fn console(self) -> &'static str {
        match self {
            Machine::Microvm | Machine::Q35 => "ttyS0",
            Machine::Virt => "ttyAMA0",
        }
    }
}

/// A CPU architecture sandbench is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::EnumIter)]
#[serde(rename_all = "snake_case")]
pub enum Arch {
    X86_64,
    Aarch64,
}

impl Arch {
    /// The architecture this program was built for (and so runs on).
    pub const HOST: Arch = if cfg!(target_arch = "aarch64") { Arch::Aarch64 } else { Arch::X86_64 };

    /// Rust's name (`std::env::consts::ARCH`), also the kernel's `uname -m`.
    pub fn as_str(self) -> &'static str {
        match self {
            Arch::X86_64 => "x86_64",
            Arch::Aarch64 => "aarch64",
        }
    }

    /// QEMU's machines for this architecture that sandbench drives; the first is the default.
    pub fn machines(self) -> &'static [Machine] {
        match self {
            Arch::X86_64 => &[Machine::Microvm, Machine::Q35],
            Arch::Aarch64 => &[Machine::Virt],
        }
    }

    pub fn default_machine(self) -> Machine {
        match self {
            Arch::X86_64 => Machine::Microvm,
            Arch::Aarch64 => Machine::Virt,
        }
    }

    /// The QEMU system emulator for this architecture, and the Debian package that has it.
    pub fn qemu(self) -> (&'static str, &'static str) {
        match self {
            Arch::X86_64 => ("qemu-system-x86_64", "qemu-system-x86"),
            Arch::Aarch64 => ("qemu-system-aarch64", "qemu-system-arm"),
        }
    }
}

/// Why `machine` cannot run on `host`, with the valid machines there (`None`: it can). The one
/// wording of the campaign check and of the `qemu` driver.
pub fn wrong_arch(machine: Machine, host: Arch) -> Option<String> {
    (machine.arch() != host).then(|| {
        let valid: Vec<String> = host.machines().iter().map(|m| format!("\"{m}\"")).collect();
        format!(
            "machine = \"{machine}\" is QEMU's {} machine and this host is {host}; valid machines here: {}",
            machine.arch(),
            valid.join(", ")
        )
    })
}

/// `{}` prints the name campaigns and records use.
impl std::fmt::Display for Machine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::fmt::Display for Arch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
