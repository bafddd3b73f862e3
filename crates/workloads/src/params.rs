use sandbench_protocol::parse_size;
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

    /// The whole table.
    pub fn map(&self) -> &'a Map<String, Value> {
        self.map
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

    /// Whether the table sets `name`.
    pub fn has(&self, name: &str) -> bool {
        self.map.contains_key(name)
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

impl Params<'_> {
    /// A true/false flag, or `default` when absent.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ParamError> {
        match self.map.get(name) {
            None => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(v) => Err(invalid(name, format!("expected true or false, got {v}"))),
        }
    }

    /// A size in bytes in `[min, max]`: an integer, or a string with a binary suffix
    /// (`"4K"`, `"1M"`, `"5G"`, `"512"`), or `default` when absent.
    pub fn size_in(&self, name: &str, default: u64, min: u64, max: u64) -> Result<u64, ParamError> {
        let n = match self.map.get(name) {
            None => return Ok(default),
            Some(Value::String(s)) => parse_size(s).ok_or_else(|| {
                invalid(name, format!("`{s}` is not a size; write bytes or a number with K, M or G (binary units)"))
            })?,
            Some(v) => v.as_u64().ok_or_else(|| invalid(name, format!("expected a size, got {v}")))?,
        };
        if n < min || n > max {
            return Err(invalid(name, format!("{n} bytes is outside {min}..={max}")));
        }
        Ok(n)
    }

    /// A list of sizes (each as in [`Params::size_in`]), or `None` when absent.
    pub fn sizes(&self, name: &str, min: u64, max: u64) -> Result<Option<Vec<u64>>, ParamError> {
        let items: Vec<Value> = match self.map.get(name) {
            None => return Ok(None),
            Some(Value::Array(items)) => items.clone(),
            Some(v) => vec![v.clone()],
        };
        let mut out = Vec::new();
        for item in items {
            let one = Map::from_iter([(name.to_string(), item)]);
            out.push(Params::new(&one).size_in(name, 0, min, max)?);
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn size_params_check_bounds_and_lists() {
        let map = json!({"bs": "4K", "bad": "4Q", "list": ["4K", 8192]}).as_object().cloned().unwrap_or_default();
        let p = Params::new(&map);
        assert_eq!(p.size_in("bs", 0, 512, 1 << 20), Ok(4096));
        assert!(p.size_in("bad", 0, 0, u64::MAX).unwrap_err().to_string().contains("`4Q` is not a size"));
        assert!(p.size_in("bs", 0, 8192, 1 << 20).is_err());
        assert_eq!(p.sizes("list", 512, 1 << 20), Ok(Some(vec![4096, 8192])));
        assert_eq!(p.flag("direct", true), Ok(true));
    }
}
