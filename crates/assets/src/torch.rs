//! Reads float32 tensors from a PyTorch checkpoint in the legacy (pre-1.6, non-zip) format:
//! a magic pickle, a protocol version, system info, the state dict (tensors refer to storages by
//! persistent id), the list of storage keys, then each storage's raw bytes.
//!
//! Only the pickle opcodes such files use are understood; anything else is an error, never a
//! guess. Nothing is executed: globals are names, not code.

use crate::bytes::{Cursor, Truncated};
use std::collections::BTreeMap;

/// Why a checkpoint could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TorchError {
    #[error("pickle ended early at byte {0}")]
    Eof(usize),
    #[error("pickle opcode 0x{op:02x} at byte {at} is not supported")]
    Opcode { op: u8, at: usize },
    #[error("malformed checkpoint: {0}")]
    Malformed(String),
}

/// One tensor of a state dict: shape and row-major float32 values.
#[derive(Debug, Clone)]
pub struct Tensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

#[derive(Debug, Clone)]
enum V {
    None,
    Int(i64),
    Str(String),
    Tuple(Vec<V>),
    List(Vec<V>),
    Dict(Vec<(V, V)>),
    Global(String, String),
    Storage { key: String, dtype: String },
    TensorRef { key: String, offset: usize, shape: Vec<usize>, stride: Vec<usize> },
    Object,
    Mark,
}

impl V {
    fn int(&self) -> Result<i64, TorchError> {
        match self {
            V::Int(i) => Ok(*i),
            other => Err(TorchError::Malformed(format!("expected an int, found {other:?}"))),
        }
    }
    fn ints(&self) -> Result<Vec<usize>, TorchError> {
        match self {
            V::Tuple(items) => items.iter().map(|v| v.int().map(|i| i as usize)).collect(),
            other => Err(TorchError::Malformed(format!("expected a tuple of ints, found {other:?}"))),
        }
    }
}

struct Reader<'a> {
    c: Cursor<'a>,
    /// Storage type of every storage key seen in a persistent id.
    dtypes: BTreeMap<String, String>,
}

impl From<Truncated> for TorchError {
    fn from(t: Truncated) -> Self {
        TorchError::Eof(t.0)
    }
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TorchError> {
        Ok(self.c.take(n)?)
    }
    fn u8(&mut self) -> Result<u8, TorchError> {
        Ok(self.c.u8()?)
    }
    fn u32(&mut self) -> Result<u32, TorchError> {
        Ok(self.c.u32()?)
    }
    fn line(&mut self) -> Result<String, TorchError> {
        Ok(String::from_utf8_lossy(self.c.line()?).into_owned())
    }
    fn string(&mut self, n: usize) -> Result<String, TorchError> {
        Ok(String::from_utf8_lossy(self.take(n)?).into_owned())
    }

    /// Runs one pickle to its STOP opcode and returns the value it built.
    /// Runs the pickle machine to its STOP: opcodes that read a value, that use the memo, and
    /// that build containers or call a reduction.
    fn pickle(&mut self) -> Result<V, TorchError> {
        let mut stack: Vec<V> = Vec::new();
        let mut memo: BTreeMap<u32, V> = BTreeMap::new();
        loop {
            let at = self.c.pos;
            let op = self.u8()?;
            if op == b'.' {
                return stack.pop().ok_or_else(|| TorchError::Malformed("empty stack at STOP".into()));
            }
            if !(self.literal(op, &mut stack)?
                || self.memo_op(op, &mut stack, &mut memo)?
                || self.build(op, at, &mut stack)?)
            {
                return Err(TorchError::Opcode { op, at });
            }
        }
    }

    /// Opcodes that read a value from the stream (or skip a header); false for any other.
    fn literal(&mut self, op: u8, stack: &mut Vec<V>) -> Result<bool, TorchError> {
        match op {
            0x80 => {
                self.u8()?;
            }
            0x95 => {
                self.take(8)?;
            }
            b'N' => stack.push(V::None),
            0x88 | 0x89 => stack.push(V::Object),
            b'J' => stack.push(V::Int(self.u32()? as i32 as i64)),
            b'K' => stack.push(V::Int(self.u8()? as i64)),
            b'M' => {
                let b = self.take(2)?;
                stack.push(V::Int(u16::from_le_bytes([b[0], b[1]]) as i64));
            }
            0x8a => {
                let n = self.u8()? as usize;
                let b = self.take(n)?;
                let mut v: i128 = 0;
                for (i, byte) in b.iter().enumerate().take(16) {
                    v |= (*byte as i128) << (8 * i);
                }
                if n > 0 && n < 16 && b[n - 1] & 0x80 != 0 {
                    v -= 1i128 << (8 * n);
                }
                stack.push(V::Int(v as i64));
            }
            b'G' => {
                self.take(8)?;
                stack.push(V::Object);
            }
            b'X' => {
                let n = self.u32()? as usize;
                stack.push(V::Str(self.string(n)?));
            }
            0x8c | b'U' => {
                let n = self.u8()? as usize;
                stack.push(V::Str(self.string(n)?));
            }
            b'T' => {
                let n = self.u32()? as usize;
                stack.push(V::Str(self.string(n)?));
            }
            b'c' => {
                let module = self.line()?;
                let name = self.line()?;
                stack.push(V::Global(module, name));
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Opcodes of the memo and of stack copies; false for any other.
    fn memo_op(&mut self, op: u8, stack: &mut Vec<V>, memo: &mut BTreeMap<u32, V>) -> Result<bool, TorchError> {
        match op {
            b'q' => {
                let k = self.u8()? as u32;
                memo.insert(k, top(stack)?.clone());
            }
            b'r' => {
                let k = self.u32()?;
                memo.insert(k, top(stack)?.clone());
            }
            0x94 => {
                let k = memo.len() as u32;
                memo.insert(k, top(stack)?.clone());
            }
            b'h' | b'j' => {
                let k = if op == b'h' { self.u8()? as u32 } else { self.u32()? };
                let v = memo.get(&k).ok_or_else(|| TorchError::Malformed(format!("memo {k} unset")))?;
                stack.push(v.clone());
            }
            b'0' => {
                stack.pop();
            }
            b'2' => {
                let v = top(stack)?.clone();
                stack.push(v);
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// Opcodes that build tuples, lists and dicts, load storages and reduce; false for any other.
    fn build(&mut self, op: u8, at: usize, stack: &mut Vec<V>) -> Result<bool, TorchError> {
        match op {
            b'(' => stack.push(V::Mark),
            b')' => stack.push(V::Tuple(Vec::new())),
            b']' => stack.push(V::List(Vec::new())),
            b'}' => stack.push(V::Dict(Vec::new())),
            0x85..=0x87 => {
                let n = (op - 0x84) as usize;
                let items = split_top(stack, n)?;
                stack.push(V::Tuple(items));
            }
            b't' => {
                let items = pop_mark(stack)?;
                stack.push(V::Tuple(items));
            }
            b'a' => {
                let v = stack.pop().ok_or(TorchError::Eof(at))?;
                if let Some(V::List(l)) = stack.last_mut() {
                    l.push(v);
                }
            }
            b'e' => {
                let items = pop_mark(stack)?;
                if let Some(V::List(l)) = stack.last_mut() {
                    l.extend(items);
                }
            }
            b's' => {
                let kv = split_top(stack, 2)?;
                set_items(stack, kv)?;
            }
            b'u' => {
                let kv = pop_mark(stack)?;
                set_items(stack, kv)?;
            }
            b'Q' => {
                let pid = stack.pop().ok_or(TorchError::Eof(at))?;
                let st = storage(pid)?;
                if let V::Storage { key, dtype } = &st {
                    self.dtypes.insert(key.clone(), dtype.clone());
                }
                stack.push(st);
            }
            b'R' | 0x81 => {
                let args = stack.pop().ok_or(TorchError::Eof(at))?;
                let callable = stack.pop().ok_or(TorchError::Eof(at))?;
                stack.push(reduce(callable, args)?);
            }
            b'b' => {
                stack.pop();
            }
            _ => return Ok(false),
        }
        Ok(true)
    }
}

fn top(stack: &[V]) -> Result<&V, TorchError> {
    stack.last().ok_or_else(|| TorchError::Malformed("empty stack".into()))
}

fn split_top(stack: &mut Vec<V>, n: usize) -> Result<Vec<V>, TorchError> {
    if stack.len() < n {
        return Err(TorchError::Malformed("stack underflow".into()));
    }
    Ok(stack.split_off(stack.len() - n))
}

fn pop_mark(stack: &mut Vec<V>) -> Result<Vec<V>, TorchError> {
    let at = stack
        .iter()
        .rposition(|v| matches!(v, V::Mark))
        .ok_or_else(|| TorchError::Malformed("no MARK on the stack".into()))?;
    let items = stack.split_off(at + 1);
    stack.pop();
    Ok(items)
}

fn set_items(stack: &mut [V], kv: Vec<V>) -> Result<(), TorchError> {
    match stack.last_mut() {
        Some(V::Dict(d)) => {
            let mut it = kv.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                d.push((k, v));
            }
            Ok(())
        }
        Some(V::Object) => Ok(()),
        _ => Err(TorchError::Malformed("SETITEMS on something that is not a dict".into())),
    }
}

/// A persistent id `('storage', FloatStorage, key, location, size, view_metadata)`.
fn storage(pid: V) -> Result<V, TorchError> {
    let V::Tuple(items) = pid else { return Err(TorchError::Malformed("persistent id is not a tuple".into())) };
    match items.as_slice() {
        [V::Str(kind), V::Global(_, dtype), V::Str(key), ..] if kind == "storage" => {
            Ok(V::Storage { key: key.clone(), dtype: dtype.clone() })
        }
        _ => Err(TorchError::Malformed(format!("unexpected persistent id {items:?}"))),
    }
}

fn reduce(callable: V, args: V) -> Result<V, TorchError> {
    let V::Global(module, name) = &callable else { return Ok(V::Object) };
    match (module.as_str(), name.as_str()) {
        ("collections", "OrderedDict") => Ok(V::Dict(Vec::new())),
        ("torch._utils", "_rebuild_tensor_v2") | ("torch._utils", "_rebuild_tensor") => {
            let V::Tuple(a) = args else { return Err(TorchError::Malformed("tensor args".into())) };
            let [V::Storage { key, dtype }, offset, shape, stride, ..] = a.as_slice() else {
                return Err(TorchError::Malformed(format!("unexpected tensor args {a:?}")));
            };
            if dtype != "FloatStorage" {
                return Ok(V::Object); // num_batches_tracked and the like: not weights
            }
            Ok(V::TensorRef {
                key: key.clone(),
                offset: offset.int()? as usize,
                shape: shape.ints()?,
                stride: stride.ints()?,
            })
        }
        _ => Ok(V::Object),
    }
}

/// Reads every float32 tensor of a legacy-format state dict, by name.
pub fn load_legacy(bytes: &[u8]) -> Result<BTreeMap<String, Tensor>, TorchError> {
    let mut r = Reader { c: Cursor::new(bytes), dtypes: BTreeMap::new() };
    let magic = r.pickle()?;
    if !matches!(magic, V::Int(_)) {
        return Err(TorchError::Malformed("no torch magic number".into()));
    }
    r.pickle()?; // protocol version
    r.pickle()?; // sys info
    let dict = r.pickle()?;
    let V::List(keys) = r.pickle()? else { return Err(TorchError::Malformed("storage key list missing".into())) };
    let mut storages: BTreeMap<String, Vec<f32>> = BTreeMap::new();
    for k in keys {
        let V::Str(key) = k else { return Err(TorchError::Malformed("storage key is not a string".into())) };
        let n = u64::from_le_bytes(r.take(8)?.try_into().unwrap_or_default()) as usize;
        let size = match r.dtypes.get(&key).map(String::as_str) {
            Some("FloatStorage" | "IntStorage") => 4,
            Some("LongStorage" | "DoubleStorage") => 8,
            Some("HalfStorage" | "ShortStorage" | "BFloat16Storage") => 2,
            Some("ByteStorage" | "CharStorage" | "BoolStorage") => 1,
            other => return Err(TorchError::Malformed(format!("storage {key} has unknown type {other:?}"))),
        };
        let raw = r.take(n.checked_mul(size).ok_or(TorchError::Eof(r.c.pos))?)?;
        if size != 4 || r.dtypes.get(&key).map(String::as_str) != Some("FloatStorage") {
            continue;
        }
        storages.insert(key, raw.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect());
    }
    let V::Dict(entries) = dict else { return Err(TorchError::Malformed("the checkpoint is not a state dict".into())) };
    let mut out = BTreeMap::new();
    for (k, v) in entries {
        let (V::Str(name), V::TensorRef { key, offset, shape, stride }) = (k, v) else { continue };
        let data = storages.get(&key).ok_or_else(|| TorchError::Malformed(format!("storage {key} missing")))?;
        out.insert(name, gather(data, offset, &shape, &stride)?);
    }
    Ok(out)
}

/// Copies a strided view out of its storage into a row-major tensor.
fn gather(data: &[f32], offset: usize, shape: &[usize], stride: &[usize]) -> Result<Tensor, TorchError> {
    let count: usize = shape.iter().product();
    let mut out = Vec::with_capacity(count);
    let mut idx = vec![0usize; shape.len()];
    for _ in 0..count {
        let at = offset + idx.iter().zip(stride).map(|(i, s)| i * s).sum::<usize>();
        out.push(*data.get(at).ok_or_else(|| TorchError::Malformed("tensor view outside its storage".into()))?);
        for d in (0..shape.len()).rev() {
            idx[d] += 1;
            if idx[d] < shape[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Ok(Tensor { shape: shape.to_vec(), data: out })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gathers_a_transposed_view() {
        let t = gather(&[0., 1., 2., 3., 4., 5.], 0, &[3, 2], &[1, 3]).unwrap();
        assert_eq!(t.data, vec![0., 3., 1., 4., 2., 5.]);
    }

    #[test]
    fn truncated_input_is_an_error_not_a_panic() {
        let bytes = [0x80u8, 2, 0x8a, 10, 1, 2];
        assert!(load_legacy(&bytes).is_err());
        assert!(load_legacy(&[]).is_err());
    }
}
