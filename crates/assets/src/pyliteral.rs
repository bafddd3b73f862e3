//! Reads literals out of Python source without running Python: a bytes literal assigned to a
//! name (`WEIGHTS = b'...'`) and a list of string literals (`NAMES = ["a", "b"]`).

/// Why the literal could not be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum LiteralError {
    #[error("`{0} =` not found")]
    NotFound(String),
    #[error("malformed literal after `{0} =`: {1}")]
    Malformed(String, &'static str),
}

fn after_assignment<'a>(src: &'a str, name: &str) -> Result<&'a str, LiteralError> {
    let needle = format!("{name} =");
    let at = src
        .match_indices(&needle)
        .find(|(i, _)| *i == 0 || src.as_bytes()[i - 1] == b'\n')
        .map(|(i, _)| i)
        .ok_or_else(|| LiteralError::NotFound(name.to_string()))?;
    Ok(src[at + needle.len()..].trim_start())
}

/// Decodes one quoted literal starting at `s[0]` (the quote); returns the bytes and the rest.
fn quoted(s: &[u8]) -> Option<(Vec<u8>, &[u8])> {
    let q = *s.first()?;
    if q != b'\'' && q != b'"' {
        return None;
    }
    let mut out = Vec::new();
    let mut i = 1;
    while i < s.len() {
        match s[i] {
            c if c == q => return Some((out, &s[i + 1..])),
            b'\\' => {
                let e = *s.get(i + 1)?;
                i += 2;
                match e {
                    b'x' => {
                        let hex = std::str::from_utf8(s.get(i..i + 2)?).ok()?;
                        out.push(u8::from_str_radix(hex, 16).ok()?);
                        i += 2;
                    }
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'a' => out.push(7),
                    b'b' => out.push(8),
                    b'f' => out.push(12),
                    b'v' => out.push(11),
                    b'0'..=b'7' => {
                        let mut v = (e - b'0') as u32;
                        for _ in 0..2 {
                            match s.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    v = v * 8 + (d - b'0') as u32;
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push(v as u8);
                    }
                    b'\n' => {}
                    other => out.push(other),
                }
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    None
}

/// The bytes of `NAME = b'...'`.
pub fn bytes_literal(src: &str, name: &str) -> Result<Vec<u8>, LiteralError> {
    let rest = after_assignment(src, name)?;
    let rest = rest.strip_prefix('b').ok_or_else(|| LiteralError::Malformed(name.into(), "not a bytes literal"))?;
    quoted(rest.as_bytes()).map(|(b, _)| b).ok_or_else(|| LiteralError::Malformed(name.into(), "unterminated literal"))
}

/// The strings of `NAME = ["...", ...]`.
pub fn string_list(src: &str, name: &str) -> Result<Vec<String>, LiteralError> {
    let rest = after_assignment(src, name)?;
    let mut s = rest.strip_prefix('[').ok_or_else(|| LiteralError::Malformed(name.into(), "not a list"))?.as_bytes();
    let mut out = Vec::new();
    loop {
        while let Some((&c, tail)) = s.split_first() {
            if c.is_ascii_whitespace() || c == b',' {
                s = tail;
            } else {
                break;
            }
        }
        match s.first() {
            Some(b']') => return Ok(out),
            Some(b'#') => {
                let n = s.iter().position(|&c| c == b'\n').unwrap_or(s.len());
                s = &s[n..];
            }
            Some(_) => {
                let (item, tail) =
                    quoted(s).ok_or_else(|| LiteralError::Malformed(name.into(), "expected a string"))?;
                out.push(String::from_utf8_lossy(&item).into_owned());
                s = tail;
            }
            None => return Err(LiteralError::Malformed(name.into(), "unterminated list")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_python_bytes_escapes() {
        let src = "import x\nWEIGHTS = b'\\x08\\x06\\n\\'a\\\\\\t\"'\n";
        assert_eq!(bytes_literal(src, "WEIGHTS").unwrap(), b"\x08\x06\n'a\\\t\"");
    }

    #[test]
    fn reads_a_list_of_strings_with_comments() {
        let src = "_X = [\n    \"tench\",\n    # a comment\n    'great white shark',\n    \"it's\"\n]\n";
        assert_eq!(string_list(src, "_X").unwrap(), vec!["tench", "great white shark", "it's"]);
    }

    #[test]
    fn missing_and_unterminated_literals_are_errors() {
        assert_eq!(bytes_literal("A = 1", "WEIGHTS"), Err(LiteralError::NotFound("WEIGHTS".into())));
        assert!(bytes_literal("WEIGHTS = b'abc", "WEIGHTS").is_err());
        assert!(string_list("X = [\"a\", ", "X").is_err());
    }
}
