use serde_json::{Map, Value};

/// A parameter that is missing a valid value.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ParamError {
    #[error("parameter `{name}`: {why}")]
    Invalid { name: String, why: String },
    #[error("unknown parameter `{name}`; valid parameters: {valid}")]
    Unknown { name: String, valid: String },
}

/// Typed access to a workload's parameter table.
pub struct Params<'a> {
    map: &'a Map<String, Value>,
}

impl<'a> Params<'a> {
    pub fn new(map: &'a Map<String, Value>) -> Self {
        Params { map }
    }

    /// Fails on any key not in `valid`.
    pub fn only(&self, valid: &[&str]) -> Result<(), ParamError> {
        for key in self.map.keys() {
            if !valid.contains(&key.as_str()) {
                return Err(ParamError::Unknown { name: key.clone(), valid: valid.join(", ") });
            }
        }
        Ok(())
    }

    /// An unsigned integer in `[min, max]`, or `default` when absent.
    pub fn u64_in(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64, ParamError> {
        let Some(v) = self.map.get(name) else {
            return Ok(default);
        };
        let n = v.as_u64().ok_or_else(|| invalid(name, format!("expected an integer, got {v}")))?;
        if n < min || n > max {
            return Err(invalid(name, format!("{n} is outside {min}..={max}")));
        }
        Ok(n)
    }

    /// A number in `[min, max]`, or `default` when absent.
    pub fn f64_in(&self, name: &str, default: f64, min: f64, max: f64) -> Result<f64, ParamError> {
        let Some(v) = self.map.get(name) else {
            return Ok(default);
        };
        let n = v.as_f64().ok_or_else(|| invalid(name, format!("expected a number, got {v}")))?;
        if !(min..=max).contains(&n) {
            return Err(invalid(name, format!("{n} is outside {min}..={max}")));
        }
        Ok(n)
    }
}

fn invalid(name: &str, why: String) -> ParamError {
    ParamError::Invalid { name: name.to_string(), why }
}

impl Params<'_> {
    /// A string, or `default` when absent.
    pub fn string(&self, name: &str) -> Result<Option<String>, ParamError> {
        match self.map.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(v) => Err(invalid(name, format!("expected a string, got {v}"))),
        }
    }

    /// One of `choices`, or `default` when absent.
    pub fn choice(
        &self,
        name: &str,
        default: &'static str,
        choices: &[&'static str],
    ) -> Result<&'static str, ParamError> {
        match self.string(name)? {
            None => Ok(default),
            Some(s) => choices
                .iter()
                .find(|c| **c == s)
                .copied()
                .ok_or_else(|| invalid(name, format!("`{s}` is not one of {}", choices.join(", ")))),
        }
    }

    /// An optional number in `[min, max]`.
    pub fn map_f64(&self, name: &str, min: f64, max: f64) -> Result<Option<f64>, ParamError> {
        if self.map.contains_key(name) {
            self.f64_in(name, 0.0, min, max).map(Some)
        } else {
            Ok(None)
        }
    }

    /// A list of strings: a TOML array or one comma-separated string.
    pub fn list(&self, name: &str) -> Result<Option<Vec<String>>, ParamError> {
        match self.map.get(name) {
            None => Ok(None),
            Some(Value::String(s)) => {
                Ok(Some(s.split(',').map(str::trim).filter(|x| !x.is_empty()).map(String::from).collect()))
            }
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| v.as_str().map(String::from).ok_or_else(|| invalid(name, format!("`{v}` is not a string"))))
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(v) => Err(invalid(name, format!("expected a list of strings, got {v}"))),
        }
    }
}
