//! Fast RFC 3339 UTC formatting for output files written at millions of rows per second.
//!
//! Owns timestamp text only. Output equals [`crate::timeparse::format_timestamp`] (chrono's
//! `AutoSi` seconds format with `Z`) for every input; the date part is cached per day.

/// Formats UTC nanoseconds as `YYYY-MM-DDTHH:MM:SS[.fff|.ffffff|.fffffffff]Z`.
#[derive(Debug, Default)]
pub struct IsoFormatter {
    day: Option<i64>,
    date: [u8; 11],
}

fn two(out: &mut Vec<u8>, v: u32) {
    out.push(b'0' + (v / 10) as u8);
    out.push(b'0' + (v % 10) as u8);
}

impl IsoFormatter {
    /// Appends the formatted time of `ns` to `out`.
    pub fn push(&mut self, ns: i64, out: &mut Vec<u8>) {
        let secs = ns.div_euclid(1_000_000_000);
        let nanos = ns.rem_euclid(1_000_000_000) as u32;
        let day = secs.div_euclid(86_400);
        let sod = secs.rem_euclid(86_400) as u32;
        if self.day != Some(day) {
            let text = crate::timeparse::format_timestamp(day * 86_400 * 1_000_000_000);
            let bytes = text.as_bytes();
            // "YYYY-MM-DDT" for years 0..=9999; other years fall back to chrono every time.
            if bytes.len() >= 11 && bytes[10] == b'T' && bytes[4] == b'-' {
                self.date.copy_from_slice(&bytes[..11]);
                self.day = Some(day);
            } else {
                out.extend_from_slice(crate::timeparse::format_timestamp(ns).as_bytes());
                return;
            }
        }
        out.extend_from_slice(&self.date);
        two(out, sod / 3600);
        out.push(b':');
        two(out, sod / 60 % 60);
        out.push(b':');
        two(out, sod % 60);
        if nanos != 0 {
            out.push(b'.');
            let (digits, value) = if nanos.is_multiple_of(1_000_000) {
                (3, nanos / 1_000_000)
            } else if nanos.is_multiple_of(1_000) {
                (6, nanos / 1_000)
            } else {
                (9, nanos)
            };
            let mut buf = [b'0'; 9];
            let mut v = value;
            for i in (0..digits).rev() {
                buf[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
            out.extend_from_slice(&buf[..digits]);
        }
        out.push(b'Z');
    }

    /// The formatted time of `ns` as a `String`.
    pub fn format(&mut self, ns: i64) -> String {
        let mut v = Vec::with_capacity(32);
        self.push(ns, &mut v);
        String::from_utf8(v).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn equals_chrono(ns in -2_000_000_000_000_000_000i64..4_000_000_000_000_000_000i64,
                         unit in 0u32..4) {
            let ns = match unit { 0 => ns / 1_000_000_000 * 1_000_000_000,
                                  1 => ns / 1_000_000 * 1_000_000,
                                  2 => ns / 1000 * 1000, _ => ns };
            let mut f = IsoFormatter::default();
            prop_assert_eq!(f.format(ns), crate::timeparse::format_timestamp(ns));
            prop_assert_eq!(f.format(ns + 1), crate::timeparse::format_timestamp(ns + 1));
        }
    }
}
