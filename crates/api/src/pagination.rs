//! `maxResults` and `nextToken`. Tokens are opaque to clients: URL-safe base64 of a version tag
//! and the key of the last item returned, so a listing resumes after that key even when items
//! were added or removed in between.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::error::ApiError;

/// Results per page when `maxResults` is absent.
pub const DEFAULT_MAX_RESULTS: usize = 50;
/// The largest `maxResults` (`RegistryMaxResults`).
pub const MAX_RESULTS: i64 = 250;

const TAG: &str = "fc1:";

/// The page size: `maxResults` in 1..=250, or the default.
pub fn page_size(max_results: Option<i64>) -> Result<usize, ApiError> {
    match max_results {
        None => Ok(DEFAULT_MAX_RESULTS),
        Some(n) if (1..=MAX_RESULTS).contains(&n) => {
            Ok(usize::try_from(n).unwrap_or(DEFAULT_MAX_RESULTS))
        }
        Some(n) => Err(ApiError::invalid(format!(
            "1 validation error detected: Value '{n}' at 'maxResults' failed to satisfy constraint: Member must have value between 1 and {MAX_RESULTS}"
        ))),
    }
}

/// The token that resumes after `key`.
pub fn encode(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{TAG}{key}"))
}

/// The key a token resumes after.
pub fn decode(token: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else { return Ok(None) };
    URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .and_then(|text| text.strip_prefix(TAG).map(str::to_owned))
        .map(Some)
        .ok_or_else(|| ApiError::invalid("The nextToken is not valid"))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let token = encode("thing:1");
        assert!(!token.contains("thing"), "tokens are opaque");
        assert_eq!(decode(Some(&token)).unwrap().as_deref(), Some("thing:1"));
        assert_eq!(decode(None).unwrap(), None);
        assert_eq!(decode(Some("")).unwrap(), None);
        assert!(decode(Some("!!!")).is_err());
        assert!(decode(Some(&URL_SAFE_NO_PAD.encode("no tag"))).is_err());
    }

    #[test]
    fn page_size_is_one_to_250() {
        assert_eq!(page_size(None).unwrap(), DEFAULT_MAX_RESULTS);
        assert_eq!(page_size(Some(1)).unwrap(), 1);
        assert_eq!(page_size(Some(250)).unwrap(), 250);
        assert!(page_size(Some(0)).is_err());
        assert!(page_size(Some(251)).is_err());
    }
}
