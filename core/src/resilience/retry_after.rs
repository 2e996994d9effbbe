//! Parsing the upstream's retry demand: `retry-after-ms`, then `Retry-After` in seconds or as
//! an HTTP date.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

/// The delay the headers ask for, if any. A date in the past is a zero delay.
pub(crate) fn parse(headers: &HeaderMap) -> Option<Duration> {
    if let Some(ms) = header_str(headers, "retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && let Ok(d) = Duration::try_from_secs_f64(ms / 1000.0)
    {
        return Some(d);
    }
    let value = header_str(headers, "retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return Duration::try_from_secs_f64(secs).ok();
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
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
        let at = SystemTime::now() + Duration::from_secs(30);
        let h = headers(&[("retry-after", &httpdate::fmt_http_date(at))]);
        let d = parse(&h).unwrap();
        assert!(
            d > Duration::from_secs(28) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        let past = httpdate::fmt_http_date(SystemTime::now() - Duration::from_secs(30));
        assert_eq!(
            parse(&headers(&[("retry-after", &past)])),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn garbage_and_negative_are_ignored() {
        assert_eq!(parse(&headers(&[("retry-after", "soon")])), None);
        assert_eq!(parse(&headers(&[("retry-after", "-5")])), None);
        assert_eq!(parse(&HeaderMap::new()), None);
    }
}
