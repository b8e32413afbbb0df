//! The `Range` request header for file downloads (RFC 9110 §14): one byte range, in any of its
//! three forms. Another unit is ignored, as the RFC asks; several ranges or a malformed one are
//! refused with 416, which the RFC allows, rather than silently sending the whole file.

use std::ops::RangeInclusive;

use crate::error::DomainError;

/// The bytes of a file of `size` bytes that `header` asks for: `None` for the whole file.
pub fn byte_range(header: Option<&str>, size: u64) -> Result<Option<RangeInclusive<u64>>, DomainError> {
    let Some(header) = header else { return Ok(None) };
    let Some((unit, spec)) = header.trim().split_once('=') else {
        return Err(refuse(size, "a Range header reads `bytes=<first>-[<last>]` or `bytes=-<suffix>`"));
    };
    if !unit.trim().eq_ignore_ascii_case("bytes") {
        return Ok(None);
    }
    if spec.contains(',') {
        return Err(refuse(size, "only a single range is served"));
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Err(refuse(size, "a byte range has a `-`"));
    };
    let number = |text: &str| text.trim().parse::<u64>().map_err(|_| refuse(size, format!("`{}` is not a byte position", text.trim())));
    let range = match (first.trim().is_empty(), last.trim().is_empty()) {
        (true, true) => return Err(refuse(size, "a byte range needs a first position or a suffix length")),
        (true, false) => {
            let suffix = number(last)?;
            if suffix == 0 || size == 0 {
                return Err(refuse(size, "an empty suffix selects nothing"));
            }
            size.saturating_sub(suffix)..=size - 1
        }
        (false, open_ended) => {
            let first = number(first)?;
            let last = if open_ended { u64::MAX } else { number(last)? };
            if last < first {
                return Err(refuse(size, "the last position comes before the first"));
            }
            if first >= size {
                return Err(refuse(size, format!("the file has {size} bytes; the range starts at {first}")));
            }
            first..=last.min(size - 1)
        }
    };
    Ok(Some(range))
}

fn refuse(size: u64, message: impl Into<String>) -> DomainError {
    DomainError::RangeNotSatisfiable { size, message: message.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(header: &str, size: u64) -> Option<RangeInclusive<u64>> {
        byte_range(Some(header), size).expect("satisfiable")
    }

    fn refused(header: &str, size: u64) -> bool {
        matches!(byte_range(Some(header), size), Err(DomainError::RangeNotSatisfiable { .. }))
    }

    #[test]
    fn the_three_forms_select_the_right_bytes() {
        assert_eq!(range("bytes=0-99", 1000), Some(0..=99));
        assert_eq!(range("bytes=900-", 1000), Some(900..=999));
        assert_eq!(range("bytes=-100", 1000), Some(900..=999));
        assert_eq!(range(" bytes = 10 - 19 ", 1000), Some(10..=19), "whitespace is tolerated");
    }

    #[test]
    fn ranges_are_clipped_to_the_file() {
        assert_eq!(range("bytes=990-5000", 1000), Some(990..=999));
        assert_eq!(range("bytes=-5000", 1000), Some(0..=999));
        assert_eq!(range("bytes=0-18446744073709551615", 10), Some(0..=9));
    }

    #[test]
    fn no_header_or_another_unit_means_the_whole_file() {
        assert_eq!(byte_range(None, 10).expect("ok"), None);
        assert_eq!(range("items=0-1", 10), None);
    }

    #[test]
    fn unsatisfiable_malformed_and_multiple_ranges_are_refused() {
        assert!(refused("bytes=1000-", 1000), "starts past the end");
        assert!(refused("bytes=0-0", 0), "an empty file has no bytes");
        assert!(refused("bytes=-0", 10));
        assert!(refused("bytes=5-1", 10));
        assert!(refused("bytes=0-1,5-6", 10));
        assert!(refused("bytes=a-b", 10));
        assert!(refused("bytes=-", 10));
        assert!(refused("bytes=-1-2", 10));
        assert!(refused("bytes 0-1", 10));
        assert!(refused("bytes=99999999999999999999-", 10), "overflow is malformed, not a panic");
    }

    #[test]
    fn a_refusal_names_the_size_for_content_range() {
        match byte_range(Some("bytes=50-"), 42) {
            Err(DomainError::RangeNotSatisfiable { size, .. }) => assert_eq!(size, 42),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
