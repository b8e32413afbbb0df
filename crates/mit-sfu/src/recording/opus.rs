//! How much audio an Opus packet holds, from its TOC byte (RFC 6716 §3.1), in 48 kHz samples.

/// Samples per channel at 48 kHz in `packet`; `None` for a malformed packet.
pub fn samples(packet: &[u8]) -> Option<u32> {
    let toc = *packet.first()?;
    let config = toc >> 3;
    let frame = match config {
        // SILK-only NB/MB/WB: 10, 20, 40, 60 ms.
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        // Hybrid SWB/FB: 10, 20 ms.
        12..=15 => [480, 960][usize::from(config % 2)],
        // CELT-only: 2.5, 5, 10, 20 ms.
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let frames = match toc & 0x03 {
        0 => 1,
        1 | 2 => 2,
        _ => u32::from(*packet.get(1)? & 0x3f),
    };
    let total = frame * frames;
    // RFC 6716: a packet holds at most 120 ms.
    (frames > 0 && total <= 5760).then_some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toc_bytes_give_durations() {
        assert_eq!(samples(&[0xfc, 0xff, 0xfe]), Some(960), "CELT FB 20 ms, one frame (WebRTC's usual)");
        assert_eq!(samples(&[0x78]), Some(960), "SILK WB 20 ms");
        assert_eq!(samples(&[0x79]), Some(1920), "two 20 ms frames");
        assert_eq!(samples(&[0x7b, 0x03]), Some(2880), "code 3, three frames");
        assert_eq!(samples(&[0xe0]), Some(120), "CELT 2.5 ms");
        assert_eq!(samples(&[]), None);
        assert_eq!(samples(&[0x7b, 0x00]), None, "code 3 with no frames");
        assert_eq!(samples(&[0x7b, 0x3f]), None, "more than 120 ms");
    }
}
