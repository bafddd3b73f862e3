//! The kernel a direct-boot VMM loads (Firecracker, Cloud Hypervisor, QEMU microvm): on x86_64
//! an uncompressed ELF `vmlinux` (with its PVH note) out of a Debian `vmlinuz`; on arm64 the
//! `Image` itself, which Debian ships uncompressed as its `vmlinuz` (magic `ARM\x64` at byte 56).
//!
//! Debian's x86 kernels are compressed with LZ4 in the legacy frame format: magic
//! `02 21 4c 18`, then blocks of `u32 little-endian compressed size` + data, each
//! decompressing to at most 8 MiB.

const LZ4_LEGACY_MAGIC: [u8; 4] = [0x02, 0x21, 0x4c, 0x18];
const BLOCK_MAX: usize = 8 << 20;

/// A `vmlinuz` without an LZ4-compressed ELF kernel in it.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "no LZ4 (legacy frame) compressed ELF kernel found; give an uncompressed vmlinux or a kernel compressed with LZ4"
)]
pub struct NoCompressedElf;

/// Finds the LZ4 payload in `vmlinuz` and returns the ELF image it holds, trimmed to the ELF's
/// own length.
pub fn extract_vmlinux(vmlinuz: &[u8]) -> Result<Vec<u8>, NoCompressedElf> {
    let mut search = 0;
    while let Some(off) = find(&vmlinuz[search..], &LZ4_LEGACY_MAGIC).map(|o| o + search) {
        if let Some(elf) = decompress_legacy(&vmlinuz[off..]) {
            if elf.starts_with(b"\x7fELF") {
                return Ok(trim_elf(elf));
            }
        }
        search = off + 1;
    }
    Err(NoCompressedElf)
}

/// Whether `kernel` is an arm64 `Image` (the boot header's magic `ARM\x64` at byte 56), which
/// VMMs boot as it is.
pub fn is_arm64_image(kernel: &[u8]) -> bool {
    kernel.get(56..60) == Some(b"ARM\x64".as_slice())
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn decompress_legacy(data: &[u8]) -> Option<Vec<u8>> {
    let mut pos = 4;
    let mut out = Vec::new();
    let mut block = vec![0u8; BLOCK_MAX];
    while pos + 4 <= data.len() {
        let size = u32::from_le_bytes([data[pos], data[pos + 1], data[pos + 2], data[pos + 3]]) as usize;
        if data[pos..pos + 4] == LZ4_LEGACY_MAGIC {
            pos += 4;
            continue;
        }
        if size == 0 || pos + 4 + size > data.len() {
            break;
        }
        match lz4_flex::block::decompress_into(&data[pos + 4..pos + 4 + size], &mut block) {
            Ok(n) => out.extend_from_slice(&block[..n]),
            Err(_) => break,
        }
        pos += 4 + size;
        if out.len() > 1 << 30 {
            return None;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// Cuts trailing bytes past the end of a 64-bit ELF (section header table end).
fn trim_elf(mut elf: Vec<u8>) -> Vec<u8> {
    if elf.len() >= 64 && elf[4] == 2 {
        let u64_at = |o: usize| u64::from_le_bytes(elf[o..o + 8].try_into().unwrap_or([0; 8]));
        let u16_at = |o: usize| u16::from_le_bytes([elf[o], elf[o + 1]]) as u64;
        let end = u64_at(0x28) + u16_at(0x3a) * u16_at(0x3c);
        if end as usize <= elf.len() && end > 64 {
            elf.truncate(end as usize);
        }
    }
    elf
}

/// True when `elf` carries a Xen PVH entry note (`XEN_ELFNOTE_PHYS32_ENTRY`, type 18), which
/// QEMU microvm and Firecracker need to boot it directly.
pub fn has_pvh_note(elf: &[u8]) -> bool {
    // The note's name "Xen\0" followed by type 18 appears in a PT_NOTE segment; a byte scan is
    // enough to tell an image that has it.
    elf.windows(12).any(|w| w[0..4] == 4u32.to_le_bytes() && w[8..12] == 18u32.to_le_bytes())
        && find(elf, b"Xen\0").is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debians_arm64_vmlinuz_is_an_image_and_an_elf_is_not() {
        // The first 64 bytes of Debian's linux-image-6.1.0-57-cloud-arm64 `boot/vmlinuz-*`.
        let head = include_bytes!("../tests/fixtures/vmlinuz-6.1.0-57-cloud-arm64.head");
        assert!(is_arm64_image(head));
        assert!(!is_arm64_image(&head[..40]));
        assert!(!is_arm64_image(&fake_elf(256)));
    }

    fn fake_elf(len: usize) -> Vec<u8> {
        let mut e = vec![0u8; len];
        e[..4].copy_from_slice(b"\x7fELF");
        e[4] = 2;
        // Section headers end exactly at len: shoff = len - 2*64, 2 entries of 64 bytes.
        e[0x28..0x30].copy_from_slice(&((len - 128) as u64).to_le_bytes());
        e[0x3a..0x3c].copy_from_slice(&64u16.to_le_bytes());
        e[0x3c..0x3e].copy_from_slice(&2u16.to_le_bytes());
        for (i, b) in e.iter_mut().enumerate().skip(64) {
            *b = (i % 251) as u8;
        }
        e
    }

    #[test]
    fn extracts_multi_block_payload_from_surrounding_bytes() {
        let elf = fake_elf(BLOCK_MAX + 1000);
        let mut vmlinuz = b"MZ setup code and decompressor ".repeat(100);
        vmlinuz.extend_from_slice(&LZ4_LEGACY_MAGIC);
        for chunk in elf.chunks(BLOCK_MAX) {
            let c = lz4_flex::block::compress(chunk);
            vmlinuz.extend_from_slice(&(c.len() as u32).to_le_bytes());
            vmlinuz.extend_from_slice(&c);
        }
        // The kernel appends the uncompressed size, then more decompressor data.
        vmlinuz.extend_from_slice(&(elf.len() as u32).to_le_bytes());
        vmlinuz.extend_from_slice(&[0xff; 300]);
        assert_eq!(extract_vmlinux(&vmlinuz).unwrap(), elf);
    }

    #[test]
    fn no_payload_is_a_clear_error() {
        assert!(extract_vmlinux(b"not a kernel").unwrap_err().to_string().contains("LZ4"));
    }
}
