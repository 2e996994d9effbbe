//! Parsing the upstream's retry demand: `retry-after-ms`, then `Retry-After` in seconds or as
//! an HTTP date.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// The delay the headers ask for, if any. A date in the past is a zero delay.
pub(crate) fn parse(headers: &HeaderMap) -> Option<Duration> {
    retry_after_delay(
        header_str(headers, "retry-after-ms"),
        header_str(headers, "retry-after"),
        SystemTime::now(),
    )
}

/// The delay asked for by the values of a `retry-after-ms` and a `Retry-After` header, as of
/// `now`: milliseconds when valid, else seconds or an HTTP date (a past date is zero).
///
/// A demand too large for a [`Duration`] saturates at [`Duration::MAX`] instead of being
/// dropped: it must stay longer than any cap, so that the retry is refused, not taken at once.
/// Negative, NaN and unparsable values ask for nothing.
pub fn retry_after_delay(
    retry_after_ms: Option<&str>,
    retry_after: Option<&str>,
    now: SystemTime,
) -> Option<Duration> {
    let ms = retry_after_ms.and_then(|v| v.trim().parse::<f64>().ok());
    if let Some(d) = ms.and_then(|ms| delay(ms / 1000.0)) {
        return Some(d);
    }
    let value = retry_after?.trim();
    if let Ok(secs) = value.parse::<f64>() {
        return delay(secs);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or_default())
}

/// `secs` as a delay: `None` when negative or NaN, saturating when too large.
fn delay(secs: f64) -> Option<Duration> {
    if secs.is_nan() || secs < 0.0 {
        return None;
    }
    if secs == 0.0 {
        // Also -0.0, which `try_from_secs_f64` refuses as negative.
        return Some(Duration::ZERO);
    }
    Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
}

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name)?.to_str().ok().map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn seconds() {
        assert_eq!(
            parse(&headers(&[("retry-after", "3")])),
            Some(Duration::from_secs(3))
        );
        assert_eq!(
            parse(&headers(&[("retry-after", "0.25")])),
            Some(Duration::from_millis(250))
        );
    }

    #[test]
    fn milliseconds_win() {
        let h = headers(&[("retry-after", "3"), ("retry-after-ms", "120")]);
        assert_eq!(parse(&h), Some(Duration::from_millis(120)));
    }

    #[test]
    fn http_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        let at = httpdate::fmt_http_date(now + Duration::from_secs(30));
        assert_eq!(
            retry_after_delay(None, Some(&at), now),
            Some(Duration::from_secs(30))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(30));
        assert_eq!(
            retry_after_delay(None, Some(&past), now),
            Some(Duration::ZERO)
        );
        let far = "Fri, 31 Dec 9999 23:59:59 GMT";
        assert!(
            retry_after_delay(None, Some(far), now)
                .is_some_and(|d| d > Duration::from_secs(1 << 37))
        );
    }

    #[test]
    fn garbage_and_negative_are_ignored() {
        assert_eq!(parse(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(parse(&headers(&[("retry-after", "-5")])), None);
        assert_eq!(parse(&HeaderMap::new()), None);
    }

    #[test]
    fn huge_demands_saturate_instead_of_vanishing() {
        // Found writing the fuzz target's properties: `1e30` overflowed a Duration and was dropped, so the engine retried
        // after its own short backoff instead of refusing a demand far above the cap.
        let now = SystemTime::UNIX_EPOCH;
        for v in ["1e30", "inf", "18446744073709551616"] {
            assert_eq!(
                retry_after_delay(None, Some(v), now),
                Some(Duration::MAX),
                "{v}"
            );
        }
        for v in ["1e30", "inf"] {
            assert_eq!(
                retry_after_delay(Some(v), Some("1"), now),
                Some(Duration::MAX),
                "{v} ms"
            );
        }
        assert_eq!(
            retry_after_delay(None, Some("-0"), now),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after_delay(None, Some("NaN"), now), None);
        assert_eq!(
            retry_after_delay(Some("-1"), Some("2"), now),
            Some(Duration::from_secs(2))
        );
    }
}
