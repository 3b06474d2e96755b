//! A minimal PNG encoder for the chart's RGB pixel buffer (8-bit truecolour, zlib via
//! `flate2`, CRC-32 via `flate2::Crc`), so the image is built in memory and written atomically
//! like every other output. Owns only the file format; it does not draw.

use std::io::Write;

use anyhow::{Result, bail};
use flate2::Compression;
use flate2::Crc;
use flate2::write::ZlibEncoder;

/// The eight bytes every PNG file starts with.
pub(crate) const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

/// Encodes `rgb` (row-major, 3 bytes per pixel, `width * height` pixels) as a PNG.
///
/// # Errors
/// A buffer whose length is not `width * height * 3`, or a zero dimension.
pub(crate) fn encode_rgb(rgb: &[u8], width: u32, height: u32) -> Result<Vec<u8>> {
    let row = width as usize * 3;
    if width == 0 || height == 0 || rgb.len() != row * height as usize {
        bail!(
            "PNG encoder: {} bytes is not a {width}x{height} RGB image",
            rgb.len()
        );
    }
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // Bit depth 8, colour type 2 (RGB), deflate, adaptive filtering, no interlace.
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);

    // Filter type 1 ("Sub") on every row: flat chart areas become runs of zeros.
    let mut z = ZlibEncoder::new(Vec::with_capacity(rgb.len() / 8), Compression::default());
    let mut filtered = vec![0_u8; row + 1];
    filtered[0] = 1;
    for line in rgb.chunks_exact(row) {
        filtered[1..4].copy_from_slice(&line[..3]);
        for i in 3..row {
            filtered[1 + i] = line[i].wrapping_sub(line[i - 3]);
        }
        z.write_all(&filtered)?;
    }
    let idat = z.finish()?;

    let mut out = Vec::with_capacity(idat.len() + 64);
    out.extend_from_slice(&PNG_MAGIC);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(&mut out, b"IDAT", &idat);
    chunk(&mut out, b"IEND", &[]);
    Ok(out)
}

/// Appends one chunk: length, type, data, CRC-32 of type and data.
fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    let len = u32::try_from(data.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
}

/// Reads (width, height) from a PNG's header, if it is one.
pub(crate) fn dimensions(png: &[u8]) -> Option<(u32, u32)> {
    if png.len() < 24 || png[..8] != PNG_MAGIC || &png[12..16] != b"IHDR" {
        return None;
    }
    let w = u32::from_be_bytes(png[16..20].try_into().ok()?);
    let h = u32::from_be_bytes(png[20..24].try_into().ok()?);
    Some((w, h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::ZlibDecoder;
    use std::io::Read;

    #[test]
    fn round_trips_pixels_and_checksums() {
        let (w, h) = (3_u32, 2_u32);
        let rgb: Vec<u8> = (0..(w * h * 3) as u8).map(|i| i.wrapping_mul(37)).collect();
        let png = encode_rgb(&rgb, w, h).unwrap();
        assert_eq!(png[..8], PNG_MAGIC);
        assert_eq!(dimensions(&png), Some((3, 2)));
        // Walk the chunks, checking every CRC, and collect IDAT.
        let mut pos = 8;
        let mut idat = Vec::new();
        let mut kinds = Vec::new();
        while pos < png.len() {
            let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
            let kind = &png[pos + 4..pos + 8];
            let data = &png[pos + 8..pos + 8 + len];
            let crc = u32::from_be_bytes(png[pos + 8 + len..pos + 12 + len].try_into().unwrap());
            let mut c = Crc::new();
            c.update(kind);
            c.update(data);
            assert_eq!(c.sum(), crc, "CRC of {}", String::from_utf8_lossy(kind));
            if kind == b"IDAT" {
                idat.extend_from_slice(data);
            }
            kinds.push(String::from_utf8_lossy(kind).into_owned());
            pos += 12 + len;
        }
        assert_eq!(kinds, ["IHDR", "IDAT", "IEND"]);
        // Undo the Sub filter and compare with the input.
        let mut raw = Vec::new();
        ZlibDecoder::new(&idat[..]).read_to_end(&mut raw).unwrap();
        let row = w as usize * 3;
        let mut back = Vec::new();
        for line in raw.chunks_exact(row + 1) {
            assert_eq!(line[0], 1);
            let mut px = vec![0_u8; row];
            for i in 0..row {
                let left = if i >= 3 { px[i - 3] } else { 0 };
                px[i] = line[1 + i].wrapping_add(left);
            }
            back.extend_from_slice(&px);
        }
        assert_eq!(back, rgb);
    }

    #[test]
    fn rejects_wrong_buffer_size() {
        assert!(encode_rgb(&[0; 5], 1, 2).is_err());
        assert!(encode_rgb(&[], 0, 0).is_err());
        assert_eq!(dimensions(b"not a png at all, really no"), None);
    }
}
