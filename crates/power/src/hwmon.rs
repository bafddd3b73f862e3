//! hwmon power sensors (read through `libmedium`): `power*_input` (µW), `energy*_input` (µJ,
//! cumulative), and, for current/voltage monitors such as the Jetson's INA3221, `in*_input` ×
//! `curr*_input` with the channel labels as rail names. The older L4T layout
//! (`bus/i2c/drivers/ina3221x/*/iio:device*/in_power*_input`, mW, `rail_name_*`) is read too.

use crate::{read_trimmed, Domain, PowerError, Reading, Source, Value};
use libmedium::hwmon::sync_hwmon::Hwmons;
use libmedium::sensors::sync_sensors::curr::CurrentSensor;
use libmedium::sensors::sync_sensors::power::PowerSensor;
use libmedium::sensors::sync_sensors::voltage::VoltageSensor;
use libmedium::sensors::sync_sensors::SyncSensor;
use libmedium::sensors::SensorSubFunctionType;
use sandbench_spec::power::PowerSourceKind;
use std::path::{Path, PathBuf};
use std::time::Instant;

type ReadFn = Box<dyn FnMut() -> Result<Value, PowerError> + Send>;

/// One rail: its name and how to read it.
pub struct Rail {
    pub name: String,
    /// The hwmon chip's name (`ina3221`).
    pub chip: String,
    /// `power`, `energy`, `V×A`, `iio power`.
    pub how: &'static str,
    read: ReadFn,
}

impl std::fmt::Debug for Rail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name, self.how)
    }
}

fn lm_err(path: &str) -> impl Fn(libmedium::sensors::Error) -> PowerError + '_ {
    move |e| PowerError::Parse { path: path.to_string(), what: e.to_string() }
}

/// Rails of every hwmon under `<sysfs>/class/hwmon` with a power, energy or current sensor.
pub fn hwmon_rails(sysfs: &Path) -> Vec<Rail> {
    let Ok(hwmons) = Hwmons::parse_unrestricted(sysfs.join("class/hwmon")) else { return Vec::new() };
    let mut rails = Vec::new();
    for h in hwmons.iter() {
        let chip = h.name().to_string();
        let at = h.path().display().to_string();
        for s in h.powers().values() {
            let (s, at) = (s.clone(), at.clone());
            rails.push(Rail {
                name: format!("{chip}/{}", s.name()),
                chip: chip.clone(),
                how: "power",
                read: Box::new(move || {
                    // Some drivers (amdgpu) have only `power*_average`.
                    let p = s.read_input().or_else(|_| s.read_average()).map_err(lm_err(&at))?;
                    Ok(Value::Watts(p.as_watts()))
                }),
            });
        }
        for s in h.energies().values() {
            let (s, at) = (s.clone(), at.clone());
            rails.push(Rail {
                name: format!("{chip}/{}", s.name()),
                chip: chip.clone(),
                how: "energy",
                read: Box::new(move || {
                    // Read raw: libmedium's Energy holds a u32 of µJ, which a cumulative
                    // counter outgrows after 4.3 kJ.
                    let raw = s.read_raw(SensorSubFunctionType::Input).map_err(lm_err(&at))?;
                    let uj: u64 =
                        raw.parse().map_err(|_| PowerError::Parse { path: at.clone(), what: "µJ".into() })?;
                    Ok(Value::Joules(uj as f64 / 1e6))
                }),
            });
        }
        if !h.powers().is_empty() {
            continue;
        }
        // A current/voltage monitor: channel i's bus voltage × its current.
        for (i, c) in h.currents() {
            let Some(v) = h.voltages().get(i) else { continue };
            let (c, v, at) = (c.clone(), v.clone(), at.clone());
            rails.push(Rail {
                name: format!("{chip}/{}", c.name()),
                chip: chip.clone(),
                how: "V×A",
                read: Box::new(move || {
                    let a = c.read_input().map_err(lm_err(&at))?.as_amperes();
                    let u = v.read_input().map_err(lm_err(&at))?.as_volts();
                    Ok(Value::Watts(a * u))
                }),
            });
        }
    }
    rails
}

/// Rails of the L4T iio layout: `in_power<N>_input` in mW, named by `rail_name_<N>`.
pub fn iio_rails(sysfs: &Path) -> Vec<Rail> {
    let drivers = sysfs.join("bus/i2c/drivers/ina3221x");
    let mut devices: Vec<PathBuf> = Vec::new();
    for dev in std::fs::read_dir(&drivers).into_iter().flatten().flatten() {
        for iio in std::fs::read_dir(dev.path()).into_iter().flatten().flatten() {
            if iio.file_name().to_string_lossy().starts_with("iio:device") {
                devices.push(iio.path());
            }
        }
    }
    devices.sort();
    let mut rails = Vec::new();
    for dir in devices {
        for n in 0..8 {
            let input = dir.join(format!("in_power{n}_input"));
            if !input.exists() {
                continue;
            }
            let name = read_trimmed(&dir.join(format!("rail_name_{n}"))).unwrap_or_else(|_| format!("power{n}"));
            rails.push(Rail {
                name: format!("ina3221x/{name}"),
                chip: "ina3221x".into(),
                how: "iio power",
                read: Box::new(move || {
                    let mw: f64 = read_trimmed(&input)?
                        .parse()
                        .map_err(|_| PowerError::Parse { path: input.display().to_string(), what: "mW".into() })?;
                    Ok(Value::Watts(mw / 1e3))
                }),
            });
        }
    }
    rails
}

/// A board's input rail (Jetson `VDD_IN`, Nano `POM_5V_IN`): the whole board's power, which
/// the other rails are parts of.
pub fn is_board_input(rail: &str) -> bool {
    let label = rail.rsplit('/').next().unwrap_or(rail).to_ascii_uppercase();
    label == "VIN" || label.ends_with("_IN")
}

/// Which rails sum into the total: a board input rail where there is one (the others are its
/// parts); else every rail, except a chip's power sensors where it also counts energy (the
/// same power twice: the counter is kept, as it misses nothing between polls).
pub fn top_level(rails: &[Rail]) -> Vec<bool> {
    let any_input = rails.iter().any(|r| is_board_input(&r.name));
    let counts_energy = |chip: &str| rails.iter().any(|r| r.chip == chip && r.how == "energy");
    rails
        .iter()
        .map(|r| if any_input { is_board_input(&r.name) } else { !(r.how == "power" && counts_energy(&r.chip)) })
        .collect()
}

/// The hwmon source.
#[derive(Debug)]
pub struct Hwmon {
    rails: Vec<Rail>,
    domains: Vec<Domain>,
}

impl Hwmon {
    pub fn open(sysfs: &Path) -> Result<Hwmon, PowerError> {
        let mut rails = hwmon_rails(sysfs);
        rails.extend(iio_rails(sysfs));
        if rails.is_empty() {
            return Err(PowerError::Unsupported(format!(
                "no hwmon power, energy or current sensor under {}/class/hwmon, and no ina3221x iio device",
                sysfs.display()
            )));
        }
        let domains = top_level(&rails)
            .into_iter()
            .zip(&rails)
            .map(|(top_level, r)| Domain { name: r.name.clone(), top_level })
            .collect();
        Ok(Hwmon { rails, domains })
    }

    pub fn rails(&self) -> &[Rail] {
        &self.rails
    }
}

impl Source for Hwmon {
    fn kind(&self) -> PowerSourceKind {
        PowerSourceKind::Hwmon
    }

    fn describe(&self) -> String {
        let top: Vec<String> = self
            .rails
            .iter()
            .zip(&self.domains)
            .filter(|(_, d)| d.top_level)
            .map(|(r, _)| format!("{} ({})", r.name, r.how))
            .collect();
        format!(
            "hwmon: {} (what the sensor's rails carry: a board input rail is the board, not the wall)",
            top.join(" + ")
        )
    }

    fn domains(&self) -> &[Domain] {
        &self.domains
    }

    fn poll(&mut self, out: &mut Vec<Reading>) -> Result<(), PowerError> {
        let at = Instant::now();
        let values = self.rails.iter_mut().map(|r| (r.read)()).collect::<Result<Vec<_>, _>>()?;
        out.push(Reading { at, values, ambiguous: false, fresh: false });
        Ok(())
    }
}
