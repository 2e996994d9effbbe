//! `Retry-After` / `retry-after-ms` parsing: never panics, a number is honoured as written (or
//! saturated, never dropped), a date is measured from `now`, and the result never exceeds what
//! the header asked for.
#![no_main]

use std::time::{Duration, SystemTime};

use libfuzzer_sys::fuzz_target;
use turnout::resilience::retry_after_delay;

/// The delay a non-negative number of seconds asks for, saturated; `None` if it is not one.
fn asked(secs: f64) -> Option<Duration> {
    if secs.is_nan() || secs < 0.0 {
        return None;
    }
    if secs == 0.0 {
        return Some(Duration::ZERO);
    }
    Some(Duration::try_from_secs_f64(secs).unwrap_or(Duration::MAX))
}

fuzz_target!(|input: &[u8]| {
    // Layout: 8 bytes of `now` (seconds since the epoch, bounded), then `ms`, `\0`, `value`.
    let Some((now_bytes, rest)) = input.split_first_chunk::<8>() else {
        return;
    };
    let now =
        SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from_le_bytes(*now_bytes) % (1 << 36));
    let text = String::from_utf8_lossy(rest);
    let (ms, value) = match text.split_once('\0') {
        Some((ms, value)) => (Some(ms), Some(value)),
        None => (None, Some(&*text)),
    };
    let got = retry_after_delay(ms, value, now);

    let ms_asked = ms
        .and_then(|m| m.trim().parse::<f64>().ok())
        .and_then(|m| asked(m / 1000.0));
    if let Some(expected) = ms_asked {
        assert_eq!(got, Some(expected), "a valid retry-after-ms wins");
        return;
    }
    let Some(value) = value.map(str::trim) else {
        assert_eq!(got, None);
        return;
    };
    if let Ok(secs) = value.parse::<f64>() {
        assert_eq!(got, asked(secs), "seconds are honoured as written");
        return;
    }
    match httpdate::parse_http_date(value) {
        Ok(at) => {
            let d = got.expect("a valid date asks for a delay");
            assert_eq!(now + d, at.max(now), "a date is measured from now");
        }
        Err(_) => assert_eq!(got, None, "garbage asks for nothing"),
    }
});
