//! A bounds-checked little-endian reader over a byte slice, for the binary model formats
//! sandbench reads itself (torch pickles here, CTranslate2 in `speech`).

/// Reading went past the end; the offset where it was attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncated(pub usize);

/// A position in a byte slice.
pub struct Cursor<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Cursor { buf, pos: 0 }
    }

    /// The next `n` bytes.
    pub fn take(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len()).ok_or(Truncated(self.pos))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    pub fn u8(&mut self) -> Result<u8, Truncated> {
        Ok(self.take(1)?[0])
    }

    pub fn u16(&mut self) -> Result<u16, Truncated> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    pub fn u32(&mut self) -> Result<u32, Truncated> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// The bytes up to the next newline, which is consumed.
    pub fn line(&mut self) -> Result<&'a [u8], Truncated> {
        let rest = &self.buf[self.pos..];
        let n = rest.iter().position(|&b| b == b'\n').ok_or(Truncated(self.pos))?;
        self.pos += n + 1;
        Ok(&rest[..n])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_little_endian_and_stops_at_the_end() {
        let mut c = Cursor::new(&[1, 2, 0, 3, 0, 0, 0, b'h', b'i', b'\n', 9]);
        assert_eq!(c.u8(), Ok(1));
        assert_eq!(c.u16(), Ok(2));
        assert_eq!(c.u32(), Ok(3));
        assert_eq!(c.line(), Ok(&b"hi"[..]));
        assert_eq!(c.u16(), Err(Truncated(10)));
        assert_eq!(c.line(), Err(Truncated(10)));
        assert_eq!(c.u8(), Ok(9));
    }
}
