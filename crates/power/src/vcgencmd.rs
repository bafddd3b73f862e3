//! The Raspberry Pi 5's PMIC through `vcgencmd pmic_read_adc`: one line per rail and
//! quantity (`VDD_CORE_A current(1)=2.21030000A`, `VDD_CORE_V volt(9)=0.80000000V`). Each
//! rail's power is its volts × amperes; the sum over rails is the board's figure (the 5 V
//! input itself has a voltage but no current channel, so the sum leaves out conversion losses
//! upstream of the PMIC). A Raspberry Pi 4 has no such ADC: use a meter (`source = "command"`).

use crate::{Domain, PowerError, Reading, Source, Value};
use sandbench_spec::power::PowerSourceKind;
use std::collections::BTreeMap;
use std::process::Command;
use std::time::Instant;

/// Rails with both a current and a voltage, in watts, by rail name (`VDD_CORE`).
pub fn parse(text: &str) -> BTreeMap<String, f64> {
    let (mut amps, mut volts) = (BTreeMap::new(), BTreeMap::new());
    for line in text.lines() {
        let Some((label, value)) = line.trim().split_once('=') else { continue };
        let Some(name) = label.split_whitespace().next() else { continue };
        let (num, unit) = value.trim().split_at(value.trim().len().saturating_sub(1));
        let Ok(x) = num.parse::<f64>() else { continue };
        match (unit, name.rsplit_once('_')) {
            ("A", Some((rail, "A"))) => amps.insert(rail.to_string(), x),
            ("V", Some((rail, "V"))) => volts.insert(rail.to_string(), x),
            _ => None,
        };
    }
    amps.into_iter().filter_map(|(rail, a)| volts.get(&rail).map(|v| (rail, a * v))).collect()
}

/// The vcgencmd source: the summed board power, then each rail.
pub struct Vcgencmd {
    program: String,
    rails: Vec<String>,
    domains: Vec<Domain>,
}

impl Vcgencmd {
    pub fn open() -> Result<Vcgencmd, PowerError> {
        let program = std::env::var("SANDBENCH_VCGENCMD").unwrap_or_else(|_| "vcgencmd".into());
        let text = run(&program).map_err(PowerError::Unsupported)?;
        let rails: Vec<String> = parse(&text).into_keys().collect();
        if rails.is_empty() {
            return Err(PowerError::Unsupported(
                "`vcgencmd pmic_read_adc` printed no rail with both current and voltage (a Raspberry Pi 4 or older \
                 has no power sensor: use a USB meter with source = \"command\")"
                    .into(),
            ));
        }
        let mut domains = vec![Domain { name: "board".into(), top_level: true }];
        domains.extend(rails.iter().map(|r| Domain { name: r.clone(), top_level: false }));
        Ok(Vcgencmd { program, rails, domains })
    }
}

fn run(program: &str) -> Result<String, String> {
    let out = Command::new(program)
        .arg("pmic_read_adc")
        .output()
        .map_err(|e| format!("{program} not found ({e}): it is Raspberry Pi OS's firmware tool"))?;
    if !out.status.success() {
        return Err(format!(
            "`{program} pmic_read_adc` failed ({}): only a Raspberry Pi 5 has the PMIC ADC; on a Pi 4 use a meter",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Source for Vcgencmd {
    fn kind(&self) -> PowerSourceKind {
        PowerSourceKind::Vcgencmd
    }

    fn describe(&self) -> String {
        format!("vcgencmd: board = Σ V×A over {} PMIC rails (not the 5 V input's losses)", self.rails.len())
    }

    fn domains(&self) -> &[Domain] {
        &self.domains
    }

    fn poll(&mut self, out: &mut Vec<Reading>) -> Result<(), PowerError> {
        let text = run(&self.program).map_err(PowerError::Meter)?;
        let at = Instant::now();
        let w = parse(&text);
        let mut values = vec![Value::Watts(w.values().sum())];
        values.extend(self.rails.iter().map(|r| Value::Watts(w.get(r).copied().unwrap_or(0.0))));
        out.push(Reading { at, values, ambiguous: false, fresh: false });
        Ok(())
    }
}
