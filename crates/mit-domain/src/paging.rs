//! Page requests and pages of results.

/// A validated page request (`page` ≥ 1, `limit` 1–100, as the contract guarantees).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// 1-based page number.
    pub page: i32,
    /// Items per page.
    pub limit: i32,
}

impl PageRequest {
    /// A page request from the contract's query parameters, clamped defensively.
    pub fn new(page: i32, limit: i32) -> Self {
        Self { page: page.max(1), limit: limit.clamp(1, 100) }
    }

    /// Rows to skip.
    pub fn offset(&self) -> i64 {
        (i64::from(self.page) - 1) * i64::from(self.limit)
    }

    /// Rows to return.
    pub fn limit(&self) -> i64 {
        i64::from(self.limit)
    }
}

/// One page of results and the total number of matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The rows of this page.
    pub items: Vec<T>,
    /// Matches over all pages.
    pub total: i64,
}

impl<T> Page<T> {
    /// Converts every item.
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), total: self.total }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offset_of_the_last_allowed_page_does_not_overflow() {
        let request = PageRequest::new(1_000_000, 100);
        assert_eq!(request.offset(), 99_999_900);
    }

    #[test]
    fn out_of_range_values_are_clamped() {
        assert_eq!(PageRequest::new(0, 1000), PageRequest { page: 1, limit: 100 });
    }
}
