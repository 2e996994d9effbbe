//! Inputs that fuzzing (`fuzz/`, `make fuzz`) found to break a property, kept as regression tests.

use turnout::protocol::ErrorBody;

/// fuzz/artifacts/error_body/crash-d3373849…: serde_json's default float parser is not correctly
/// rounded, so this number read one ulp off (2.1111111111111108e44); written back and read again
/// it changed (2.111111111111111e44): a number passed on was not the one the upstream sent.
const ERROR_BODY_FLOAT: &str =
    r#"{"error":{"me@sag":[1,211111111111111111111111111111111111111111.5e3,{"x":null}]}}"#;

#[test]
fn error_body_numbers_are_read_correctly_rounded_and_survive_a_round_trip() {
    let parsed = ErrorBody::parse(ERROR_BODY_FLOAT).expect("an error body");
    let number = parsed.error.extra["me@sag"][1].as_f64().expect("a number");
    let exact: f64 = "211111111111111111111111111111111111111111.5e3"
        .parse()
        .expect("a float");
    assert_eq!(number.to_bits(), exact.to_bits());
    let again = serde_json::to_string(&parsed).expect("serializes");
    assert_eq!(ErrorBody::parse(&again), Some(parsed));
}
